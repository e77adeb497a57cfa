//! [`JoinError`]: why a [`Join`](crate::Join) did not produce the task's output.

#[cfg(feature = "alloc")]
use alloc::boxed::Box;
#[cfg(feature = "alloc")]
use core::any::Any;
use core::fmt;

/// Why awaiting a [`Join`](crate::Join) did not produce the task's output (tokio's
/// `JoinError`, maitake's `JoinError::Canceled`).
///
/// `Panicked` can only be told apart for tasks spawned with
/// [`Builder::propagate_panic(true)`](crate::Builder::propagate_panic): without it, a panic in
/// the future leaves [`Runnable::run`](crate::Runnable::run) after closing the task, which is
/// then indistinguishable from a cancellation and reported as `Cancelled`.
///
/// ```
/// use futures_lite::future::block_on;
/// let (runnable, task) = rawtask::Builder::new()
///     .propagate_panic(true)
///     .spawn(|()| async { panic!("boom") }, |_| {});
/// runnable.run(); // the panic is stored, not raised
/// let err = block_on(task.join()).unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(err.into_panic().downcast_ref::<&str>(), Some(&"boom"));
/// ```
pub enum JoinError {
    /// The task was cancelled before it completed: its `Runnable` was dropped, it was aborted
    /// ([`Task::abort`](crate::Task::abort), an [`AbortHandle`](crate::AbortHandle)), or its
    /// future panicked without panic propagation. Its future has been dropped.
    Cancelled,
    /// The future panicked and the task propagates panics: the payload, as `catch_unwind`
    /// returns it. (Not in a build without the `alloc` feature, where there is no box to
    /// carry it and no `catch_unwind` to catch it.)
    #[cfg(feature = "alloc")]
    Panicked(Box<dyn Any + Send + 'static>),
}

impl JoinError {
    /// Whether the task was cancelled.
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    /// drop(runnable);
    /// assert!(futures_lite::future::block_on(task.join()).unwrap_err().is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JoinError::Cancelled)
    }

    /// Whether the task's future panicked (only with panic propagation).
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    /// drop(runnable);
    /// assert!(!futures_lite::future::block_on(task.join()).unwrap_err().is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        #[cfg(feature = "alloc")]
        return matches!(self, JoinError::Panicked(_));
        #[cfg(not(feature = "alloc"))]
        return false;
    }

    /// The panic payload, or `Err(self)` if the task was cancelled.
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    /// drop(runnable);
    /// let err = futures_lite::future::block_on(task.join()).unwrap_err();
    /// assert!(err.try_into_panic().unwrap_err().is_cancelled());
    /// ```
    #[cfg(feature = "alloc")]
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self {
            JoinError::Panicked(payload) => Ok(payload),
            cancelled => Err(cancelled),
        }
    }

    /// The panic payload, to re-raise with `std::panic::resume_unwind`.
    ///
    /// # Panics
    /// If the task was cancelled instead.
    ///
    /// ```
    /// let (runnable, task) = rawtask::Builder::new()
    ///     .propagate_panic(true)
    ///     .spawn(|()| async { std::panic::panic_any(7u8) }, |_| {});
    /// runnable.run();
    /// let err = futures_lite::future::block_on(task.join()).unwrap_err();
    /// assert_eq!(err.into_panic().downcast_ref::<u8>(), Some(&7));
    /// ```
    #[cfg(feature = "alloc")]
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self.try_into_panic() {
            Ok(payload) => payload,
            Err(_) => panic!("rawtask: `JoinError::into_panic` called on a cancelled task"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled => f.write_str("JoinError::Cancelled"),
            #[cfg(feature = "alloc")]
            JoinError::Panicked(_) => f.write_str("JoinError::Panicked(..)"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Cancelled => f.write_str("task was cancelled"),
            #[cfg(feature = "alloc")]
            JoinError::Panicked(_) => f.write_str("task panicked"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for JoinError {}
