//! [`ScopedSpawner`]: scoped spawning over an executor.

use core::fmt;
use core::future::Future;

use super::leaf::{Leaf, LeafSlot, NoParent, SlotRef};
use super::remote::{
    RefusedChild, RemoteChildSignals, RemoteParentSignals, RemoteScope, RemoteSpawner, ScopeClosed,
};
use super::signals::{CancelSender, DoneReceiver};
use super::{ParentSignals, ScopedSpawn};
use crate::cancel::CancellationToken;
use crate::try_alloc_error::TryAllocError;
use crate::try_spawn_error::TrySpawnError;
use crate::Runnable;
use crate::Schedule;

/// An executor that scoped tasks can be spawned onto.
///
/// Implemented for [`OnSchedule`] (a rawtask schedule function) and, with the `futures`
/// feature, for every `futures::task::Spawn + Clone + Send + Sync + 'static`.
pub trait ScopeExecutor: Clone + Send + Sync + 'static {
    /// Spawns `future` as a new task.
    ///
    /// If spawning fails, `future` must be dropped (which terminates the scoped task at once).
    fn spawn_scoped<F>(&self, future: F) -> Result<(), SpawnError>
    where
        F: Future<Output = ()> + Send + 'static;

    /// Spawns a task without children of its own, with signals for its parent
    /// (`spawn_future_with_signal`). The default shares the signals through one small
    /// allocation; [`OnSchedule`] overrides it to keep them in the raw task itself.
    #[doc(hidden)]
    fn spawn_leaf_with_signal<F, D>(
        &self,
        scope: &RemoteSpawner,
        future: F,
        done: D,
    ) -> Result<RemoteParentSignals, SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
        D: FnOnce() + Send + 'static,
    {
        let (parent, leaf) = scope.leaf_with_signal(future, done)?;
        self.spawn_scoped(leaf)?;
        Ok(parent)
    }

    /// The `try_` spawns' way in: spawns the future `build` returns, building it only once
    /// the task's memory is there, so that a refused task drops `build` — and with it the
    /// scoped task's `done`, unrun — instead of dropping a built scoped future (which would
    /// terminate it, running `done`). The default builds at once and spawns with
    /// [`spawn_scoped`](Self::spawn_scoped), whose allocations may abort; [`OnSchedule`]
    /// overrides it with a fallible task allocation.
    #[doc(hidden)]
    fn try_spawn_built<F, B>(&self, build: B) -> Result<(), SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
        B: FnOnce() -> F,
    {
        self.spawn_scoped(build())
    }

    /// [`spawn_leaf_with_signal`](Self::spawn_leaf_with_signal) for the `try_` spawns: every
    /// allocation fallible where the executor's is (see [`try_spawn_built`](Self::try_spawn_built)).
    #[doc(hidden)]
    fn try_spawn_leaf_with_signal<F, D>(
        &self,
        scope: &RemoteSpawner,
        future: F,
        done: D,
    ) -> Result<RemoteParentSignals, SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
        D: FnOnce() + Send + 'static,
    {
        let (parent, build) = scope.fallible_leaf_with_signal(future, done)?;
        self.try_spawn_built(build)?;
        Ok(parent)
    }
}

/// A rawtask schedule function as a [`ScopeExecutor`]: every scoped task is one raw task
/// (one allocation), scheduled once at spawn and detached.
#[derive(Clone, Debug)]
pub struct OnSchedule<S>(pub S);

