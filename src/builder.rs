//! Spawning: the [`Builder`] and the `spawn*` functions.

#[cfg(feature = "alloc")]
use alloc::borrow::Cow;
use core::fmt;
use core::future::Future;
use core::panic::Location;

use crate::hooks::{HookSlot, Hooked, TaskHooks};
use crate::identity::task_identity::{Identity, TaskName};
use crate::raw::extras::{IdentitySlot, TaskExtras};
use crate::raw::harness::RawTask;
use crate::raw::locality::{AnyThread, Locality};
use crate::runnable::Runnable;
use crate::schedule::Schedule;
use crate::storage::{Allocator, Heap};
use crate::task::Task;
use crate::try_spawn_error::TrySpawnError;

/// A new task's two handles, as the `try_spawn*` functions return them.
type Spawned<T, M> = (Runnable<M>, Task<T, M>);

/// Configures and spawns tasks: a data slot (metadata), panic propagation, the allocator the
/// task's memory comes from, an optional identity (id, name, spawn location), and optional
/// [hooks](Self::hooks) (`H`: `()` for none).
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
///
/// # When memory runs out
///
/// A task is one allocation. The `spawn*` methods (and the crate's `spawn*` functions) abort
/// the process if it fails, as `Box::new` does (`handle_alloc_error`); the `try_spawn*`
/// methods ([`try_spawn`](Self::try_spawn), `try_spawn_local`,
/// [`try_spawn_unchecked`](Self::try_spawn_unchecked), and `rawtask::try_spawn_many`) return a
/// [`TrySpawnError`] instead, after dropping everything they were given. Spawning allocates
/// nothing else. Running a task allocates only to store a caught panic (with
/// `propagate_panic(true)`), which aborts if it fails.
pub struct Builder<M = (), A = Heap, H = ()> {
    metadata: M,
    propagate_panic: bool,
    allocator: A,
    identity: Option<IdentitySpec>,
    hooks: H,
}

/// What identity the spawned task gets.
struct IdentitySpec {
    name: Option<TaskName>,
    track_location: bool,
}

impl<M: Default> Default for Builder<M> {
    fn default() -> Self {
        Builder {
            metadata: M::default(),
            propagate_panic: false,
            allocator: Heap,
            identity: None,
            hooks: (),
        }
    }
}

impl<M: fmt::Debug, A: fmt::Debug, H> fmt::Debug for Builder<M, A, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Builder");
        s.field("metadata", &self.metadata)
            .field("propagate_panic", &self.propagate_panic)
            .field("allocator", &self.allocator);
        if let Some(identity) = &self.identity {
            s.field("name", &identity.name)
                .field("track_location", &identity.track_location);
        }
        if core::mem::size_of::<H>() > 0 {
            s.field("hooks", &core::any::type_name::<H>());
        }
        s.finish()
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
            allocator: Heap,
            identity: None,
            hooks: (),
        }
    }
}

impl<A, H> Builder<(), A, H> {
    /// Sets the data slot (async-task's metadata). The future-building closure of the `spawn`
    /// methods receives a reference to it.
    ///
    /// ```
    /// let (runnable, _task) = rawtask::Builder::new().metadata("name").spawn(|_| async {}, |_| {});
    /// assert_eq!(*runnable.metadata(), "name");
    /// ```
    pub fn metadata<M>(self, metadata: M) -> Builder<M, A, H> {
        Builder {
            metadata,
            propagate_panic: self.propagate_panic,
            allocator: self.allocator,
            identity: self.identity,
            hooks: self.hooks,
        }
    }
}

// Options, whatever the allocator (without the `alloc` feature `Builder::new()`'s `Heap` is
// no allocator, until `allocator` replaces it).
impl<M, A, H> Builder<M, A, H> {
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
    pub fn propagate_panic(self, propagate_panic: bool) -> Builder<M, A, H> {
        Builder {
            propagate_panic,
            ..self
        }
    }

