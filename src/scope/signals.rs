//! The four signal ends that connect a scoped task with its parent.
//!
//! - [`CancelSender`] (parent) → [`CancelReceiver`] (child): dropping the sender asks the child
//!   to terminate, unless it was [forgotten](ForgettableSignalSender::forget). The receiver
//!   also fires when the child's scope cancels its children (step 3 of the parent).
//! - [`DoneSender`] (child) → [`DoneReceiver`] (parent): the child drops the sender as the last
//!   step of its termination; the receiver completes then.
//!
//! A child registered through [`RemoteSpawner`](super::RemoteSpawner) has a
//! [`CancellationToken`] of its own; its cancel signal is that token. A child spawned as a
//! plain future (`spawn_future*`) has none: it watches its scope's token and, if its parent
//! has signals, a [`Link`] — so spawning it without signals allocates nothing but the task,
//! and with signals one `Link`.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::children::Registration;
use super::leaf::LeafSlot;
use super::link::{Link, CANCELLED, DONE};
use super::{ForgettableSignalSender, SignalReceiver, SignalSender};
use crate::cancel::{CancellationToken, WaitForCancellationFutureOwned};
use crate::raw::watcher::Watcher;
use crate::task::Task;
use crate::try_arc::TryArc;

/// The parent's end of a child's cancel signal: dropping it cancels the child.
///
/// Returned in [`ParentSignals`](super::ParentSignals) by the `*_with_signal` spawn functions.
pub struct CancelSender {
    /// `None` once forgotten.
    target: Option<Target>,
}

enum Target {
    /// The child's own token.
    Token(CancellationToken),
    /// The link of a child without a token.
    Link(TryArc<Link>),
    /// The `Task` handle of a raw-task child without a token (a leaf): the cancel flag is in
    /// its data slot. The handle is never polled (the done receiver watches the task) and
    /// never dropped as such: cancelling sets the flag and wakes the task, and both cancelling
    /// and forgetting detach it.
    Leaf(Task<(), LeafSlot>),
}

impl CancelSender {
    pub(crate) fn for_token(token: CancellationToken) -> CancelSender {
        CancelSender {
            target: Some(Target::Token(token)),
        }
    }

    pub(crate) fn for_link(link: TryArc<Link>) -> CancelSender {
        CancelSender {
            target: Some(Target::Link(link)),
        }
    }

    /// `task` must be the handle of a leaf task, never polled.
    #[inline]
    pub(crate) fn for_leaf(task: Task<(), LeafSlot>) -> CancelSender {
        CancelSender {
            target: Some(Target::Leaf(task)),
        }
    }

    /// Cancels the child now (the same as dropping the sender).
    pub fn cancel(self) {
        drop(self);
    }

    /// The child's own token, if it has one (a child spawned with a spawner of its own).
    /// Cancelling it cancels the child too.
    pub fn child_token(&self) -> Option<&CancellationToken> {
        match &self.target {
            Some(Target::Token(token)) => Some(token),
            _ => None,
        }
    }
}

impl Drop for CancelSender {
    #[inline]
    fn drop(&mut self) {
        match self.target.take() {
            Some(Target::Token(token)) => token.cancel(),
            Some(Target::Link(link)) => link.set(CANCELLED),
            Some(Target::Leaf(task)) => {
                // The flag first: the wake makes the leaf poll again and find it.
                task.metadata().cancel();
                task.wake();
                task.detach();
            }
            None => {}
        }
    }
}

impl SignalSender for CancelSender {}

impl ForgettableSignalSender for CancelSender {
    /// Drops the sender without cancelling: the child runs until it completes or its scope
    /// terminates.
    #[inline]
    fn forget(self) {
        // Its own drop would cancel: release the target here instead.
        let mut this = core::mem::ManuallyDrop::new(self);
        match this.target.take() {
            Some(Target::Leaf(task)) => task.detach(),
            // A token or a link: released without being set.
            other => drop(other),
        }
    }
}

