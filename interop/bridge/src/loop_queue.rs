//! The loop scheduler: a queue of runnables that a foreign event loop drains on its own thread,
//! woken by one coalesced `notify(context)` call.
//!
//! This is a minimal stand-in for rawtask's home-thread scheduler (`rawtask::home`,
//! `rawtask_home_new` / `rawtask_home_drain` / `rawtask_home_free`), kept behind two
//! functions so that the swap is a few lines: [`schedule_for_loop`] (becomes
//! `rawtask::capi::home_schedule(home)`) and [`drain`] (becomes `rawtask_home_drain`), with
//! [`InteropLoop`] becoming `RawtaskHome`. Unlike the home scheduler, it has one mutex-protected
//! queue for every wake (the home has a lock-free inbox for wakes from other threads and a
//! local queue for the loop's own), but the contract is the same:
//!
//! - `notify(context)` is called when a runnable is queued and no notify is pending; the next
//!   one comes only after a [`drain`] found the queue empty. It is called with the queue's
//!   lock held, so it must only wake the loop (`uv_async_send`, `call_soon_threadsafe`).
//! - [`drain`] runs up to `max` runnables on the loop thread and says `PENDING` if some are
//!   left: the loop must call it again (no notify comes for them).

use std::collections::VecDeque;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rawtask::capi::{guard, Failure, RawtaskStatus};
use rawtask::Runnable;

/// The C function that wakes the foreign loop; see the module docs for when it is called.
pub type NotifyFn = unsafe extern "C" fn(context: *mut c_void);

/// What the schedule functions of the loop's tasks and the loop share.
struct Shared {
    state: Mutex<State>,
    notify: NotifyFn,
    context: *mut c_void,
}

// SAFETY: `interop_loop_new`'s contract: `notify` may be called from any thread with `context`.
unsafe impl Send for Shared {}
// SAFETY: as above; `context` is only ever passed to `notify` by value.
unsafe impl Sync for Shared {}

struct State {
    queue: VecDeque<Runnable>,
    /// A notify was sent and no drain has found the queue empty since (or a drain is running,
    /// which will look again before it returns).
    notified: bool,
    /// `interop_loop_free` ran: a runnable scheduled now is dropped (its task is cancelled).
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing that can panic runs under the lock but `notify`, which must not unwind.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, runnable: Runnable) {
        let mut state = self.lock();
        if state.closed {
            drop(state);
            drop(runnable); // cancels the task: its future is dropped here
            return;
        }
        state.queue.push_back(runnable);
        if !state.notified {
            state.notified = true;
            // Under the lock, so `interop_loop_free` (which takes it) cannot free `context`
            // while this call uses it.
            // SAFETY: `interop_loop_new`'s contract.
            unsafe { (self.notify)(self.context) };
        }
    }
}

/// A loop scheduler, as C sees it (opaque): made by [`interop_loop_new`] on the loop thread,
/// drained there by [`interop_loop_drain`], freed there by [`interop_loop_free`].
pub struct InteropLoop {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for InteropLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InteropLoop")
            .field("queued", &self.shared.lock().queue.len())
            .finish_non_exhaustive()
    }
}

/// The schedule function of a task that runs on `lp`'s loop: it queues the runnable and
/// notifies the loop. It keeps the queue alive, so a task may outlive the loop (its wakes then
/// cancel it).
///
/// (With rawtask's home scheduler this becomes `rawtask::capi::home_schedule(home)`.)
pub fn schedule_for_loop(lp: &InteropLoop) -> impl Fn(Runnable) + Send + Sync + 'static {
    let shared = lp.shared.clone();
    move |runnable| shared.push(runnable)
}

