//! [`TaskTracker`]: counts live tasks so that a shutdown can wait for all of them.
//!
//! One atomic word holds the count (times two) and the closed flag (bit 0); the waiters of
//! [`wait`](TaskTracker::wait) sit in a small list behind a lock that only `wait` and the one
//! transition to "closed and empty" take. Tracking a task costs an `Arc` increment and a
//! `fetch_add`; its end a `fetch_sub` and the `Arc` decrement.

use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{lock, Arc, Mutex};

/// Counts tracked tasks; [`wait`](Self::wait) resolves once the tracker is closed and no
/// tracked task is left. Cloning it gives another handle to the same tracker. Like
/// tokio-util's `TaskTracker`, over any executor: it tracks futures, not tasks. See the graceful shutdown pattern below.
///
/// ```
/// use futures_lite::future::block_on;
/// let tracker = rawtask::TaskTracker::new();
/// let (runnable, task) = rawtask::spawn(tracker.track(async { 1 }), |_| {});
/// assert_eq!(tracker.len(), 1);
/// tracker.close();
/// runnable.run(); // the task completes and its future is dropped
/// assert_eq!(block_on(task), 1);
/// block_on(tracker.wait());
/// ```
///
/// # Graceful shutdown
///
/// Track every task you spawn; to shut down, stop accepting work (a
/// [`CancellationToken`](crate::CancellationToken) tells running tasks to wrap up),
/// [`close`](TaskTracker::close) the tracker, and await [`wait`](TaskTracker::wait): it
/// resolves once every tracked future has been dropped.
///
/// ```
/// use futures_lite::future::block_on;
/// use rawtask::{CancellationToken, TaskTracker};
///
/// let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
/// let executor = std::thread::spawn(move || {
///     for runnable in receiver.iter() {
///         runnable.run();
///     }
/// });
///
/// let tracker = TaskTracker::new();
/// let stop = CancellationToken::new();
/// for worker in 0..4 {
///     let stop = stop.clone();
///     let sender = sender.clone();
///     let job = async move {
///         stop.wait_cancelled().await; // work until asked to stop…
///         println!("worker {worker} flushed its state"); // …then finish cleanly
///     };
///     let (runnable, task) = rawtask::spawn(tracker.track(job), move |r| sender.send(r).unwrap());
///     task.detach();
///     runnable.schedule();
/// }
///
/// // Shutting down:
/// stop.cancel();
/// tracker.close();
/// block_on(tracker.wait()); // every worker has finished
/// assert!(tracker.is_empty());
/// drop(sender);
/// executor.join().unwrap();
/// ```
#[derive(Clone)]
pub struct TaskTracker {
    inner: Arc<Inner>,
}

struct Inner {
    /// `count << 1 | closed`.
    state: AtomicUsize,
    waiters: Mutex<Waiters>,
}

/// The wakers of pending `wait`s, by key; a taken waker leaves its key in place.
struct Waiters {
    wakers: Vec<Option<Waker>>,
    free: Vec<usize>,
}

const CLOSED: usize = 1;
const ONE: usize = 2;

impl Inner {
    fn is_done(&self) -> bool {
        self.state.load(Ordering::Acquire) == CLOSED
    }

    /// Wakes every waiter, outside the lock. Called by whoever made the state `CLOSED`.
    fn notify(&self) {
        let wakers: Vec<Waker> = {
            let mut waiters = lock(&self.waiters);
            waiters.wakers.iter_mut().filter_map(Option::take).collect()
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// One tracked task less.
    fn release(&self) {
        if self.state.fetch_sub(ONE, Ordering::AcqRel) == ONE | CLOSED {
            self.notify();
        }
    }
}

impl TaskTracker {
    /// An open tracker with no task.
    ///
    /// ```
    /// let tracker = rawtask::TaskTracker::new();
    /// assert!(tracker.is_empty() && !tracker.is_closed());
    /// ```
    pub fn new() -> Self {
        TaskTracker {
            inner: Arc::new(Inner {
                state: AtomicUsize::new(0),
                waiters: Mutex::new(Waiters {
                    wakers: Vec::new(),
                    free: Vec::new(),
                }),
            }),
        }
    }

    /// Wraps `future` so that it counts as a task until it is dropped (not merely until it
    /// completes: a task's future is dropped right after it completes).
    ///
    /// ```
    /// let tracker = rawtask::TaskTracker::new();
    /// let future = tracker.track(async {});
    /// assert_eq!(tracker.len(), 1);
    /// drop(future);
    /// assert_eq!(tracker.len(), 0);
    /// ```
    pub fn track<F: Future>(&self, future: F) -> TrackedFuture<F> {
        TrackedFuture {
            future,
            _token: self.token(),
        }
    }

    /// A token that counts as a task until it is dropped, for work that is not a future (a
    /// thread, a C callback's context).
    ///
    /// ```
    /// let tracker = rawtask::TaskTracker::new();
    /// let token = tracker.token();
    /// let worker = std::thread::spawn(move || drop(token));
    /// tracker.close();
    /// futures_lite::future::block_on(tracker.wait());
    /// worker.join().unwrap();
    /// ```
    pub fn token(&self) -> TaskTrackerToken {
        self.inner.state.fetch_add(ONE, Ordering::Relaxed);
        TaskTrackerToken {
            inner: self.inner.clone(),
        }
    }

    /// Closes the tracker: from now on [`wait`](Self::wait) resolves as soon as no task is
    /// left. Tracking still works after it (a new task delays `wait` again). Returns whether
    /// this call closed it.
    ///
    /// ```
    /// let tracker = rawtask::TaskTracker::new();
    /// assert!(tracker.close());
    /// assert!(!tracker.close());
    /// assert!(tracker.is_closed());
    /// ```
    pub fn close(&self) -> bool {
        let prev = self.inner.state.fetch_or(CLOSED, Ordering::AcqRel);
        if prev == 0 {
            self.inner.notify();
        }
        prev & CLOSED == 0
    }

    /// Opens a closed tracker again; returns whether it was closed.
    ///
    /// ```
    /// let tracker = rawtask::TaskTracker::new();
    /// tracker.close();
    /// assert!(tracker.reopen());
    /// assert!(!tracker.is_closed());
    /// ```
    pub fn reopen(&self) -> bool {
        self.inner.state.fetch_and(!CLOSED, Ordering::AcqRel) & CLOSED != 0
    }

    /// Whether the tracker is closed.
    ///
    /// ```
    /// let tracker = rawtask::TaskTracker::new();
    /// tracker.close();
    /// assert!(tracker.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// The number of tracked tasks (futures and tokens not yet dropped).
    ///
    /// ```
    /// let tracker = rawtask::TaskTracker::new();
    /// let _a = tracker.token();
    /// let _b = tracker.token();
    /// assert_eq!(tracker.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.state.load(Ordering::Acquire) >> 1
    }

    /// Whether no task is tracked.
    ///
    /// ```
    /// let tracker = rawtask::TaskTracker::new();
    /// assert!(tracker.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Resolves once the tracker is closed and empty (at once if it is). Cancel-safe.
    ///
    /// ```
    /// use futures_lite::future::block_on;
    /// let tracker = rawtask::TaskTracker::new();
    /// let token = tracker.token();
    /// tracker.close();
    /// let waiter = {
    ///     let tracker = tracker.clone();
    ///     std::thread::spawn(move || block_on(tracker.wait()))
    /// };
    /// drop(token); // the last task ends: the waiter wakes
    /// waiter.join().unwrap();
    /// ```
    pub fn wait(&self) -> TrackerWait<'_> {
        TrackerWait {
            inner: &self.inner,
            key: None,
        }
    }
}

