//! [`CancellationToken`]: one cancellation signal for blocking code and async code alike.
//!
//! A token is a cheap, cloneable handle to a shared flag. Blocking code checks it with
//! [`cancelled`](CancellationToken::cancelled) (one atomic load, no allocation, no lock) or sleeps
//! on it with [`wait_timeout`](CancellationToken::wait_timeout); async code awaits
//! [`wait_cancelled`](CancellationToken::wait_cancelled) or wraps a future in
//! [`run_until_cancelled`](CancellationToken::run_until_cancelled).
//!
//! ```
//! use rawtask::CancellationToken;
//!
//! let token = CancellationToken::new();
//! let worker = {
//!     let token = token.clone();
//!     std::thread::spawn(move || {
//!         let mut rounds = 0u32;
//!         while !token.cancelled() {
//!             rounds += 1;
//!             token.wait_timeout(std::time::Duration::from_millis(1));
//!         }
//!         rounds
//!     })
//! };
//! token.cancel();
//! worker.join().unwrap();
//! ```
//!
//! # The tree
//!
//! [`child_token`](CancellationToken::child_token) makes a token that is cancelled whenever its
//! parent is (and so, transitively, whenever any ancestor is), but whose own cancellation does
//! not reach its parent or siblings. A parent keeps its live children in a list; when the last
//! clone of a child is dropped and the child has no live children of its own, it leaves its
//! parent's list, so a long-lived parent that hands out short-lived children does not grow.
//! A child whose clones are all dropped but which still has live descendants stays in the tree
//! (as a bare node without waiters) until those descendants are gone, so that cancelling the
//! parent still reaches them.
//!
//! Cancelling a tree is not atomic: [`cancel`](CancellationToken::cancel) marks the token, then
//! walks its descendants one by one, so another thread can briefly see a parent cancelled and a
//! child not yet. But once a call of `cancel` has returned, every descendant is cancelled:
//! those created concurrently with it too (a child created from a cancelled parent is born
//! cancelled), and also when another thread's `cancel` of the same tree is still walking it
//! (the second call walks the part not yet finished as well instead of returning early).
//!
//! # Memory ordering
//!
//! Whatever a thread did before the `cancel` that cancelled a token happens-before whatever
//! another thread does after it observed that token's cancellation (through
//! `cancelled() == true`, `is_done()` failing, or a completed `wait_cancelled`).
//!
//! # Compared with the crates it replaces
//!
//! - ffi_helpers 0.3's token: the same `new`, `cancel`, `cancelled`, `is_done` and [`Cancelled`].
//! - tokio-util 0.7's token: the same `child_token`, `drop_guard`, `drop_guard_ref`,
//!   `is_cancelled` and `run_until_cancelled(_owned)`; tokio-util's `cancelled()` future is named
//!   [`wait_cancelled`](CancellationToken::wait_cancelled) here, because `cancelled()` is
//!   ffi_helpers' check. `is_cancelled` is one atomic load instead of a mutex lock.
//!
//! # Out of memory
//!
//! [`try_new`](CancellationToken::try_new), [`try_child_token`](CancellationToken::try_child_token)
//! and [`try_on_cancel`](CancellationToken::try_on_cancel) return a
//! [`TryAllocError`] instead of aborting when the heap refuses (the node,
//! the growth of a parent's list of children, the boxed callback or the growth of the list of
//! callbacks); whatever they were given is dropped and whatever they allocated is freed.
//! [`cancel`](CancellationToken::cancel) never fails: when its walk stack cannot grow, it walks
//! the children in place instead. A pending [`wait_cancelled`](CancellationToken::wait_cancelled)
//! future whose waker cannot be stored wakes itself and stays pending, so the next poll tries
//! again. Still aborting if the heap fails: `new`, `child_token` and `on_cancel` (as
//! `Arc::new` does).
//!
//! This module needs the `std` feature.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::future::{poll_fn, Future};
use core::pin::{pin, Pin};
use core::task::{Context, Poll, Waker};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::sync::{lock, Mutex};
use crate::try_alloc_error::TryAllocError;
use crate::try_arc::TryArc;
use crate::try_box::try_box;

/// A shareable signal that tells blocking jobs and futures to stop early.
///
/// Cloning a token gives another handle to the same signal; [`child_token`](Self::child_token)
/// gives a new signal that follows this one. See the [module documentation](self) for the tree
/// and ordering rules.
///
/// ```
/// use rawtask::CancellationToken;
///
/// let token = CancellationToken::new();
/// let clone = token.clone();
/// assert!(!clone.cancelled());
/// token.cancel();
/// assert!(clone.cancelled());
/// assert!(clone.is_done().is_err());
/// ```
pub struct CancellationToken {
    node: TryArc<Node>,
}

