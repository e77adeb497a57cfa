//! [`Join`]: awaits a task and tells completion, cancellation and a panic apart.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::abort_handle::AbortHandle;
use crate::join_error::JoinError;
use crate::task::Task;

/// A [`Task`] that resolves to `Result<T, JoinError>`: `Ok` with the output,
/// [`JoinError::Cancelled`] once the task was cancelled and its future dropped, or
/// [`JoinError::Panicked`] with the payload of a propagated panic (made by [`Task::join`]).
///
/// Like the `Task` it wraps, dropping a `Join` cancels the task; [`detach`](Self::detach) lets
/// it run on.
///
/// ```
/// use futures_lite::future::block_on;
/// let (runnable, task) = rawtask::spawn(async { 3 }, |_| {});
/// runnable.run();
/// assert_eq!(block_on(task.join()).unwrap(), 3);
/// ```
#[must_use = "tasks get cancelled when dropped, use `.detach()` to run them in the background"]
pub struct Join<T, M = ()> {
    task: Task<T, M>,
}

// `Task::join` lives here, beside the type it makes, so that `task` does not import `join`.
impl<T, M> Task<T, M> {
    /// Turns the task into a [`Join`](crate::Join), which resolves to `Ok(output)`, or to a
    /// [`JoinError`](crate::JoinError) that tells a cancellation from a panic (the latter
    /// only for tasks spawned with [`propagate_panic`](crate::Builder::propagate_panic); a
    /// panic without propagation cancels the task).
    ///
    /// ```
    /// use futures_lite::future::block_on;
    /// let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    /// runnable.run();
    /// assert_eq!(block_on(task.join()).unwrap(), 1);
    ///
    /// let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    /// drop(runnable);
    /// assert!(block_on(task.join()).unwrap_err().is_cancelled());
    /// ```
    pub fn join(self) -> Join<T, M> {
        Join { task: self }
    }
}

impl<T, M> Join<T, M> {
    /// Cancels the task, keeping the handle; see [`Task::abort`].
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    /// let join = task.join();
    /// assert!(join.abort());
    /// runnable.run(); // drops the future
    /// assert!(futures_lite::future::block_on(join).unwrap_err().is_cancelled());
    /// ```
    pub fn abort(&self) -> bool {
        self.task.abort()
    }

    /// An [`AbortHandle`] for the task; see [`Task::abort_handle`].
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    /// let join = task.join();
    /// join.abort_handle().abort();
    /// drop(runnable);
    /// assert!(futures_lite::future::block_on(join).unwrap_err().is_cancelled());
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        self.task.abort_handle()
    }

    /// Whether the task has finished: completed, or cancelled; see [`Task::is_finished`].
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async {}, |_| {});
    /// let join = task.join();
    /// runnable.run();
    /// assert!(join.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Lets the task run to completion in the background; see [`Task::detach`].
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async {}, |_| {});
    /// task.join().detach();
    /// runnable.run();
    /// ```
    pub fn detach(self) {
        self.task.detach()
    }

    /// Returns the task's data slot.
    ///
    /// ```
    /// let (_runnable, task) = rawtask::spawn_with(async {}, |_| {}, 'j');
    /// assert_eq!(*task.join().metadata(), 'j');
    /// ```
    pub fn metadata(&self) -> &M {
        self.task.metadata()
    }
}

impl<T, M> Future for Join<T, M> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        match self.get_mut().task.poll_task_stored(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => Poll::Ready(Err(JoinError::Cancelled)),
            Poll::Ready(Some(Ok(output))) => Poll::Ready(Ok(output)),
            #[cfg(feature = "std")]
            Poll::Ready(Some(Err(payload))) => Poll::Ready(Err(JoinError::Panicked(*payload.0))),
            #[cfg(not(feature = "std"))]
            Poll::Ready(Some(Err(never))) => match never {},
        }
    }
}

impl<T, M: fmt::Debug> fmt::Debug for Join<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join").field("task", &self.task).finish()
    }
}
