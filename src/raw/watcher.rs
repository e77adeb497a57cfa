//! [`Watcher`]: a counted reference that waits for a task to finish without taking its output.
//!
//! A `Task` handle does two jobs: it waits for the task (registering the awaiter) and it owns
//! the output and the right to cancel. A caller that needs the two jobs in different hands
//! gives the waiting to a `Watcher` and keeps the `Task` handle only to cancel, detach or drop,
//! never to poll, so the awaiter slot still has a single registrar (protocol rule 13).

use core::ptr::NonNull;
use core::task::{Context, Poll, Waker};

use super::awaiter::Look;
use super::header::{prefix, HeaderPrefix};
use super::release::{release_waker_ref, release_watcher_ref};

/// One reference to a task, which may wait for the task to finish: to complete, or to be
/// cancelled and have its future dropped.
pub(crate) struct Watcher {
    ptr: NonNull<()>,
    /// Its reference is marked as a `CallbackTask`'s (rule 16), released as such.
    marked: bool,
}

// SAFETY: a `Watcher` only touches the task through its atomic state word and the awaiter
// protocol (as a waker and the `Task` holder do), and it is the only registrar of the awaiter.
unsafe impl Send for Watcher {}
// SAFETY: `&Watcher` only loads the state word.
unsafe impl Sync for Watcher {}

impl Watcher {
    /// Wraps one reference to the task at `ptr`.
    ///
    /// # Safety
    /// The caller gives up one reference to a live task, and the task's `Task` handle is never
    /// polled (so that the watcher is the only one to register the awaiter).
    #[inline]
    pub(crate) unsafe fn from_ref(ptr: NonNull<()>) -> Watcher {
        Watcher { ptr, marked: false }
    }

    /// Wraps the reference that [`StateCell::add_watcher_ref`](super::state::StateCell)
    /// added for a `CallbackTask` (rule 16).
    ///
    /// # Safety
    /// As [`from_ref`](Self::from_ref), for a reference added by `add_watcher_ref`.
    #[inline]
    pub(crate) unsafe fn from_marked_ref(ptr: NonNull<()>) -> Watcher {
        Watcher { ptr, marked: true }
    }

    #[inline(always)]
    fn prefix(&self) -> &HeaderPrefix {
        // SAFETY: the watcher's reference keeps the task alive.
        unsafe { prefix(self.ptr) }
    }

    /// Whether the task has finished: completed, or cancelled with its future dropped.
    #[inline]
    pub(crate) fn is_finished(&self) -> bool {
        self.prefix().state.load().is_finished()
    }

    /// Waits until [`is_finished`](Self::is_finished).
    #[inline]
    pub(crate) fn poll_finished(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `&mut self` rules out a second registration through this watcher, and the
        // watcher is the task's only registrar (rule 13).
        unsafe { self.register_finished(cx.waker()) }
    }

    /// [`poll_finished`](Self::poll_finished) through a shared reference, for a watcher shared
    /// by the wakers it registers (a `CallbackTask`'s, rule 14).
    ///
    /// # Safety
    /// No other registration of this task's awaiter runs at the same time.
    #[inline]
    pub(crate) unsafe fn register_finished(&self, waker: &Waker) -> Poll<()> {
        let prefix = self.prefix();
        prefix.poll_awaiter(waker, |state| {
            if !state.is_finished() {
                return Look::Wait;
            }
            if state.has_awaiter() {
                // A waker we registered is still there (the finisher did not take it): take it
                // out, so that it does not live as long as the task.
                prefix.notify_awaiter(Some(waker));
            }
            Look::Done(())
        })
    }
}

impl Drop for Watcher {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the watcher owns its reference and gives it up.
        unsafe {
            if self.marked {
                release_watcher_ref(self.ptr)
            } else {
                release_waker_ref(self.ptr)
            }
        }
    }
}