    /// Allocates the task's memory with `allocator` instead of the global heap; the task
    /// keeps the allocator and frees its memory with it. See [`storage`](crate::storage).
    ///
    /// `spawn` and `spawn_local` need the allocator to be `Send + 'static` (the task may be
    /// freed on any thread, at any later time): a `static` pool, or a `&'static` reference to
    /// one.
    ///
    /// ```
    /// static POOL: rawtask::storage::TaskPool = rawtask::storage::TaskPool::new(16);
    /// let (runnable, task) = rawtask::Builder::new().allocator(&POOL).spawn(|()| async { 3 }, |_| {});
    /// runnable.run();
    /// assert_eq!(futures_lite::future::block_on(task), 3);
    /// assert_eq!(POOL.stats().cached, 1);
    /// ```
    pub fn allocator<B: Allocator>(self, allocator: B) -> Builder<M, B, H> {
        Builder {
            metadata: self.metadata,
            propagate_panic: self.propagate_panic,
            allocator,
            identity: self.identity,
            hooks: self.hooks,
        }
    }

    /// Gives the task [hooks](crate::hooks): instrumentation told when it is spawned,
    /// scheduled, polled, completed and freed (replacing any hooks set before). The task
    /// stores `hooks` and the [state](TaskHooks::State) they keep for it; a task spawned
    /// without hooks has neither and runs no hook code.
    ///
    /// The hooks may be called on any thread that wakes, runs or frees the task, so they and
    /// their state are `Send + Sync`. Pass a `&'static` value or an `Arc` to share one set
    /// of hooks among tasks.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    /// use rawtask::hooks::{TaskHooks, TaskMeta};
    ///
    /// struct LastSpawned(AtomicU64);
    /// impl TaskHooks for LastSpawned {
    ///     type State = ();
    ///     fn on_spawn(&self, task: TaskMeta<'_>) {
    ///         self.0.store(task.id().map_or(0, |id| id.as_u64()), Relaxed);
    ///     }
    /// }
    /// static LAST: LastSpawned = LastSpawned(AtomicU64::new(0));
    ///
    /// let (runnable, task) = rawtask::Builder::new()
    ///     .assign_id()
    ///     .hooks(&LAST)
    ///     .spawn(|()| async {}, |_| {});
    /// assert_eq!(LAST.0.load(Relaxed), runnable.identity().unwrap().id().as_u64());
    /// # drop((runnable, task));
    /// ```
    pub fn hooks<K>(self, hooks: K) -> Builder<M, A, Hooked<K>>
    where
        K: TaskHooks + Send + Sync + 'static,
        K::State: Send + Sync + 'static,
    {
        Builder {
            metadata: self.metadata,
            propagate_panic: self.propagate_panic,
            allocator: self.allocator,
            identity: self.identity,
            hooks: Hooked::new(hooks),
        }
    }

    /// Gives the task a name (and so an [`Identity`]).
    ///
    /// ```
    /// let (runnable, _task) = rawtask::Builder::new().name("worker").spawn(|()| async {}, |_| {});
    /// assert_eq!(runnable.identity().unwrap().name(), Some("worker"));
    /// ```
    #[cfg(feature = "alloc")]
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Builder<M, A, H> {
        self.identity_spec().name = Some(name.into());
        self
    }

    /// Records where the task is spawned (the caller of `spawn`), in its [`Identity`].
    ///
    /// ```
    /// let (runnable, _task) = rawtask::Builder::new().track_location().spawn(|()| async {}, |_| {});
    /// assert_eq!(runnable.identity().unwrap().location().unwrap().line(), line!() - 1);
    /// ```
    pub fn track_location(mut self) -> Builder<M, A, H> {
        self.identity_spec().track_location = true;
        self
    }

    /// Gives the task an [`Identity`] with a process-unique id (as `name` and
    /// `track_location` also do).
    ///
    /// ```
    /// let (a, _) = rawtask::Builder::new().assign_id().spawn(|()| async {}, |_| {});
    /// let (b, _) = rawtask::Builder::new().assign_id().spawn(|()| async {}, |_| {});
    /// assert_ne!(a.identity().unwrap().id(), b.identity().unwrap().id());
    /// ```
    pub fn assign_id(mut self) -> Builder<M, A, H> {
        self.identity_spec();
        self
    }

