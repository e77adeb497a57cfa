//! Scoped children with outputs: [`ScopedSpawner::spawn_output`] and
//! [`ScopedSpawner::spawn_future_output`] return a [`ScopedJoinHandle`] that resolves to the
//! child's output.
//!
//! They are the `*_with_signal` spawns with the child's future wrapped to leave its output in a
//! shared cell before it completes: the handle is the parent's signals (dropping it cancels the
//! child) plus that cell, read once the done signal arrives, which is after the child has
//! terminated completely. The scope's guarantees are the signals', unchanged.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::signals::{CancelSender, DoneReceiver};
use super::spawner::{ScopeExecutor, ScopedSpawner, SpawnError};
use super::{ForgettableSignalSender, ParentSignals, ScopedSpawn};
use crate::sync::{lock, Mutex};
use crate::try_arc::TryArc;

/// Where a child leaves its output for its handle.
type OutputCell<T> = TryArc<Mutex<Option<T>>>;

/// What the heap was asked for, for a refused output cell.
const CELL: &str = "a scoped task's output cell";

/// Runs `future` and stores its output in `cell`.
async fn storing<F: Future>(future: F, cell: OutputCell<F::Output>) {
    let output = future.await;
    *lock(&cell) = Some(output);
}

impl<E: ScopeExecutor> ScopedSpawner<E> {
    /// Spawns the future `fun` returns as a child (with a spawner of its own, as
    /// [`spawn_with_signal`](ScopedSpawn::spawn_with_signal)) and returns a handle that
    /// resolves to its output once it has terminated — its children included.
    ///
    /// ```
    /// use rawtask::scope::ScopedSpawner;
    ///
    /// let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
    /// let spawner = ScopedSpawner::on_schedule(move |r| sender.send(r).unwrap());
    /// let handle = spawner.spawn_output(|children| async move {
    ///     let inner = children.spawn_future_output(async { 20 }).unwrap();
    ///     inner.await.unwrap() + 1
    /// }).unwrap();
    /// for runnable in receiver.try_iter() {
    ///     runnable.run();
    /// }
    /// assert_eq!(futures_lite::future::block_on(handle), Some(21));
    /// ```
    pub fn spawn_output<Fut, Fun>(
        &self,
        fun: Fun,
    ) -> Result<ScopedJoinHandle<Fut::Output>, SpawnError>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
        Fun: FnOnce(Self) -> Fut,
    {
        let cell = TryArc::new(Mutex::new(None));
        let out = cell.clone();
        let signals = self.spawn_with_signal(move |spawner| storing(fun(spawner), out), || {})?;
        Ok(ScopedJoinHandle::new(signals, cell))
    }

    /// Spawns `future` as a child without children of its own (as
    /// [`spawn_future_with_signal`](ScopedSpawn::spawn_future_with_signal)) and returns a
    /// handle that resolves to its output once it has terminated.
    ///
    /// ```
    /// use rawtask::scope::ScopedSpawner;
    ///
    /// let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
    /// let spawner = ScopedSpawner::on_schedule(move |r| sender.send(r).unwrap());
    /// let handle = spawner.spawn_future_output(async { "out" }).unwrap();
    /// receiver.recv().unwrap().run();
    /// assert_eq!(futures_lite::future::block_on(handle), Some("out"));
    /// ```
    pub fn spawn_future_output<Fut>(
        &self,
        future: Fut,
    ) -> Result<ScopedJoinHandle<Fut::Output>, SpawnError>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let cell = TryArc::new(Mutex::new(None));
        let signals = self.spawn_future_with_signal(storing(future, cell.clone()), || {})?;
        Ok(ScopedJoinHandle::new(signals, cell))
    }

    /// [`spawn_output`](Self::spawn_output), but returns an error instead of aborting when the
    /// heap refuses an allocation (see [`try_spawn`](Self::try_spawn)); the output cell is one
    /// more.
    ///
    /// ```
    /// use rawtask::scope::ScopedSpawner;
    ///
    /// let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
    /// let spawner = ScopedSpawner::on_schedule(move |r| sender.send(r).unwrap());
    /// let handle = spawner.try_spawn_output(|_| async { 3 }).expect("out of memory");
    /// receiver.recv().unwrap().run();
    /// assert_eq!(futures_lite::future::block_on(handle), Some(3));
    /// ```
    pub fn try_spawn_output<Fut, Fun>(
        &self,
        fun: Fun,
    ) -> Result<ScopedJoinHandle<Fut::Output>, SpawnError>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
        Fun: FnOnce(Self) -> Fut,
    {
        let cell = TryArc::try_new(Mutex::new(None), CELL)?;
        let out = cell.clone();
        let signals =
            self.try_spawn_with_signal(move |spawner| storing(fun(spawner), out), || {})?;
        Ok(ScopedJoinHandle::new(signals, cell))
    }

    /// [`spawn_future_output`](Self::spawn_future_output), but returns an error instead of
    /// aborting when the heap refuses an allocation (see
    /// [`try_spawn_future`](Self::try_spawn_future)); the output cell is one more.
    ///
    /// ```
    /// use rawtask::scope::ScopedSpawner;
    ///
    /// let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
    /// let spawner = ScopedSpawner::on_schedule(move |r| sender.send(r).unwrap());
    /// let handle = spawner.try_spawn_future_output(async { "out" }).expect("out of memory");
    /// receiver.recv().unwrap().run();
    /// assert_eq!(futures_lite::future::block_on(handle), Some("out"));
    /// ```
    pub fn try_spawn_future_output<Fut>(
        &self,
        future: Fut,
    ) -> Result<ScopedJoinHandle<Fut::Output>, SpawnError>
    where
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let cell = TryArc::try_new(Mutex::new(None), CELL)?;
        let signals = self.try_spawn_future_with_signal(storing(future, cell.clone()), || {})?;
        Ok(ScopedJoinHandle::new(signals, cell))
    }
}

