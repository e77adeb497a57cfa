//! The future of a scoped task spawned without a spawner of its own (`spawn_future*`).
//!
//! Such a task has no children, so steps 3 and 4 of its termination are empty. Instead of a
//! [`Scoped`](super::Scoped) future with four signal ends, it holds one reference to its
//! scope and the end its parent hears it through ([`ParentEnd`]); it watches its scope's token
//! directly instead of a token of its own. Spawning it without signals allocates nothing but
//! the task; with signals, one `Link` — or nothing, when it is a raw task whose data slot
//! holds the cancel flag ([`LeafSlot`]) and whose end is the done signal.

use alloc::boxed::Box;
use core::any::Any;
use core::future::Future;
use core::mem::ManuallyDrop;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use super::children::Registration;
use super::link::{Link, CANCELLED, DONE};
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::try_arc::TryArc;

/// The data slot of a leaf spawned as a raw task with signals: the flag its parent's
/// `CancelSender` sets (before waking the task). The slot lives as long as the allocation, so
/// the leaf future and the sender can both point to it.
pub(crate) struct LeafSlot {
    cancelled: AtomicBool,
}

impl LeafSlot {
    #[inline]
    pub(crate) fn new() -> LeafSlot {
        LeafSlot {
            cancelled: AtomicBool::new(false),
        }
    }

    #[inline]
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }

    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }
}

/// A pointer to the [`LeafSlot`] of the task it is used in (or of a task it holds a
/// reference to).
#[derive(Clone, Copy)]
pub(crate) struct SlotRef(pub(crate) *const LeafSlot);

// SAFETY: `LeafSlot` is `Sync` (one atomic flag), and every holder keeps the task allocation
// that contains it alive (the future lives inside it; a `CancelSender` holds its `Task`).
unsafe impl Send for SlotRef {}
// SAFETY: as above.
unsafe impl Sync for SlotRef {}

impl SlotRef {
    #[inline]
    pub(crate) fn get(&self) -> &LeafSlot {
        // SAFETY: see the `Send` impl: the allocation holding the slot outlives every holder.
        unsafe { &*self.0 }
    }
}

/// How a leaf hears from, and reports to, its parent. One type per kind of parent, so that
/// each leaf is compiled for the one it has.
pub(crate) trait ParentEnd {
    /// Whether the parent's cancel signal has arrived.
    fn is_cancelled(&self) -> bool;

    /// Arranges for `waker` to be woken by the parent's cancel signal; `true` if it has
    /// arrived meanwhile.
    fn poll_cancelled(&self, waker: &Waker) -> bool;

    /// Step 6, the parent's part: the done signal, if it is not the task's completion itself.
    fn send_done(self);
}

/// No parent signals (`spawn_future`).
pub(crate) struct NoParent;

impl ParentEnd for NoParent {
    #[inline]
    fn is_cancelled(&self) -> bool {
        false
    }

    #[inline]
    fn poll_cancelled(&self, _: &Waker) -> bool {
        false
    }

    #[inline]
    fn send_done(self) {}
}

/// A shared `Link`: its `CANCELLED` flag and waker in, its `DONE` flag out.
impl ParentEnd for TryArc<Link> {
    #[inline]
    fn is_cancelled(&self) -> bool {
        self.is(CANCELLED)
    }

    fn poll_cancelled(&self, waker: &Waker) -> bool {
        self.poll(CANCELLED, waker).is_ready()
    }

    fn send_done(self) {
        self.set(DONE);
    }
}

/// The leaf is a raw task: the cancel flag is in its data slot, and completing the task is the
/// done signal.
impl ParentEnd for SlotRef {
    #[inline]
    fn is_cancelled(&self) -> bool {
        self.get().is_cancelled()
    }

    /// The sender sets the flag, then wakes this task: a flag set after this check comes with
    /// a wake.
    #[inline]
    fn poll_cancelled(&self, _: &Waker) -> bool {
        self.get().is_cancelled()
    }

    #[inline]
    fn send_done(self) {}
}

type Panic = Box<dyn Any + Send>;

/// Every field but `terminated` is dropped by [`terminate`](Leaf::terminate), in the order the
/// termination needs, and never again: the leaf has no drop glue beyond that one call.
pub(crate) struct Leaf<F, D: FnOnce(), P: ParentEnd> {
    /// Until termination begins (structurally pinned, dropped in place).
    future: ManuallyDrop<F>,
    /// Called by step 5.
    done: ManuallyDrop<D>,
    /// The scope this task is counted in.
    scope: ManuallyDrop<Registration>,
    /// The parent's signals.
    parent: ManuallyDrop<P>,
    /// Where a pending poll's waker is registered in the scope's token.
    wait: Option<usize>,
    /// Set by `terminate`: every other field is gone.
    terminated: bool,
}

