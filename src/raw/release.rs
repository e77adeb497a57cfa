//! Giving up a reference: whoever releases the last one frees the task, or first schedules it
//! once more so that the executor drops a live future on its own thread (rules 1, 2 and 7).

use core::ptr::NonNull;

use super::awaiter::wake_awaiter;
use super::header::prefix;
use super::state::State;
use crate::schedule_info::ScheduleInfo;

/// Releases a waker's reference. If it was the last owner of a task whose future still lives,
/// the task is closed and scheduled one last time so that the executor drops the future on its
/// own thread; a finished task is destroyed.
///
/// # Safety
/// The caller owns one reference to a live task and gives it up.
pub(crate) unsafe fn release_waker_ref(ptr: NonNull<()>) {
    // SAFETY: the caller's reference keeps the task alive until `release_ref`.
    let new = unsafe { prefix(ptr) }.state.release_ref();
    if new.is_unreferenced() {
        // SAFETY: no reference and no `Task` remain, so we own the allocation.
        unsafe { release_last(ptr, new) }
    } else {
        // Only a `CallbackTask` (std) marks a watcher.
        #[cfg(feature = "std")]
        if new.is_orphaned() {
            // SAFETY: the watcher's reference keeps the task alive: it lets go only once the
            // task has finished, which nobody but us can make happen now.
            unsafe { cancel_orphan(ptr) }
        }
    }
}

/// Releases the reference of a `CallbackTask`'s watcher (rule 16), as [`release_waker_ref`].
///
/// # Safety
/// The caller owns the watcher's reference to a live task and gives it up.
#[cfg(feature = "std")]
pub(crate) unsafe fn release_watcher_ref(ptr: NonNull<()>) {
    // SAFETY: the caller's reference keeps the task alive until the release.
    let new = unsafe { prefix(ptr) }.state.release_watcher_ref();
    if new.is_unreferenced() {
        // SAFETY: no reference and no `Task` remain, so we own the allocation.
        unsafe { release_last(ptr, new) }
    }
}

/// Cancels a task that only its watcher still references (rule 16): schedules it one last time
/// so that the executor drops the future, which then notifies the watcher.
///
/// # Safety
/// The task is alive for the length of the call (its watcher holds a reference).
#[cfg(feature = "std")]
#[cold]
unsafe fn cancel_orphan(ptr: NonNull<()>) {
    // SAFETY: alive, as the caller promises.
    let header = unsafe { prefix(ptr) };
    if header.state.close_orphan() {
        // SAFETY: `close_orphan` added the reference the new `Runnable` owns.
        unsafe { (header.vtable.schedule)(ptr, ScheduleInfo::new(false), false) };
    }
}

/// Disposes of a task whose last owner was a waker or a schedule guard.
///
/// # Safety
/// The caller owns the allocation (`new.is_unreferenced()` was observed by it).
#[cold]
unsafe fn release_last(ptr: NonNull<()>, new: State) {
    // SAFETY: we own the allocation, so it is alive.
    let vtable = unsafe { prefix(ptr) }.vtable;
    if new.is_done() {
        // SAFETY: the task is finished (its future and output are gone) and we own it.
        unsafe { (vtable.destroy)(ptr) }
    } else {
        // SAFETY: we own the task; `reschedule_for_drop` gives the new `Runnable` its
        // reference, and the executor drops the future when it runs it.
        unsafe {
            prefix(ptr).state.reschedule_for_drop(new);
            (vtable.schedule)(ptr, ScheduleInfo::new(false), false);
        }
    }
}

/// Finishes with a closed task whose future the caller's `Runnable` has just dropped: clears
/// SCHEDULED (and NOTIFIED, which a `Runnable` queued again after a yield carries), wakes the
/// awaiter (so that a `cancel` waiting for the drop resolves, rule 4) and
/// releases the reference, freeing the task if that was the last owner.
///
/// # Safety
/// The caller owns a `Runnable` (reference and SCHEDULED bit) of a closed task whose future is
/// gone, and gives it up.
pub(crate) unsafe fn release_closed_runnable(ptr: NonNull<()>) {
    // SAFETY: our reference keeps the task alive until it is released.
    let header = unsafe { prefix(ptr) };
    let prev = header.state.unschedule_and_release();
    if prev.has_awaiter() {
        let awaiter = header.take_awaiter(None);
        // SAFETY: the reference is still ours (`unschedule_and_release` kept it); the task is
        // closed, so if this is the last owner it is destroyed right away.
        unsafe { release_waker_ref(ptr) };
        wake_awaiter(awaiter);
    } else if prev.last_reference_without_task() {
        // SAFETY: our reference went with the transition and it was the last owner: the task
        // is ours, closed, its future gone.
        unsafe { (header.vtable.destroy)(ptr) };
    }
}