impl<S> ScopeExecutor for OnSchedule<S>
where
    S: Schedule + Clone + Send + Sync + 'static,
{
    fn spawn_scoped<F>(&self, future: F) -> Result<(), SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (runnable, task) = crate::spawn(future, self.0.clone());
        // SAFETY: the task was spawned just now; neither handle has left this thread.
        unsafe { task.detach_unshared() };
        runnable.schedule();
        Ok(())
    }

    /// The leaf is one raw task: its data slot holds the cancel flag, its `Task` handle is the
    /// cancel sender, and a watcher (one task reference that waits for the task to finish) is
    /// the done receiver. No allocation beyond the task.
    #[inline]
    fn spawn_leaf_with_signal<F, D>(
        &self,
        scope: &RemoteSpawner,
        future: F,
        done: D,
    ) -> Result<RemoteParentSignals, SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
        D: FnOnce() + Send + 'static,
    {
        let children = scope.register()?;
        let schedule = self.0.clone();
        // The task's data slot is a `LeafSlot`, but the executor's schedule function takes
        // `Runnable`s without one: hand them over as such.
        let forward = crate::WithInfo(move |runnable: Runnable<LeafSlot>, info| {
            // SAFETY: a `Runnable`'s type parameter only types its data slot; a
            // `Runnable<()>` never reads it (its slot is zero-sized), and everything else
            // goes through the task's own vtable.
            let runnable = unsafe { Runnable::<()>::from_raw(runnable.into_raw()) };
            schedule.schedule(runnable, info);
        });
        let (runnable, task) = crate::Builder::new().metadata(LeafSlot::new()).spawn(
            |slot: &LeafSlot| Leaf::new(future, done, children, SlotRef(slot)),
            forward,
        );
        // SAFETY: the task was spawned just now and neither handle has left this thread; the
        // `Task` goes to the cancel sender, which never polls it.
        let watcher = unsafe { runnable.watcher_unshared() };
        runnable.schedule();
        // Built in the return value itself: built first and then moved into `Ok`, the signals
        // were copied with a misaligned load of freshly stored words (a store-forwarding stall
        // that cost more than a third of the whole spawn).
        Ok(ParentSignals {
            cancel_sender: CancelSender::for_leaf(task),
            done_receiver: DoneReceiver::for_leaf(watcher),
        })
    }

    /// The task's allocation is fallible ([`Builder::try_spawn`](crate::Builder::try_spawn)),
    /// and `build` runs only once it succeeded.
    fn try_spawn_built<F, B>(&self, build: B) -> Result<(), SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
        B: FnOnce() -> F,
    {
        let (runnable, task) = crate::Builder::new().try_spawn(|()| build(), self.0.clone())?;
        // SAFETY: the task was spawned just now; neither handle has left this thread.
        unsafe { task.detach_unshared() };
        runnable.schedule();
        Ok(())
    }

    /// As [`spawn_leaf_with_signal`](ScopeExecutor::spawn_leaf_with_signal), with a fallible
    /// task allocation: a refused task drops the leaf's parts (`done` unrun) and undoes the
    /// registration.
    fn try_spawn_leaf_with_signal<F, D>(
        &self,
        scope: &RemoteSpawner,
        future: F,
        done: D,
    ) -> Result<RemoteParentSignals, SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
        D: FnOnce() + Send + 'static,
    {
        let children = scope.register()?;
        let schedule = self.0.clone();
        let forward = crate::WithInfo(move |runnable: Runnable<LeafSlot>, info| {
            // SAFETY: as in `spawn_leaf_with_signal`.
            let runnable = unsafe { Runnable::<()>::from_raw(runnable.into_raw()) };
            schedule.schedule(runnable, info);
        });
        let (runnable, task) = crate::Builder::new().metadata(LeafSlot::new()).try_spawn(
            |slot: &LeafSlot| Leaf::new(future, done, children, SlotRef(slot)),
            forward,
        )?;
        // SAFETY: as in `spawn_leaf_with_signal`.
        let watcher = unsafe { runnable.watcher_unshared() };
        runnable.schedule();
        Ok(ParentSignals {
            cancel_sender: CancelSender::for_leaf(task),
            done_receiver: DoneReceiver::for_leaf(watcher),
        })
    }
}

#[cfg(feature = "futures")]
impl<S> ScopeExecutor for S
where
    S: futures_task::Spawn + Clone + Send + Sync + 'static,
{
    fn spawn_scoped<F>(&self, future: F) -> Result<(), SpawnError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let future = futures_task::FutureObj::new(alloc::boxed::Box::new(future));
        self.spawn_obj(future).map_err(|_| SpawnError::shutdown())
    }
}