/// One signal of the tree, shared by all clones of a token.
struct Node {
    /// Set once, under `inner`'s lock, together with taking the waiters.
    cancelled: AtomicBool,
    /// Set once a `cancel` has cancelled this node's whole subtree, so that later calls return
    /// at once while a concurrent one still helps (see `CancellationToken::cancel`).
    walked: AtomicBool,
    /// What keeps the node in its parent's list: the number of `CancellationToken` handles to
    /// it (clones, guards, owned futures) plus the number of children in its own list. Once
    /// it reaches zero it never grows again (only a handle can add either), and whoever brought
    /// it there removes the node from its parent's list.
    live: AtomicUsize,
    /// The node whose cancellation reaches this one. Never changes.
    parent: Option<TryArc<Node>>,
    /// This node's index in `parent.inner.children`, or `UNLISTED` for a child born cancelled;
    /// read and written under the parent's lock.
    slot: AtomicUsize,
    inner: Mutex<Inner>,
}

/// The error of a list that could not grow to `wanted` entries of `TryArc<Node>`'s size (the
/// layout is the least it needed; `Vec` may have asked for more).
#[cold]
fn list_growth_failed(what: &'static str, wanted: usize) -> TryAllocError {
    let layout = core::alloc::Layout::array::<TryArc<Node>>(wanted)
        .unwrap_or(core::alloc::Layout::new::<TryArc<Node>>());
    TryAllocError::new(what, layout)
}

/// `Node::slot` of a node that is in no list.
const UNLISTED: usize = usize::MAX;

/// The part of a node guarded by its lock.
struct Inner {
    /// Live children (each leaves when its last handle is gone and it has no children). Once
    /// the node is cancelled, no child joins any more.
    children: Vec<TryArc<Node>>,
    /// Wakers of pending `wait_cancelled` futures and callbacks of `on_cancel`; taken when the
    /// node is cancelled.
    waiters: Waiters,
}

impl Node {
    fn new(parent: Option<TryArc<Node>>) -> Node {
        Node {
            cancelled: AtomicBool::new(false),
            walked: AtomicBool::new(false),
            live: AtomicUsize::new(1),
            parent,
            slot: AtomicUsize::new(UNLISTED),
            inner: Mutex::new(Inner {
                children: Vec::new(),
                waiters: Waiters::new(),
            }),
        }
    }

    #[inline(always)]
    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Freeing a node releases its parent, which may free the parent, and so on: unlink the
        // chain iteratively, or a long chain of children would overflow the stack.
        let mut parent = self.parent.take();
        while let Some(node) = parent {
            if TryArc::strong_count(&node) != 1 {
                // Not the last reference (the usual case): a plain decrement, no CAS.
                break;
            }
            parent = match TryArc::try_unwrap(node) {
                Ok(mut node) => node.parent.take(),
                Err(_) => None,
            };
        }
    }
}

impl CancellationToken {
    /// Creates a token that is not cancelled.
    ///
    /// ```
    /// let token = rawtask::CancellationToken::new();
    /// assert!(!token.cancelled());
    /// ```
    pub fn new() -> CancellationToken {
        CancellationToken {
            node: TryArc::new(Node::new(None)),
        }
    }

    /// Like [`new`](Self::new), but returns an error instead of aborting the process when the
    /// token's allocation fails.
    ///
    /// ```
    /// let token = rawtask::CancellationToken::try_new().expect("out of memory");
    /// assert!(!token.cancelled());
    /// ```
    pub fn try_new() -> Result<CancellationToken, TryAllocError> {
        Ok(CancellationToken {
            node: TryArc::try_new(Node::new(None), "a cancellation token")?,
        })
    }

    /// Cancels this token and all its descendants, waking every task waiting on any of them.
    /// Cancelling twice does nothing more.
    ///
    /// If a waker panics, the rest of the tree is still cancelled and woken, then the first
    /// panic is re-raised.
    ///
    /// ```
    /// let parent = rawtask::CancellationToken::new();
    /// let child = parent.child_token();
    /// parent.cancel();
    /// assert!(child.cancelled());
    /// ```
    pub fn cancel(&self) {
        let root = &self.node;
        if root.walked.load(Ordering::Acquire) {
            return;
        }
        // The walk is an iterative post-order traversal, so a deep chain cannot overflow the
        // stack: a node is marked `walked` once all its descendants are cancelled. A concurrent
        // `cancel` of an overlapping subtree walks it too (each node is cancelled once, under
        // its lock, whoever gets there first), so that every call returns only once the whole
        // subtree is cancelled.
        let mut panic = None;
        walk(root, &mut panic);
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
    }

    /// Whether the token has been cancelled (ffi_helpers' name). One atomic load; it never
    /// allocates nor locks.
    ///
    /// ```
    /// let token = rawtask::CancellationToken::new();
    /// assert!(!token.cancelled());
    /// token.cancel();
    /// assert!(token.cancelled());
    /// ```
    #[inline]
    pub fn cancelled(&self) -> bool {
        self.node.is_cancelled()
    }

