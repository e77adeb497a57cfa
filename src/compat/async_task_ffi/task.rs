//! async-task-ffi's [`Task`]: the crate root's handle with its data slot out of reach.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// A handle that awaits the output of a task (async-task-ffi's `Task<T>`).
///
/// It behaves as [`crate::Task`], and dropping it cancels the task, but it has no type for
/// the data slot and never reads it: that is what lets [`Runnable::data_mut`] hand out
/// `&mut D` unconditionally.
///
/// [`Runnable::data_mut`]: super::Runnable::data_mut
///
/// ```
/// let (runnable, task) = rawtask::compat::async_task_ffi::spawn_with(async { "done" }, |_| {}, 5u8);
/// runnable.run();
/// assert_eq!(futures_lite::future::block_on(task), "done");
/// ```
#[must_use = "tasks get canceled when dropped, use `.detach()` to run them in the background"]
#[repr(transparent)]
pub struct Task<T> {
    inner: crate::Task<T>,
}

impl<T> Task<T> {
    #[inline(always)]
    #[cfg_attr(not(feature = "alloc"), allow(dead_code))] // only the heap `spawn*` build one
    pub(super) fn new<D>(inner: crate::Task<T, D>) -> Task<T> {
        Task {
            inner: inner.erase_metadata(),
        }
    }

    /// Lets the task run to completion in the background; its output is dropped.
    ///
    /// ```
    /// let (runnable, task) = rawtask::compat::async_task_ffi::spawn(async { println!("hi") }, |_| {});
    /// task.detach();
    /// runnable.run(); // still runs
    /// ```
    #[inline]
    pub fn detach(self) {
        self.inner.detach()
    }

    /// Cancels the task and waits until its future has been dropped; the output if the task
    /// had already completed, `None` otherwise.
    ///
    /// ```
    /// let (runnable, task) = rawtask::compat::async_task_ffi::spawn(async { 1 }, |_| {});
    /// runnable.run();
    /// assert_eq!(futures_lite::future::block_on(task.cancel()), Some(1));
    /// ```
    pub async fn cancel(self) -> Option<T> {
        self.inner.cancel().await
    }

    /// Converts the handle into a raw pointer to the task (the pointer
    /// [`Runnable::into_raw`](super::Runnable::into_raw) returns).
    ///
    /// ```
    /// use rawtask::compat::async_task_ffi::{self, Task};
    ///
    /// let (runnable, task) = async_task_ffi::spawn(async { 3 }, |_| {});
    /// let ptr = task.into_raw();
    /// runnable.run();
    /// // SAFETY: `ptr` came from `into_raw` of a `Task<i32>` and is converted back once.
    /// let task = unsafe { Task::<i32>::from_raw(ptr) };
    /// assert_eq!(futures_lite::future::block_on(task), 3);
    /// ```
    #[inline]
    pub fn into_raw(self) -> *mut () {
        self.inner.into_raw()
    }

    /// Converts a pointer made by [`into_raw`](Self::into_raw) back into a `Task`.
    ///
    /// # Safety
    /// `ptr` must come from `Task::<T>::into_raw` of this module with the same `T`, and be
    /// converted back only once.
    ///
    /// ```
    /// use rawtask::compat::async_task_ffi::{self, Task};
    ///
    /// let (_runnable, task) = async_task_ffi::spawn(async {}, |_| {});
    /// // SAFETY: the pointer comes straight from `into_raw` of a `Task<()>`.
    /// drop(unsafe { Task::<()>::from_raw(task.into_raw()) });
    /// ```
    #[inline]
    pub unsafe fn from_raw(ptr: *mut ()) -> Task<T> {
        // SAFETY: forwarded from the caller; this module's `Task<T>` is the crate root's
        // `Task<T>` (slot type `()`), so the pointer came from that type's `into_raw`.
        let inner = unsafe { crate::Task::from_raw(ptr) };
        Task { inner }
    }
}

impl<T> Future for Task<T> {
    type Output = T;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.inner).poll(cx)
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The erased slot has type `()`: the crate root's `Debug` shows nothing of it.
        f.debug_struct("Task").field("task", &self.inner).finish()
    }
}
