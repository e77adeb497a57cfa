//! The live children of one scope: a counter, a "closed" flag and, for a scope whose task was
//! dropped before its children terminated, the rest of that task's termination.

use alloc::boxed::Box;
use core::alloc::Layout;
use core::ptr::NonNull;
use core::task::{Context, Poll, Waker};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::cancel::CancellationToken;
use crate::sync::alloc::{alloc, dealloc, handle_alloc_error};
use crate::sync::atomic::Ordering;
use crate::sync::{lock, Mutex};
use crate::try_alloc_error::TryAllocError;

/// Steps 5 and 6 of a termination (run the done function, send the done signal), left behind
/// by a task dropped while children were still alive, for the last child to run.
pub(crate) type Tail = Box<dyn FnOnce() + Send>;

/// The word that counts a registry's handles:
/// `CLOSED | VISIT | owners * OWNER | children * CHILD`. 64 bits wherever the target has 64-bit
/// atomics, so that neither count can realistically overflow.
#[cfg(target_has_atomic = "64")]
type Word = u64;
#[cfg(target_has_atomic = "64")]
use crate::sync::atomic::AtomicU64 as AtomicWord;
#[cfg(not(target_has_atomic = "64"))]
type Word = usize;
#[cfg(not(target_has_atomic = "64"))]
use crate::sync::atomic::AtomicUsize as AtomicWord;

/// Set once the owner has begun terminating its children (step 3).
const CLOSED: Word = 1;
/// Set (under the lock, while children are alive) when the owner leaves a waker or a tail in
/// `slow`: the last child must then visit the lock. Counts as a handle: it keeps the registry
/// alive until that child has been and cleared it.
const VISIT: Word = 2;
/// One owner handle ([`Owner`]): a spawner or the owning task's scope.
const OWNER: Word = 4;
/// One live child ([`Registration`]). The owner count sits between `VISIT` and here.
const CHILD: Word = 1 << (Word::BITS / 2);
const OWNERS: Word = CHILD - OWNER;
const CHILDREN: Word = !(CHILD - 1);
/// Every bit that keeps the registry alive.
const HANDLES: Word = VISIT | OWNERS | CHILDREN;

/// The children of one scoped task (or of a root spawner), shared by its owners and its live
/// children.
///
/// A child counts from its registration until its done sender is dropped, which is the last
/// thing a terminating child does. Memory does not grow with the number of children ever
/// spawned: a finished child only leaves the count.
///
/// One word counts both kinds of handle, so that a child's registration is also what keeps
/// the registry alive: registering and deregistering are one atomic operation each (a
/// `fetch_add` and a `fetch_sub`, no retry loop), and the registry is freed by whichever
/// handle leaves the word without handles. The lock is taken only by the owner once it must
/// wait (step 4) or leave its tail, and by the last child after that (`VISIT`).
pub(crate) struct Children {
    /// Cancelled at step 3 of the owner's termination: every child's cancel receiver watches
    /// it (a child with a token of its own has a child of this one).
    token: CancellationToken,
    state: AtomicWord,
    slow: Mutex<Slow>,
}

struct Slow {
    /// The owner's task, waiting (step 4) for the count to reach zero.
    waiter: Option<Waker>,
    /// Set when the owner's task was dropped before its children had terminated.
    tail: Option<Tail>,
}

/// What [`Owner::register`] refuses: the scope is terminating.
#[derive(Debug)]
pub(crate) struct Closed;

fn children(state: Word) -> Word {
    state / CHILD
}

/// Aborts on a count overflow, as `Arc` does: continuing would free the registry early.
#[cold]
fn overflow() -> ! {
    std::eprintln!("rawtask::scope: too many handles to one scope");
    std::process::abort()
}

/// A handle that owns a [`Children`] registry without being one of its children.
pub(crate) struct Owner {
    ptr: NonNull<Children>,
}

/// A live child's place in its scope's [`Children`]: keeps the registry alive, and dropping
/// it reports the child terminated.
pub(crate) struct Registration {
    ptr: NonNull<Children>,
}