    /// Whether the token has been cancelled (tokio-util's name for
    /// [`cancelled`](Self::cancelled)).
    ///
    /// ```
    /// let token = rawtask::CancellationToken::new();
    /// token.cancel();
    /// assert!(token.is_cancelled());
    /// ```
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.node.is_cancelled()
    }

    /// `Err(Cancelled)` once the token is cancelled, `Ok(())` before: handy with `?` in a job.
    ///
    /// ```
    /// use rawtask::cancel::{CancellationToken, Cancelled};
    ///
    /// fn step(token: &CancellationToken) -> Result<u32, Cancelled> {
    ///     token.is_done()?;
    ///     Ok(1)
    /// }
    /// let token = CancellationToken::new();
    /// assert_eq!(step(&token), Ok(1));
    /// token.cancel();
    /// assert_eq!(step(&token), Err(Cancelled));
    /// ```
    #[inline]
    pub fn is_done(&self) -> Result<(), Cancelled> {
        if self.cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// Creates a child token: cancelled whenever this token is, while cancelling the child
    /// affects neither this token nor its other children. A child of a cancelled token is born
    /// cancelled.
    ///
    /// Dropping the child's last handle removes it from this token's list of children.
    ///
    /// ```
    /// let parent = rawtask::CancellationToken::new();
    /// let child = parent.child_token();
    /// child.cancel();
    /// assert!(!parent.cancelled());
    /// let other = parent.child_token();
    /// parent.cancel();
    /// assert!(other.cancelled());
    /// assert!(parent.child_token().cancelled());
    /// ```
    pub fn child_token(&self) -> CancellationToken {
        // Allocate outside the lock.
        let child = TryArc::new(Node::new(Some(self.node.clone())));
        match self.adopt(child, false) {
            Ok(token) => token,
            Err(_) => unreachable!("an infallible adoption grows the list with `push`"),
        }
    }

    /// Like [`child_token`](Self::child_token), but returns an error instead of aborting the
    /// process when an allocation fails: the child's node, or the growth of this token's list
    /// of children.
    ///
    /// ```
    /// let parent = rawtask::CancellationToken::new();
    /// let child = parent.try_child_token().expect("out of memory");
    /// parent.cancel();
    /// assert!(child.cancelled());
    /// ```
    pub fn try_child_token(&self) -> Result<CancellationToken, TryAllocError> {
        let child = TryArc::try_new(Node::new(Some(self.node.clone())), "a child token")?;
        self.adopt(child, true)
    }

    /// Puts a new child node into this token's list (unless this token is cancelled: then the
    /// child is born cancelled). With `fallible`, the list grows with `try_reserve`, and a
    /// failure frees the child (which is in no list yet) and reports it.
    #[inline]
    fn adopt(
        &self,
        child: TryArc<Node>,
        fallible: bool,
    ) -> Result<CancellationToken, TryAllocError> {
        let parent = &self.node;
        let mut inner = lock(&parent.inner);
        if parent.cancelled.load(Ordering::Relaxed) {
            // Born cancelled (and walked: it has no children), and in no list.
            child.cancelled.store(true, Ordering::Relaxed);
            child.walked.store(true, Ordering::Relaxed);
        } else {
            if fallible && inner.children.try_reserve(1).is_err() {
                let wanted = inner.children.len() + 1;
                drop(inner);
                // In no list: dropping the node only releases its parent.
                drop(child);
                return Err(list_growth_failed("a token's list of children", wanted));
            }
            child.slot.store(inner.children.len(), Ordering::Relaxed);
            inner.children.push(child.clone());
            // We hold a handle, so `live` is not zero and the parent is not leaving.
            parent.live.fetch_add(1, Ordering::Relaxed);
        }
        drop(inner);
        Ok(CancellationToken { node: child })
    }

    /// Returns a future that completes once the token is cancelled (tokio-util's `cancelled`).
    ///
    /// It is cancel-safe: dropping it before it completes only unregisters its waker. Every
    /// pending future of a token is woken when the token (or an ancestor) is cancelled.
    ///
    /// ```
    /// let token = rawtask::CancellationToken::new();
    /// let waiter = {
    ///     let token = token.clone();
    ///     std::thread::spawn(move || futures_lite::future::block_on(token.wait_cancelled()))
    /// };
    /// token.cancel();
    /// waiter.join().unwrap();
    /// ```
    pub fn wait_cancelled(&self) -> WaitForCancellationFuture<'_> {
        WaitForCancellationFuture {
            token: self,
            key: None,
        }
    }

    /// Like [`wait_cancelled`](Self::wait_cancelled), but the future owns its token (so it is
    /// `'static`).
    ///
    /// ```
    /// let token = rawtask::CancellationToken::new();
    /// let future = token.clone().wait_cancelled_owned();
    /// token.cancel();
    /// futures_lite::future::block_on(future);
    /// ```
    pub fn wait_cancelled_owned(self) -> WaitForCancellationFutureOwned {
        WaitForCancellationFutureOwned {
            token: self,
            key: None,
        }
    }

    /// Returns a guard that cancels the token when dropped, unless
    /// [disarmed](DropGuard::disarm).
    ///
    /// ```
    /// let token = rawtask::CancellationToken::new();
    /// let guard = token.clone().drop_guard();
    /// drop(guard);
    /// assert!(token.cancelled());
    /// ```
    pub fn drop_guard(self) -> DropGuard {
        DropGuard { token: Some(self) }
    }

    /// Like [`drop_guard`](Self::drop_guard), borrowing the token instead of owning it.
    ///
    /// ```
    /// let token = rawtask::CancellationToken::new();
    /// {
    ///     let _guard = token.drop_guard_ref();
    /// }
    /// assert!(token.cancelled());
    /// ```
    pub fn drop_guard_ref(&self) -> DropGuardRef<'_> {
        DropGuardRef { token: Some(self) }
    }

    /// Runs `future` until it completes (`Some(output)`) or the token is cancelled (`None`,
    /// and the future is dropped). If the token is already cancelled, the future is not polled.
    ///
    /// ```
    /// use futures_lite::future::{block_on, pending};
    ///
    /// let token = rawtask::CancellationToken::new();
    /// assert_eq!(block_on(token.run_until_cancelled(async { 5 })), Some(5));
    /// token.cancel();
    /// assert_eq!(block_on(token.run_until_cancelled(pending::<()>())), None);
    /// ```
    pub async fn run_until_cancelled<F: Future>(&self, future: F) -> Option<F::Output> {
        let mut future = pin!(future);
        let mut cancelled = self.wait_cancelled();
        poll_fn(|cx| {
            if Pin::new(&mut cancelled).poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            future.as_mut().poll(cx).map(Some)
        })
        .await
    }

    /// Like [`run_until_cancelled`](Self::run_until_cancelled), owning the token.
    ///
    /// ```
    /// let token = rawtask::CancellationToken::new();
    /// let run = token.clone().run_until_cancelled_owned(async { "done" });
    /// assert_eq!(futures_lite::future::block_on(run), Some("done"));
    /// ```
    pub async fn run_until_cancelled_owned<F: Future>(self, future: F) -> Option<F::Output> {
        self.run_until_cancelled(future).await
    }

    /// Blocks the current thread until the token is cancelled.
    ///
    /// ```
    /// let token = rawtask::CancellationToken::new();
    /// let waiter = {
    ///     let token = token.clone();
    ///     std::thread::spawn(move || token.wait_blocking())
    /// };
    /// token.cancel();
    /// waiter.join().unwrap();
    /// ```
    #[cfg(not(loom))]
    pub fn wait_blocking(&self) {
        self.block(None);
    }

    /// Blocks the current thread until the token is cancelled or `timeout` has passed; returns
    /// whether the token is cancelled. A job that would otherwise `sleep` between checks can
    /// call this instead and react to a cancellation at once.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let token = rawtask::CancellationToken::new();
    /// assert!(!token.wait_timeout(Duration::from_millis(1)));
    /// token.cancel();
    /// assert!(token.wait_timeout(Duration::from_secs(60))); // returns at once
    /// ```
    #[cfg(not(loom))]
    pub fn wait_timeout(&self, timeout: std::time::Duration) -> bool {
        self.block(std::time::Instant::now().checked_add(timeout))
    }

    #[cfg(not(loom))]
    fn block(&self, deadline: Option<std::time::Instant>) -> bool {
        if self.cancelled() {
            return true;
        }
        let waker = crate::sync::waker_for_current_thread();
        let mut cx = Context::from_waker(&waker);
        let mut future = self.wait_cancelled();
        loop {
            if Pin::new(&mut future).poll(&mut cx).is_ready() {
                return true;
            }
            match deadline {
                None => std::thread::park(),
                Some(deadline) => {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        return self.cancelled();
                    }
                    std::thread::park_timeout(deadline - now);
                }
            }
        }
    }
}

