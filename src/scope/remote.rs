//! The low-level API: a scope's signals and its wrapped future, without the spawning.

use alloc::boxed::Box;
use core::any::Any;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use pin_project_lite::pin_project;

use super::children::{run_tail, Closed, Owner, Registration};
use super::leaf::{Leaf, NoParent};
use super::link::Link;
use super::signals::{CancelReceiver, CancelSender, DoneReceiver, DoneSender};
use super::{ChildSignals, ParentSignals, RawScopedSpawn, SignalReceiver, SignalSender};
use crate::cancel::CancellationToken;
use crate::try_alloc_error::TryAllocError;
use crate::try_arc::TryArc;

/// The scope of one task that is about to be spawned: hands out a spawner for the task's
/// children, then [wraps](Self::wrap) the task's future so that it terminates in order.
///
/// ```
/// use futures_lite::future::block_on;
/// use rawtask::scope::{RawScopedSpawn, RemoteScope};
///
/// // A root spawner: its children are the top-level tasks.
/// let root = RemoteScope::new().spawner();
///
/// // Everything a task needs, without spawning it: its signals and its wrapped future.
/// let (parent, child) = root.spawn_raw_with_signal();
/// let task = RemoteScope::new().wrap(child, async { println!("working") }, || println!("done"));
///
/// block_on(task); // any executor could run it
/// block_on(parent.done_receiver);
/// ```
#[derive(Default)]
pub struct RemoteScope {
    children: Option<Owner>,
}

impl RemoteScope {
    /// A scope without children yet.
    pub fn new() -> RemoteScope {
        RemoteScope { children: None }
    }

    /// A spawner for the children of this scope's task. The first call allocates the scope's
    /// child registry; a task that never spawns does not pay for it.
    pub fn spawner(&mut self) -> RemoteSpawner {
        let children = self.children.get_or_insert_with(Owner::new);
        RemoteSpawner {
            children: children.clone(),
        }
    }

    /// [`spawner`](Self::spawner), or an error if the heap refuses the child registry (or its
    /// token).
    pub(crate) fn try_spawner(&mut self) -> Result<RemoteSpawner, TryAllocError> {
        let children = match &mut self.children {
            Some(children) => children,
            empty @ None => empty.insert(Owner::try_new()?),
        };
        Ok(RemoteSpawner {
            children: children.clone(),
        })
    }

    /// Wraps a task's future with its signals and done function into the future to spawn.
    ///
    /// The wrapped future terminates in the order of the [module documentation](super): it
    /// runs `future` until it completes or `signals.cancel_receiver` fires, drops it, cancels
    /// the children spawned through [`spawner`](Self::spawner), waits for them, calls `done`,
    /// and drops `signals.done_sender`. The order holds if `future` or `done` panics (the
    /// panic is resumed after the done signal is sent) and if the wrapped future is dropped
    /// early (then the last child to terminate runs `done` and sends the done signal).
    ///
    /// Unlike scoped_spawn, `done` and the done sender must be `Send + 'static`, because a
    /// dropped task may leave them to a child that terminates on another thread.
    pub fn wrap<CancelRx, DoneTx, F, D>(
        self,
        signals: ChildSignals<CancelRx, DoneTx>,
        future: F,
        done: D,
    ) -> Scoped<F, D, CancelRx, DoneTx>
    where
        CancelRx: SignalReceiver,
        DoneTx: SignalSender + Send + 'static,
        F: Future<Output = ()>,
        D: FnOnce() + Send + 'static,
    {
        Scoped {
            future: Some(future),
            running: true,
            cancel: Some(signals.cancel_receiver),
            children: self.children,
            done: Some(done),
            done_sender: Some(signals.done_sender),
            panic: None,
        }
    }
}

impl fmt::Debug for RemoteScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteScope")
            .field("has_spawner", &self.children.is_some())
            .finish()
    }
}

/// Registers children in one scope. Cloning it gives another handle to the same scope.
///
/// A spawner belongs to its task: handing it to a task outside the scope breaks the tree. If
/// that happens anyway and the scope has already begun terminating,
/// [`try_spawn_raw`](Self::try_spawn_raw) refuses, and [`spawn_raw`](RawScopedSpawn::spawn_raw)
/// panics.
#[derive(Clone)]
pub struct RemoteSpawner {
    children: Owner,
}

impl RemoteSpawner {
    /// The token that this scope cancels when it terminates (step 3); cancelling it yourself
    /// cancels every child of the scope, but not the scope's own task.
    pub fn children_token(&self) -> &CancellationToken {
        self.children.token()
    }

