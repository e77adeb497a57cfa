//! Structured scopes: every task lives in a scope made by its parent, and no task outlives it.
//!
//! Scoped tasks form a tree. A task's [`ScopedSpawner`] spawns its children; when the task
//! terminates, its children are cancelled and waited for before the task reports itself done.
//! The API is a superset of [scoped_spawn 0.2](https://docs.rs/scoped_spawn/0.2.1):
//! [`ScopedSpawn`], [`ScopedSpawner`], [`RawScopedSpawn`], the [signal traits](SignalSender),
//! [`ParentSignals`] / [`ChildSignals`] and the low-level [`RemoteScope`].
//!
//! ```
//! use rawtask::scope::{ScopedSpawn, ScopedSpawner};
//!
//! let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
//! let spawner = ScopedSpawner::on_schedule(move |runnable| sender.send(runnable).unwrap());
//!
//! let signals = spawner
//!     .spawn_with_signal(
//!         |children| async move {
//!             // `children` spawns this task's children; they cannot outlive it.
//!             children
//!                 .spawn_future(std::future::pending(), || println!("child terminated"))
//!                 .unwrap();
//!             std::future::pending::<()>().await
//!         },
//!         || println!("parent terminated, after its child"),
//!     )
//!     .unwrap();
//! # let mut run = || for runnable in receiver.try_iter() { runnable.run(); };
//! # run();
//! drop(signals.cancel_sender); // cancel the parent…
//! # run();
//! futures_lite::future::block_on(signals.done_receiver); // …and wait until both are gone
//! ```
//!
//! # Termination
//!
//! A scoped task terminates in these steps, always in this order:
//!
//! 1. termination begins when its future completes or its cancel signal arrives (its parent's
//!    [`CancelSender`] is dropped, its parent terminates, or its [token](ScopedSpawner::token)
//!    is cancelled), whichever comes first;
//! 2. its future is dropped at once;
//! 3. its children are sent cancel signals;
//! 4. it waits until all of its children have terminated;
//! 5. its done function runs;
//! 6. its parent receives the done signal ([`DoneReceiver`] completes, and the parent's scope
//!    stops counting it).
//!
//! The order holds where scoped_spawn breaks it:
//!
//! - **the future panics**: the panic is caught, steps 2–6 run, then the panic is resumed to
//!   the executor;
//! - **the executor drops the task** before it finishes (shutdown, or a failed spawn): the
//!   drop performs steps 2 and 3, and steps 5 and 6 run when the last child terminates (at
//!   once if there is none) — on the thread where that happens;
//! - **the done function panics**: the done signal is still sent, then the panic is resumed.
//!
//! Panics are resumed only from the task's own `poll`. A panic while a dropped task
//! terminates (its future's destructor, or its done function run by the drop or by its last
//! child) is caught and not resumed, because unwinding out of a destructor aborts most
//! executors, rawtask's own included; the panic hook has reported it by then.
//!
//! A finished child leaves its parent's bookkeeping, so a long-lived task that spawns
//! millions of short children uses constant memory.
//!
//! # Cancellation tokens
//!
//! Every scoped task has a [`CancellationToken`](crate::CancellationToken), returned by its
//! spawner's [`token`](ScopedSpawner::token): cancelling it is the same as the parent's
//! cancel signal, and handing it to a child (or to blocking code) lets that code stop when
//! the scope does. A task's token is a [child](crate::CancellationToken::child_token) of a
//! token its parent cancels at step 3, so cancellation reaches whole subtrees.
//!
//! # Why futures are `'static`
//!
//! A scope whose tasks borrowed from the spawning stack frame would be unsound: the frame
//! could `mem::forget` the scope and return while tasks still use the borrow (the "scoped
//! task trilemma": concurrency, borrowing, and forgettable handles — pick two). Blocking
//! until the children end would avoid it, but an async scope cannot block. So, like
//! scoped_spawn, every scoped future and done function is `'static`, and the scope's
//! guarantee is about lifetimes of *tasks*, not of borrows.
//!
//! # Executors
//!
//! [`ScopedSpawner::on_schedule`] spawns raw tasks with a rawtask schedule function. With the
//! `futures` feature, [`ScopedSpawner::new`] also takes any `futures::task::Spawn` executor
//! (tokio, async-std, `futures::executor::ThreadPool`, … through a small `Spawn` impl).
//!
//! # On the raw task
//!
//! A task spawned by [`ScopedSpawner::on_schedule`] is a raw task whose parent's two ends
//! split the `Task` handle's jobs: the cancel sender keeps the `Task` handle and only
//! cancels, wakes, detaches or drops it, never polls it; the done receiver is a watcher, one
//! counted reference that waits for the task to finish (the [protocol](crate::protocol), rule
//! 13). The watcher's reference is added, and the `Task` of a child spawned without signals
//! is detached, before the new task leaves the spawning thread, without atomic
//! read-modify-writes (rule 11): a scoped spawn costs what a plain one does.
//!
//! # Out of memory
//!
//! The spawns of [`ScopedSpawn`] abort the process if the heap fails, as `Box::new` does.
//! Their `try_` twins on [`ScopedSpawner`] — [`try_new`](ScopedSpawner::try_new),
//! [`try_on_schedule`](ScopedSpawner::try_on_schedule), [`try_spawn`](ScopedSpawner::try_spawn),
//! [`try_spawn_with_signal`](ScopedSpawner::try_spawn_with_signal),
//! [`try_spawn_future`](ScopedSpawner::try_spawn_future),
//! [`try_spawn_future_with_signal`](ScopedSpawner::try_spawn_future_with_signal),
//! [`try_spawn_output`](ScopedSpawner::try_spawn_output) and
//! [`try_spawn_future_output`](ScopedSpawner::try_spawn_future_output) — return a
//! [`SpawnError`] that [is out of memory](SpawnError::is_out_of_memory) instead: for the child
//! registry, the child's token, its signals' link, its output cell and, with [`OnSchedule`],
//! the task itself. A refused spawn spawns nothing, leaks nothing, and drops its future and
//! done function without running them. With a `futures::task::Spawn` executor the task's own
//! allocation (a `Box`) still aborts. A scoped task whose pending poll cannot store its
//! waker with its token (the heap refused) wakes itself, so the next poll tries again.
//! Cancellation tokens have
//! their own `try_` constructors
//! ([`CancellationToken::try_new`](crate::CancellationToken::try_new) and siblings).
//!
//! This module needs the `std` feature.

