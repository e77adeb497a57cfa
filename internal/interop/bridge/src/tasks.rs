//! The Rust tasks that the foreign loops spawn, as `extern "C"` functions: each spawns one task
//! onto a loop's home-thread scheduler (`rawtask_home_new`), schedules it, and returns its
//! handle for C (a
//! `RawtaskTask` whose output is a `uint64_t`), or the null handle with the last error set.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use rawtask::capi::{
    guard, home_schedule, update_last_error, Error, Failure, RawtaskHome, RawtaskStatus,
    RawtaskTask,
};

use crate::worker::{after, sleep, yield_now};

static LIVE_FUTURES: AtomicI64 = AtomicI64::new(0);

/// Counts the futures alive, so a loop can check that none was lost or leaked.
struct Tracked<F>(Pin<Box<F>>);

impl<F> Tracked<F> {
    fn new(future: F) -> Self {
        LIVE_FUTURES.fetch_add(1, Ordering::SeqCst);
        Tracked(Box::pin(future))
    }
}

impl<F> Drop for Tracked<F> {
    fn drop(&mut self) {
        LIVE_FUTURES.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.0.as_mut().poll(cx)
    }
}

/// Spawns `future` onto the home `lp`, schedules it, and returns its handle.
fn spawn_on<Fut>(function: &str, lp: *mut RawtaskHome, future: Fut) -> RawtaskTask
where
    Fut: Future<Output = u64> + Send + 'static,
{
    // `home_schedule` checks the pointer (null, freed, not a home) and reports it.
    let schedule = match home_schedule(lp) {
        Ok(schedule) => schedule,
        Err(failure) => {
            update_last_error(Error::msg(format!("{function}: {failure}")));
            return RawtaskTask::NULL;
        }
    };
    let future = Tracked::new(future);
    let spawned = catch_unwind(AssertUnwindSafe(|| {
        let (runnable, task) = rawtask::spawn(future, schedule);
        runnable.schedule();
        RawtaskTask::new(task)
    }));
    spawned.unwrap_or_else(|_| {
        update_last_error(Error::msg(format!("{function}: spawning panicked")));
        RawtaskTask::NULL
    })
}

/// A task that sleeps `ms` milliseconds (woken by the worker thread) and returns `value`.
///
/// # Safety
/// `lp` is NULL or a live home from `rawtask_home_new`.
#[no_mangle]
pub unsafe extern "C" fn interop_spawn_sleep_then_value(
    lp: *mut RawtaskHome,
    ms: u32,
    value: u64,
) -> RawtaskTask {
    spawn_on("interop_spawn_sleep_then_value", lp, async move {
        sleep(Duration::from_millis(u64::from(ms))).await;
        value
    })
}

/// A task that yields `n` times (each a wake on the loop thread) and returns `n`.
///
/// # Safety
/// `lp` is NULL or a live home from `rawtask_home_new`.
#[no_mangle]
pub unsafe extern "C" fn interop_spawn_yields(lp: *mut RawtaskHome, n: u32) -> RawtaskTask {
    spawn_on("interop_spawn_yields", lp, async move {
        for _ in 0..n {
            yield_now().await;
        }
        u64::from(n)
    })
}

/// A task that receives values on a channel fed by the worker thread (`seed + k` for `k` in
/// `0..n`, one value every 50 µs) until it closes, and returns their sum:
/// `n * seed + n * (n - 1) / 2`.
///
/// # Safety
/// `lp` is NULL or a live home from `rawtask_home_new`.
#[no_mangle]
pub unsafe extern "C" fn interop_spawn_channel_sum(
    lp: *mut RawtaskHome,
    n: u32,
    seed: u64,
) -> RawtaskTask {
    let (tx, rx) = flume::unbounded::<u64>();
    for k in 0..n {
        let tx = tx.clone();
        after(Duration::from_micros(50 * u64::from(k)), move || {
            let _ = tx.send(seed + u64::from(k));
        });
    }
    drop(tx);
    spawn_on("interop_spawn_channel_sum", lp, async move {
        let mut sum = 0u64;
        while let Ok(value) = rx.recv_async().await {
            sum += value;
        }
        sum
    })
}

/// Two tasks on the loop talking over a rendezvous channel: a detached producer that sends
/// `seed + k` for `k` in `0..n`, yielding after each, and the consumer (returned), which sums
/// what it receives until the channel closes: `n * seed + n * (n - 1) / 2`.
///
/// # Safety
/// `lp` is NULL or a live home from `rawtask_home_new`.
#[no_mangle]
pub unsafe extern "C" fn interop_spawn_pipeline(
    lp: *mut RawtaskHome,
    n: u32,
    seed: u64,
) -> RawtaskTask {
    let (tx, rx) = flume::bounded::<u64>(0);
    let producer = spawn_on("interop_spawn_pipeline", lp, async move {
        for k in 0..n {
            if tx.send_async(seed + u64::from(k)).await.is_err() {
                break;
            }
            yield_now().await;
        }
        0
    });
    if producer.is_null() {
        return producer;
    }
    let _ = rawtask::capi::rawtask_task_detach(producer);
    spawn_on("interop_spawn_pipeline", lp, async move {
        let mut sum = 0u64;
        while let Ok(value) = rx.recv_async().await {
            sum += value;
        }
        sum
    })
}

/// A one-shot value that the loop sends to a task (from a loop-side timer, say): made by
/// [`interop_spawn_wait_signal`], consumed by [`interop_signal_fire`].
pub struct InteropSignal(flume::Sender<u64>);