// SAFETY: both handles only share `Children`, which is `Sync` (atomics, a mutex and a token)
// and whose `Tail` and waker are `Send`; the count decides which thread frees it.
unsafe impl Send for Owner {}
// SAFETY: as above; `&Owner` only reads the shared registry.
unsafe impl Sync for Owner {}
// SAFETY: as for `Owner`.
unsafe impl Send for Registration {}
// SAFETY: as for `Owner`.
unsafe impl Sync for Registration {}

impl Owner {
    /// A new, empty registry with this handle as its only owner; aborts if the heap fails.
    pub(crate) fn new() -> Owner {
        match Owner::allocate(CancellationToken::new()) {
            Ok(owner) => owner,
            Err(_) => handle_alloc_error(Layout::new::<Children>()),
        }
    }

    /// [`new`](Self::new), or an error if the heap refuses the token or the registry.
    pub(crate) fn try_new() -> Result<Owner, TryAllocError> {
        let token = CancellationToken::try_new()?;
        Owner::allocate(token)
            .map_err(|_| TryAllocError::new("a scope's child registry", Layout::new::<Children>()))
    }

    /// Puts a registry around `token` in a block of its own (the token back if the heap
    /// refuses). The block comes from `sync::alloc`, so a registry never freed is a leak that
    /// loom reports; `state` decides when it is freed.
    #[inline]
    fn allocate(token: CancellationToken) -> Result<Owner, CancellationToken> {
        // SAFETY: `Children` holds atomics and a token: its size is not zero.
        let raw = unsafe { alloc(Layout::new::<Children>()) }.cast::<Children>();
        let Some(ptr) = NonNull::new(raw) else {
            return Err(token);
        };
        // SAFETY: freshly allocated with `Children`'s layout, not yet initialised.
        unsafe {
            ptr.as_ptr().write(Children {
                token,
                state: AtomicWord::new(OWNER),
                slow: Mutex::new(Slow {
                    waiter: None,
                    tail: None,
                }),
            })
        };
        Ok(Owner { ptr })
    }

    /// Counts a new child.
    ///
    /// Registration and [`close`](Children::close) are ordered by `state`: a child counted
    /// before the close is cancelled by it (its receiver watches `token`), and one that comes
    /// after is refused, so the owner never stops waiting while a child can still join.
    #[inline]
    pub(crate) fn register(&self) -> Result<Registration, Closed> {
        let previous = self.state.fetch_add(CHILD, Ordering::Relaxed);
        if children(previous) == children(CHILDREN) {
            overflow();
        }
        // Built before the check, so that a refused registration is undone by its drop (which
        // may be the one the owner now waits for).
        let registration = Registration { ptr: self.ptr };
        if previous & CLOSED != 0 {
            drop(registration);
            return Err(Closed);
        }
        Ok(registration)
    }
}

impl Clone for Owner {
    fn clone(&self) -> Owner {
        let previous = self.state.fetch_add(OWNER, Ordering::Relaxed);
        if previous & OWNERS == OWNERS {
            overflow();
        }
        Owner { ptr: self.ptr }
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        // Release: this handle's uses of the registry happen-before its freeing; Acquire: the
        // handle that frees sees every other handle's uses.
        let previous = self.state.fetch_sub(OWNER, Ordering::AcqRel);
        if previous & HANDLES == OWNER {
            // SAFETY: the last handle of any kind is gone.
            unsafe { free(self.ptr) };
        }
    }
}

impl Drop for Registration {
    /// The child has terminated (its done sender is being dropped), or a refused registration
    /// is undone.
    #[inline]
    fn drop(&mut self) {
        // Release: everything this child did happens-before the owner's next step (the owner
        // reads `state` with Acquire); Acquire: for freeing, as in `Owner::drop`.
        let previous = self.get().state.fetch_sub(CHILD, Ordering::AcqRel);
        if previous & HANDLES == CHILD {
            // SAFETY: this was the last handle of any kind.
            unsafe { free(self.ptr) };
        } else if previous & VISIT != 0 && children(previous) == 1 {
            // The owner left a waker or a tail for the last child, and `VISIT` keeps the
            // registry alive until `visit` clears it.
            self.visit();
        }
    }
}

