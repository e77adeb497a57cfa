//! The future of a scoped task spawned without a spawner of its own (`spawn_future*`).
//!
//! Such a task has no children, so steps 3 and 4 of its termination are empty. Instead of a
//! [`Scoped`](super::Scoped) future with four signal ends, it holds one reference to its
//! scope and, if its parent has signals, one to their [`Link`]; it watches its scope's token
//! directly instead of a token of its own. Spawning it without signals allocates nothing but
//! the task.

use alloc::boxed::Box;
use core::any::Any;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use super::children::Children;
use super::signals::{Link, CANCELLED, DONE};
use crate::cancel::WaitForCancellationFutureOwned;
use crate::sync::Arc;

type Panic = Box<dyn Any + Send>;

pub(crate) struct Leaf<F, D: FnOnce()> {
    /// Until termination begins (structurally pinned, dropped in place).
    future: Option<F>,
    /// Taken by step 5.
    done: Option<D>,
    /// The scope this task is counted in; `None` once the done signal is sent.
    scope: Option<Arc<Children>>,
    /// Shared with the parent's `CancelSender` and `DoneReceiver`, if any.
    link: Option<Arc<Link>>,
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
    pub(crate) fn new(future: F, done: D, scope: Arc<Children>, link: Option<Arc<Link>>) -> Self {
        Leaf {
            future: Some(future),
            done: Some(done),
            scope: Some(scope),
            link,
            wait: None,
            panic: None,
        }
    }

    fn cancelled(&self) -> bool {
        self.link.as_ref().is_some_and(|link| link.is(CANCELLED))
            || self
                .scope
                .as_ref()
                .is_some_and(|scope| scope.token().is_cancelled())
    }

    /// Registers `cx`'s waker for both cancel sources; `true` if one has fired meanwhile.
    fn wait_cancelled(&mut self, cx: &mut Context<'_>) -> bool {
        if let Some(link) = &self.link {
            if link.poll(CANCELLED, cx.waker()).is_ready() {
                return true;
            }
        }
        let Some(scope) = &self.scope else {
            return true;
        };
        let wait = self
            .wait
            .get_or_insert_with(|| scope.token().clone().wait_cancelled_owned());
        Pin::new(wait).poll(cx).is_ready()
    }

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
        if let Some(link) = self.link.take() {
            link.set(DONE);
        }
        if let Some(scope) = self.scope.take() {
            scope.deregister();
        }
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
        if self.scope.is_none() {
            return;
        }
        // Dropped early, by the executor or because spawning failed: terminate anyway (a
        // leaf has no children to wait for).
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| self.future = None)) {
            self.panic.get_or_insert(payload);
        }
        self.wait = None;
        let done = self.done.take();
        let result = catch_unwind(AssertUnwindSafe(|| done.map(|done| done())));
        if let Some(link) = self.link.take() {
            link.set(DONE);
        }
        if let Some(scope) = self.scope.take() {
            scope.deregister();
        }
        // Not resumed: unwinding out of a task's destructor aborts most executors (rawtask
        // included). The panic hook has already reported it.
        drop(self.panic.take());
        drop(result);
    }
}

impl<F, D: FnOnce()> fmt::Debug for Leaf<F, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leaf")
            .field("terminated", &self.scope.is_none())
            .finish()
    }
}