/// The error of a scoped spawn: the executor is shut down, the scope is terminating, or (for
/// the `try_` spawns) the heap refused an allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SpawnError {
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Shutdown,
    ScopeClosed,
    NoMemory(TryAllocError),
}

impl SpawnError {
    /// The executor refused the task because it is shut down.
    pub fn shutdown() -> SpawnError {
        SpawnError {
            kind: Kind::Shutdown,
        }
    }

    /// Whether the executor was shut down.
    pub fn is_shutdown(&self) -> bool {
        self.kind == Kind::Shutdown
    }

    /// Whether the scope was terminating (its spawner was used outside its task).
    pub fn is_scope_closed(&self) -> bool {
        self.kind == Kind::ScopeClosed
    }

    /// Whether an allocation failed (only the `try_` spawns report this).
    ///
    /// ```
    /// let error = rawtask::scope::SpawnError::from(rawtask::TryAllocError::new(
    ///     "a scope's child registry",
    ///     core::alloc::Layout::new::<u64>(),
    /// ));
    /// assert!(error.is_out_of_memory() && !error.is_shutdown());
    /// ```
    pub fn is_out_of_memory(&self) -> bool {
        self.alloc_error().is_some()
    }

    /// The refused allocation, if that is what failed.
    ///
    /// ```
    /// let refused = rawtask::TryAllocError::new("a task", core::alloc::Layout::new::<u64>());
    /// let error = rawtask::scope::SpawnError::from(refused);
    /// assert_eq!(error.alloc_error(), Some(refused));
    /// assert_eq!(rawtask::scope::SpawnError::shutdown().alloc_error(), None);
    /// ```
    pub fn alloc_error(&self) -> Option<TryAllocError> {
        match self.kind {
            Kind::NoMemory(error) => Some(error),
            _ => None,
        }
    }
}

/// A refused allocation of a `try_` spawn.
impl From<TryAllocError> for SpawnError {
    fn from(error: TryAllocError) -> SpawnError {
        SpawnError {
            kind: Kind::NoMemory(error),
        }
    }
}

/// A refused task allocation of a `try_` spawn, as the allocation of "a task".
impl From<TrySpawnError> for SpawnError {
    fn from(error: TrySpawnError) -> SpawnError {
        SpawnError::from(TryAllocError::from(error))
    }
}

impl From<RefusedChild> for SpawnError {
    fn from(refused: RefusedChild) -> SpawnError {
        match refused {
            RefusedChild::Closed => SpawnError::from(ScopeClosed),
            RefusedChild::NoMemory(error) => SpawnError::from(error),
        }
    }
}

impl From<ScopeClosed> for SpawnError {
    fn from(_: ScopeClosed) -> SpawnError {
        SpawnError {
            kind: Kind::ScopeClosed,
        }
    }
}

#[cfg(feature = "futures")]
impl From<futures_task::SpawnError> for SpawnError {
    fn from(_: futures_task::SpawnError) -> SpawnError {
        SpawnError::shutdown()
    }
}

#[cfg(feature = "futures")]
impl From<SpawnError> for futures_task::SpawnError {
    fn from(_: SpawnError) -> futures_task::SpawnError {
        futures_task::SpawnError::shutdown()
    }
}

impl fmt::Debug for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SpawnError")
            .field(&format_args!("{self}"))
            .finish()
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Shutdown => f.write_str("the executor is shut down"),
            Kind::ScopeClosed => fmt::Display::fmt(&ScopeClosed, f),
            Kind::NoMemory(error) => fmt::Display::fmt(&error, f),
        }
    }
}

impl std::error::Error for SpawnError {}

/// Spawns scoped tasks onto an executor; see the [module documentation](super).
///
/// A spawner made by [`new`](Self::new) or [`on_schedule`](Self::on_schedule) is a root: its
/// children are top-level tasks. Each spawned task gets its own spawner for its children.
#[derive(Clone)]
pub struct ScopedSpawner<E> {
    executor: E,
    raw: RemoteSpawner,
    /// The token of the task this spawner belongs to; for a root, its children token.
    token: CancellationToken,
}

