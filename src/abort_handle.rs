//! [`AbortHandle`]: cancels a task from any thread without owning its [`Task`](crate::Task).

use core::fmt;
use core::ptr::NonNull;

use crate::raw::header::{prefix, HeaderPrefix};
use crate::raw::release::release_waker_ref;
use crate::raw::state::Abort;
use crate::schedule_info::ScheduleInfo;

/// Cancels a task without owning its [`Task`](crate::Task) handle (tokio's `AbortHandle`).
///
/// Made by [`Task::abort_handle`](crate::Task::abort_handle). It holds one counted reference
/// to the task's allocation, exactly as a [`Waker`](core::task::Waker) does, and nothing else:
/// it never reads the data slot, the future or the output, so it is `Send + Sync` whatever the
/// task holds, and it does not keep the output alive (a task whose `Task` was dropped or
/// detached drops its output at completion, not when the last `AbortHandle` goes).
///
/// Aborting closes the task: its future is dropped by the executor (on the next run of its
/// `Runnable`, which an idle task gets scheduled for, as for [`Task::cancel`]), and whoever
/// awaits the `Task` then sees the cancellation (a panic for `Task`, `None` for
/// [`FallibleTask`](crate::FallibleTask), [`JoinError::Cancelled`](crate::JoinError) for
/// [`Join`](crate::Join)). A task that has already completed keeps its output.
///
/// [`Task::cancel`]: crate::Task::cancel
///
/// ```
/// use futures_lite::future::block_on;
/// let (s, r) = flume::unbounded();
/// let (runnable, task) = rawtask::spawn(std::future::pending::<()>(), move |r| s.send(r).unwrap());
/// runnable.run(); // pending, idle
/// let abort = task.abort_handle();
/// std::thread::spawn(move || assert!(abort.abort())).join().unwrap();
/// r.recv().unwrap().run(); // the executor drops the future
/// assert!(block_on(task.join()).unwrap_err().is_cancelled());
/// ```
pub struct AbortHandle {
    ptr: NonNull<()>,
}

// SAFETY: an `AbortHandle` touches the task only through its atomic state word and, like a
// waker, the schedule function (`Send + Sync` for every spawn that allows other threads; the
// `spawn_unchecked` contract covers wakers and so this handle) and the last-reference release,
// which leaves a local task's contents alone on a foreign thread (rule 8).
unsafe impl Send for AbortHandle {}
// SAFETY: `&AbortHandle` only loads or transitions the atomic state word.
unsafe impl Sync for AbortHandle {}

impl AbortHandle {
    /// Wraps one reference to the task at `ptr`.
    ///
    /// # Safety
    /// The caller gives up one reference to a live task.
    #[inline]
    pub(crate) unsafe fn from_ref(ptr: NonNull<()>) -> AbortHandle {
        AbortHandle { ptr }
    }

    #[inline(always)]
    fn prefix(&self) -> &HeaderPrefix {
        // SAFETY: the handle's reference keeps the task alive.
        unsafe { prefix(self.ptr) }
    }

    /// Cancels the task. Returns `true` if this call cancelled a task that had neither
    /// completed nor been cancelled before; `false` if it had (a completed task keeps its
    /// output for the `Task` holder).
    ///
    /// The future is dropped by the executor, not by this call: on the run of the queued
    /// `Runnable`, or of the one this call schedules for an idle task.
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    /// let abort = task.abort_handle();
    /// assert!(abort.abort());
    /// assert!(!abort.abort()); // already cancelled
    /// assert!(runnable.is_cancelled());
    /// runnable.run(); // drops the future
    /// assert!(abort.is_finished());
    /// assert_eq!(futures_lite::future::block_on(task.fallible()), None);
    /// ```
    pub fn abort(&self) -> bool {
        match self.prefix().state.abort() {
            Abort::AlreadyDone => false,
            Abort::Closed => true,
            Abort::ClosedSchedule => {
                // SAFETY: `abort` added the reference the new `Runnable` owns; ours keeps the
                // task and its schedule function alive during the call (rule 6).
                unsafe {
                    (self.prefix().vtable.schedule)(self.ptr, ScheduleInfo::new(false), false)
                };
                true
            }
        }
    }

    /// Whether the task has finished for good: completed, or cancelled with its future
    /// dropped. Right after [`abort`](Self::abort) this can still be `false`, until the
    /// executor has dropped the future.
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async {}, |_| {});
    /// let abort = task.abort_handle();
    /// assert!(!abort.is_finished());
    /// runnable.run();
    /// assert!(abort.is_finished());
    /// # drop(task);
    /// ```
    pub fn is_finished(&self) -> bool {
        self.prefix().state.load().is_finished()
    }
}

impl Clone for AbortHandle {
    /// Another handle to the same task: one more reference.
    fn clone(&self) -> AbortHandle {
        self.prefix().state.add_ref();
        // SAFETY: the reference just added belongs to the new handle.
        unsafe { AbortHandle::from_ref(self.ptr) }
    }
}

impl Drop for AbortHandle {
    fn drop(&mut self) {
        // SAFETY: the handle owns its reference and gives it up; as a waker's last reference,
        // it frees a finished task or schedules an unfinished one to drop its future (rule 7).
        unsafe { release_waker_ref(self.ptr) }
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.prefix().state.load();
        f.debug_struct("AbortHandle")
            .field("state", &format_args!("{}", state.stage()))
            .field("references", &state.refs())
            .finish()
    }
}
