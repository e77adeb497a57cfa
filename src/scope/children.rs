//! The live children of one scope: a counter, a "closed" flag and, for a scope whose task was
//! dropped before its children terminated, the rest of that task's termination.

use alloc::boxed::Box;
use core::task::{Context, Poll, Waker};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use crate::cancel::CancellationToken;
use crate::sync::{lock, Mutex};

/// Steps 5 and 6 of a termination (run the done function, send the done signal), left behind
/// by a task dropped while children were still alive, for the last child to run.
pub(crate) type Tail = Box<dyn FnOnce() + Send>;

/// The children of one scoped task (or of a root spawner).
///
/// A child counts from its registration until its done sender is dropped, which is the last
/// thing a terminating child does. Memory does not grow with the number of children ever
/// spawned: a finished child leaves the count, and its token leaves `token`'s list.
pub(crate) struct Children {
    /// Cancelled at step 3 of the owner's termination; each child's own token is a child of
    /// this one, so cancelling it reaches every live child and grandchild.
    token: CancellationToken,
    state: Mutex<State>,
}

struct State {
    /// Children registered and not yet terminated.
    live: usize,
    /// The owner has begun terminating its children: no child may join any more.
    closed: bool,
    /// The owner's task, waiting (step 4) for `live` to reach zero.
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
            state: Mutex::new(State {
                live: 0,
                closed: false,
                waiter: None,
                tail: None,
            }),
        }
    }

    /// The token cancelled when this scope cancels its children.
    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Counts a new child and returns the child's own cancellation token.
    ///
    /// Registration and [`close`](Self::close) are ordered by the lock: a child registered
    /// before the close is cancelled by it (its token is a child of `token`), and one that
    /// comes after is refused, so the owner never stops waiting while a child can still join.
    pub(crate) fn register(&self) -> Result<CancellationToken, Closed> {
        {
            let mut state = lock(&self.state);
            if state.closed {
                return Err(Closed);
            }
            state.live += 1;
        }
        Ok(self.token.child_token())
    }

    /// Step 3: refuses new children and cancels the live ones.
    pub(crate) fn close(&self) {
        lock(&self.state).closed = true;
        self.token.cancel();
    }

    /// Step 4: `Ready` once every registered child has terminated. Call after `close`.
    pub(crate) fn poll_empty(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = lock(&self.state);
        debug_assert!(state.closed);
        if state.live == 0 {
            return Poll::Ready(());
        }
        match &mut state.waiter {
            Some(waker) => waker.clone_from(cx.waker()),
            slot @ None => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// For a dropped owner (after `close`): hands back `tail` if no child is alive, so the
    /// caller runs it now; otherwise keeps it for the last child to run.
    pub(crate) fn leave_tail(&self, tail: Tail) -> Option<Tail> {
        let mut state = lock(&self.state);
        debug_assert!(state.closed);
        state.waiter = None;
        if state.live == 0 {
            Some(tail)
        } else {
            state.tail = Some(tail);
            None
        }
    }

    /// A child has terminated (its done sender is being dropped).
    pub(crate) fn deregister(&self) {
        let (waker, tail) = {
            let mut state = lock(&self.state);
            state.live -= 1;
            if state.live != 0 {
                return;
            }
            (state.waiter.take(), state.tail.take())
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        if let Some(tail) = tail {
            run_tail(tail);
        }
    }
}

/// Runs a tail. A panic of the done function inside it is resumed once the tail has finished
/// (so the done signal is still sent), unless this thread is already unwinding.
pub(crate) fn run_tail(tail: Tail) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(tail)) {
        if !std::thread::panicking() {
            resume_unwind(payload);
        }
    }
}