/// Runs up to `max` queued runnables on the calling (loop) thread, oldest first, and returns
/// how many ran and whether some are left (`true`: call again; no notify comes for them).
/// A task that panics is cancelled; the panic is reported after the others ran.
///
/// (With rawtask's home scheduler this becomes `rawtask_home_drain`.)
pub fn drain(lp: &InteropLoop, max: usize) -> (usize, bool) {
    let mut ran = 0;
    let mut panicked = None;
    while ran < max {
        let batch: VecDeque<Runnable> = {
            let mut state = lp.shared.lock();
            let room = max - ran;
            if state.queue.is_empty() {
                state.notified = false;
                break;
            }
            if state.queue.len() <= room {
                std::mem::take(&mut state.queue)
            } else {
                state.queue.drain(..room).collect()
            }
        };
        for runnable in batch {
            ran += 1;
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| runnable.run())) {
                panicked.get_or_insert(payload);
            }
        }
    }
    if let Some(payload) = panicked {
        std::panic::resume_unwind(payload);
    }
    let more = {
        let state = lp.shared.lock();
        !state.queue.is_empty()
    };
    (ran, more)
}

/// Creates a loop scheduler for the calling thread's event loop. `notify(context)` wakes the
/// loop (see the module docs); it must be thread-safe and non-blocking, and `context` must
/// stay valid until [`interop_loop_free`] returns. Returns NULL if `notify` is NULL.
///
/// ```
/// use rawtask_interop_bridge::*;
/// unsafe extern "C" fn wake(_: *mut std::ffi::c_void) {}
/// let lp = interop_loop_new(Some(wake), std::ptr::null_mut());
/// // SAFETY: `lp` came from `interop_loop_new`.
/// assert_eq!(unsafe { interop_loop_free(lp) }, rawtask::capi::RawtaskStatus::Ok);
/// ```
#[no_mangle]
pub extern "C" fn interop_loop_new(
    notify: Option<NotifyFn>,
    context: *mut c_void,
) -> *mut InteropLoop {
    let Some(notify) = notify else {
        return std::ptr::null_mut();
    };
    Box::into_raw(Box::new(InteropLoop {
        shared: Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                notified: false,
                closed: false,
            }),
            notify,
            context,
        }),
    }))
}

/// Runs up to `max` queued tasks (see [`drain`]) and stores how many ran in `*ran` (if not
/// NULL). Returns `OK` if nothing is left, `PENDING` if the loop must call again,
/// `PANICKED` if a task panicked, `INVALID_ARGUMENT` for a NULL loop.
///
/// # Safety
/// `lp` is NULL or a live loop from [`interop_loop_new`], used on its loop thread; `ran` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn interop_loop_drain(
    lp: *mut InteropLoop,
    max: usize,
    ran: *mut usize,
) -> RawtaskStatus {
    guard(|| {
        // SAFETY: the caller passes NULL or a live loop.
        let lp = unsafe { lp.as_ref() }
            .ok_or_else(|| Failure::invalid_argument("interop_loop_drain: `lp` is null"))?;
        let (count, more) = drain(lp, max);
        if !ran.is_null() {
            // SAFETY: the caller passes NULL or a writable `size_t`.
            unsafe { ran.write(count) };
        }
        Ok(if more {
            RawtaskStatus::Pending
        } else {
            RawtaskStatus::Ok
        })
    })
}

/// Frees the loop scheduler: cancels every task still queued, and every task woken later (its
/// wake drops it). Never calls `notify` after it returns.
///
/// # Safety
/// `lp` is NULL or a live loop from [`interop_loop_new`], not used again.
#[no_mangle]
pub unsafe extern "C" fn interop_loop_free(lp: *mut InteropLoop) -> RawtaskStatus {
    guard(|| {
        if lp.is_null() {
            return Err(Failure::invalid_argument("interop_loop_free: `lp` is null"));
        }
        // SAFETY: the caller gives up a live loop.
        let lp = unsafe { Box::from_raw(lp) };
        let queued = {
            let mut state = lp.shared.lock();
            state.closed = true;
            std::mem::take(&mut state.queue)
        };
        drop(queued); // cancels those tasks, outside the lock (their wakers may wake others)
        Ok(RawtaskStatus::Ok)
    })
}