impl Default for TaskTracker {
    fn default() -> Self {
        TaskTracker::new()
    }
}

impl fmt::Debug for TaskTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskTracker")
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Counts as one task of a [`TaskTracker`] until dropped. Made by [`TaskTracker::token`].
///
/// ```
/// let tracker = rawtask::TaskTracker::new();
/// let token = tracker.token();
/// assert_eq!(tracker.len(), 1);
/// drop(token);
/// assert!(tracker.is_empty());
/// ```
pub struct TaskTrackerToken {
    inner: Arc<Inner>,
}

impl TaskTrackerToken {
    /// A handle to the tracker this token counts in.
    ///
    /// ```
    /// let tracker = rawtask::TaskTracker::new();
    /// let token = tracker.token();
    /// assert_eq!(token.tracker().len(), 1);
    /// ```
    pub fn tracker(&self) -> TaskTracker {
        TaskTracker {
            inner: self.inner.clone(),
        }
    }
}

impl Drop for TaskTrackerToken {
    fn drop(&mut self) {
        self.inner.release();
    }
}

impl fmt::Debug for TaskTrackerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskTrackerToken").finish_non_exhaustive()
    }
}

pin_project_lite::pin_project! {
    /// A future counted by a [`TaskTracker`] until it is dropped. Made by
    /// [`TaskTracker::track`]; it outputs what the wrapped future does.
    ///
    /// ```
    /// let tracker = rawtask::TaskTracker::new();
    /// let tracked: rawtask::TrackedFuture<_> = tracker.track(async { 5 });
    /// assert_eq!(futures_lite::future::block_on(tracked), 5);
    /// assert!(tracker.is_empty());
    /// ```
    pub struct TrackedFuture<F> {
        #[pin]
        future: F,
        _token: TaskTrackerToken,
    }
}

impl<F: Future> Future for TrackedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().future.poll(cx)
    }
}

impl<F> fmt::Debug for TrackedFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackedFuture").finish_non_exhaustive()
    }
}

/// The future of [`TaskTracker::wait`].
///
/// ```
/// let tracker = rawtask::TaskTracker::new();
/// tracker.close();
/// let wait: rawtask::TrackerWait<'_> = tracker.wait();
/// futures_lite::future::block_on(wait);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct TrackerWait<'a> {
    inner: &'a Arc<Inner>,
    /// Our entry in the waiter list, once registered.
    key: Option<usize>,
}

impl Future for TrackerWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.inner.is_done() {
            return Poll::Ready(());
        }
        // Cloned before locking: a waker's clone is user code.
        let waker = cx.waker().clone();
        let (done, old) = {
            let mut waiters = lock(&this.inner.waiters);
            // Checked again under the lock: the notifier changes the state before it takes
            // the lock, so either we see the change or it sees our waker.
            if this.inner.is_done() {
                (true, Some(waker))
            } else {
                let old = match this.key {
                    Some(key) => waiters.wakers[key].replace(waker),
                    None => {
                        let key = match waiters.free.pop() {
                            Some(key) => {
                                waiters.wakers[key] = Some(waker);
                                key
                            }
                            None => {
                                waiters.wakers.push(Some(waker));
                                waiters.wakers.len() - 1
                            }
                        };
                        this.key = Some(key);
                        None
                    }
                };
                (false, old)
            }
        };
        drop(old);
        if done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for TrackerWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let old = {
                let mut waiters = lock(&self.inner.waiters);
                waiters.free.push(key);
                waiters.wakers[key].take()
            };
            drop(old);
        }
    }
}

impl fmt::Debug for TrackerWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackerWait")
            .field("registered", &self.key.is_some())
            .finish()
    }
}