/// The parent's handle of a scoped child with an output: a future that resolves once the
/// child has terminated, to `Some(output)` if its future completed and `None` if it was
/// cancelled first. Made by [`ScopedSpawner::spawn_output`] and
/// [`ScopedSpawner::spawn_future_output`].
///
/// Dropping the handle cancels the child, as dropping its [`CancelSender`] does;
/// [`detach`](Self::detach) lets it run on (until it completes or its scope terminates). Either
/// way the child never outlives its parent's scope.
///
/// ```
/// use rawtask::scope::ScopedSpawner;
///
/// let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
/// let spawner = ScopedSpawner::on_schedule(move |r| sender.send(r).unwrap());
/// let mut handle = spawner.spawn_future_output(std::future::pending::<u8>()).unwrap();
/// receiver.recv().unwrap().run(); // pending
/// handle.cancel();
/// for runnable in receiver.try_iter() {
///     runnable.run();
/// }
/// assert!(handle.is_finished());
/// assert_eq!(futures_lite::future::block_on(handle), None);
/// ```
#[must_use = "dropping the handle cancels the child; use `.detach()` to let it run"]
pub struct ScopedJoinHandle<T> {
    /// `None` once cancelled.
    cancel: Option<CancelSender>,
    done: DoneReceiver,
    output: OutputCell<T>,
}

impl<T> ScopedJoinHandle<T> {
    fn new(signals: ParentSignals<CancelSender, DoneReceiver>, output: OutputCell<T>) -> Self {
        ScopedJoinHandle {
            cancel: Some(signals.cancel_sender),
            done: signals.done_receiver,
            output,
        }
    }

    /// Cancels the child and keeps the handle, which then resolves once the child has
    /// terminated: to `None`, or to its output if it completed before the cancel.
    ///
    /// ```
    /// use rawtask::scope::ScopedSpawner;
    /// let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
    /// let spawner = ScopedSpawner::on_schedule(move |r| sender.send(r).unwrap());
    /// let mut handle = spawner.spawn_future_output(async { 1 }).unwrap();
    /// receiver.recv().unwrap().run(); // completes
    /// handle.cancel(); // too late: the output stays
    /// assert_eq!(futures_lite::future::block_on(handle), Some(1));
    /// ```
    pub fn cancel(&mut self) {
        drop(self.cancel.take());
    }

    /// Gives up the handle without cancelling the child; its output is dropped.
    ///
    /// ```
    /// use rawtask::scope::ScopedSpawner;
    /// let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
    /// let spawner = ScopedSpawner::on_schedule(move |r| sender.send(r).unwrap());
    /// spawner.spawn_future_output(async { println!("runs anyway") }).unwrap().detach();
    /// receiver.recv().unwrap().run();
    /// ```
    pub fn detach(mut self) {
        if let Some(cancel) = self.cancel.take() {
            cancel.forget();
        }
    }

    /// Whether the child has terminated.
    ///
    /// ```
    /// use rawtask::scope::ScopedSpawner;
    /// let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
    /// let spawner = ScopedSpawner::on_schedule(move |r| sender.send(r).unwrap());
    /// let handle = spawner.spawn_future_output(async {}).unwrap();
    /// assert!(!handle.is_finished());
    /// receiver.recv().unwrap().run();
    /// assert!(handle.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.done.is_done()
    }
}

impl<T> Future for ScopedJoinHandle<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        match Pin::new(&mut this.done).poll(cx) {
            // The child terminated: its future, which stored the output (if it completed), is
            // gone, and the cell's lock orders the store before this read.
            Poll::Ready(()) => Poll::Ready(lock(&this.output).take()),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("cancelled", &self.cancel.is_none())
            .field("done", &self.done)
            .finish()
    }
}
