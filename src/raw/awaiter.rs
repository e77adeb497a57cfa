//! The awaiter protocol: one waker slot in the header, written by a single registrar (the `Task`
//! holder, or a `Watcher`) under REGISTERING and emptied by notifiers under NOTIFYING.

use core::task::{Poll, Waker};

use super::header::HeaderPrefix;
use super::state::State;
use crate::abort::abort_on_panic;

/// What the registrar's wait loop ([`HeaderPrefix::poll_awaiter`]) does after looking at the
/// state.
pub(crate) enum Look<R> {
    /// The wait is over: return `Poll::Ready`.
    Done(R),
    /// Not yet: register the waker (once) and look again; after that, return `Poll::Pending`.
    Wait,
    /// The state changed under the look: look again at once.
    Again,
}

impl HeaderPrefix {
    /// Takes the awaiter out of its slot unless someone else is registering or notifying, and
    /// unless it would wake the same task as `current`.
    pub(crate) fn take_awaiter(&self, current: Option<&Waker>) -> Option<Waker> {
        if !self.state.begin_notify() {
            // A concurrent notifier takes the waker, or the registrar finds our NOTIFYING bit
            // and wakes its waker itself.
            return None;
        }
        // SAFETY: `begin_notify` succeeded, so we hold NOTIFYING with no REGISTERING: nobody
        // else touches the awaiter slot until `end_notify`.
        let waker = self.awaiter.with_mut(|slot| unsafe { (*slot).take() });
        self.state.end_notify();
        match (waker, current) {
            (Some(w), Some(c)) if w.will_wake(c) => {
                abort_on_panic("rawtask: a waker's drop panicked", || drop(w));
                None
            }
            (waker, _) => waker,
        }
    }

    /// Wakes the awaiter (unless it is `current`).
    pub(crate) fn notify_awaiter(&self, current: Option<&Waker>) {
        if let Some(w) = self.take_awaiter(current) {
            abort_on_panic("rawtask: an awaiter's wake panicked", || w.wake());
        }
    }

    /// Stores `waker` as the awaiter; `seen` is the state the registrar last looked at. Only
    /// the `Task` holder (or the task's one `Watcher`) calls this, so registrations never
    /// overlap.
    pub(crate) fn register_awaiter(&self, waker: &Waker, seen: State) {
        if seen.awaiter_slot_free() {
            // The first registration (or the first since a notification emptied the slot):
            // fill the slot, then publish it in one step.
            let waker = waker.clone();
            // SAFETY: the slot is free (`seen`): notifiers leave it alone until AWAITER is set,
            // which only we do, and only the unique registrar writes it.
            self.awaiter.with_mut(|slot| unsafe { *slot = Some(waker) });
            if !self.state.publish_awaiter(seen) {
                // The task finished meanwhile: nobody will take the waker, so take it back;
                // the caller's next look finds the task finished.
                // SAFETY: AWAITER was never set: the slot is still ours alone.
                let waker = self.awaiter.with_mut(|slot| unsafe { (*slot).take() });
                abort_on_panic("rawtask: a waker's drop panicked", || drop(waker));
            }
            return;
        }
        if !self.state.begin_register() {
            // A notification is running right now: poll again instead of registering.
            abort_on_panic("rawtask: a waker panicked", || waker.wake_by_ref());
            return;
        }
        // SAFETY: we hold REGISTERING, so no notifier touches the slot; only the unique `Task`
        // holder ever registers.
        let old = self.awaiter.with_mut(|slot| unsafe {
            match &*slot {
                Some(w) if w.will_wake(waker) => None,
                _ => (*slot).replace(waker.clone()),
            }
        });
        let mut to_wake = None;
        self.state.end_register(|| {
            // A notifier gave up because we were registering: take the waker back out and wake
            // it ourselves.
            // SAFETY: we still hold REGISTERING, so nobody else touches the slot.
            if let Some(w) = self.awaiter.with_mut(|slot| unsafe { (*slot).take() }) {
                to_wake = Some(w);
            }
        });
        abort_on_panic("rawtask: a waker panicked", || {
            drop(old);
            if let Some(w) = to_wake {
                w.wake();
            }
        });
    }
}

impl HeaderPrefix {
    /// The registrar's wait: looks at the state with `look` until it is done, registering
    /// `waker` once before the last look, so that a change between the look and the
    /// registration is never missed.
    #[inline(always)]
    pub(crate) fn poll_awaiter<R>(
        &self,
        waker: &Waker,
        mut look: impl FnMut(State) -> Look<R>,
    ) -> Poll<R> {
        let mut registered = false;
        loop {
            let seen = self.state.load();
            match look(seen) {
                Look::Done(result) => return Poll::Ready(result),
                Look::Again => {}
                Look::Wait if registered => return Poll::Pending,
                Look::Wait => {
                    // Register, then look again: the task may have moved on meanwhile.
                    self.register_awaiter(waker, seen);
                    registered = true;
                }
            }
        }
    }
}

/// Wakes an awaiter taken out of the slot; a panicking waker aborts (rule 9).
#[inline(always)]
pub(crate) fn wake_awaiter(awaiter: Option<Waker>) {
    if let Some(w) = awaiter {
        abort_on_panic("rawtask: an awaiter's wake panicked", || w.wake());
    }
}
