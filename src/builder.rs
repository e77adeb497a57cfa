//! Spawning: the [`Builder`] and the `spawn*` functions.

use core::fmt;
use core::future::Future;

use crate::raw::{AnyThread, Locality, RawTask};
use crate::{Runnable, Schedule, Task};

/// Configures and spawns tasks: a data slot (metadata) and panic propagation.
///
/// ```
/// use rawtask::Builder;
///
/// let (runnable, task) = Builder::new()
///     .metadata(10u32)
///     .propagate_panic(true)
///     .spawn(|limit: &u32| { let n = *limit; async move { (0..n).sum::<u32>() } }, |_| {});
/// assert_eq!(*runnable.metadata(), 10);
/// runnable.run();
/// assert_eq!(futures_lite::future::block_on(task), 45);
/// ```
pub struct Builder<M> {
    metadata: M,
    propagate_panic: bool,
}

impl<M: Default> Default for Builder<M> {
    fn default() -> Self {
        Builder {
            metadata: M::default(),
            propagate_panic: false,
        }
    }
}

impl<M: fmt::Debug> fmt::Debug for Builder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("metadata", &self.metadata)
            .field("propagate_panic", &self.propagate_panic)
            .finish()
    }
}

impl Builder<()> {
    /// A builder with no data slot (`()`) and no panic propagation.
    ///
    /// ```
    /// let (runnable, task) = rawtask::Builder::new().spawn(|()| async { 1 }, |_| {});
    /// runnable.run();
    /// assert_eq!(futures_lite::future::block_on(task), 1);
    /// ```
    pub fn new() -> Builder<()> {
        Builder {
            metadata: (),
            propagate_panic: false,
        }
    }

    /// Sets the data slot (async-task's metadata). The future-building closure of the `spawn`
    /// methods receives a reference to it.
    ///
    /// ```
    /// let (runnable, _task) = rawtask::Builder::new().metadata("name").spawn(|_| async {}, |_| {});
    /// assert_eq!(*runnable.metadata(), "name");
    /// ```
    pub fn metadata<M>(self, metadata: M) -> Builder<M> {
        Builder {
            metadata,
            propagate_panic: self.propagate_panic,
        }
    }
}

impl<M> Builder<M> {
    /// With `true`, a panic in the future is caught, stored as the task's output, and re-raised
    /// by whoever awaits the [`Task`]. With `false` (the default) it leaves
    /// [`Runnable::run`] after the task is closed. Needs the `std` feature to have an effect.
    ///
    /// ```
    /// use futures_lite::future::block_on;
    /// let (runnable, task) = rawtask::Builder::new()
    ///     .propagate_panic(true)
    ///     .spawn(|()| async { panic!("boom") }, |_| {});
    /// runnable.run(); // does not panic
    /// let err = std::panic::catch_unwind(|| block_on(task)).unwrap_err();
    /// assert_eq!(err.downcast_ref::<&str>(), Some(&"boom"));
    /// ```
    pub fn propagate_panic(self, propagate_panic: bool) -> Builder<M> {
        Builder {
            metadata: self.metadata,
            propagate_panic,
        }
    }

    /// Spawns a `Send` future; `future` builds it from a reference to the data slot.
    ///
    /// ```
    /// let (runnable, task) = rawtask::Builder::new()
    ///     .metadata(2u8)
    ///     .spawn(|m| { let m = *m; async move { m * 2 } }, |_| {});
    /// runnable.run();
    /// assert_eq!(futures_lite::future::block_on(task), 4);
    /// ```
    pub fn spawn<F, Fut, S>(self, future: F, schedule: S) -> (Runnable<M>, Task<Fut::Output, M>)
    where
        F: FnOnce(&M) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
        S: Schedule<M> + Send + Sync + 'static,
        M: Send + 'static,
    {
        // SAFETY: the future, output and data slot are `Send + 'static` (a waker on any thread
        // may free the task and drop the slot) and the schedule function is
        // `Send + Sync + 'static`: that is all `spawn_unchecked` asks beyond its signature.
        unsafe { self.spawn_unchecked(future, schedule) }
    }