impl<F, D, P> Leaf<F, D, P>
where
    F: Future<Output = ()>,
    D: FnOnce(),
    P: ParentEnd,
{
    /// `scope` must already count this task.
    #[inline]
    pub(crate) fn new(future: F, done: D, scope: Registration, parent: P) -> Self {
        Leaf {
            future: ManuallyDrop::new(future),
            done: ManuallyDrop::new(done),
            scope: ManuallyDrop::new(scope),
            parent: ManuallyDrop::new(parent),
            wait: None,
            terminated: false,
        }
    }

    /// Step 1's check: the parent's signal or the scope's token. Call before `terminate`.
    ///
    /// Takes the two fields, not `&self`: a shared borrow of the whole leaf would cover the
    /// suspended future too, and reading through it would invalidate the future's borrows of
    /// its own locals (undefined behaviour under Stacked Borrows, which miri reports).
    #[inline]
    fn cancelled(parent: &P, scope: &Registration) -> bool {
        parent.is_cancelled() || scope.token().is_cancelled()
    }

    /// Registers `cx`'s waker for both cancel sources; `true` if one has fired meanwhile.
    /// Call before `terminate`.
    fn wait_cancelled(&mut self, cx: &mut Context<'_>) -> bool {
        if self.parent.poll_cancelled(cx.waker()) {
            return true;
        }
        self.scope
            .token()
            .poll_wait(&mut self.wait, cx.waker())
            .is_ready()
    }
}

impl<F, D: FnOnce(), P: ParentEnd> Leaf<F, D, P> {
    /// Steps 2, 5 and 6 (3 and 4 are empty: a leaf has no children), once. Returns the
    /// panic to resume: `panic` (the future's), or else one of the future's drop or of the
    /// done function.
    #[inline]
    fn terminate(&mut self, panic: Option<Panic>) -> Option<Panic> {
        self.terminated = true;
        // Step 2, in place (pinning allows dropping, not moving).
        // SAFETY: `terminated` was clear, so the future is still there, and it is never used
        // again.
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe {
            ManuallyDrop::drop(&mut self.future)
        }));
        if let Some(key) = self.wait.take() {
            self.scope.token().forget_wait(key);
        }
        // Step 5.
        // SAFETY: as above, for each field below: dropped or moved out exactly once.
        let done = unsafe { ManuallyDrop::take(&mut self.done) };
        let ran = catch_unwind(AssertUnwindSafe(done));
        // Step 6: the parent's receiver first, then the scope's count (dropping the
        // registration deregisters).
        // SAFETY: see above.
        unsafe { ManuallyDrop::take(&mut self.parent) }.send_done();
        // SAFETY: see above.
        unsafe { ManuallyDrop::drop(&mut self.scope) };
        panic.or(dropped.err()).or(ran.err())
    }

    /// Dropped early, by the executor or because spawning failed: terminate anyway (a leaf has
    /// no children to wait for). A panic is not resumed: unwinding out of a task's destructor
    /// aborts most executors (rawtask included), and the panic hook has already reported it.
    ///
    /// Out of line, so that dropping a terminated leaf (every leaf that completed) is one
    /// check and no stack frame.
    #[cold]
    #[inline(never)]
    fn terminate_early(&mut self) {
        drop(self.terminate(None));
    }
}

impl<F, D, P> Future for Leaf<F, D, P>
where
    F: Future<Output = ()>,
    D: FnOnce(),
    P: ParentEnd,
{
    type Output = ();

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: only `future` is pinned structurally: it is polled through
        // `Pin::new_unchecked` below and dropped in place (in `terminate`), never moved out.
        let this = unsafe { self.get_unchecked_mut() };
        if this.terminated {
            return Poll::Ready(());
        }
        // Step 1: a cheap check first, so that a task that completes at once never
        // registers a waker.
        let mut panic = None;
        if !Self::cancelled(&this.parent, &this.scope) {
            // SAFETY: structurally pinned, see above; not yet terminated.
            let future = unsafe { Pin::new_unchecked(&mut *this.future) };
            match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                Ok(Poll::Ready(())) => {}
                Err(payload) => panic = Some(payload),
                Ok(Poll::Pending) => {
                    if !this.wait_cancelled(cx) {
                        return Poll::Pending;
                    }
                }
            }
        }
        if let Some(payload) = this.terminate(panic) {
            resume_unwind(payload);
        }
        Poll::Ready(())
    }
}

impl<F, D: FnOnce(), P: ParentEnd> Drop for Leaf<F, D, P> {
    #[inline]
    fn drop(&mut self) {
        if !self.terminated {
            self.terminate_early();
        }
    }
}