impl CancellationToken {
    /// Registers `callback` to run once when the token is cancelled, on the thread that
    /// cancels it (or an ancestor), after the token is marked cancelled and outside every
    /// lock. If the token is already cancelled, `callback` runs right away, on this thread,
    /// before `on_cancel` returns.
    ///
    /// Dropping the returned [`OnCancel`] before the cancellation unregisters the callback and
    /// drops it without running it. A callback runs at most once, and is dropped exactly once
    /// (after running, or when unregistered). Several callbacks per token are allowed; each
    /// registration keeps the token alive until its `OnCancel` is dropped. A panicking callback
    /// does not stop the others: `cancel` re-raises the first panic once all have run.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let token = rawtask::CancellationToken::new();
    /// let calls = Arc::new(AtomicUsize::new(0));
    /// let counter = calls.clone();
    /// let registration = token.on_cancel(move || {
    ///     counter.fetch_add(1, Ordering::SeqCst);
    /// });
    /// token.cancel();
    /// token.cancel();
    /// assert_eq!(calls.load(Ordering::SeqCst), 1);
    /// drop(registration);
    /// ```
    pub fn on_cancel<F>(&self, callback: F) -> OnCancel
    where
        F: FnOnce() + Send + 'static,
    {
        match self.register(callback, false) {
            Ok(registration) => registration,
            Err(Refused::Cancelled(callback)) => {
                callback();
                OnCancel {
                    token: self.clone(),
                    key: None,
                }
            }
            Err(Refused::NoMemory(..)) => unreachable!("an infallible registration"),
        }
    }