    /// Spawns a future that is not `Send`. The future, its output and the data slot are only
    /// ever polled or dropped on the current thread.
    ///
    /// Running the `Runnable` on another thread panics with a clear message (after cancelling
    /// the task); dropping the task's contents on another thread (for example when the last
    /// waker is dropped there, or the spawning thread has exited) leaks them instead of
    /// dropping them. The process is never aborted for this.
    ///
    /// ```
    /// use std::rc::Rc;
    /// let rc = Rc::new(5);
    /// let (runnable, task) = rawtask::Builder::new().spawn_local(move |()| async move { *rc }, |_| {});
    /// runnable.run();
    /// assert_eq!(futures_lite::future::block_on(task), 5);
    /// ```
    #[cfg(feature = "std")]
    pub fn spawn_local<F, Fut, S>(
        self,
        future: F,
        schedule: S,
    ) -> (Runnable<M>, Task<Fut::Output, M>)
    where
        F: FnOnce(&M) -> Fut,
        Fut: Future + 'static,
        Fut::Output: 'static,
        S: Schedule<M> + Send + Sync + 'static,
        M: 'static,
    {
        // SAFETY: `HomeThread` keeps the non-`Send` future, output and data slot on this
        // thread (raw rule 8); everything is `'static`.
        unsafe { self.spawn_with_locality(future, schedule, crate::raw::HomeThread::current()) }
    }

    /// Spawns a future without checking `Send` or `'static`.
    ///
    /// # Safety
    /// - If `Fut` is not `Send`, its `Runnable` must be used and dropped on the original thread.
    /// - If `Fut` is not `'static`, borrowed variables must outlive its `Runnable`.
    /// - If `schedule` is not `Send + Sync`, all instances of the `Runnable`'s `Waker` must be
    ///   used and dropped on the original thread.
    /// - If `schedule` is not `'static`, borrowed variables must outlive all instances of the
    ///   `Runnable`'s `Waker`.
    ///
    /// ```
    /// let data = String::from("borrowed");
    /// // SAFETY: `data` outlives the task, which is run and joined right here.
    /// let (runnable, task) = unsafe {
    ///     rawtask::Builder::new().spawn_unchecked(|()| async { data.len() }, |_| {})
    /// };
    /// runnable.run();
    /// assert_eq!(futures_lite::future::block_on(task), 8);
    /// ```
    pub unsafe fn spawn_unchecked<'a, F, Fut, S>(
        self,
        future: F,
        schedule: S,
    ) -> (Runnable<M>, Task<Fut::Output, M>)
    where
        F: FnOnce(&'a M) -> Fut,
        Fut: Future + 'a,
        S: Schedule<M>,
        M: 'a,
    {
        // SAFETY: forwarded from the caller.
        unsafe { self.spawn_with_locality(future, schedule, AnyThread) }
    }

    /// # Safety
    /// As `spawn_unchecked`, with `locality` deciding where the contents may be dropped.
    #[inline]
    unsafe fn spawn_with_locality<'a, F, Fut, S, L>(
        self,
        future: F,
        schedule: S,
        locality: L,
    ) -> (Runnable<M>, Task<Fut::Output, M>)
    where
        F: FnOnce(&'a M) -> Fut,
        Fut: Future + 'a,
        S: Schedule<M>,
        L: Locality,
        M: 'a,
    {
        // SAFETY: forwarded from the caller; the new task's reference goes to the `Runnable`
        // and its TASK bit to the `Task`.
        unsafe {
            let ptr = RawTask::<Fut, Fut::Output, S, M, L>::allocate(
                future,
                schedule,
                self.metadata,
                locality,
                self.propagate_panic,
            );
            (Runnable::from_raw(ptr), Task::from_raw(ptr.as_ptr()))
        }
    }
}