    fn identity_spec(&mut self) -> &mut IdentitySpec {
        self.identity.get_or_insert(IdentitySpec {
            name: None,
            track_location: false,
        })
    }
}

impl<M, A: Allocator, H: HookSlot> Builder<M, A, H> {
    /// Spawns a `Send` future; `future` builds it from a reference to the data slot.
    ///
    /// ```
    /// let (runnable, task) = rawtask::Builder::new()
    ///     .metadata(2u8)
    ///     .spawn(|m| { let m = *m; async move { m * 2 } }, |_| {});
    /// runnable.run();
    /// assert_eq!(futures_lite::future::block_on(task), 4);
    /// ```
    #[inline]
    #[track_caller]
    pub fn spawn<F, Fut, S>(self, future: F, schedule: S) -> (Runnable<M>, Task<Fut::Output, M>)
    where
        F: FnOnce(&M) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
        S: Schedule<M> + Send + Sync + 'static,
        M: Send + 'static,
        A: Send + 'static,
    {
        // SAFETY: the future, output and data slot are `Send + 'static` (a waker on any thread
        // may free the task and drop the slot), the schedule function is
        // `Send + Sync + 'static`, and the allocator is `Send + 'static` (it frees the task on
        // whichever thread drops the last handle): that is all `spawn_unchecked` asks beyond
        // its signature.
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
    #[track_caller]
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
        A: Send + 'static,
    {
        // SAFETY: `HomeThread` keeps the non-`Send` future, output and data slot on this
        // thread (raw rule 8); the allocator, which may free the memory on another thread, is
        // `Send`; everything is `'static`.
        unsafe {
            self.spawn_with_locality(
                future,
                schedule,
                crate::raw::locality::HomeThread::current(),
            )
        }
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
    /// - The [allocator](Self::allocator) frees the task when its last handle or waker is
    ///   dropped: if it is not `Send`, those must be dropped on the original thread; if it is
    ///   not `'static`, what it borrows must outlive them.
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
    #[inline]
    #[track_caller]
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

    /// [`spawn`](Self::spawn), but returns an error instead of aborting the process when the
    /// allocator cannot provide the task's memory.
    ///
    /// On failure, nothing was spawned and nothing is leaked: the closure `future` (never
    /// called), the data slot, `schedule`, the allocator and the identity have each been
    /// dropped exactly once before this returns. The [`TrySpawnError`] names the layout that
    /// failed. Only the task's own allocation is fallible: an identity's name is already
    /// allocated by the caller, and nothing else is allocated.
    ///
    /// ```
    /// use rawtask::storage::TaskPool;
    ///
    /// static POOL: TaskPool = TaskPool::new(4);
    /// let spawned = rawtask::Builder::new()
    ///     .metadata(5u32)
    ///     .allocator(&POOL)
    ///     .try_spawn(|m| { let m = *m; async move { m + 1 } }, |_| {});
    /// match spawned {
    ///     Ok((runnable, task)) => {
    ///         runnable.run();
    ///         assert_eq!(futures_lite::future::block_on(task), 6);
    ///     }
    ///     Err(error) => eprintln!("no memory for a task of {:?}", error.layout()),
    /// }
    /// ```
    #[track_caller]
    pub fn try_spawn<F, Fut, S>(
        self,
        future: F,
        schedule: S,
    ) -> Result<Spawned<Fut::Output, M>, TrySpawnError>
    where
        F: FnOnce(&M) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
        S: Schedule<M> + Send + Sync + 'static,
        M: Send + 'static,
        A: Send + 'static,
    {
        // SAFETY: the bounds are those of `spawn` (see there).
        unsafe { self.try_spawn_unchecked(future, schedule) }
    }

    /// [`spawn_local`](Self::spawn_local), but returns an error instead of aborting the
    /// process when the allocator fails; see [`try_spawn`](Self::try_spawn) for what is dropped.
    ///
    /// ```
    /// use std::rc::Rc;
    /// let rc = Rc::new(5);
    /// let (runnable, task) = rawtask::Builder::new()
    ///     .try_spawn_local(move |()| async move { *rc }, |_| {})
    ///     .expect("out of memory");
    /// runnable.run();
    /// assert_eq!(futures_lite::future::block_on(task), 5);
    /// ```
    #[cfg(feature = "std")]
    #[track_caller]
    pub fn try_spawn_local<F, Fut, S>(
        self,
        future: F,
        schedule: S,
    ) -> Result<Spawned<Fut::Output, M>, TrySpawnError>
    where
        F: FnOnce(&M) -> Fut,
        Fut: Future + 'static,
        Fut::Output: 'static,
        S: Schedule<M> + Send + Sync + 'static,
        M: 'static,
        A: Send + 'static,
    {
        // SAFETY: as in `spawn_local`.
        unsafe {
            self.try_spawn_with_locality(
                future,
                schedule,
                crate::raw::locality::HomeThread::current(),
            )
        }
    }

    /// [`spawn_unchecked`](Self::spawn_unchecked), but returns an error instead of aborting
    /// the process when the allocator fails; see [`try_spawn`](Self::try_spawn) for what is
    /// dropped.
    ///
    /// # Safety
    /// The contract of [`spawn_unchecked`](Self::spawn_unchecked).
    ///
    /// ```
    /// let data = String::from("borrowed");
    /// // SAFETY: `data` outlives the task, which is run and joined right here.
    /// let (runnable, task) = unsafe {
    ///     rawtask::Builder::new().try_spawn_unchecked(|()| async { data.len() }, |_| {})
    /// }
    /// .expect("out of memory");
    /// runnable.run();
    /// assert_eq!(futures_lite::future::block_on(task), 8);
    /// ```
    #[track_caller]
    pub unsafe fn try_spawn_unchecked<'a, F, Fut, S>(
        self,
        future: F,
        schedule: S,
    ) -> Result<Spawned<Fut::Output, M>, TrySpawnError>
    where
        F: FnOnce(&'a M) -> Fut,
        Fut: Future + 'a,
        S: Schedule<M>,
        M: 'a,
    {
        // SAFETY: forwarded from the caller.
        unsafe { self.try_spawn_with_locality(future, schedule, AnyThread) }
    }

    /// # Safety
    /// As `spawn_unchecked`, with `locality` deciding where the contents may be dropped.
    #[inline]
    #[track_caller]
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
        // SAFETY: forwarded from the caller.
        match unsafe { self.build::<_, _, _, _, true>(future, schedule, locality) } {
            Ok(handles) => handles,
            Err(error) => allocation_failed(error),
        }
    }

    /// # Safety
    /// As `spawn_unchecked`, with `locality` deciding where the contents may be dropped.
    #[inline]
    #[track_caller]
    unsafe fn try_spawn_with_locality<'a, F, Fut, S, L>(
        self,
        future: F,
        schedule: S,
        locality: L,
    ) -> Result<Spawned<Fut::Output, M>, TrySpawnError>
    where
        F: FnOnce(&'a M) -> Fut,
        Fut: Future + 'a,
        S: Schedule<M>,
        L: Locality,
        M: 'a,
    {
        // SAFETY: forwarded from the caller.
        unsafe { self.build::<_, _, _, _, false>(future, schedule, locality) }
    }

    /// Spawns with the builder's options; on allocation failure aborts (`ABORT`) or returns
    /// the error.
    ///
    /// # Safety
    /// As `spawn_unchecked`, with `locality` deciding where the contents may be dropped.
    #[inline]
    #[track_caller]
    unsafe fn build<'a, F, Fut, S, L, const ABORT: bool>(
        self,
        future: F,
        schedule: S,
        locality: L,
    ) -> Result<Spawned<Fut::Output, M>, TrySpawnError>
    where
        F: FnOnce(&'a M) -> Fut,
        Fut: Future + 'a,
        S: Schedule<M>,
        L: Locality,
        M: 'a,
    {
        let Builder {
            metadata,
            propagate_panic,
            allocator,
            identity,
            hooks,
        } = self;
        // SAFETY: forwarded from the caller.
        unsafe {
            match identity {
                None => {
                    let extras = TaskExtras {
                        locality,
                        allocator,
                        identity: (),
                        hooks,
                    };
                    allocate_task::<_, _, _, _, _, _, _, _, ABORT>(
                        future,
                        schedule,
                        metadata,
                        extras,
                        propagate_panic,
                    )
                }
                Some(spec) => {
                    let caller = Location::caller();
                    let location = spec.track_location.then_some(caller);
                    let extras = TaskExtras {
                        locality,
                        allocator,
                        identity: Identity::new(spec.name, location),
                        hooks,
                    };
                    allocate_task::<_, _, _, _, _, _, _, _, ABORT>(
                        future,
                        schedule,
                        metadata,
                        extras,
                        propagate_panic,
                    )
                }
            }
        }
    }
}

/// What the infallible spawn functions do when the allocator fails: what `Box::new` does.
#[cold]
#[inline(never)]
fn allocation_failed(error: TrySpawnError) -> ! {
    crate::sync::alloc::handle_alloc_error(error.layout())
}

/// Allocates a task and returns its handles. If the allocator fails: with `ABORT`, aborts the
/// process (`handle_alloc_error`; the infallible spawns, which then carry no failure path);
/// without, drops everything given and returns the error.
///
/// # Safety
/// As `Builder::spawn_unchecked`, with `extras` deciding where the contents may be dropped.
#[inline]
unsafe fn allocate_task<'a, F, Fut, S, M, Loc, Alloc, IdSlot, Hooks, const ABORT: bool>(
    future: F,
    schedule: S,
    metadata: M,
    extras: TaskExtras<Loc, Alloc, IdSlot, Hooks>,
    propagate_panic: bool,
) -> Result<Spawned<Fut::Output, M>, TrySpawnError>
where
    F: FnOnce(&'a M) -> Fut,
    Fut: Future + 'a,
    S: Schedule<M>,
    Loc: Locality,
    Alloc: Allocator,
    IdSlot: IdentitySlot,
    Hooks: HookSlot,
    M: 'a,
{
    type Raw<Fut, S, M, Loc, Alloc, IdSlot, Hooks> =
        RawTask<Fut, <Fut as Future>::Output, S, M, TaskExtras<Loc, Alloc, IdSlot, Hooks>>;
    // SAFETY: forwarded from the caller; the new task's reference (and spare schedule hold,
    // when its schedule function needs holds) goes to the `Runnable` and its TASK bit to the
    // `Task`.
    unsafe {
        let ptr = Raw::<Fut, S, M, Loc, Alloc, IdSlot, Hooks>::allocate::<F, ABORT>(
            future,
            schedule,
            metadata,
            extras,
            propagate_panic,
        )?;
        let spare_hold = Raw::<Fut, S, M, Loc, Alloc, IdSlot, Hooks>::SCHEDULE_HOLDS;
        Ok((
            Runnable::spawned(ptr, spare_hold),
            Task::from_raw(ptr.as_ptr()),
        ))
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
#[cfg(feature = "alloc")]
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
#[cfg(feature = "alloc")]
pub unsafe fn spawn_unchecked<F, S>(future: F, schedule: S) -> (Runnable, Task<F::Output>)
where
    F: Future,
    S: Schedule,
{
    // The default path: no data slot, the heap, no identity (all zero-sized).
    let extras = TaskExtras {
        locality: AnyThread,
        allocator: Heap,
        identity: (),
        hooks: (),
    };
    // SAFETY: forwarded from the caller.
    match unsafe {
        allocate_task::<_, _, _, _, _, _, _, _, true>(move |()| future, schedule, (), extras, false)
    } {
        Ok(handles) => handles,
        Err(error) => allocation_failed(error),
    }
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
#[cfg(feature = "alloc")]
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
#[cfg(feature = "alloc")]
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

/// Spawns every future of `futures` onto one schedule function, in one call.
///
/// The new [`Runnable`]s are appended to `runnables` instead of being passed to `schedule`
/// one by one: a new task is already scheduled, so pushing them onto the executor's queue in
/// one go (one lock, one `extend`) is the same as calling [`Runnable::schedule`] on each — and
/// cheaper for a batch. The [`Task`]s are appended to `tasks`, in the same order. `schedule`
/// is cloned into every task and receives the runnables of later wakes.
///
/// ```
/// use std::collections::VecDeque;
/// use std::sync::{Arc, Mutex};
///
/// let queue = Arc::new(Mutex::new(VecDeque::new()));
/// let schedule = {
///     let queue = queue.clone();
///     move |runnable| queue.lock().unwrap().push_back(runnable)
/// };
///
/// let (mut runnables, mut tasks) = (Vec::new(), Vec::new());
/// rawtask::spawn_many((0..100).map(|i| async move { i * 2 }), &schedule, &mut runnables, &mut tasks);
/// queue.lock().unwrap().extend(runnables); // one lock for the whole batch
///
/// while let Some(runnable) = queue.lock().unwrap().pop_front() {
///     runnable.run();
/// }
/// let sum: i32 = tasks.into_iter().map(futures_lite::future::block_on).sum();
/// assert_eq!(sum, 9900);
/// ```
#[cfg(feature = "alloc")]
pub fn spawn_many<I, S, R, T>(futures: I, schedule: &S, runnables: &mut R, tasks: &mut T)
where
    I: IntoIterator,
    I::Item: Future + Send + 'static,
    <I::Item as Future>::Output: Send + 'static,
    S: Schedule + Clone + Send + Sync + 'static,
    R: Extend<Runnable>,
    T: Extend<Task<<I::Item as Future>::Output>>,
{
    for future in futures {
        let (runnable, task) = spawn(future, schedule.clone());
        runnables.extend(Some(runnable));
        tasks.extend(Some(task));
    }
}

/// [`spawn_many`], but stops at the first allocation failure instead of aborting the process.
///
/// On `Err`, the tasks spawned before the failure are in `runnables` and `tasks` as with
/// `spawn_many` (not scheduled: run or schedule them, or drop them to cancel them); the
/// future whose allocation failed and the rest of `futures` are dropped unspawned (and the
/// iterator with them). Growing `runnables` and `tasks` is up to their `Extend`
/// implementations: a `Vec` aborts if it cannot grow, so reserve first (`try_reserve`) where
/// that matters.
///
/// ```
/// let (mut runnables, mut tasks) = (Vec::new(), Vec::new());
/// runnables.try_reserve(3).expect("out of memory");
/// tasks.try_reserve(3).expect("out of memory");
/// rawtask::try_spawn_many((0..3).map(|i| async move { i }), &|_| {}, &mut runnables, &mut tasks)
///     .expect("out of memory");
/// for runnable in runnables {
///     runnable.run();
/// }
/// let outputs: Vec<i32> = tasks.into_iter().map(futures_lite::future::block_on).collect();
/// assert_eq!(outputs, [0, 1, 2]);
/// ```
#[cfg(feature = "alloc")]
pub fn try_spawn_many<I, S, R, T>(
    futures: I,
    schedule: &S,
    runnables: &mut R,
    tasks: &mut T,
) -> Result<(), TrySpawnError>
where
    I: IntoIterator,
    I::Item: Future + Send + 'static,
    <I::Item as Future>::Output: Send + 'static,
    S: Schedule + Clone + Send + Sync + 'static,
    R: Extend<Runnable>,
    T: Extend<Task<<I::Item as Future>::Output>>,
{
    for future in futures {
        let (runnable, task) = Builder::new().try_spawn(move |()| future, schedule.clone())?;
        runnables.extend(Some(runnable));
        tasks.extend(Some(task));
    }
    Ok(())
}