impl<S> ScopedSpawner<OnSchedule<S>>
where
    S: Schedule + Clone + Send + Sync + 'static,
{
    /// A root spawner whose tasks are raw tasks scheduled with `schedule`.
    ///
    /// ```
    /// use rawtask::scope::{ScopedSpawn, ScopedSpawner};
    ///
    /// let (sender, receiver) = flume::unbounded();
    /// let spawner = ScopedSpawner::on_schedule(move |runnable| sender.send(runnable).unwrap());
    /// let signals = spawner
    ///     .spawn_with_signal(|_child| async { println!("in the child") }, || println!("done"))
    ///     .unwrap();
    /// drop(spawner);
    /// for runnable in receiver.try_iter() {
    ///     runnable.run();
    /// }
    /// assert!(signals.done_receiver.is_done());
    /// # signals.cancel_sender.cancel();
    /// ```
    pub fn on_schedule(schedule: S) -> Self {
        ScopedSpawner::new(OnSchedule(schedule))
    }

    /// [`on_schedule`](Self::on_schedule), but returns an error instead of aborting when the
    /// heap refuses the root's child registry; `schedule` is dropped then.
    ///
    /// ```
    /// use rawtask::scope::ScopedSpawner;
    ///
    /// let (sender, receiver) = flume::unbounded();
    /// let spawner = ScopedSpawner::try_on_schedule(move |r| sender.send(r).unwrap())
    ///     .expect("out of memory");
    /// let handle = spawner.try_spawn_future_output(async { 7 }).expect("out of memory");
    /// receiver.recv().unwrap().run();
    /// assert_eq!(futures_lite::future::block_on(handle), Some(7));
    /// ```
    pub fn try_on_schedule(schedule: S) -> Result<Self, SpawnError> {
        ScopedSpawner::try_new(OnSchedule(schedule))
    }
}

impl<E: ScopeExecutor> ScopedSpawner<E> {
    /// A root spawner over `executor`.
    pub fn new(executor: E) -> Self {
        let raw = RemoteScope::new().spawner();
        let token = raw.children_token().clone();
        ScopedSpawner {
            executor,
            raw,
            token,
        }
    }

    /// [`new`](Self::new), but returns an error instead of aborting when the heap refuses the
    /// root's child registry (or its token); `executor` is dropped then.
    ///
    /// ```
    /// use rawtask::scope::{OnSchedule, ScopedSpawner};
    ///
    /// let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
    /// let spawner = ScopedSpawner::try_new(OnSchedule(move |r| sender.send(r).unwrap()))
    ///     .expect("out of memory");
    /// spawner.try_spawn_future(async {}, || println!("done")).expect("out of memory");
    /// receiver.recv().unwrap().run();
    /// ```
    pub fn try_new(executor: E) -> Result<Self, SpawnError> {
        let raw = RemoteScope::new().try_spawner()?;
        let token = raw.children_token().clone();
        Ok(ScopedSpawner {
            executor,
            raw,
            token,
        })
    }

    /// The token of this spawner's scope. For the spawner a task received, it is the task's
    /// own token: cancelling it terminates the task as its parent's cancel signal would. For a
    /// root spawner, cancelling it terminates every task spawned from the root.
    ///
    /// Hand a clone to code that should stop with the scope, e.g. a blocking job
    /// ([`CancellationToken::cancelled`]) or a future
    /// ([`run_until_cancelled`](CancellationToken::run_until_cancelled)).
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// The executor this spawner spawns onto.
    pub fn executor(&self) -> &E {
        &self.executor
    }