impl std::fmt::Debug for InteropSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InteropSignal")
    }
}

/// A task that waits for the loop to fire `*out_signal` with a value and returns the value
/// plus one (or `u64::MAX` if the signal is freed unfired).
///
/// # Safety
/// `lp` is NULL or a live home from `rawtask_home_new`; `out_signal` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn interop_spawn_wait_signal(
    lp: *mut RawtaskHome,
    out_signal: *mut *mut InteropSignal,
) -> RawtaskTask {
    if out_signal.is_null() {
        update_last_error(Error::msg(
            "interop_spawn_wait_signal: `out_signal` is null",
        ));
        return RawtaskTask::NULL;
    }
    let (tx, rx) = flume::bounded::<u64>(1);
    let task = spawn_on("interop_spawn_wait_signal", lp, async move {
        match rx.recv_async().await {
            Ok(value) => value.wrapping_add(1),
            Err(_) => u64::MAX,
        }
    });
    let signal = if task.is_null() {
        std::ptr::null_mut()
    } else {
        Box::into_raw(Box::new(InteropSignal(tx)))
    };
    // SAFETY: checked for null; the caller passes a writable pointer.
    unsafe { out_signal.write(signal) };
    task
}

/// Sends `value` to the signal's task (waking it) and frees the signal.
///
/// # Safety
/// `signal` is NULL or a signal from [`interop_spawn_wait_signal`], not used again.
#[no_mangle]
pub unsafe extern "C" fn interop_signal_fire(
    signal: *mut InteropSignal,
    value: u64,
) -> RawtaskStatus {
    guard(|| {
        if signal.is_null() {
            return Err(Failure::invalid_argument(
                "interop_signal_fire: `signal` is null",
            ));
        }
        // SAFETY: the caller gives the signal up.
        let signal = unsafe { Box::from_raw(signal) };
        let _ = signal.0.send(value); // the task may have been cancelled
        Ok(RawtaskStatus::Ok)
    })
}

/// A task that never finishes on its own: for cancellation.
///
/// # Safety
/// `lp` is NULL or a live home from `rawtask_home_new`.
#[no_mangle]
pub unsafe extern "C" fn interop_spawn_pending(lp: *mut RawtaskHome) -> RawtaskTask {
    spawn_on("interop_spawn_pending", lp, std::future::pending::<u64>())
}

/// A task that runs on the worker thread, not on a loop: it adds `seed + k` for `k` in
/// `0..n`, yielding after each (every wake queues it on the worker again), and returns the sum
/// `n * seed + n * (n - 1) / 2`. Its completion (and its completion callback) therefore
/// happens on the worker thread: a loop awaiting it must marshal the outcome to itself, as
/// for work handed to a thread pool. Callable from any thread.
#[no_mangle]
pub extern "C" fn interop_spawn_offload(n: u32, seed: u64) -> RawtaskTask {
    let future = Tracked::new(async move {
        let mut sum = 0u64;
        for k in 0..n {
            sum += seed + u64::from(k);
            yield_now().await;
        }
        sum
    });
    // Each schedule queues a job on the worker that runs the task there.
    let on_worker = |runnable: rawtask::Runnable| {
        after(Duration::ZERO, move || {
            runnable.run();
        });
    };
    let spawned = catch_unwind(AssertUnwindSafe(|| {
        let (runnable, task) = rawtask::spawn(future, on_worker);
        runnable.schedule();
        RawtaskTask::new(task)
    }));
    spawned.unwrap_or_else(|_| {
        update_last_error(Error::msg("interop_spawn_offload: spawning panicked"));
        RawtaskTask::NULL
    })
}

/// How many futures spawned by these functions are alive (not yet completed or dropped).
#[no_mangle]
pub extern "C" fn interop_live_futures() -> i64 {
    LIVE_FUTURES.load(Ordering::SeqCst)
}

/// Stops and joins the worker thread (timers and channel feeds not yet due are dropped).
#[no_mangle]
pub extern "C" fn interop_shutdown() {
    crate::worker::shutdown();
}

/// The same task as [`interop_spawn_yields`] for a plain C loop: spawned with a C schedule
/// callback (`Builder::spawn_c`) instead of onto a home (`RawtaskHome`); writes the runnable (not
/// scheduled yet) to `*out_runnable`. For the benchmark's baseline loop.
///
/// # Safety
/// `schedule` follows `RawtaskSchedule`'s contract; `out_runnable` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn interop_spawn_yields_c(
    schedule: rawtask::capi::RawtaskSchedule,
    n: u32,
    out_runnable: *mut *mut rawtask::capi::RawtaskRunnable,
) -> RawtaskTask {
    if out_runnable.is_null() {
        update_last_error(Error::msg("interop_spawn_yields_c: `out_runnable` is null"));
        return RawtaskTask::NULL;
    }
    let future = Tracked::new(async move {
        for _ in 0..n {
            yield_now().await;
        }
        u64::from(n)
    });
    match rawtask::Builder::new().spawn_c(move |()| future, schedule) {
        Ok((runnable, task)) => {
            // SAFETY: checked for null; the caller passes a writable pointer.
            unsafe { out_runnable.write(runnable.as_ptr()) };
            task
        }
        Err(failure) => {
            update_last_error(Error::msg(format!("interop_spawn_yields_c: {failure}")));
            RawtaskTask::NULL
        }
    }
}
