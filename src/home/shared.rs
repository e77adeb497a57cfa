//! The part of a home that its tasks' schedule functions share with the loop: the home
//! thread's identity, its local queue, the inbox, the notify flag and the notify function.
//!
//! It lives in an `Arc` held by the [`Home`](super::Home) and by every task's
//! [`HomeSchedule`](super::HomeSchedule) (through a [`SharedRef`](super::shared_ref), which
//! counts references made on the home thread without atomics), so a wake that arrives after
//! shutdown still finds it (closed) rather than freed memory.

use alloc::collections::VecDeque;

use super::inbox::Inbox;
use super::notify::Notify;
use super::signal::Signal;
use crate::runnable::Runnable;
use crate::sync::atomic::AtomicUsize;
use crate::sync::{ThreadId, UnsafeCell};

/// What only the home thread touches.
pub(super) struct Local<M> {
    /// Runnables to run, in order.
    pub(super) queue: VecDeque<Runnable<M>>,
    /// Shutdown finished: a wake on the home thread drops its runnable.
    pub(super) closed: bool,
    /// A drain is running: a wake on the home thread needs no notify (the drain looks at the
    /// queue again before it returns). Also how a drain from inside a task is detected.
    pub(super) draining: bool,
    /// The home thread called notify since the last drain began: its next wakes between
    /// drains need none. Kept apart from the shared [`Signal`], so a task spawned and woken
    /// on the loop's own thread costs no atomic read-modify-write.
    pub(super) notified: bool,
    /// Local references to this part alive, not dropped elsewhere ([`super::shared_ref`]).
    pub(super) refs: usize,
    /// Shutdown merged `refs` into `Shared::remote`: no more local references.
    pub(super) merged: bool,
}

/// Shared by the loop and every task's schedule function.
pub(super) struct Shared<M> {
    home: ThreadId,
    pub(super) signal: Signal,
    pub(super) inbox: Inbox<M>,
    /// Local references dropped off the home thread, negated (wrapping), until shutdown
    /// merges; then the local references alive ([`super::shared_ref`]).
    pub(super) remote: AtomicUsize,
    /// Home thread only (checked with `on_home` before every access).
    local: UnsafeCell<Local<M>>,
    /// Called by foreign wakers holding the `NOTIFYING` bit; taken out (dropped) by shutdown
    /// once no call can be in progress or start.
    notify: UnsafeCell<Option<Notify>>,
}

// SAFETY: `local` is only accessed on the home thread (every access checks `on_home`, or runs
// in the `!Send` `Home`, which lives on that thread); `notify` is called under the `NOTIFYING`
// bit and dropped only after shutdown waited for that bit to clear and barred it for good, so
// the two never overlap; the rest is atomic. Runnables cross threads inside the inbox, which
// needs `Runnable<M>: Send` (so `M: Send + Sync`).
unsafe impl<M: Send + Sync> Sync for Shared<M> {}
// SAFETY: as above; a `Shared` dropped on another thread drops its (then empty) queues there.
unsafe impl<M: Send + Sync> Send for Shared<M> {}

impl<M> Shared<M> {
    /// A home on the current thread.
    pub(super) fn new(notify: Notify) -> Shared<M> {
        Shared {
            home: crate::sync::current_thread_id(),
            signal: Signal::new(),
            inbox: Inbox::new(),
            remote: AtomicUsize::new(0),
            local: UnsafeCell::new(Local {
                queue: VecDeque::new(),
                closed: false,
                draining: false,
                notified: false,
                refs: 0,
                merged: false,
            }),
            notify: UnsafeCell::new(Some(notify)),
        }
    }

    /// Whether the current thread is the home thread.
    #[inline]
    pub(super) fn on_home(&self) -> bool {
        crate::sync::current_thread_id() == self.home
    }

    /// Runs `f` on the local queue.
    ///
    /// # Safety
    /// The caller is on the home thread, and `f` calls no user code (no destructor of a
    /// runnable, no task), so no other access to the queue can begin while it runs.
    #[inline]
    pub(super) unsafe fn with_local<R>(&self, f: impl FnOnce(&mut Local<M>) -> R) -> R {
        // SAFETY: forwarded from the caller: one thread, no reentrancy.
        self.local.with_mut(|local| f(unsafe { &mut *local }))
    }

