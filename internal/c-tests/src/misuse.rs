//! Fixtures of `c/misuse.c`: small tasks with one behaviour each. Every task's data
//! slot is a `uint64_t` tag and its output a `uint64_t`.

use std::ffi::c_void;
use std::future::Future;
use std::task::Poll;

use rawtask::capi::{guard, Failure, RawtaskRunnable, RawtaskSchedule, RawtaskStatus, RawtaskTask};
use rawtask::Builder;

use crate::{spawn_for_c, SendPtr, Tracked};

/// # Safety
/// The out-parameters must be null or writable.
unsafe fn spawn_u64<Fut>(
    tag: u64,
    propagate_panic: bool,
    future: Fut,
    schedule: RawtaskSchedule,
    out_runnable: *mut *mut RawtaskRunnable,
    out_task: *mut RawtaskTask,
) -> RawtaskStatus
where
    Fut: Future<Output = u64> + Send + 'static,
{
    guard(|| {
        let future = Tracked::new(future);
        let builder = Builder::new()
            .metadata(tag)
            .propagate_panic(propagate_panic);
        // SAFETY: forwarded from the caller.
        unsafe { spawn_for_c(builder, move |_| future, schedule, out_runnable, out_task) }
    })
}

/// A task that returns `value` on its first poll. Its data slot holds `tag`.
///
/// # Safety
/// The out-parameters must be null or writable.
#[no_mangle]
pub unsafe extern "C" fn fixture_spawn_value(
    schedule: RawtaskSchedule,
    tag: u64,
    value: u64,
    out_runnable: *mut *mut RawtaskRunnable,
    out_task: *mut RawtaskTask,
) -> RawtaskStatus {
    // SAFETY: forwarded from the caller.
    unsafe {
        spawn_u64(
            tag,
            true,
            async move { value },
            schedule,
            out_runnable,
            out_task,
        )
    }
}

/// A task that never finishes and never wakes itself: after one run it is idle.
///
/// # Safety
/// The out-parameters must be null or writable.
#[no_mangle]
pub unsafe extern "C" fn fixture_spawn_pending(
    schedule: RawtaskSchedule,
    tag: u64,
    out_runnable: *mut *mut RawtaskRunnable,
    out_task: *mut RawtaskTask,
) -> RawtaskStatus {
    let future = std::future::pending::<u64>();
    // SAFETY: forwarded from the caller.
    unsafe { spawn_u64(tag, true, future, schedule, out_runnable, out_task) }
}

/// A task that returns the number of times it was polled once that reaches `polls`. It never
/// wakes itself: something else must wake it between polls (a waker from C).
///
/// # Safety
/// The out-parameters must be null or writable.
#[no_mangle]
pub unsafe extern "C" fn fixture_spawn_counting(
    schedule: RawtaskSchedule,
    polls: u64,
    out_runnable: *mut *mut RawtaskRunnable,
    out_task: *mut RawtaskTask,
) -> RawtaskStatus {
    let mut seen = 0;
    let future = std::future::poll_fn(move |_| {
        seen += 1;
        if seen >= polls {
            Poll::Ready(seen)
        } else {
            Poll::Pending
        }
    });
    // SAFETY: forwarded from the caller.
    unsafe { spawn_u64(0, true, future, schedule, out_runnable, out_task) }
}

/// A task that yields once (wakes itself while running), then returns 2.
///
/// # Safety
/// The out-parameters must be null or writable.
#[no_mangle]
pub unsafe extern "C" fn fixture_spawn_yielding(
    schedule: RawtaskSchedule,
    out_runnable: *mut *mut RawtaskRunnable,
    out_task: *mut RawtaskTask,
) -> RawtaskStatus {
    let future = async {
        crate::timer::yield_now().await;
        2
    };
    // SAFETY: forwarded from the caller.
    unsafe { spawn_u64(0, true, future, schedule, out_runnable, out_task) }
}

/// A task whose future panics with the message `fixture: boom` on its first poll, spawned
/// with or without panic propagation.
///
/// # Safety
/// The out-parameters must be null or writable.
#[no_mangle]
pub unsafe extern "C" fn fixture_spawn_panicking(
    schedule: RawtaskSchedule,
    propagate_panic: bool,
    out_runnable: *mut *mut RawtaskRunnable,
    out_task: *mut RawtaskTask,
) -> RawtaskStatus {
    let future = async {
        if std::hint::black_box(true) {
            panic!("fixture: boom");
        }
        0
    };
    // SAFETY: forwarded from the caller.
    unsafe { spawn_u64(0, propagate_panic, future, schedule, out_runnable, out_task) }
}

/// A task that calls `callback(context)` from inside its first poll, then returns 7 if
/// `ready_after_callback`, or stays pending (without waking itself) otherwise. With a callback
/// that frees the task's own handle, this is "freeing a running task".
///
/// # Safety
/// The out-parameters must be null or writable; `callback` must be safe to call with
/// `context` on the thread that runs the task.
#[no_mangle]
pub unsafe extern "C" fn fixture_spawn_calls_back(
    schedule: RawtaskSchedule,
    callback: Option<unsafe extern "C" fn(context: *mut c_void)>,
    context: *mut c_void,
    ready_after_callback: bool,
    out_runnable: *mut *mut RawtaskRunnable,
    out_task: *mut RawtaskTask,
) -> RawtaskStatus {
    let Some(callback) = callback else {
        return guard(|| {
            Err(Failure::invalid_argument(
                "fixture_spawn_calls_back: null callback",
            ))
        });
    };
    let context = SendPtr(context);
    let mut called = false;
    let future = std::future::poll_fn(move |_| {
        if !called {
            called = true;
            let context = context;
            // SAFETY: the C program passed a callback that may be called with its context.
            unsafe { callback(context.0) };
            if ready_after_callback {
                return Poll::Ready(7);
            }
        }
        Poll::Pending
    });
    // SAFETY: forwarded from the caller.
    unsafe { spawn_u64(0, true, future, schedule, out_runnable, out_task) }
}

/// A task whose schedule function is a Rust closure that panics: passing its runnable to
/// `rawtask_runnable_schedule` reports `PANICKED` (and cancels the task).
///
/// # Safety
/// The out-parameters must be null or writable.
#[no_mangle]
pub unsafe extern "C" fn fixture_spawn_with_panicking_schedule(
    out_runnable: *mut *mut RawtaskRunnable,
    out_task: *mut RawtaskTask,
) -> RawtaskStatus {
    guard(|| {
        if out_runnable.is_null() || out_task.is_null() {
            return Err(Failure::invalid_argument("fixture: null out-parameter"));
        }
        let future = Tracked::new(async { 1u64 });
        let (runnable, task) = Builder::new().metadata(0u64).spawn(
            move |_| future,
            |_runnable: rawtask::Runnable<u64>| panic!("fixture: the schedule function panicked"),
        );
        // SAFETY: both checked for null; the C program passes writable out-parameters.
        unsafe {
            out_runnable.write(RawtaskRunnable::from_runnable(runnable).as_ptr());
            out_task.write(RawtaskTask::new(task));
        }
        Ok(RawtaskStatus::Ok)
    })
}