    /// Registers a child, or fails if the scope is already terminating.
    ///
    /// The child gets a token of its own, a child of [`children_token`](Self::children_token)
    /// ([`CancelReceiver::child_token`]).
    pub fn try_spawn_raw(&self) -> Result<RemoteChildSignals, ScopeClosed> {
        let registration = self.register()?;
        let token = self.children.token().child_token();
        Ok(ChildSignals {
            cancel_receiver: CancelReceiver::new(token),
            done_sender: DoneSender::new(registration, None),
        })
    }

    /// Registers a child with signals for its parent too, or fails if the scope is already
    /// terminating.
    pub fn try_spawn_raw_with_signal(
        &self,
    ) -> Result<(RemoteParentSignals, RemoteChildSignals), ScopeClosed> {
        let registration = self.register()?;
        let token = self.children.token().child_token();
        let link = TryArc::new(Link::new());
        let parent = ParentSignals {
            cancel_sender: CancelSender::for_token(token.clone()),
            done_receiver: DoneReceiver::new(link.clone()),
        };
        let child = ChildSignals {
            cancel_receiver: CancelReceiver::new(token),
            done_sender: DoneSender::new(registration, Some(link)),
        };
        Ok((parent, child))
    }

    /// Counts a new child and returns the registry to hand it (see `Leaf`).
    #[inline]
    pub(crate) fn register(&self) -> Result<Registration, ScopeClosed> {
        self.children.register().map_err(|Closed| ScopeClosed)
    }

    /// Registers a child that will not spawn children of its own and returns its future
    /// (see `Leaf`), without signals for its parent.
    #[inline]
    pub(crate) fn leaf<F, D>(&self, future: F, done: D) -> Result<Leaf<F, D, NoParent>, ScopeClosed>
    where
        F: Future<Output = ()>,
        D: FnOnce(),
    {
        let registration = self.register()?;
        Ok(Leaf::new(future, done, registration, NoParent))
    }

    /// [`leaf`](Self::leaf) with the parent's signals, which reach the leaf through one
    /// shared `Link`.
    pub(crate) fn leaf_with_signal<F, D>(
        &self,
        future: F,
        done: D,
    ) -> Result<(RemoteParentSignals, LinkedLeaf<F, D>), ScopeClosed>
    where
        F: Future<Output = ()>,
        D: FnOnce(),
    {
        let registration = self.register()?;
        let link = TryArc::new(Link::new());
        let parent = ParentSignals {
            cancel_sender: CancelSender::for_link(link.clone()),
            done_receiver: DoneReceiver::new(link.clone()),
        };
        Ok((parent, Leaf::new(future, done, registration, link)))
    }
}

/// The `try_` paths of the scoped spawns: registration and the child's allocations, each
/// refused with a [`RefusedChild`] instead of a panic or an abort.
impl RemoteSpawner {
    /// [`try_spawn_raw`](Self::try_spawn_raw) with the child's token allocated fallibly.
    pub(crate) fn fallible_spawn_raw(&self) -> Result<RemoteChildSignals, RefusedChild> {
        let registration = self.register()?;
        // On failure the registration is dropped, which undoes it.
        let token = self.children.token().try_child_token()?;
        Ok(ChildSignals {
            cancel_receiver: CancelReceiver::new(token),
            done_sender: DoneSender::new(registration, None),
        })
    }

    /// [`try_spawn_raw_with_signal`](Self::try_spawn_raw_with_signal) with the child's token
    /// and link allocated fallibly.
    pub(crate) fn fallible_spawn_raw_with_signal(
        &self,
    ) -> Result<(RemoteParentSignals, RemoteChildSignals), RefusedChild> {
        let registration = self.register()?;
        let token = self.children.token().try_child_token()?;
        let link = TryArc::try_new(Link::new(), LINK)?;
        let parent = ParentSignals {
            cancel_sender: CancelSender::for_token(token.clone()),
            done_receiver: DoneReceiver::new(link.clone()),
        };
        let child = ChildSignals {
            cancel_receiver: CancelReceiver::new(token),
            done_sender: DoneSender::new(registration, Some(link)),
        };
        Ok((parent, child))
    }

