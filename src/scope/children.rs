//! The live children of one scope: a counter, a "closed" flag and, for a scope whose task was
//! dropped before its children terminated, the rest of that task's termination.

use alloc::boxed::Box;
use core::task::{Context, Poll, Waker};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::cancel::CancellationToken;
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{lock, Mutex};

/// Steps 5 and 6 of a termination (run the done function, send the done signal), left behind
/// by a task dropped while children were still alive, for the last child to run.
pub(crate) type Tail = Box<dyn FnOnce() + Send>;

/// `Children::state`: set once the owner has begun terminating its children.
const CLOSED: usize = 1;
/// `Children::state`: one live child.
const ONE: usize = 2;

/// The children of one scoped task (or of a root spawner).
///
/// A child counts from its registration until its done sender is dropped, which is the last
/// thing a terminating child does. Memory does not grow with the number of children ever
/// spawned: a finished child only leaves the count.
///
/// Registering and deregistering are one atomic operation each; the lock is taken only by
/// the owner once it waits (step 4) and by the child that brings the count of a closed scope
/// to zero.
pub(crate) struct Children {
    /// Cancelled at step 3 of the owner's termination: every child's cancel receiver watches
    /// it (a child with a token of its own has a child of this one).
    token: CancellationToken,
    /// `live children * ONE | CLOSED`.
    state: AtomicUsize,
    slow: Mutex<Slow>,
}

struct Slow {
    /// The owner's task, waiting (step 4) for the count to reach zero.
    waiter: Option<Waker>,
    /// Set when the owner's task was dropped before its children had terminated.
    tail: Option<Tail>,
}

/// What [`Children::register`] refuses: the scope is terminating.
#[derive(Debug)]
pub(crate) struct Closed;

impl Children {
    pub(crate) fn new() -> Children {
        Children {
            token: CancellationToken::new(),
            state: AtomicUsize::new(0),
            slow: Mutex::new(Slow {
                waiter: None,
                tail: None,
            }),
        }
    }

    /// The token cancelled when this scope cancels its children.
    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Counts a new child.
    ///
    /// Registration and [`close`](Self::close) are ordered by `state`: a child counted before
    /// the close is cancelled by it (its receiver watches `token`), and one that comes after
    /// is refused, so the owner never stops waiting while a child can still join.
    pub(crate) fn register(&self) -> Result<(), Closed> {
        let previous = self.state.fetch_add(ONE, Ordering::Relaxed);
        if previous & CLOSED != 0 {
            // Too late: undo the count (which may be the one the owner now waits for).
            self.deregister();
            return Err(Closed);
        }
        Ok(())
    }

    /// Step 3: refuses new children and cancels the live ones.
    pub(crate) fn close(&self) {
        self.state.fetch_or(CLOSED, Ordering::AcqRel);
        self.token.cancel();
    }

    fn is_empty(&self) -> bool {
        // Acquire: pairs with the release of each child's deregistration, so that everything
        // a terminated child did happens-before the owner's next step.
        self.state.load(Ordering::Acquire) < ONE
    }

    /// Step 4: `Ready` once every registered child has terminated. Call after `close`.
    pub(crate) fn poll_empty(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_empty() {
            return Poll::Ready(());
        }
        // Under the lock, a child whose decrement this load misses takes the lock after us
        // and finds the waker (see `deregister`).
        let mut slow = lock(&self.slow);
        if self.is_empty() {
            return Poll::Ready(());
        }
        match &mut slow.waiter {
            Some(waker) => waker.clone_from(cx.waker()),
            slot @ None => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// For a dropped owner (after `close`): hands back `tail` if no child is alive, so the
    /// caller runs it now; otherwise keeps it for the last child to run.
    pub(crate) fn leave_tail(&self, tail: Tail) -> Option<Tail> {
        let mut slow = lock(&self.slow);
        slow.waiter = None;
        if self.is_empty() {
            Some(tail)
        } else {
            slow.tail = Some(tail);
            None
        }
    }

    /// A child has terminated (its done sender is being dropped), or a refused registration
    /// is undone.
    pub(crate) fn deregister(&self) {
        let previous = self.state.fetch_sub(ONE, Ordering::AcqRel);
        if previous != CLOSED | ONE {
            // Children remain, or the owner has not closed yet and will see zero itself.
            return;
        }
        // The last child of a closed scope: the owner may be waiting or gone. Its
        // `poll_empty` or `leave_tail` either saw zero, or holds the lock until its waker or
        // tail is stored.
        let (waker, tail) = {
            let mut slow = lock(&self.slow);
            (slow.waiter.take(), slow.tail.take())
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        if let Some(tail) = tail {
            run_tail(tail);
        }
    }
}

/// Runs a tail: the done function and done signal of a task that was dropped early, on the
/// thread that dropped it or on the thread of its last child. A panic of the done function is
/// not resumed here — it would unwind out of a destructor or out of an unrelated task — the
/// panic hook has reported it, and the done signal is sent regardless.
pub(crate) fn run_tail(tail: Tail) {
    drop(catch_unwind(AssertUnwindSafe(tail)));
}