    /// Like [`on_cancel`](Self::on_cancel), but returns an error instead of aborting the
    /// process when an allocation fails (the boxed callback, or the growth of the token's
    /// list of callbacks); the callback is then dropped without running.
    ///
    /// ```
    /// let token = rawtask::CancellationToken::new();
    /// let registration = token.try_on_cancel(|| println!("cancelled")).expect("out of memory");
    /// token.cancel();
    /// drop(registration);
    /// ```
    pub fn try_on_cancel<F>(&self, callback: F) -> Result<OnCancel, TryAllocError>
    where
        F: FnOnce() + Send + 'static,
    {
        match self.register(callback, true) {
            Ok(registration) => Ok(registration),
            Err(Refused::Cancelled(callback)) => {
                callback();
                Ok(OnCancel {
                    token: self.clone(),
                    key: None,
                })
            }
            Err(Refused::NoMemory(callback, error)) => {
                drop(callback);
                Err(error)
            }
        }
    }

    /// Registers `callback`; if the token is already cancelled, or (with `fallible`) an
    /// allocation fails, gives the callback back instead (so that the caller can run or drop
    /// it after releasing whatever it holds).
    pub(crate) fn register<F>(&self, callback: F, fallible: bool) -> Result<OnCancel, Refused<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        let node = &self.node;
        if node.is_cancelled() {
            return Err(Refused::Cancelled(callback));
        }
        // Allocate outside the lock.
        let boxed = if fallible {
            try_box(callback).map_err(|callback| {
                let layout = core::alloc::Layout::new::<F>();
                Refused::NoMemory(callback, TryAllocError::new("a cancel callback", layout))
            })?
        } else {
            Box::new(callback)
        };
        let mut inner = lock(&node.inner);
        if node.cancelled.load(Ordering::Relaxed) {
            drop(inner);
            return Err(Refused::Cancelled(*boxed));
        }
        if fallible && !inner.waiters.try_reserve_one() {
            let wanted = inner.waiters.slots.len() + 1;
            drop(inner);
            let layout = core::alloc::Layout::array::<Slot>(wanted)
                .unwrap_or(core::alloc::Layout::new::<Slot>());
            let error = TryAllocError::new("a token's list of callbacks", layout);
            return Err(Refused::NoMemory(*boxed, error));
        }
        let key = inner.waiters.insert(Waiter::Call(boxed));
        drop(inner);
        Ok(OnCancel {
            token: self.clone(),
            key: Some(key),
        })
    }
}

/// Why [`CancellationToken::register`] gave a callback back.
pub(crate) enum Refused<F> {
    /// The token is already cancelled: run the callback now.
    Cancelled(F),
    /// An allocation failed: the callback was not registered.
    NoMemory(F, TryAllocError),
}

/// A callback registered with [`CancellationToken::on_cancel`]; dropping it before the token is
/// cancelled unregisters the callback (and drops it, not run).
///
/// ```
/// let token = rawtask::CancellationToken::new();
/// let registration = token.on_cancel(|| unreachable!("unregistered before the cancel"));
/// drop(registration);
/// token.cancel();
/// ```
#[must_use = "dropping the registration unregisters the callback"]
pub struct OnCancel {
    token: CancellationToken,
    /// The callback's key in the waiter list; `None` if it ran at registration.
    key: Option<usize>,
}

impl OnCancel {
    /// The token the callback is registered with.
    ///
    /// ```
    /// let token = rawtask::CancellationToken::new();
    /// let registration = token.on_cancel(|| {});
    /// token.cancel();
    /// assert!(registration.token().cancelled());
    /// ```
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

impl Drop for OnCancel {
    fn drop(&mut self) {
        // Dropped outside the lock: a callback's destructor may run user code.
        drop_wait(&self.token.node, self.key.take());
    }
}

impl fmt::Debug for OnCancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnCancel")
            .field("token", &self.token)
            .field("registered", &self.key.is_some())
            .finish()
    }
}