/// Creates a new task from a `Send` future.
///
/// The `Runnable` is used to poll the future; the `Task` awaits its output. The schedule
/// function receives the `Runnable` whenever a waker wakes the task.
///
/// ```
/// let (s, r) = flume::unbounded();
/// let (runnable, task) = rawtask::spawn(async { 1 + 2 }, move |runnable| s.send(runnable).unwrap());
/// runnable.schedule();
/// for runnable in r.try_iter() {
///     runnable.run();
/// }
/// assert_eq!(futures_lite::future::block_on(task), 3);
/// ```
pub fn spawn<F, S>(future: F, schedule: S) -> (Runnable, Task<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule + Send + Sync + 'static,
{
    // SAFETY: the bounds are those that make `spawn_unchecked` safe.
    unsafe { spawn_unchecked(future, schedule) }
}

/// Creates a new task from a future that is not `Send`; see [`Builder::spawn_local`] for what
/// happens when it is used from another thread.
///
/// ```
/// use std::rc::Rc;
/// let value = Rc::new(3);
/// let (runnable, task) = rawtask::spawn_local(async move { *value }, |_| {});
/// runnable.run();
/// assert_eq!(futures_lite::future::block_on(task), 3);
/// ```
#[cfg(feature = "std")]
pub fn spawn_local<F, S>(future: F, schedule: S) -> (Runnable, Task<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule + Send + Sync + 'static,
{
    Builder::new().spawn_local(move |()| future, schedule)
}

/// Creates a new task without checking `Send` or `'static`.
///
/// # Safety
/// The contract of [`Builder::spawn_unchecked`].
///
/// ```
/// let text = String::from("abc");
/// // SAFETY: the task finishes before `text` goes away.
/// let (runnable, task) = unsafe { rawtask::spawn_unchecked(async { text.len() }, |_| {}) };
/// runnable.run();
/// assert_eq!(futures_lite::future::block_on(task), 3);
/// ```
pub unsafe fn spawn_unchecked<F, S>(future: F, schedule: S) -> (Runnable, Task<F::Output>)
where
    F: Future,
    S: Schedule,
{
    // SAFETY: forwarded from the caller.
    unsafe { Builder::new().spawn_unchecked(move |()| future, schedule) }
}

/// Creates a new task with a data slot (async-task-ffi's API): `data` is stored in the task
/// allocation at [`data_offset::<M>()`](crate::data_offset) and is reachable from the
/// `Runnable`, the `Task`, and from C through the raw task pointer.
///
/// ```
/// let (runnable, task) = rawtask::spawn_with(async { 1 }, |_| {}, 7u64);
/// assert_eq!(*runnable.data(), 7);
/// runnable.run();
/// assert_eq!(futures_lite::future::block_on(task), 1);
/// ```
pub fn spawn_with<F, S, M>(future: F, schedule: S, data: M) -> (Runnable<M>, Task<F::Output, M>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule<M> + Send + Sync + 'static,
    M: Send + 'static,
{
    Builder::new()
        .metadata(data)
        .spawn(move |_: &M| future, schedule)
}

/// Creates a new task with a data slot from a future that is not `Send`; see
/// [`Builder::spawn_local`].
///
/// ```
/// use std::rc::Rc;
/// let rc = Rc::new(1);
/// let (runnable, task) = rawtask::spawn_local_with(async move { *rc }, |_| {}, 4u8);
/// assert_eq!(*task.metadata(), 4);
/// runnable.run();
/// assert_eq!(futures_lite::future::block_on(task), 1);
/// ```
#[cfg(feature = "std")]
pub fn spawn_local_with<F, S, M>(
    future: F,
    schedule: S,
    data: M,
) -> (Runnable<M>, Task<F::Output, M>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule<M> + Send + Sync + 'static,
    M: 'static,
{
    Builder::new()
        .metadata(data)
        .spawn_local(move |_: &M| future, schedule)
}

/// Creates a new task with a data slot without checking `Send` or `'static`.
///
/// # Safety
/// The contract of [`Builder::spawn_unchecked`]; in addition, if `data` is not `Send` it must
/// be used and dropped on the original thread.
///
/// ```
/// let text = String::from("xyz");
/// // SAFETY: the task finishes before `text` goes away.
/// let (runnable, task) = unsafe { rawtask::spawn_unchecked_with(async { text.len() }, |_| {}, 1u8) };
/// runnable.run();
/// assert_eq!(futures_lite::future::block_on(task), 3);
/// ```
pub unsafe fn spawn_unchecked_with<F, S, M>(
    future: F,
    schedule: S,
    data: M,
) -> (Runnable<M>, Task<F::Output, M>)
where
    F: Future,
    S: Schedule<M>,
{
    // SAFETY: forwarded from the caller.
    unsafe {
        Builder::new()
            .metadata(data)
            .spawn_unchecked(move |_: &M| future, schedule)
    }
}