    /// Spawns one registered scoped task: builds its spawner and its future, wraps them.
    fn spawn_registered<Fut, Fun, Done>(
        &self,
        child: RemoteChildSignals,
        fun: Fun,
        done: Done,
    ) -> Result<(), SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Fun: FnOnce(Self) -> Fut,
        Done: FnOnce() + Send + 'static,
    {
        let mut scope = RemoteScope::new();
        let spawner = ScopedSpawner {
            executor: self.executor.clone(),
            raw: scope.spawner(),
            token: child.cancel_receiver.child_token().clone(),
        };
        let future = scope.wrap(child, fun(spawner), done);
        self.executor.spawn_scoped(future)
    }
}

/// The `try_` spawns: [`ScopedSpawn`]'s four, returning an error instead of aborting when the
/// heap refuses an allocation ([`SpawnError::is_out_of_memory`]).
///
/// On an error nothing is spawned and nothing is leaked: the future (or `fun`'s), `done` and
/// whatever the call had allocated are dropped before it returns, and `done` is never run. If
/// `fun` was called (its spawner was allocated), its future is dropped unpolled. The
/// allocations that can fail are the child's token, its signals' link, the registry of its
/// own children and the task itself — the last one only with an executor whose
/// [`try_spawn_built`](ScopeExecutor::try_spawn_built) is fallible, which [`OnSchedule`]'s is.
impl<E: ScopeExecutor> ScopedSpawner<E> {
    /// [`spawn`](ScopedSpawn::spawn), reporting a refused allocation.
    ///
    /// ```
    /// use rawtask::scope::ScopedSpawner;
    ///
    /// let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
    /// let spawner = ScopedSpawner::on_schedule(move |r| sender.send(r).unwrap());
    /// spawner
    ///     .try_spawn(
    ///         |children| async move {
    ///             children.try_spawn_future(async {}, || {}).unwrap();
    ///         },
    ///         || println!("done"),
    ///     )
    ///     .expect("out of memory");
    /// while let Ok(runnable) = receiver.try_recv() {
    ///     runnable.run();
    /// }
    /// ```
    pub fn try_spawn<Fut, Fun, Done>(&self, fun: Fun, done: Done) -> Result<(), SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Fun: FnOnce(Self) -> Fut,
        Done: FnOnce() + Send + 'static,
    {
        let child = self.raw.fallible_spawn_raw()?;
        self.try_spawn_registered(child, fun, done)
    }

    /// [`spawn_with_signal`](ScopedSpawn::spawn_with_signal), reporting a refused allocation.
    ///
    /// ```
    /// use rawtask::scope::ScopedSpawner;
    ///
    /// let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
    /// let spawner = ScopedSpawner::on_schedule(move |r| sender.send(r).unwrap());
    /// let signals = spawner.try_spawn_with_signal(|_| async {}, || {}).expect("out of memory");
    /// receiver.recv().unwrap().run();
    /// assert!(signals.done_receiver.is_done());
    /// # drop(signals.cancel_sender);
    /// ```
    pub fn try_spawn_with_signal<Fut, Fun, Done>(
        &self,
        fun: Fun,
        done: Done,
    ) -> Result<RemoteParentSignals, SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Fun: FnOnce(Self) -> Fut,
        Done: FnOnce() + Send + 'static,
    {
        let (parent, child) = self.raw.fallible_spawn_raw_with_signal()?;
        self.try_spawn_registered(child, fun, done)?;
        Ok(parent)
    }

    /// [`spawn_future`](ScopedSpawn::spawn_future), reporting a refused allocation.
    ///
    /// ```
    /// use rawtask::scope::ScopedSpawner;
    ///
    /// let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
    /// let spawner = ScopedSpawner::on_schedule(move |r| sender.send(r).unwrap());
    /// spawner.try_spawn_future(async {}, || println!("done")).expect("out of memory");
    /// receiver.recv().unwrap().run();
    /// ```
    pub fn try_spawn_future<Fut, Done>(&self, future: Fut, done: Done) -> Result<(), SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Done: FnOnce() + Send + 'static,
    {
        let registration = self.raw.register()?;
        self.executor
            .try_spawn_built(move || Leaf::new(future, done, registration, NoParent))
    }

