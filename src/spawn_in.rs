//! Spawning into a given allocator under the names of async-task PR #98: the free functions
//! [`spawn_in`], [`spawn_local_in`], [`spawn_unchecked_in`] and the [`Builder`] methods of the
//! same names, each the spawn without `_in` with [`Builder::allocator`] set.

use core::future::Future;

use crate::builder::Builder;
use crate::runnable::Runnable;
use crate::schedule::Schedule;
use crate::storage::Allocator;
use crate::task::Task;

impl<M, A> Builder<M, A> {
    /// [`spawn`](Self::spawn) with the task's memory from `alloc` (async-task PR #98's name for
    /// [`allocator`](Self::allocator)`(alloc).spawn(..)`).
    ///
    /// ```
    /// static POOL: rawtask::storage::TaskPool = rawtask::storage::TaskPool::new(4);
    /// let (runnable, task) = rawtask::Builder::new()
    ///     .metadata(2u8)
    ///     .spawn_in(|m| { let m = *m; async move { m + 1 } }, |_| {}, &POOL);
    /// runnable.run();
    /// assert_eq!(futures_lite::future::block_on(task), 3);
    /// assert_eq!(POOL.stats().cached, 1);
    /// ```
    #[inline]
    #[track_caller]
    pub fn spawn_in<F, Fut, S, B>(
        self,
        future: F,
        schedule: S,
        alloc: B,
    ) -> (Runnable<M>, Task<Fut::Output, M>)
    where
        F: FnOnce(&M) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
        S: Schedule<M> + Send + Sync + 'static,
        M: Send + 'static,
        B: Allocator + Send + 'static,
    {
        self.allocator(alloc).spawn(future, schedule)
    }

    /// [`spawn_local`](Self::spawn_local) with the task's memory from `alloc`.
    ///
    /// ```
    /// use std::rc::Rc;
    /// static POOL: rawtask::storage::TaskPool = rawtask::storage::TaskPool::new(4);
    /// let rc = Rc::new(4);
    /// let (runnable, task) =
    ///     rawtask::Builder::new().spawn_local_in(move |()| async move { *rc }, |_| {}, &POOL);
    /// runnable.run();
    /// assert_eq!(futures_lite::future::block_on(task), 4);
    /// ```
    #[cfg(feature = "std")]
    #[track_caller]
    pub fn spawn_local_in<F, Fut, S, B>(
        self,
        future: F,
        schedule: S,
        alloc: B,
    ) -> (Runnable<M>, Task<Fut::Output, M>)
    where
        F: FnOnce(&M) -> Fut,
        Fut: Future + 'static,
        Fut::Output: 'static,
        S: Schedule<M> + Send + Sync + 'static,
        M: 'static,
        B: Allocator + Send + 'static,
    {
        self.allocator(alloc).spawn_local(future, schedule)
    }

    /// [`spawn_unchecked`](Self::spawn_unchecked) with the task's memory from `alloc`.
    ///
    /// # Safety
    /// The contract of [`spawn_unchecked`](Self::spawn_unchecked), which covers the allocator.
    ///
    /// ```
    /// let pool = rawtask::storage::TaskPool::new(1);
    /// let text = String::from("borrowed");
    /// // SAFETY: `text` and `pool` outlive the task, which is run and joined right here.
    /// let (runnable, task) = unsafe {
    ///     rawtask::Builder::new().spawn_unchecked_in(|()| async { text.len() }, |_| {}, &pool)
    /// };
    /// runnable.run();
    /// assert_eq!(futures_lite::future::block_on(task), 8);
    /// ```
    #[inline]
    #[track_caller]
    pub unsafe fn spawn_unchecked_in<'a, F, Fut, S, B>(
        self,
        future: F,
        schedule: S,
        alloc: B,
    ) -> (Runnable<M>, Task<Fut::Output, M>)
    where
        F: FnOnce(&'a M) -> Fut,
        Fut: Future + 'a,
        S: Schedule<M>,
        M: 'a,
        B: Allocator,
    {
        // SAFETY: forwarded from the caller.
        unsafe { self.allocator(alloc).spawn_unchecked(future, schedule) }
    }
}

/// [`spawn`](crate::spawn) with the task's memory from `alloc` (async-task PR #98).
///
/// ```
/// static POOL: rawtask::storage::TaskPool = rawtask::storage::TaskPool::new(4);
/// let (runnable, task) = rawtask::spawn_in(async { 1 + 2 }, |_| {}, &POOL);
/// runnable.run();
/// assert_eq!(futures_lite::future::block_on(task), 3);
/// ```
#[track_caller]
pub fn spawn_in<F, S, A>(future: F, schedule: S, alloc: A) -> (Runnable, Task<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule + Send + Sync + 'static,
    A: Allocator + Send + 'static,
{
    Builder::new().spawn_in(move |()| future, schedule, alloc)
}

/// [`spawn_local`](crate::spawn_local) with the task's memory from `alloc`.
///
/// ```
/// use std::rc::Rc;
/// static POOL: rawtask::storage::TaskPool = rawtask::storage::TaskPool::new(4);
/// let value = Rc::new(3);
/// let (runnable, task) = rawtask::spawn_local_in(async move { *value }, |_| {}, &POOL);
/// runnable.run();
/// assert_eq!(futures_lite::future::block_on(task), 3);
/// ```
#[cfg(feature = "std")]
#[track_caller]
pub fn spawn_local_in<F, S, A>(future: F, schedule: S, alloc: A) -> (Runnable, Task<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
    S: Schedule + Send + Sync + 'static,
    A: Allocator + Send + 'static,
{
    Builder::new().spawn_local_in(move |()| future, schedule, alloc)
}

/// [`spawn_unchecked`](crate::spawn_unchecked) with the task's memory from `alloc`.
///
/// # Safety
/// The contract of [`Builder::spawn_unchecked`], which covers the allocator.
///
/// ```
/// let pool = rawtask::storage::TaskPool::new(1);
/// let text = String::from("abc");
/// // SAFETY: the task finishes before `text` and `pool` go away.
/// let (runnable, task) = unsafe { rawtask::spawn_unchecked_in(async { text.len() }, |_| {}, &pool) };
/// runnable.run();
/// assert_eq!(futures_lite::future::block_on(task), 3);
/// ```
#[track_caller]
pub unsafe fn spawn_unchecked_in<F, S, A>(
    future: F,
    schedule: S,
    alloc: A,
) -> (Runnable, Task<F::Output>)
where
    F: Future,
    S: Schedule,
    A: Allocator,
{
    // SAFETY: forwarded from the caller.
    unsafe { Builder::new().spawn_unchecked_in(move |()| future, schedule, alloc) }
}
