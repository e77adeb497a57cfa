//! [`Reporting`]: the future a [`JoinSet`](crate::JoinSet) spawns around the user's, which
//! hands the output to the set itself.
//!
//! The set spawns `Reporting<F>` (whose output is `()`) and keeps the task's handle only to
//! cancel or detach it. When `F` completes, its future is dropped and its output moved into the
//! task's [`Entry`], which goes on the set's ready list; when the task ends without an output
//! (cancelled, or `F` panicked), dropping `Reporting` drops `F` and then pushes the entry
//! empty. Either way the set hears of the task once, after `F` is gone, as it would from the
//! task's awaiter, but without a waker registration, a watcher reference or taking the
//! output out of the task.

use core::fmt;
use core::future::Future;
use core::mem::ManuallyDrop;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;

use super::ready::Entry;

/// The user's future `F` and the entry it reports to (until it has).
pub(crate) struct Reporting<F: Future> {
    /// Dropped by hand (before the report), never moved: pinned with `Reporting`.
    future: ManuallyDrop<F>,
    /// `None` once reported (and `future` dropped).
    entry: Option<Arc<Entry<F::Output>>>,
}

impl<F: Future> Reporting<F> {
    /// `future`, reporting to `entry`, whose only handle this becomes.
    pub(crate) fn new(future: F, entry: Arc<Entry<F::Output>>) -> Self {
        Reporting {
            future: ManuallyDrop::new(future),
            entry: Some(entry),
        }
    }
}

/// Pushes the entry even if dropping the future panics.
struct Report<T>(Option<Arc<Entry<T>>>, Option<T>);

impl<T> Drop for Report<T> {
    fn drop(&mut self) {
        if let Some(entry) = self.0.take() {
            entry.report(self.1.take());
        }
    }
}

impl<F: Future> Reporting<F> {
    /// Drops the future, then reports `output`.
    fn finish(&mut self, output: Option<F::Output>) {
        let Some(entry) = self.entry.take() else {
            return;
        };
        let _report = Report(Some(entry), output);
        // SAFETY: `entry` was still there, so the future was not dropped yet; it is never
        // touched again (a pinned value may be dropped in place).
        unsafe { ManuallyDrop::drop(&mut self.future) };
    }
}

impl<F: Future> Future for Reporting<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `future` is never moved out of the pinned `Reporting` (only dropped in place).
        let this = unsafe { self.get_unchecked_mut() };
        if this.entry.is_none() {
            return Poll::Ready(());
        }
        // SAFETY: as above; `entry` is there, so the future was not dropped.
        let future = unsafe { Pin::new_unchecked(&mut *this.future) };
        match future.poll(cx) {
            Poll::Ready(output) => {
                this.finish(Some(output));
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: Future> Drop for Reporting<F> {
    /// Ends without an output: the task was cancelled or its future panicked.
    fn drop(&mut self) {
        self.finish(None);
    }
}

impl<F: Future> fmt::Debug for Reporting<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reporting")
            .field("reported", &self.entry.is_none())
            .finish_non_exhaustive()
    }
}