    /// [`spawn_future_with_signal`](ScopedSpawn::spawn_future_with_signal), reporting a
    /// refused allocation.
    ///
    /// ```
    /// use rawtask::scope::ScopedSpawner;
    ///
    /// let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
    /// let spawner = ScopedSpawner::on_schedule(move |r| sender.send(r).unwrap());
    /// let signals = spawner
    ///     .try_spawn_future_with_signal(async {}, || {})
    ///     .expect("out of memory");
    /// receiver.recv().unwrap().run();
    /// assert!(signals.done_receiver.is_done());
    /// # drop(signals.cancel_sender);
    /// ```
    pub fn try_spawn_future_with_signal<Fut, Done>(
        &self,
        future: Fut,
        done: Done,
    ) -> Result<RemoteParentSignals, SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Done: FnOnce() + Send + 'static,
    {
        self.executor
            .try_spawn_leaf_with_signal(&self.raw, future, done)
    }

    /// [`spawn_registered`](Self::spawn_registered) with the child's registry and task
    /// allocated fallibly; the scoped future is built only once the task's memory is there.
    fn try_spawn_registered<Fut, Fun, Done>(
        &self,
        child: RemoteChildSignals,
        fun: Fun,
        done: Done,
    ) -> Result<(), SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Fun: FnOnce(Self) -> Fut,
        Done: FnOnce() + Send + 'static,
    {
        let mut scope = RemoteScope::new();
        let spawner = ScopedSpawner {
            executor: self.executor.clone(),
            raw: scope.try_spawner()?,
            token: child.cancel_receiver.child_token().clone(),
        };
        // Called here, not while the task's memory is held: `fun` may panic.
        let future = fun(spawner);
        self.executor
            .try_spawn_built(move || scope.wrap(child, future, done))
    }
}

impl<E: ScopeExecutor> ScopedSpawn for ScopedSpawner<E> {
    type CancelSender = CancelSender;
    type DoneReceiver = DoneReceiver;
    type FutureCancelSender = CancelSender;
    type FutureDoneReceiver = DoneReceiver;
    type Raw = RemoteSpawner;

    fn spawn<Fut, Fun, Done>(&self, fun: Fun, done: Done) -> Result<(), SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Fun: FnOnce(Self) -> Fut,
        Done: FnOnce() + Send + 'static,
    {
        let child = self.raw.try_spawn_raw()?;
        self.spawn_registered(child, fun, done)
    }

    fn spawn_with_signal<Fut, Fun, Done>(
        &self,
        fun: Fun,
        done: Done,
    ) -> Result<RemoteParentSignals, SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Fun: FnOnce(Self) -> Fut,
        Done: FnOnce() + Send + 'static,
    {
        let (parent, child) = self.raw.try_spawn_raw_with_signal()?;
        self.spawn_registered(child, fun, done)?;
        Ok(parent)
    }

    /// The task gets no spawner, so it pays for no child registry.
    fn spawn_future<Fut, Done>(&self, future: Fut, done: Done) -> Result<(), SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Done: FnOnce() + Send + 'static,
    {
        let leaf = self.raw.leaf(future, done)?;
        self.executor.spawn_scoped(leaf)
    }

    fn spawn_future_with_signal<Fut, Done>(
        &self,
        future: Fut,
        done: Done,
    ) -> Result<RemoteParentSignals, SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Done: FnOnce() + Send + 'static,
    {
        // Straight through, without wrapping the signals in an `Option`: moving them through
        // layers of enums cost more than the rest of the spawn path (store-forwarding stalls).
        self.executor
            .spawn_leaf_with_signal(&self.raw, future, done)
    }

    fn as_raw(&self) -> &RemoteSpawner {
        &self.raw
    }

    fn into_raw(self) -> RemoteSpawner {
        self.raw
    }
}

impl<E: fmt::Debug> fmt::Debug for ScopedSpawner<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedSpawner")
            .field("executor", &self.executor)
            .field("token", &self.token)
            .finish()
    }
}