mod children;
mod leaf;
mod link;
mod output;
mod remote;
mod signals;
mod spawner;

use core::future::Future;

pub use self::output::ScopedJoinHandle;
pub use self::remote::{
    RemoteChildSignals, RemoteParentSignals, RemoteScope, RemoteSpawner, ScopeClosed, Scoped,
};
pub use self::signals::{CancelReceiver, CancelSender, DoneReceiver, DoneSender};
pub use self::spawner::{OnSchedule, ScopeExecutor, ScopedSpawner, SpawnError};

/// The low-level API, under scoped_spawn's module name.
pub mod remote_scope {
    pub use super::remote::{RemoteScope, RemoteSpawner};

    /// The signal types of [`RemoteSpawner`], under scoped_spawn's module name.
    pub mod signals {
        pub use crate::scope::signals::{CancelReceiver, CancelSender, DoneReceiver, DoneSender};
    }
}

/// An object that sends its signal when dropped.
pub trait SignalSender {}

/// A signal sender that can be dropped without sending its signal.
pub trait ForgettableSignalSender: SignalSender {
    /// Drops the sender without sending the signal.
    fn forget(self);
}

/// A future that completes when its signal is sent.
pub trait SignalReceiver: Future<Output = ()> {
    /// Whether the signal has been sent, checked without registering a waker; `false` when
    /// the receiver cannot tell (the default).
    ///
    /// A scoped task checks its cancel receiver with this before each poll of its future and
    /// polls the receiver itself only when the future is pending, so that a task which
    /// completes at once never registers a waker. A receiver that keeps the default is polled
    /// after the future instead: a task cancelled before its first poll is then polled once.
    fn is_signalled(&self) -> bool {
        false
    }
}

/// The parent's ends of a child's signals.
#[derive(Debug)]
pub struct ParentSignals<CancelTx: ForgettableSignalSender, DoneRx: SignalReceiver> {
    /// Dropping it cancels the child.
    pub cancel_sender: CancelTx,
    /// Completes once the child has terminated.
    pub done_receiver: DoneRx,
}

/// The child's ends of its signals.
#[derive(Debug)]
pub struct ChildSignals<CancelRx: SignalReceiver, DoneTx: SignalSender> {
    /// Completes when the child must terminate.
    pub cancel_receiver: CancelRx,
    /// Dropped by the child as the last step of its termination.
    pub done_sender: DoneTx,
}