/// Cancels `root` and its whole subtree, then marks `root` walked (see `cancel`).
fn walk(root: &Node, panic: &mut Option<crate::panic::Payload>) {
    let mut stack: Vec<(TryArc<Node>, bool)> = Vec::new();
    if cancel_one(root, &mut stack, panic) {
        // Descendants were pushed: walk them, then mark the root.
        while let Some((node, expanded)) = stack.pop() {
            if expanded {
                node.walked.store(true, Ordering::Release);
            } else if !node.walked.load(Ordering::Acquire) {
                // Into the place just popped: no allocation.
                stack.push((node.clone(), true));
                cancel_one(&node, &mut stack, panic);
            }
        }
    }
    root.walked.store(true, Ordering::Release);
}

/// Cancels one node (unless it already was): marks it, takes and wakes its waiters (keeping
/// the first panic of a waker in `panic`). Pushes its children onto `stack` either way and
/// returns whether any were pushed.
///
/// If `stack` cannot grow (the heap is exhausted), the children are walked right here
/// instead, one by one, by recursion: cancelling never aborts for want of memory, and deep
/// recursion needs a deep tree and an exhausted heap at once.
fn cancel_one(
    node: &Node,
    stack: &mut Vec<(TryArc<Node>, bool)>,
    panic: &mut Option<crate::panic::Payload>,
) -> bool {
    let mut inner = lock(&node.inner);
    let pushed = stack.try_reserve(inner.children.len()).is_ok();
    if pushed {
        stack.extend(inner.children.iter().map(|child| (child.clone(), false)));
    }
    let has_children = !inner.children.is_empty();
    if !node.cancelled.load(Ordering::Relaxed) {
        node.cancelled.store(true, Ordering::Release);
        let waiters = core::mem::take(&mut inner.waiters);
        drop(inner);
        waiters.wake_all(panic);
    } else {
        drop(inner);
    }
    if !pushed {
        walk_children_in_place(node, panic);
        return false;
    }
    has_children
}

/// Walks the children of a cancelled `node` without a stack: from the last index down,
/// taking the lock for one child at a time. A child that leaves meanwhile moves the list's
/// last entry into its place (one already walked, or one at a lower index still to come),
/// and no child joins a cancelled node, so every child is walked.
#[cold]
#[inline(never)]
fn walk_children_in_place(node: &Node, panic: &mut Option<crate::panic::Payload>) {
    let mut index = lock(&node.inner).children.len();
    while index > 0 {
        index -= 1;
        let child = {
            let inner = lock(&node.inner);
            // Entries left meanwhile: go on from the new end.
            index = index.min(inner.children.len());
            match inner.children.get(index) {
                Some(child) => child.clone(),
                None => continue,
            }
        };
        if !child.walked.load(Ordering::Acquire) {
            walk(&child, panic);
        }
    }
}

impl Default for CancellationToken {
    /// Same as [`CancellationToken::new`].
    ///
    /// ```
    /// let token = rawtask::CancellationToken::default();
    /// assert!(!token.cancelled());
    /// ```
    fn default() -> CancellationToken {
        CancellationToken::new()
    }
}

impl Clone for CancellationToken {
    /// Another handle to the same signal.
    ///
    /// ```
    /// let a = rawtask::CancellationToken::new();
    /// let b = a.clone();
    /// b.cancel();
    /// assert!(a.cancelled());
    /// ```
    fn clone(&self) -> CancellationToken {
        // A handle exists (ours), so the count cannot be zero and the node cannot be leaving.
        self.node.live.fetch_add(1, Ordering::Relaxed);
        CancellationToken {
            node: self.node.clone(),
        }
    }
}

impl Drop for CancellationToken {
    fn drop(&mut self) {
        if self.node.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            leave_tree(&self.node);
        }
    }
}

/// Called when `node`'s `live` count reached zero (no handle, no child): removes it from its
/// parent's list, then does the same for the parent if that brought its count to zero, and so
/// on up the tree. Only the parent's lock is taken, one at a time.
fn leave_tree(node: &Node) {
    let mut node = node;
    // Every node on the way up is kept alive by the `parent` field of the one below it, and the
    // first by the handle being dropped.
    while let Some(parent) = node.parent.as_deref() {
        let mut inner = lock(&parent.inner);
        let slot = node.slot.load(Ordering::Relaxed);
        if slot == UNLISTED {
            // Born cancelled: never in the list (and never counted in the parent's `live`).
            return;
        }
        let removed = inner.children.swap_remove(slot);
        debug_assert!(core::ptr::eq::<Node>(&*removed, node));
        if let Some(moved) = inner.children.get(slot) {
            moved.slot.store(slot, Ordering::Relaxed);
        }
        drop(inner);
        drop(removed);
        if parent.live.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        node = parent;
    }
}