    /// The schedule function's work on the home thread: queue `runnable` locally, and notify
    /// unless a drain is running or a notify is already pending: a wake from the loop's own
    /// code between drains (a timer callback, a spawn) must make the loop drain too. Gives the
    /// runnable back after shutdown (the caller drops it once it no longer borrows `self`).
    ///
    /// # Safety
    /// The caller is on the home thread.
    #[inline]
    pub(super) unsafe fn schedule_local(&self, runnable: Runnable<M>) -> Option<Runnable<M>> {
        // SAFETY: on the home thread (the caller's promise); pushing runs no user code.
        let queued = unsafe {
            self.with_local(|local| {
                if local.closed {
                    return Err(runnable);
                }
                local.queue.push_back(runnable);
                // Claim the home thread's notify: at most one between two drains.
                let claim = !local.draining && !local.notified;
                local.notified |= claim;
                Ok(claim)
            })
        };
        match queued {
            Ok(true) => {
                self.notify_on_home();
                None
            }
            Ok(false) => None,
            Err(runnable) => Some(runnable),
        }
    }

    /// Whether the home thread has a notify pending (issued since the last drain began).
    ///
    /// # Safety
    /// The caller is on the home thread.
    pub(super) unsafe fn notified_on_home(&self) -> bool {
        // SAFETY: on the home thread (the caller's promise); reading runs no user code.
        unsafe { self.with_local(|local| local.notified) }
    }

    /// Calls notify unless one is pending (or shutdown has begun).
    #[inline]
    fn notify(&self) {
        if self.signal.claim() {
            self.notify.with(|notify| {
                // SAFETY: we hold `NOTIFYING`: shutdown does not take the function out until
                // we clear it.
                if let Some(notify) = unsafe { &*notify } {
                    notify.call();
                }
            });
            self.signal.notified();
        }
    }

    /// The home thread's notify, claimed in its local state: skipped if a foreign notify is
    /// pending (its drain takes the local queue too) or shutdown has begun; no atomic
    /// read-modify-write either way ([`Signal::pending_or_shut_down`]).
    #[inline]
    fn notify_on_home(&self) {
        if !self.signal.pending_or_shut_down() {
            self.notify.with(|notify| {
                // SAFETY: shutdown takes the function out on this thread, never during this
                // call (notify must not call into the home), and sets `SHUTDOWN` first, which
                // `pending_or_shut_down` checked.
                if let Some(notify) = unsafe { &*notify } {
                    notify.call();
                }
            });
        }
    }

    /// The schedule function's work off the home thread: push `runnable` into the inbox and
    /// notify unless a notify is pending. Gives it back after shutdown.
    pub(super) fn schedule_foreign(&self, runnable: Runnable<M>) -> Option<Runnable<M>> {
        if let Err(runnable) = self.inbox.push(runnable) {
            return Some(runnable);
        }
        self.notify();
        None
    }

    /// Shutdown, on the home thread: bars notify, closes the inbox and the local queue, and
    /// drops every runnable they held, here. Wakes that run while the runnables are dropped
    /// (a destructor waking another task) queue theirs, which are dropped too.
    pub(super) fn shut_down(&self) {
        self.signal.shut_down();
        // SAFETY: shutdown waited for any notify call to return and no new one can start.
        let notify = self.notify.with_mut(|notify| unsafe { (*notify).take() });
        drop(notify);
        loop {
            // SAFETY: on the home thread (the `!Send` `Home` calls this); no user code runs
            // inside.
            let next = unsafe {
                self.with_local(|local| {
                    self.inbox.close_into(&mut local.queue);
                    let next = local.queue.pop_front();
                    if next.is_none() {
                        local.closed = true;
                    }
                    next
                })
            };
            match next {
                Some(runnable) => drop(runnable),
                None => break,
            }
        }
    }
}