    /// [`leaf_with_signal`](Self::leaf_with_signal) with the link allocated fallibly, and the
    /// leaf not built yet: the caller builds it inside the task's allocation, so that a
    /// refused task drops `done` instead of running it (as a dropped leaf would).
    #[allow(clippy::type_complexity)]
    pub(crate) fn fallible_leaf_with_signal<F, D>(
        &self,
        future: F,
        done: D,
    ) -> Result<(RemoteParentSignals, impl FnOnce() -> LinkedLeaf<F, D>), RefusedChild>
    where
        F: Future<Output = ()>,
        D: FnOnce(),
    {
        let registration = self.register()?;
        let link = TryArc::try_new(Link::new(), LINK)?;
        let parent = ParentSignals {
            cancel_sender: CancelSender::for_link(link.clone()),
            done_receiver: DoneReceiver::new(link.clone()),
        };
        Ok((parent, move || Leaf::new(future, done, registration, link)))
    }
}

/// What the heap was asked for, for a refused `Link`.
const LINK: &str = "a scoped task's signals";

/// Why a `try_` spawn into a scope registered no child.
#[derive(Debug)]
pub(crate) enum RefusedChild {
    /// The scope is terminating.
    Closed,
    /// An allocation failed.
    NoMemory(TryAllocError),
}

impl From<ScopeClosed> for RefusedChild {
    fn from(_: ScopeClosed) -> RefusedChild {
        RefusedChild::Closed
    }
}

impl From<TryAllocError> for RefusedChild {
    fn from(error: TryAllocError) -> RefusedChild {
        RefusedChild::NoMemory(error)
    }
}

/// A leaf whose parent's signals go through a shared `Link`.
pub(crate) type LinkedLeaf<F, D> = Leaf<F, D, TryArc<Link>>;

/// The parent's signals of a child of a [`RemoteSpawner`].
pub type RemoteParentSignals = ParentSignals<CancelSender, DoneReceiver>;

/// The child's signals of a child of a [`RemoteSpawner`].
pub type RemoteChildSignals = ChildSignals<CancelReceiver, DoneSender>;

const CLOSED: &str = "spawned into a scope that is terminating: a scoped spawner was used \
                      outside the task it belongs to";

impl RawScopedSpawn for RemoteSpawner {
    type CancelReceiver = CancelReceiver;
    type DoneSender = DoneSender;
    type CancelSenderWithSignal = CancelSender;
    type DoneReceiverWithSignal = DoneReceiver;
    type CancelReceiverWithSignal = CancelReceiver;
    type DoneSenderWithSignal = DoneSender;

    /// # Panics
    ///
    /// If the scope is terminating (see [`RemoteSpawner`]).
    fn spawn_raw(&self) -> RemoteChildSignals {
        self.try_spawn_raw().expect(CLOSED)
    }

    /// # Panics
    ///
    /// If the scope is terminating (see [`RemoteSpawner`]).
    fn spawn_raw_with_signal(&self) -> (RemoteParentSignals, RemoteChildSignals) {
        self.try_spawn_raw_with_signal().expect(CLOSED)
    }
}

impl fmt::Debug for RemoteSpawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSpawner")
            .field("children_token", self.children.token())
            .finish()
    }
}

/// The error of spawning into a scope that has begun terminating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScopeClosed;

impl fmt::Display for ScopeClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the scope is terminating and accepts no new children")
    }
}

impl std::error::Error for ScopeClosed {}

type Panic = Box<dyn Any + Send>;

pin_project! {
    /// A scoped task's future, from [`RemoteScope::wrap`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F, D, CancelRx, DoneTx>
    where
        D: FnOnce(),
        D: Send,
        D: 'static,
        DoneTx: Send,
        DoneTx: 'static,
    {
        // The task's future until termination begins (dropped in place by setting `None`).
        #[pin]
        future: Option<F>,
        // Whether `future` is still there. Asked instead of `future.is_some()`: that takes a
        // shared borrow of the suspended future, which would invalidate the future's borrows
        // of its own locals (undefined behaviour under Stacked Borrows).
        running: bool,
        // The parent's cancel signal until termination begins.
        #[pin]
        cancel: Option<CancelRx>,
        // This task's children, if it ever asked for a spawner.
        children: Option<Owner>,
        // Taken by step 5.
        done: Option<D>,
        // Dropped by step 6.
        done_sender: Option<DoneTx>,
        // The first panic of the future or its drop, resumed after step 6.
        panic: Option<Panic>,
    }

    impl<F, D, CancelRx, DoneTx> PinnedDrop for Scoped<F, D, CancelRx, DoneTx>
    where
        D: FnOnce(),
        D: Send,
        D: 'static,
        DoneTx: Send,
        DoneTx: 'static,
    {
        fn drop(this: Pin<&mut Self>) {
            this.drop_early();
        }
    }
}

