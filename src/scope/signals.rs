//! The four signal ends that connect a scoped task with its parent.
//!
//! - [`CancelSender`] (parent) → [`CancelReceiver`] (child): dropping the sender asks the child
//!   to terminate, unless it was [forgotten](ForgettableSignalSender::forget).
//! - [`DoneSender`] (child) → [`DoneReceiver`] (parent): the child drops the sender as the last
//!   step of its termination; the receiver completes then.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use super::children::Children;
use super::{ForgettableSignalSender, SignalReceiver, SignalSender};
use crate::cancel::{CancellationToken, WaitForCancellationFutureOwned};
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::{lock, Arc, Mutex};

/// The parent's end of a child's cancel signal: dropping it cancels the child.
///
/// Returned in [`ParentSignals`](super::ParentSignals) by the `*_with_signal` spawn functions.
/// It holds the child's own [`CancellationToken`]; cancelling that token (or dropping this
/// sender) starts the child's termination.
pub struct CancelSender {
    token: Option<CancellationToken>,
}

impl CancelSender {
    pub(crate) fn new(token: CancellationToken) -> CancelSender {
        CancelSender { token: Some(token) }
    }

    /// Cancels the child now (the same as dropping the sender).
    pub fn cancel(self) {
        drop(self);
    }

    /// The child's own token.
    pub fn token(&self) -> &CancellationToken {
        self.token
            .as_ref()
            .expect("a CancelSender holds its token until dropped")
    }
}

impl Drop for CancelSender {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            token.cancel();
        }
    }
}

impl SignalSender for CancelSender {}

impl ForgettableSignalSender for CancelSender {
    /// Drops the sender without cancelling: the child runs until it completes or its scope
    /// terminates.
    fn forget(mut self) {
        self.token = None;
    }
}

impl fmt::Debug for CancelSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelSender")
            .field("token", &self.token)
            .finish()
    }
}

/// The child's end of its cancel signal: a future that completes once the child's token is
/// cancelled — by its parent's [`CancelSender`], by its scope terminating, or directly.
pub struct CancelReceiver {
    wait: WaitForCancellationFutureOwned,
    token: CancellationToken,
}

impl CancelReceiver {
    pub(crate) fn new(token: CancellationToken) -> CancelReceiver {
        CancelReceiver {
            wait: token.clone().wait_cancelled_owned(),
            token,
        }
    }

    /// The child's own token (the one this receiver waits for).
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

impl Future for CancelReceiver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.wait).poll(cx)
    }
}

impl SignalReceiver for CancelReceiver {}

impl fmt::Debug for CancelReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelReceiver")
            .field("token", &self.token)
            .finish()
    }
}

/// The child's end of its done signal. Dropping it reports the child terminated: first to the
/// parent's [`DoneReceiver`] (if any), then to the scope that waits for its children.
pub struct DoneSender {
    scope: Arc<Children>,
    signal: Option<Arc<DoneSignal>>,
}

impl DoneSender {
    pub(crate) fn new(scope: Arc<Children>, signal: Option<Arc<DoneSignal>>) -> DoneSender {
        DoneSender { scope, signal }
    }
}

impl Drop for DoneSender {
    fn drop(&mut self) {
        if let Some(signal) = self.signal.take() {
            signal.set();
        }
        self.scope.deregister();
    }
}

impl SignalSender for DoneSender {}

impl fmt::Debug for DoneSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DoneSender")
            .field("with_receiver", &self.signal.is_some())
            .finish()
    }
}

/// The parent's end of a child's done signal: a future that completes once the child has
/// terminated completely — its future dropped, its children terminated, its done function run.
#[must_use = "futures do nothing unless polled"]
pub struct DoneReceiver {
    signal: Arc<DoneSignal>,
}

impl DoneReceiver {
    pub(crate) fn new(signal: Arc<DoneSignal>) -> DoneReceiver {
        DoneReceiver { signal }
    }

    /// Whether the child has terminated.
    pub fn is_done(&self) -> bool {
        self.signal.done.load(Ordering::Acquire)
    }
}

impl Future for DoneReceiver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.signal.poll(cx.waker())
    }
}

impl SignalReceiver for DoneReceiver {}

impl fmt::Debug for DoneReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DoneReceiver")
            .field("done", &self.is_done())
            .finish()
    }
}

/// A one-shot flag with one waiting waker.
pub(crate) struct DoneSignal {
    done: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl DoneSignal {
    pub(crate) fn new() -> DoneSignal {
        DoneSignal {
            done: AtomicBool::new(false),
            waker: Mutex::new(None),
        }
    }

    fn set(&self) {
        // Store first, then take the waker under the lock: a poll that registered before the
        // lock was taken here is woken, and one that locks after sees the flag.
        self.done.store(true, Ordering::Release);
        let waker = lock(&self.waker).take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn poll(&self, waker: &Waker) -> Poll<()> {
        if self.done.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        let mut slot = lock(&self.waker);
        if self.done.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        match &mut *slot {
            Some(old) => old.clone_from(waker),
            slot @ None => *slot = Some(waker.clone()),
        }
        Poll::Pending
    }
}