impl fmt::Debug for CancellationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationToken")
            .field("is_cancelled", &self.cancelled())
            .finish()
    }
}

/// The error a job returns when it stops because its token was cancelled; see
/// [`CancellationToken::is_done`].
///
/// ```
/// let token = rawtask::CancellationToken::new();
/// token.cancel();
/// let error = token.is_done().unwrap_err();
/// assert_eq!(error.to_string(), "The task was cancelled");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("The task was cancelled")
    }
}

impl std::error::Error for Cancelled {}

impl CancellationToken {
    /// The wait of a holder that keeps the token alive by other means (a scoped task's
    /// cancel receiver or leaf), with no handle of its own: `poll_wait` under the holder's
    /// `key`, which it must hand to [`forget_wait`](Self::forget_wait) before the token goes.
    #[inline]
    pub(crate) fn poll_wait(&self, key: &mut Option<usize>, waker: &Waker) -> Poll<()> {
        poll_wait(&self.node, key, waker)
    }

    /// Unregisters the waker stored under `key` by [`poll_wait`](Self::poll_wait).
    #[inline]
    pub(crate) fn forget_wait(&self, key: usize) {
        drop_wait(&self.node, Some(key));
    }
}

/// Registers the waker of a pending wait future under `key`; `Ready` once cancelled.
///
/// If the heap refuses the slot for a first registration, the future asks to be polled again
/// (it wakes itself) rather than aborting: a poll cannot return an allocation error, and the
/// next poll retries the registration.
fn poll_wait(node: &Node, key: &mut Option<usize>, waker: &Waker) -> Poll<()> {
    if node.is_cancelled() {
        return Poll::Ready(());
    }
    let mut inner = lock(&node.inner);
    if node.cancelled.load(Ordering::Relaxed) {
        return Poll::Ready(());
    }
    match *key {
        Some(key) => inner.waiters.update(key, waker),
        None if inner.waiters.try_reserve_one() => {
            *key = Some(inner.waiters.insert(Waiter::Wake(waker.clone())));
        }
        None => {
            drop(inner);
            waker.wake_by_ref();
        }
    }
    Poll::Pending
}

/// Unregisters a wait future's waker or an `on_cancel` callback, unless cancellation already
/// took it; drops it outside the lock.
fn drop_wait(node: &Node, key: Option<usize>) {
    let Some(key) = key else { return };
    if node.is_cancelled() {
        return;
    }
    let mut inner = lock(&node.inner);
    if !node.cancelled.load(Ordering::Relaxed) {
        let waker = inner.waiters.remove(key);
        drop(inner);
        drop(waker);
    }
}

/// The future returned by [`CancellationToken::wait_cancelled`].
///
/// ```
/// let token = rawtask::CancellationToken::new();
/// let future: rawtask::cancel::WaitForCancellationFuture<'_> = token.wait_cancelled();
/// token.cancel();
/// futures_lite::future::block_on(future);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct WaitForCancellationFuture<'a> {
    token: &'a CancellationToken,
    key: Option<usize>,
}

impl Future for WaitForCancellationFuture<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        poll_wait(&this.token.node, &mut this.key, cx.waker())
    }
}

impl Drop for WaitForCancellationFuture<'_> {
    fn drop(&mut self) {
        drop_wait(&self.token.node, self.key);
    }
}

impl fmt::Debug for WaitForCancellationFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForCancellationFuture")
            .field("token", self.token)
            .finish()
    }
}

/// The future returned by [`CancellationToken::wait_cancelled_owned`].
///
/// ```
/// let token = rawtask::CancellationToken::new();
/// let future: rawtask::cancel::WaitForCancellationFutureOwned = token.clone().wait_cancelled_owned();
/// token.cancel();
/// futures_lite::future::block_on(future);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct WaitForCancellationFutureOwned {
    token: CancellationToken,
    key: Option<usize>,
}

impl WaitForCancellationFutureOwned {
    /// The token this future waits for.
    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }
}

impl Future for WaitForCancellationFutureOwned {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        poll_wait(&this.token.node, &mut this.key, cx.waker())
    }
}

impl Drop for WaitForCancellationFutureOwned {
    fn drop(&mut self) {
        drop_wait(&self.token.node, self.key);
    }
}

impl fmt::Debug for WaitForCancellationFutureOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForCancellationFutureOwned")
            .field("token", &self.token)
            .finish()
    }
}

/// Cancels its token when dropped, unless [disarmed](Self::disarm); from
/// [`CancellationToken::drop_guard`].
///
/// ```
/// let token = rawtask::CancellationToken::new();
/// let guard = token.clone().drop_guard();
/// let token_again = guard.disarm();
/// assert!(!token.cancelled());
/// drop(token_again);
/// ```
#[must_use = "the token is cancelled at once if the guard is not kept"]
pub struct DropGuard {
    token: Option<CancellationToken>,
}

