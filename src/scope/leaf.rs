//! The future of a scoped task spawned without a spawner of its own (`spawn_future*`).
//!
//! Such a task has no children, so steps 3 and 4 of its termination are empty. Instead of a
//! [`Scoped`](super::Scoped) future with four signal ends, it holds one reference to its
//! scope and, if its parent has signals, a [`Parent`] end; it watches its scope's token
//! directly instead of a token of its own. Spawning it without signals allocates nothing but
//! the task; with signals, one `Link` — or nothing, when it is a raw task whose data slot
//! holds the cancel flag ([`LeafSlot`]) and whose end is the done signal.

use alloc::boxed::Box;
use core::any::Any;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use super::children::Registration;
use super::signals::{Link, CANCELLED, DONE};
use crate::cancel::WaitForCancellationFutureOwned;
use crate::sync::atomic::{AtomicBool, Ordering};
use crate::sync::Arc;

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

/// How a leaf hears from, and reports to, its parent.
pub(crate) enum Parent {
    /// No parent signals (`spawn_future`).
    None,
    /// A shared `Link`: its `CANCELLED` flag and waker in, its `DONE` flag out.
    Link(Arc<Link>),
    /// The leaf is a raw task: the cancel flag is in its data slot (the sender wakes the task
    /// after setting it), and completing the task is the done signal.
    Slot(SlotRef),
}

type Panic = Box<dyn Any + Send>;

pub(crate) struct Leaf<F, D: FnOnce()> {
    /// Until termination begins (structurally pinned, dropped in place).
    future: Option<F>,
    /// Taken by step 5.
    done: Option<D>,
    /// The scope this task is counted in; `None` once the done signal is sent.
    scope: Option<Registration>,
    /// The parent's signals, if any.
    parent: Parent,
    /// Waits for the scope's token; made at the first pending poll.
    wait: Option<WaitForCancellationFutureOwned>,
    /// A panic of the future or its drop, resumed after the done signal.
    panic: Option<Panic>,
}

impl<F, D> Leaf<F, D>
where
    F: Future<Output = ()>,
    D: FnOnce(),
{
    /// `scope` must already count this task.
    pub(crate) fn new(future: F, done: D, scope: Registration, parent: Parent) -> Self {
        Leaf {
            future: Some(future),
            done: Some(done),
            scope: Some(scope),
            parent,
            wait: None,
            panic: None,
        }
    }

    #[inline]
    fn cancelled(&self) -> bool {
        let by_parent = match &self.parent {
            Parent::None => false,
            Parent::Link(link) => link.is(CANCELLED),
            Parent::Slot(slot) => slot.get().is_cancelled(),
        };
        by_parent
            || self
                .scope
                .as_ref()
                .is_some_and(|scope| scope.token().is_cancelled())
    }

    /// Registers `cx`'s waker for both cancel sources; `true` if one has fired meanwhile.
    fn wait_cancelled(&mut self, cx: &mut Context<'_>) -> bool {
        match &self.parent {
            Parent::Link(link) => {
                if link.poll(CANCELLED, cx.waker()).is_ready() {
                    return true;
                }
            }
            // The sender sets the flag, then wakes this task: a flag set after this check
            // comes with a wake.
            Parent::Slot(slot) => {
                if slot.get().is_cancelled() {
                    return true;
                }
            }
            Parent::None => {}
        }
        let Some(scope) = &self.scope else {
            return true;
        };
        let wait = self
            .wait
            .get_or_insert_with(|| scope.token().clone().wait_cancelled_owned());
        Pin::new(wait).poll(cx).is_ready()
    }
}

impl<F, D: FnOnce()> Leaf<F, D> {
    /// Steps 2, 5 and 6 (3 and 4 are empty: a leaf has no children). Returns the panic to
    /// resume, if any.
    fn terminate(&mut self) -> Option<Panic> {
        // Step 2. Assigning drops the future in place, which pinning allows.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.future = None)) {
            self.panic.get_or_insert(payload);
        }
        self.wait = None;
        // Step 5.
        let done = self.done.take();
        let result = catch_unwind(AssertUnwindSafe(|| done.map(|done| done())));
        // Step 6: the parent's receiver first, then the scope's count.
        if let Parent::Link(link) = core::mem::replace(&mut self.parent, Parent::None) {
            link.set(DONE);
        }
        // Dropping the registration deregisters.
        self.scope = None;
        self.panic.take().or(result.err())
    }
}

impl<F, D> Future for Leaf<F, D>
where
    F: Future<Output = ()>,
    D: FnOnce(),
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: only `future` is pinned structurally: it is polled through
        // `Pin::new_unchecked` below and dropped in place (by assigning `None` in `terminate`),
        // never moved out.
        let this = unsafe { self.get_unchecked_mut() };
        if this.scope.is_none() {
            return Poll::Ready(()); // terminated earlier
        }
        // Step 1: a cheap check first, so that a task that completes at once never
        // registers a waker.
        if !this.cancelled() {
            let polled = catch_unwind(AssertUnwindSafe(|| match this.future.as_mut() {
                // SAFETY: structurally pinned, see above.
                Some(future) => unsafe { Pin::new_unchecked(future) }.poll(cx),
                None => Poll::Ready(()),
            }));
            match polled {
                Ok(Poll::Ready(())) => {}
                Err(payload) => this.panic = Some(payload),
                Ok(Poll::Pending) => {
                    if !this.wait_cancelled(cx) {
                        return Poll::Pending;
                    }
                }
            }
        }
        if let Some(payload) = this.terminate() {
            resume_unwind(payload);
        }
        Poll::Ready(())
    }
}

impl<F, D: FnOnce()> Drop for Leaf<F, D> {
    fn drop(&mut self) {
        if self.scope.is_some() {
            // Dropped early, by the executor or because spawning failed: terminate anyway (a
            // leaf has no children to wait for). A panic is not resumed: unwinding out of a
            // task's destructor aborts most executors (rawtask included), and the panic hook
            // has already reported it.
            drop(self.terminate());
        }
    }
}
