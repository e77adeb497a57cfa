//! [`Checked`]: the data slot of a local task, usable only on the thread that spawned it.

use core::fmt;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};

use crate::sync::{current_thread_id, ThreadId};

/// The data of a task spawned with [`spawn_local_with`](super::spawn_local_with): it can be
/// moved to any thread, but read, written, cloned or formatted only on the thread that
/// spawned the task; anywhere else those panic.
///
/// async-task-ffi has the same type under a private path; here it can be named. Dropped on
/// another thread, its contents are leaked rather than dropped there (async-task-ffi panics in
/// `drop`, which aborts the process during unwinding).
///
/// ```
/// use rawtask::compat::async_task_ffi::{self, Checked, Runnable};
/// use std::cell::Cell;
///
/// let schedule = |runnable: Runnable<Checked<Cell<u32>>>| {
///     runnable.data().set(runnable.data().get() + 1);
///     runnable.run();
/// };
/// let (runnable, task) = async_task_ffi::spawn_local_with(async { 5 }, schedule, Cell::new(0));
/// runnable.schedule();
/// assert_eq!(futures_lite::future::block_on(task), 5);
/// ```
pub struct Checked<D> {
    home: ThreadId,
    inner: ManuallyDrop<D>,
}

// SAFETY: a `Checked<D>` gives access to its `D` (by reference, clone, format or drop) only on
// its home thread, and panics or leaks elsewhere; moving the bytes of a `D` to another thread
// and back without touching them is sound for any `D`.
unsafe impl<D> Send for Checked<D> {}
// SAFETY: as for `Send`: `&Checked<D>` reaches the `D` only on the home thread.
unsafe impl<D> Sync for Checked<D> {}

impl<D> Checked<D> {
    pub(super) fn new(data: D) -> Checked<D> {
        Checked {
            home: current_thread_id(),
            inner: ManuallyDrop::new(data),
        }
    }

    #[inline]
    fn at_home(&self) -> bool {
        self.home == current_thread_id()
    }

    #[track_caller]
    #[inline]
    fn check(&self) {
        assert!(
            self.at_home(),
            "rawtask: local task data accessed by a thread that did not spawn the task"
        );
    }
}

impl<D> Deref for Checked<D> {
    type Target = D;

    #[track_caller]
    fn deref(&self) -> &D {
        self.check();
        &self.inner
    }
}

impl<D> DerefMut for Checked<D> {
    #[track_caller]
    fn deref_mut(&mut self) -> &mut D {
        self.check();
        &mut self.inner
    }
}

impl<D: Clone> Clone for Checked<D> {
    #[track_caller]
    fn clone(&self) -> Checked<D> {
        Checked {
            home: self.home,
            inner: ManuallyDrop::new(D::clone(self)),
        }
    }
}

impl<D: fmt::Debug> fmt::Debug for Checked<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        D::fmt(self, f)
    }
}

impl<D> Drop for Checked<D> {
    fn drop(&mut self) {
        if self.at_home() {
            // SAFETY: dropped once, here, and never used again.
            unsafe { ManuallyDrop::drop(&mut self.inner) }
        }
        // Elsewhere the `D` is leaked: dropping it there could touch thread-bound state.
    }
}