impl DropGuard {
    /// Gives the token back without cancelling it.
    ///
    /// ```
    /// let guard = rawtask::CancellationToken::new().drop_guard();
    /// let token = guard.disarm();
    /// assert!(!token.cancelled());
    /// ```
    pub fn disarm(mut self) -> CancellationToken {
        self.token
            .take()
            .expect("a DropGuard holds its token until dropped")
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            token.cancel();
        }
    }
}

impl fmt::Debug for DropGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DropGuard")
            .field("token", &self.token)
            .finish()
    }
}

/// Cancels the borrowed token when dropped, unless [disarmed](Self::disarm); from
/// [`CancellationToken::drop_guard_ref`].
///
/// ```
/// let token = rawtask::CancellationToken::new();
/// let guard = token.drop_guard_ref();
/// guard.disarm();
/// assert!(!token.cancelled());
/// ```
#[must_use = "the token is cancelled at once if the guard is not kept"]
pub struct DropGuardRef<'a> {
    token: Option<&'a CancellationToken>,
}

impl<'a> DropGuardRef<'a> {
    /// Gives the token back without cancelling it.
    ///
    /// ```
    /// let token = rawtask::CancellationToken::new();
    /// let same = token.drop_guard_ref().disarm();
    /// assert!(!same.cancelled());
    /// ```
    pub fn disarm(mut self) -> &'a CancellationToken {
        self.token
            .take()
            .expect("a DropGuardRef holds its token until dropped")
    }
}

impl Drop for DropGuardRef<'_> {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            token.cancel();
        }
    }
}

impl fmt::Debug for DropGuardRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DropGuardRef")
            .field("token", &self.token)
            .finish()
    }
}

/// A slab of wakers and callbacks: `insert` returns a key that stays valid until `remove`, freed slots are
/// reused (so a token whose waiters come and go does not grow), and cancellation takes the
/// whole slab at once.
#[derive(Default)]
struct Waiters {
    slots: Vec<Slot>,
    /// Head of the free list threaded through `Slot::Free`, or `NONE`.
    free: usize,
    /// Number of `Slot::Waiting` entries.
    len: usize,
}

enum Slot {
    Waiting(Waiter),
    Free(usize),
}

/// What a cancellation wakes or calls.
enum Waiter {
    /// A pending wait future's waker.
    Wake(Waker),
    /// An `on_cancel` callback.
    Call(Box<dyn FnOnce() + Send>),
}

const NONE: usize = usize::MAX;

impl Waiters {
    const fn new() -> Waiters {
        Waiters {
            slots: Vec::new(),
            free: NONE,
            len: 0,
        }
    }

    fn insert(&mut self, waiter: Waiter) -> usize {
        self.len += 1;
        if self.free == NONE {
            self.slots.push(Slot::Waiting(waiter));
            return self.slots.len() - 1;
        }
        let key = self.free;
        match core::mem::replace(&mut self.slots[key], Slot::Waiting(waiter)) {
            Slot::Free(next) => self.free = next,
            Slot::Waiting(_) => unreachable!("the free list points at a used slot"),
        }
        key
    }

    /// Makes sure the next `insert` does not allocate; `false` if the allocation failed.
    fn try_reserve_one(&mut self) -> bool {
        self.free != NONE || self.slots.try_reserve(1).is_ok()
    }

    fn update(&mut self, key: usize, waker: &Waker) {
        match &mut self.slots[key] {
            Slot::Waiting(Waiter::Wake(old)) => old.clone_from(waker),
            _ => unreachable!("a waker's key points at a waker"),
        }
    }

    /// Removes the waiter under `key` and returns it (to be dropped outside the lock).
    fn remove(&mut self, key: usize) -> Option<Waiter> {
        let old = core::mem::replace(&mut self.slots[key], Slot::Free(self.free));
        self.free = key;
        self.len -= 1;
        if self.len == 0 {
            // No waiter left: start over (keeping the capacity).
            self.slots.clear();
            self.free = NONE;
        }
        match old {
            Slot::Waiting(waiter) => Some(waiter),
            Slot::Free(_) => unreachable!("a waiter's key points at a free slot"),
        }
    }

    /// Wakes every waker and calls every callback; a panicking one does not stop the others.
    fn wake_all(self, panic: &mut Option<crate::panic::Payload>) {
        for slot in self.slots {
            if let Slot::Waiting(waiter) = slot {
                let run = || match waiter {
                    Waiter::Wake(waker) => waker.wake(),
                    Waiter::Call(callback) => callback(),
                };
                if let Err(payload) = catch_unwind(AssertUnwindSafe(run)) {
                    // Later payloads are dropped; the panic hook already reported them.
                    panic.get_or_insert(payload);
                }
            }
        }
    }
}
