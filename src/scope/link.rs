//! [`Link`]: the two one-shot flags (cancelled, done) between a parent and a child that was
//! spawned as a plain future, shared by the child's leaf and the parent's signal ends.

use core::task::{Poll, Waker};

use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::sync::{lock, Mutex};

/// `Link` flag: the parent's cancel sender was dropped.
pub(crate) const CANCELLED: usize = 1;
/// `Link` flag: the child has terminated.
pub(crate) const DONE: usize = 2;

/// Two one-shot flags between a parent and a child, each with one waiting waker.
///
/// A flag's waker is registered under the lock, and then announced with a `WAITING` bit set
/// after its flag's bit; setting a flag takes the lock only if that bit was set. So the common
/// case — a signal nobody waits for yet — is one atomic operation.
pub(crate) struct Link {
    state: AtomicUsize,
    wakers: Mutex<[Option<Waker>; 2]>,
}

/// The `WAITING` bit of `flag`.
const fn waiting(flag: usize) -> usize {
    flag << 2
}

/// The slot in `Link::wakers` of `flag`.
const fn slot(flag: usize) -> usize {
    flag - 1
}

impl Link {
    pub(crate) fn new() -> Link {
        Link {
            state: AtomicUsize::new(0),
            wakers: Mutex::new([None, None]),
        }
    }

    pub(crate) fn is(&self, flag: usize) -> bool {
        // Acquire: what the setter did before `set` happens-before what follows a `true`.
        self.state.load(Ordering::Acquire) & flag != 0
    }

    pub(crate) fn set(&self, flag: usize) {
        let previous = self.state.fetch_or(flag, Ordering::AcqRel);
        if previous & flag == 0 && previous & waiting(flag) != 0 {
            // A waiter announced itself; it stored its waker before it released the lock.
            let waker = lock(&self.wakers)[slot(flag)].take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    pub(crate) fn poll(&self, flag: usize, waker: &Waker) -> Poll<()> {
        if self.is(flag) {
            return Poll::Ready(());
        }
        let mut wakers = lock(&self.wakers);
        match &mut wakers[slot(flag)] {
            Some(old) => old.clone_from(waker),
            empty @ None => *empty = Some(waker.clone()),
        }
        // Announce the waker. If the flag was set first, its setter may not look for it.
        let previous = self.state.fetch_or(waiting(flag), Ordering::AcqRel);
        if previous & flag != 0 {
            wakers[slot(flag)] = None;
            return Poll::Ready(());
        }
        Poll::Pending
    }
}