impl<F, D, CancelRx, DoneTx> Scoped<F, D, CancelRx, DoneTx>
where
    D: FnOnce() + Send + 'static,
    DoneTx: Send + 'static,
{
    /// Steps 2 and 3 (again harmlessly if they already ran).
    fn begin_termination(self: Pin<&mut Self>) {
        let mut this = self.project();
        *this.running = false;
        // Step 2. Setting `None` drops the future in place, which pinning allows.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| this.future.set(None))) {
            this.panic.get_or_insert(payload);
        }
        this.cancel.set(None);
        // Step 3.
        if let Some(children) = this.children {
            children.close();
        }
    }

    /// Steps 5 and 6; then resumes a panic of the future or of `done`.
    fn finish(self: Pin<&mut Self>) {
        let this = self.project();
        let done = this.done.take();
        let result = catch_unwind(AssertUnwindSafe(|| done.map(|done| done())));
        drop(this.done_sender.take());
        let panic = this.panic.take().or(result.err());
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
    }

    /// Dropped before it terminated (by the executor, or because spawning failed): terminates
    /// anyway, leaving steps 5 and 6 to the last child if children remain.
    fn drop_early(mut self: Pin<&mut Self>) {
        // Through the projection, field by field: see `running`.
        if self.as_mut().project().done_sender.is_none() {
            return; // terminated normally
        }
        self.as_mut().begin_termination();
        let this = self.project();
        let done = this.done.take();
        let done_sender = this.done_sender.take();
        let tail: super::children::Tail = Box::new(move || {
            // A panic of `done` is caught by `run_tail`; the done signal is sent either way,
            // as `done_sender` is dropped when the closure unwinds.
            let _done_sender = done_sender;
            if let Some(done) = done {
                done();
            }
        });
        let now = match this.children {
            Some(children) => children.leave_tail(tail),
            None => Some(tail),
        };
        if let Some(tail) = now {
            run_tail(tail);
        }
        // Not resumed: unwinding out of a task's destructor aborts most executors (rawtask
        // included). The panic hook has already reported it.
        if let Some(payload) = this.panic.take() {
            crate::panic::drop_payload(payload);
        }
    }
}

impl<F, D, CancelRx, DoneTx> Future for Scoped<F, D, CancelRx, DoneTx>
where
    F: Future<Output = ()>,
    CancelRx: SignalReceiver,
    D: FnOnce() + Send + 'static,
    DoneTx: Send + 'static,
{
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Every field through the projection: a shared borrow of the whole task would cover
        // the suspended future (see `running`).
        let this = self.as_mut().project();
        if *this.running {
            // Step 1: whichever comes first, the cancel signal or completion. A cancelled
            // task's future is not polled again. The receiver is checked cheaply first and
            // polled (registering a waker) only if the future is pending.
            let signalled = this
                .cancel
                .as_ref()
                .as_pin_ref()
                .is_some_and(|cancel| cancel.is_signalled());
            if !signalled {
                let future = this.future;
                let polled = catch_unwind(AssertUnwindSafe(|| match future.as_pin_mut() {
                    Some(future) => future.poll(cx),
                    None => Poll::Ready(()),
                }));
                match polled {
                    Ok(Poll::Ready(())) => {}
                    Err(payload) => *this.panic = Some(payload),
                    Ok(Poll::Pending) => {
                        let cancelled = match this.cancel.as_pin_mut() {
                            Some(cancel) => cancel.poll(cx).is_ready(),
                            None => false,
                        };
                        if !cancelled {
                            return Poll::Pending;
                        }
                    }
                }
            }
            self.as_mut().begin_termination();
        }
        let this = self.as_mut().project();
        if this.done_sender.is_some() {
            // Step 4.
            if let Some(children) = this.children {
                if children.poll_empty(cx).is_pending() {
                    return Poll::Pending;
                }
            }
            self.finish();
        }
        Poll::Ready(())
    }
}

impl<F, D, CancelRx, DoneTx> fmt::Debug for Scoped<F, D, CancelRx, DoneTx>
where
    D: FnOnce() + Send + 'static,
    DoneTx: Send + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = if self.running {
            "running"
        } else if self.done_sender.is_some() {
            "waiting for children"
        } else {
            "terminated"
        };
        f.debug_struct("Scoped").field("stage", &stage).finish()
    }
}