/// Spawning tasks into a scope. Implementations must provide structured concurrency: the
/// spawned task is a child of the spawner's task and terminates as the
/// [module documentation](self) describes.
///
/// `spawn` and `spawn_with_signal` give the new task a spawner for its own children;
/// `spawn_future` and `spawn_future_with_signal` spawn a plain future. The `_with_signal`
/// variants return the [`ParentSignals`] to cancel the task early and to wait for it.
pub trait ScopedSpawn: Clone + Send + Sync {
    /// The parent's cancel end, from `spawn_with_signal`.
    type CancelSender: ForgettableSignalSender + Send;
    /// The parent's done end, from `spawn_with_signal`.
    type DoneReceiver: SignalReceiver + Send;
    /// The parent's cancel end, from `spawn_future_with_signal`.
    type FutureCancelSender: ForgettableSignalSender + Send;
    /// The parent's done end, from `spawn_future_with_signal`.
    type FutureDoneReceiver: SignalReceiver + Send;
    /// The low-level spawner.
    type Raw: RawScopedSpawn;

    /// Spawns the future `fun` returns, giving `fun` the new task's spawner. `done` runs after
    /// the task's children have terminated.
    fn spawn<Fut, Fun, Done>(&self, fun: Fun, done: Done) -> Result<(), SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Fun: FnOnce(Self) -> Fut,
        Done: FnOnce() + Send + 'static;

    /// Like [`spawn`](Self::spawn), returning the signals to cancel and await the task.
    fn spawn_with_signal<Fut, Fun, Done>(
        &self,
        fun: Fun,
        done: Done,
    ) -> Result<ParentSignals<Self::CancelSender, Self::DoneReceiver>, SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Fun: FnOnce(Self) -> Fut,
        Done: FnOnce() + Send + 'static;

    /// Spawns `future` as a task without children.
    fn spawn_future<Fut, Done>(&self, future: Fut, done: Done) -> Result<(), SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Done: FnOnce() + Send + 'static;

    /// Like [`spawn_future`](Self::spawn_future), returning the signals to cancel and await
    /// the task.
    fn spawn_future_with_signal<Fut, Done>(
        &self,
        future: Fut,
        done: Done,
    ) -> Result<ParentSignals<Self::FutureCancelSender, Self::FutureDoneReceiver>, SpawnError>
    where
        Fut: Future<Output = ()> + Send + 'static,
        Done: FnOnce() + Send + 'static;

    /// The low-level spawner of this scope.
    fn as_raw(&self) -> &Self::Raw;

    /// Converts into the low-level spawner of this scope.
    fn into_raw(self) -> Self::Raw;
}

/// Registering children in a scope without spawning them: the caller wraps and spawns the
/// task itself (see [`RemoteScope::wrap`]).
pub trait RawScopedSpawn {
    /// The child's cancel end, from `spawn_raw`.
    type CancelReceiver: SignalReceiver + Send;
    /// The child's done end, from `spawn_raw`.
    type DoneSender: SignalSender + Send;
    /// The parent's cancel end, from `spawn_raw_with_signal`.
    type CancelSenderWithSignal: ForgettableSignalSender + Send;
    /// The parent's done end, from `spawn_raw_with_signal`.
    type DoneReceiverWithSignal: SignalReceiver + Send;
    /// The child's cancel end, from `spawn_raw_with_signal`.
    type CancelReceiverWithSignal: SignalReceiver + Send;
    /// The child's done end, from `spawn_raw_with_signal`.
    type DoneSenderWithSignal: SignalSender + Send;

    /// Registers a child and returns its signals. The child must start terminating when
    /// `cancel_receiver` completes and drop `done_sender` after its own children terminated.
    fn spawn_raw(&self) -> ChildSignals<Self::CancelReceiver, Self::DoneSender>;

    /// Like [`spawn_raw`](Self::spawn_raw), with signals for the parent as well.
    #[allow(clippy::type_complexity)]
    fn spawn_raw_with_signal(
        &self,
    ) -> (
        ParentSignals<Self::CancelSenderWithSignal, Self::DoneReceiverWithSignal>,
        ChildSignals<Self::CancelReceiverWithSignal, Self::DoneSenderWithSignal>,
    );
}