impl Registration {
    #[inline]
    fn get(&self) -> &Children {
        // SAFETY: this handle keeps the registry alive.
        unsafe { self.ptr.as_ref() }
    }

    /// The token the child's scope cancels at step 3.
    #[inline]
    pub(crate) fn token(&self) -> &CancellationToken {
        &self.get().token
    }

    /// The last child's deregistration from a scope whose owner asked for a visit: wakes the
    /// waiting owner or runs the tail of a dropped one, then lets go of `VISIT`.
    #[cold]
    #[inline(never)]
    fn visit(&self) {
        // The owner set `VISIT` while holding the lock, and holds it until its waker or tail
        // is stored.
        let (waker, tail) = {
            let mut slow = lock(&self.get().slow);
            (slow.waiter.take(), slow.tail.take())
        };
        // As in `Owner::drop`.
        let previous = self.get().state.fetch_sub(VISIT, Ordering::AcqRel);
        if previous & HANDLES == VISIT {
            // SAFETY: `VISIT` was the last handle; nothing below touches the registry.
            unsafe { free(self.ptr) };
        }
        if let Some(waker) = waker {
            waker.wake();
        }
        if let Some(tail) = tail {
            run_tail(tail);
        }
    }
}

/// Frees a registry.
///
/// # Safety
///
/// No handle to it is left, and the caller's last access to `state` was an Acquire.
unsafe fn free(ptr: NonNull<Children>) {
    // SAFETY: `ptr` came from `Owner::allocate` with `Children`'s layout and is initialised;
    // the caller guarantees nobody else uses it any more, so it is dropped and freed once.
    unsafe {
        core::ptr::drop_in_place(ptr.as_ptr());
        dealloc(ptr.as_ptr().cast(), Layout::new::<Children>());
    }
}

impl core::ops::Deref for Owner {
    type Target = Children;

    fn deref(&self) -> &Children {
        // SAFETY: this handle keeps the registry alive.
        unsafe { self.ptr.as_ref() }
    }
}

impl Children {
    /// The token cancelled when this scope cancels its children.
    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Step 3: refuses new children and cancels the live ones.
    pub(crate) fn close(&self) {
        self.state.fetch_or(CLOSED, Ordering::AcqRel);
        self.token.cancel();
    }

    fn is_empty(&self) -> bool {
        // Acquire: pairs with the release of each child's deregistration, so that everything
        // a terminated child did happens-before the owner's next step.
        children(self.state.load(Ordering::Acquire)) == 0
    }

    /// Under the lock (`_held`): sets `VISIT` unless every child has terminated; `false` if
    /// they have.
    ///
    /// One atomic step, so that either the last child's deregistration comes after it and
    /// sees `VISIT` (and then waits for the lock), or this sees zero children.
    fn ask_visit(&self, _held: &Slow) -> bool {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if children(state) == 0 {
                return false;
            }
            if state & VISIT != 0 {
                return true;
            }
            // Acquire on failure: a zero seen here is read as `is_empty` reads it.
            match self.state.compare_exchange_weak(
                state,
                state | VISIT,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
    }

    /// Step 4: `Ready` once every registered child has terminated. Call after `close`.
    pub(crate) fn poll_empty(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_empty() {
            return Poll::Ready(());
        }
        let mut slow = lock(&self.slow);
        if !self.ask_visit(&slow) {
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
        if !self.ask_visit(&slow) {
            return Some(tail);
        }
        slow.tail = Some(tail);
        None
    }
}

/// Runs a tail: the done function and done signal of a task that was dropped early, on the
/// thread that dropped it or on the thread of its last child. A panic of the done function is
/// not resumed here — it would unwind out of a destructor or out of an unrelated task — the
/// panic hook has reported it, and the done signal is sent regardless.
pub(crate) fn run_tail(tail: Tail) {
    drop(catch_unwind(AssertUnwindSafe(tail)));
}
