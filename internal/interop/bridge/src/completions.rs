//! Batched completions: a C completion callback (registered with `rawtask_task_on_complete`)
//! that polls and frees each finished task and records its outcome, so that a loop whose
//! callbacks are expensive (Python's) collects many outcomes with one call instead of being
//! called back once per task.

use std::ffi::c_void;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rawtask::capi::{
    clear_last_error, rawtask_task_free, rawtask_task_on_complete, rawtask_task_poll,
    RawtaskStatus, RawtaskTask,
};

/// The outcome of one finished task, as [`interop_completions_collect`] writes it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InteropCompletion {
    /// The task handle's id (`RawtaskTask::id`); the handle is freed.
    pub id: u64,
    /// What `rawtask_task_poll` said: `READY`, `CANCELLED` or `PANICKED` (as an `int32_t`).
    pub status: i32,
    /// The output (a `uint64_t`) if `status` is `READY`, else 0.
    pub value: u64,
}

/// A list of finished tasks' outcomes, filled by the completion callback on whatever thread
/// finishes a task and emptied by the loop.
#[derive(Debug, Default)]
pub struct InteropCompletions {
    done: Mutex<Vec<InteropCompletion>>,
}

impl InteropCompletions {
    fn lock(&self) -> MutexGuard<'_, Vec<InteropCompletion>> {
        self.done.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The completion callback: `context` is one `Arc<InteropCompletions>` reference, which this
/// call takes back.
unsafe extern "C" fn complete(context: *mut c_void, task: RawtaskTask) {
    // SAFETY: `interop_completions_watch` turned one reference into this context, and rawtask
    // calls the callback exactly once.
    let sink = unsafe { Arc::from_raw(context.cast_const().cast::<InteropCompletions>()) };
    let mut value = 0u64;
    // SAFETY: `value` is a writable u64, the output type of every bridge task.
    let status = unsafe { rawtask_task_poll(task, (&raw mut value).cast(), size_of::<u64>()) };
    if status != RawtaskStatus::Ready {
        value = 0;
    }
    let _ = rawtask_task_free(task);
    // A cancelled task leaves a message in this thread's last error; nobody asks for it.
    clear_last_error();
    sink.lock().push(InteropCompletion {
        id: task.id,
        status: status as i32,
        value,
    });
}

/// Creates an empty completion list; free it with [`interop_completions_free`].
#[no_mangle]
pub extern "C" fn interop_completions_new() -> *mut InteropCompletions {
    Arc::into_raw(Arc::new(InteropCompletions::default())).cast_mut()
}

/// Registers the batching callback on `task` with `rawtask_task_on_complete`: when the task
/// finishes, its outcome is recorded in `list` and the handle is freed (so the loop must not
/// free it; it may still cancel it with `rawtask_task_cancel`, whose outcome is then
/// `CANCELLED`). Returns what `rawtask_task_on_complete` returned.
///
/// # Safety
/// `list` is a live list from [`interop_completions_new`].
#[no_mangle]
pub unsafe extern "C" fn interop_completions_watch(
    list: *const InteropCompletions,
    task: RawtaskTask,
) -> RawtaskStatus {
    // SAFETY: the caller passes a live list, which holds one reference; we add one for the
    // callback.
    let context = unsafe {
        Arc::increment_strong_count(list);
        list
    };
    // SAFETY: `complete` may run on any thread and takes its reference back exactly once.
    let status =
        unsafe { rawtask_task_on_complete(task, Some(complete), context.cast_mut().cast()) };
    if status != RawtaskStatus::Ok {
        // Never called: release the callback's reference here.
        // SAFETY: the reference added above.
        unsafe { Arc::decrement_strong_count(list) };
    }
    status
}

/// Moves up to `cap` recorded outcomes (oldest first) into `out` and returns how many.
///
/// # Safety
/// `list` is a live list; `out` points to `cap` writable elements (or `cap` is 0).
#[no_mangle]
pub unsafe extern "C" fn interop_completions_collect(
    list: *const InteropCompletions,
    out: *mut InteropCompletion,
    cap: usize,
) -> usize {
    // SAFETY: the caller passes a live list.
    let list = unsafe { &*list };
    let mut done = list.lock();
    let n = done.len().min(cap);
    for (i, completion) in done.drain(..n).enumerate() {
        // SAFETY: `i < cap`, and `out` holds `cap` elements.
        unsafe { out.add(i).write(completion) };
    }
    n
}

/// Drops the loop's reference to the list (callbacks still registered keep theirs).
///
/// # Safety
/// `list` came from [`interop_completions_new`] and is not used again.
#[no_mangle]
pub unsafe extern "C" fn interop_completions_free(list: *const InteropCompletions) {
    // SAFETY: the caller gives up the reference `interop_completions_new` made.
    drop(unsafe { Arc::from_raw(list) });
}
