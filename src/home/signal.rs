//! The notify flag: coalesces the wake-ups that other threads send the loop (at most one
//! notify pending from them) and keeps the notify function from being called once shutdown
//! has begun. The home thread coalesces its own notifies without atomics (`shared::Local`).
//!
//! One state word with three bits:
//!
//! - `PENDING`: a notify was issued and the loop has not drained since. Set by the waker that
//!   calls notify, cleared by `drain` *before* it takes the inbox.
//! - `NOTIFYING`: that waker is inside the notify call right now.
//! - `SHUTDOWN`: the home is shutting down; nobody may start a notify call.
//!
//! No wake is lost: a foreign waker pushes its runnable, then makes a read-modify-write of the
//! word. If that RMW comes after drain's clear, it sees `PENDING` clear and notifies. If it
//! comes before, drain's clear reads from it (acquire/release), so the push happens-before
//! drain takes the inbox, and the runnable is taken. (The waker's RMW must be an RMW even when
//! it changes nothing: a plain load could read a stale `PENDING` — the store-buffering race.)

use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::thread;

const PENDING: usize = 1;
const NOTIFYING: usize = 2;
const SHUTDOWN: usize = 4;

/// The coalescing flag of one home.
pub(super) struct Signal {
    state: AtomicUsize,
}

impl Signal {
    pub(super) fn new() -> Signal {
        Signal {
            state: AtomicUsize::new(0),
        }
    }

    /// Called by a foreign waker after its push. Returns `true` if the caller must call
    /// notify now, then [`notified`](Self::notified); `false` if a notify is already pending
    /// (it will cover this push) or the home is shutting down (its shutdown takes the push).
    pub(super) fn claim(&self) -> bool {
        let mut current = self.state.load(Ordering::Relaxed);
        loop {
            let claim = current & (PENDING | SHUTDOWN) == 0;
            let new = if claim {
                current | PENDING | NOTIFYING
            } else {
                current
            };
            // AcqRel, and a successful exchange even when nothing changes: see the module docs.
            match self.state.compare_exchange_weak(
                current,
                new,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return claim,
                Err(actual) => current = actual,
            }
        }
    }

    /// For the home thread's own notify (home thread only): whether a foreign notify is
    /// pending (the drain it brings takes the local queue too) or shutdown has begun.
    ///
    /// A plain load: the home thread's own `clear` precedes it in program order, so a
    /// `PENDING` it sees was set by a claim after that clear, whose notify makes the loop drain
    /// again. A stale clear bit only costs one extra notify. The home thread coalesces its own
    /// notifies in its local state, apart from this word, so at most one notify is pending
    /// from the home thread and one from all other threads.
    #[inline]
    pub(super) fn pending_or_shut_down(&self) -> bool {
        self.state.load(Ordering::Relaxed) & (PENDING | SHUTDOWN) != 0
    }

    /// The notify call that [`claim`](Self::claim) asked for has returned.
    pub(super) fn notified(&self) {
        // Release: shutdown's acquire wait sees the call finished.
        self.state.fetch_and(!NOTIFYING, Ordering::Release);
    }

    /// Called by the loop before it takes the inbox: later foreign wakes notify again.
    pub(super) fn clear(&self) {
        // Nothing to clear: skip the RMW. Seeing a stale clear flag only leaves PENDING set,
        // which means a notify was issued after the last clear: the loop drains again when it
        // arrives, so no wake is lost (just one spurious drain).
        if self.state.load(Ordering::Relaxed) & PENDING == 0 {
            return;
        }
        // AcqRel: reads from the RMW of every waker that found PENDING set (module docs).
        self.state.fetch_and(!PENDING, Ordering::AcqRel);
    }

    /// Whether a notify is pending (issued, and no drain since).
    pub(super) fn is_pending(&self) -> bool {
        self.state.load(Ordering::Relaxed) & PENDING != 0
    }

    /// Begins shutdown: no notify call starts after this returns, and one in progress on
    /// another thread has returned. Waits for that call (the notify function is a short,
    /// non-blocking call by contract).
    pub(super) fn shut_down(&self) {
        let mut state = self.state.fetch_or(SHUTDOWN, Ordering::AcqRel);
        while state & NOTIFYING != 0 {
            thread::yield_now();
            // Acquire: pairs with `notified`, so the call happens-before the caller frees
            // what notify uses.
            state = self.state.load(Ordering::Acquire);
        }
    }
}