impl fmt::Debug for CancelSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.target {
            Some(Target::Token(token)) => {
                if token.is_cancelled() {
                    "cancelled"
                } else {
                    "armed"
                }
            }
            Some(Target::Link(link)) => {
                if link.is(CANCELLED) {
                    "cancelled"
                } else {
                    "armed"
                }
            }
            Some(Target::Leaf(task)) => {
                if task.metadata().is_cancelled() {
                    "cancelled"
                } else {
                    "armed"
                }
            }
            None => "forgotten",
        };
        f.debug_struct("CancelSender")
            .field("state", &state)
            .finish()
    }
}

/// The child's end of its cancel signal: a future that completes once the child's token is
/// cancelled — by its parent's [`CancelSender`], by its scope terminating, or directly.
pub struct CancelReceiver {
    /// Owns the child's token: no second handle just to wait.
    wait: WaitForCancellationFutureOwned,
}

impl CancelReceiver {
    pub(crate) fn new(token: CancellationToken) -> CancelReceiver {
        CancelReceiver {
            wait: token.wait_cancelled_owned(),
        }
    }

    /// The child's own token (the one this receiver waits for).
    pub fn child_token(&self) -> &CancellationToken {
        self.wait.token()
    }
}

impl Future for CancelReceiver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.wait).poll(cx)
    }
}

impl SignalReceiver for CancelReceiver {
    fn is_signalled(&self) -> bool {
        self.child_token().is_cancelled()
    }
}

impl fmt::Debug for CancelReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelReceiver")
            .field("token", self.child_token())
            .finish()
    }
}

/// The child's end of its done signal. Dropping it reports the child terminated: first to the
/// parent's [`DoneReceiver`] (if any), then to the scope that waits for its children.
pub struct DoneSender {
    /// Dropped after `link` is set: deregisters the child.
    _scope: Registration,
    link: Option<TryArc<Link>>,
}

impl DoneSender {
    pub(crate) fn new(scope: Registration, link: Option<TryArc<Link>>) -> DoneSender {
        DoneSender {
            _scope: scope,
            link,
        }
    }
}

impl Drop for DoneSender {
    fn drop(&mut self) {
        if let Some(link) = self.link.take() {
            link.set(DONE);
        }
        // The registration field is dropped next: the scope's count follows the parent's
        // receiver.
    }
}

impl SignalSender for DoneSender {}

impl fmt::Debug for DoneSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DoneSender")
            .field("with_receiver", &self.link.is_some())
            .finish()
    }
}

/// The parent's end of a child's done signal: a future that completes once the child has
/// terminated completely — its future dropped, its children terminated, its done function run.
#[must_use = "futures do nothing unless polled"]
pub struct DoneReceiver {
    source: DoneSource,
}

enum DoneSource {
    Link(TryArc<Link>),
    /// A reference to a raw-task leaf, which finishes once the leaf has terminated.
    Leaf(Watcher),
}

impl DoneReceiver {
    pub(crate) fn new(link: TryArc<Link>) -> DoneReceiver {
        DoneReceiver {
            source: DoneSource::Link(link),
        }
    }

    /// `watcher` must watch a leaf task.
    #[inline]
    pub(crate) fn for_leaf(watcher: Watcher) -> DoneReceiver {
        DoneReceiver {
            source: DoneSource::Leaf(watcher),
        }
    }

    /// Whether the child has terminated.
    pub fn is_done(&self) -> bool {
        match &self.source {
            DoneSource::Link(link) => link.is(DONE),
            DoneSource::Leaf(watcher) => watcher.is_finished(),
        }
    }
}

impl Future for DoneReceiver {
    type Output = ();

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.source {
            DoneSource::Link(link) => link.poll(DONE, cx.waker()),
            // Completed, or cancelled with its future dropped (by the executor): either way
            // the leaf has terminated.
            DoneSource::Leaf(watcher) => watcher.poll_finished(cx),
        }
    }
}

impl SignalReceiver for DoneReceiver {
    fn is_signalled(&self) -> bool {
        self.is_done()
    }
}

impl fmt::Debug for DoneReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DoneReceiver")
            .field("done", &self.is_done())
            .finish()
    }
}
