//! The task's state word: flag bits plus a reference count, and one method per transition.
//!
//! Every read-modify-write of the state word lives here. Each transition returns the state it
//! started from (or an enum saying what happened), so callers decide what to do next by asking
//! named questions of a [`State`] snapshot instead of masking bits themselves.

use crate::sync::atomic::{AtomicUsize, Ordering};

/// A `Runnable` for the task exists: queued, about to be, or polling the future right now.
/// Its holder alone may poll or drop the future.
const SCHEDULED: usize = 1 << 0;
/// Beside SCHEDULED: a wake came after the `Runnable`'s current poll may have started, so the
/// task must be polled once more (raw rule 5). `run` clears it before polling; only then does
/// starting a poll write the state word at all.
const NOTIFIED: usize = 1 << 1;
/// The future returned `Ready`; the output (or a panic) is stored, until CLOSED is also set.
const COMPLETED: usize = 1 << 2;
/// The task is cancelled, or its output has been taken: nobody may poll it or read the output.
const CLOSED: usize = 1 << 3;
/// The `Task` handle is alive.
const TASK: usize = 1 << 4;
/// A waker is stored in the awaiter slot.
const AWAITER: usize = 1 << 5;
/// The `Task` holder is writing the awaiter slot.
const REGISTERING: usize = 1 << 6;
/// Someone is taking the waker out of the awaiter slot to wake it.
const NOTIFYING: usize = 1 << 7;
/// The stored output is a panic payload (only with panic propagation).
const PANICKED: usize = 1 << 8;
/// Set at spawn, never changed: a panic in `poll` becomes the task's output.
const PROPAGATE_PANIC: usize = 1 << 9;
/// One of the references is a `CallbackTask`'s watcher (rule 14). It waits for the task to
/// finish, so it never counts as a way to wake the task: when it is the only reference left
/// and no `Task` handle exists, nothing can wake the task, which is then cancelled as an
/// unreferenced one would be (rules 7 and 16).
const WATCHED: usize = 1 << 10;
/// One unit of the reference count, which counts the `Runnable`, every `Waker` and watcher.
const REFERENCE: usize = 1 << 11;

/// Flags that are fixed for the life of the task.
const IMMUTABLE: usize = PROPAGATE_PANIC;

/// A snapshot of the state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct State(usize);

impl State {
    #[inline(always)]
    fn has(self, bits: usize) -> bool {
        self.0 & bits != 0
    }

    /// A `Runnable` exists (queued, or polling the future).
    #[inline(always)]
    pub(crate) fn is_scheduled(self) -> bool {
        self.has(SCHEDULED)
    }

    /// Woken since the `Runnable`'s current poll may have started: it must poll again.
    #[inline(always)]
    pub(crate) fn is_notified(self) -> bool {
        self.has(NOTIFIED)
    }

    /// The future finished (with an output or a stored panic).
    #[inline(always)]
    pub(crate) fn is_completed(self) -> bool {
        self.has(COMPLETED)
    }

    /// The task was cancelled or its output was taken.
    #[inline(always)]
    pub(crate) fn is_closed(self) -> bool {
        self.has(CLOSED)
    }

    /// Completed or closed: the future will never be polled again.
    #[inline(always)]
    pub(crate) fn is_done(self) -> bool {
        self.has(COMPLETED | CLOSED)
    }

    /// Finished for good: completed, or closed with no `Runnable` left, so the future has been
    /// dropped (raw rule 4).
    #[inline(always)]
    pub(crate) fn is_finished(self) -> bool {
        self.is_completed() || (self.is_closed() && !self.is_scheduled())
    }

    /// The `Task` handle is alive.
    #[inline(always)]
    pub(crate) fn has_task(self) -> bool {
        self.has(TASK)
    }

    /// A waker sits in the awaiter slot.
    #[inline(always)]
    pub(crate) fn has_awaiter(self) -> bool {
        self.has(AWAITER)
    }

    /// The stored output is a panic payload.
    #[inline(always)]
    pub(crate) fn is_panicked(self) -> bool {
        self.has(PANICKED)
    }

    /// A panic in `poll` is to be stored as the output.
    #[inline(always)]
    pub(crate) fn propagates_panic(self) -> bool {
        self.has(PROPAGATE_PANIC)
    }

    /// The number of `Runnable` and `Waker` references.
    #[inline(always)]
    pub(crate) fn refs(self) -> usize {
        self.0 / REFERENCE
    }

    /// Seen by a `Runnable` holder outside a poll: its reference is the only one, and no `Task`
    /// or awaiter exists, so nothing but the `Runnable` can reach the task (raw rule 12).
    #[inline(always)]
    pub(crate) fn runnable_alone(self) -> bool {
        self.refs() == 1 && !self.has_task() && !self.has_awaiter()
    }

    /// Completed with the output still stored: not closed, so nobody took it or dropped it.
    #[inline(always)]
    pub(crate) fn has_output(self) -> bool {
        self.is_completed() && !self.is_closed()
    }

    /// What detaching does for a `Task` holder alone with a finished task (raw rule 12), which
    /// needs no write: take the output and free the task, or only free it (closed, nothing to
    /// take). `None` if the holder is not alone or the task is not finished.
    #[inline(always)]
    pub(crate) fn detach_alone_finished(self) -> Option<Detach> {
        if !self.task_alone() {
            None
        } else if self.has_output() {
            Some(Detach::TakeOutputAndDestroy {
                panicked: self.is_panicked(),
            })
        } else if self.is_closed() {
            Some(Detach::Destroy)
        } else {
            None
        }
    }

    /// Seen by the `Task` holder: no `Runnable` and no waker exists, so nothing but the `Task`
    /// handle can reach the task (raw rule 12).
    #[inline(always)]
    pub(crate) fn task_alone(self) -> bool {
        self.refs() == 0 && self.has_task()
    }

    /// Seen by a completing `Runnable`: a `Task` handle (which keeps the allocation alive and
    /// will take the output) exists, the task is not closed, and no awaiter waits to be woken,
    /// so after storing COMPLETED the `Runnable` would only release its reference.
    #[inline(always)]
    pub(crate) fn task_takes_output(self) -> bool {
        // has_task() && !is_closed() && !has_awaiter(), in one mask: the completion's common case.
        self.0 & (TASK | CLOSED | AWAITER) == TASK
    }

    /// Seen by a completing `Runnable`: a `Task` handle awaits the output (it registered a
    /// waker that nobody is registering or notifying), and the task is not closed, so the
    /// completion claims the awaiter slot and keeps the output for the handle.
    #[inline(always)]
    pub(crate) fn task_awaits_output(self) -> bool {
        // has_task() && !is_closed() && awaiter_claimable(), in one mask: an awaited join.
        self.0 & (TASK | CLOSED | AWAITER | NOTIFYING | REGISTERING) == TASK | AWAITER
    }

    /// The state a completion stores when it finds this one, with what the completing
    /// `Runnable` does next ([`StateCell::complete`]). The most common case comes first.
    /// `plain_output`: the output has no destructor (and `panic_bit` says whether it is a
    /// panic payload, which has one).
    #[inline(always)]
    fn completed(self, panic_bit: usize, plain_output: bool) -> (usize, Complete) {
        let stored = (self.0 & !(SCHEDULED | NOTIFIED)) | COMPLETED | panic_bit;
        if self.task_takes_output() {
            // The `Task` handle takes the output and nobody waits: release with this step.
            return (stored - REFERENCE, Complete::Released);
        }
        if self.runnable_alone() {
            return ((stored | CLOSED) - REFERENCE, Complete::Alone);
        }
        let closed = if self.has_task() { 0 } else { CLOSED };
        let drop_output = !self.has_task() || self.is_closed();
        if drop_output && plain_output && panic_bit == 0 && !self.has_awaiter() {
            // Nobody will take the output, dropping it does nothing and nobody waits: release
            // with this step too. Another reference or the `Task` handle remains (otherwise
            // the `Runnable` would be alone) and frees the task.
            return ((stored | closed) - REFERENCE, Complete::Released);
        }
        if self.awaiter_claimable() {
            // Claiming the awaiter slot here spares the notification its own first step.
            (
                stored | closed | NOTIFYING,
                Complete::ClaimedAwaiter { drop_output },
            )
        } else {
            (
                stored | closed,
                Complete::Release {
                    prev: self,
                    drop_output,
                },
            )
        }
    }

    /// Seen by the registrar: no waker is registered, nobody registers or notifies. Only the
    /// registrar sets AWAITER and notifiers touch the slot only while it is set, so the empty
    /// slot is the registrar's to fill before it publishes it
    /// ([`StateCell::publish_awaiter`]).
    #[inline(always)]
    pub(crate) fn awaiter_slot_free(self) -> bool {
        !self.has(AWAITER | REGISTERING | NOTIFYING)
    }

    /// Seen before a notifier's transition: a waker sits in the awaiter slot and nobody is
    /// registering or notifying, so setting NOTIFYING in that transition gives the notifier
    /// the slot (what [`StateCell::begin_notify`] does in a step of its own).
    #[inline(always)]
    pub(crate) fn awaiter_claimable(self) -> bool {
        self.has_awaiter() && !self.has(NOTIFYING | REGISTERING)
    }

    /// Seen by a `Runnable` whose poll returned `Pending`: the task was neither closed nor woken
    /// meanwhile, so the `Runnable` has nothing left to do but release its reference.
    #[inline(always)]
    pub(crate) fn releases_at_pending(self) -> bool {
        !self.is_closed() && !self.is_notified()
    }

    /// The caller's reference is the only one and no `Task` handle exists: releasing it leaves
    /// the task unreferenced, owned by the caller.
    #[inline(always)]
    pub(crate) fn last_reference_without_task(self) -> bool {
        self.refs() == 1 && !self.has_task()
    }

    /// No reference and no `Task` handle remain: whoever saw this state owns the allocation.
    #[inline(always)]
    pub(crate) fn is_unreferenced(self) -> bool {
        self.refs() == 0 && !self.has_task()
    }

    /// The only reference left is a `CallbackTask`'s watcher, no `Task` handle exists and the
    /// future lives, idle: nothing can wake the task any more (rule 16). Whoever saw this must
    /// cancel it with [`StateCell::close_orphan`].
    #[cfg(feature = "std")]
    #[inline(always)]
    pub(crate) fn is_orphaned(self) -> bool {
        self.has(WATCHED)
            && self.refs() == 1
            && !self.has_task()
            && !self.is_done()
            && !self.is_scheduled()
    }

    /// Seen by a `Runnable` whose poll returned `Pending`, not closed and not woken: its
    /// reference and a watcher's are the only ones, and no `Task` handle exists, so once it lets
    /// go nothing can wake the task (rule 16): it drops the future instead.
    #[inline(always)]
    pub(crate) fn orphaned_at_pending(self) -> bool {
        self.has(WATCHED) && self.refs() == 2 && !self.has_task()
    }

    /// The number of references is beyond what the counter can hold safely.
    #[inline(always)]
    fn overflowed(self) -> bool {
        self.0 > isize::MAX as usize
    }
}

impl State {
    /// The task's life-cycle stage in words, for `Debug` output.
    pub(crate) fn stage(self) -> &'static str {
        match (
            self.is_closed(),
            self.is_completed(),
            self.is_scheduled(),
            self.is_notified(),
        ) {
            (true, true, _, _) => "closed, output taken or dropped",
            (true, false, _, _) => "cancelled",
            (false, true, _, _) => {
                if self.is_panicked() {
                    "completed by a panic, not yet taken"
                } else {
                    "completed, output not yet taken"
                }
            }
            (false, false, true, true) => "scheduled, woken again",
            (false, false, true, false) => "scheduled",
            (false, false, false, _) => "idle, waiting for a wake",
        }
    }
}

impl core::fmt::Debug for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let handle = if self.has_task() {
            "alive"
        } else {
            "detached or dropped"
        };
        f.debug_struct("State")
            .field("stage", &format_args!("{}", self.stage()))
            .field("references", &self.refs())
            .field("task_handle", &format_args!("{handle}"))
            .field("awaiter", &self.has_awaiter())
            .finish()
    }
}

/// What a wake did to the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// The task is completed or closed: nothing happened. A by-value waker still holds its
    /// reference and must release it.
    Done,
    /// A `Runnable` exists (queued or polling); the task is now marked NOTIFIED. A by-value
    /// waker's reference was released in the same step (it was not the last: the `Runnable`
    /// holds one).
    Marked,
    /// The task was idle and is now scheduled: the caller owns a reference for the new
    /// `Runnable` (a by-value waker's own, or a fresh one for a by-reference wake) and must
    /// hand it to the schedule function.
    Schedule,
}

/// What a completion did, and so what the completing `Runnable` does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Complete {
    /// The `Runnable` was alone (raw rule 12): the caller owns the task, drops the output
    /// nobody can take and frees it.
    Alone,
    /// The `Runnable`'s reference went with the step: a `Task` handle will take the output and
    /// free the task, or nobody will take an output that needs no drop and another holder
    /// frees it; the caller must not touch it again.
    Released,
    /// The step claimed the awaiter slot (NOTIFYING): the caller takes the waker out, ends the
    /// notification and releases its reference in one step
    /// ([`StateCell::end_notify_and_release`]), then wakes it. `drop_output`: nobody can take
    /// the output any more (rule 3).
    ClaimedAwaiter { drop_output: bool },
    /// Anything else: drop the output if `drop_output`, then take the awaiter (if `prev`, the
    /// state the step started from, had one), release the reference and wake the awaiter.
    Release { prev: State, drop_output: bool },
}

/// What cancelling from the `Task` side did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Close {
    /// The task was completed or closed already.
    AlreadyDone,
    /// Closed; a `Runnable` exists and will drop the future.
    Closed { had_awaiter: bool },
    /// Closed an idle task; the caller owns a new reference and must schedule it so that the
    /// executor drops the future.
    ClosedSchedule { had_awaiter: bool },
}

/// What cancelling and detaching a dropped `Task` in one step did
/// ([`StateCell::close_and_detach`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseDetach {
    /// Closed and detached; the `Runnable` drops the future and frees the task.
    Detached,
    /// Closed and detached an idle task; the caller owns a new reference and must schedule it
    /// so that the executor drops the future.
    Schedule,
    /// Closed and detached, with the awaiter slot claimed (NOTIFYING) and the handle turned
    /// into a reference. The caller schedules the task if `schedule` (it was idle: the state
    /// counts a reference for the new `Runnable` too), takes the waker out, ends the
    /// notification and releases that reference in one step
    /// ([`StateCell::end_notify_and_release`]), frees the task if that left it unreferenced,
    /// and wakes the waker.
    ClaimedAwaiter { schedule: bool },
    /// Nothing written: the task is done, or someone else is registering or notifying the
    /// awaiter. Cancel, then detach.
    Apart,
}

/// What aborting through a reference that is not the `Task` handle (an `AbortHandle`) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Abort {
    /// The task was completed or closed already: nothing changed.
    AlreadyDone,
    /// Closed; a `Runnable` exists and will drop the future, then notify the awaiter.
    Closed,
    /// Closed an idle task; the caller owns a new reference and must schedule it so that the
    /// executor drops the future (and then notifies the awaiter).
    ClosedSchedule,
}

/// What one step of detaching the `Task` handle did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detach {
    /// The output was stored and is now marked taken (CLOSED): the caller must move it out and
    /// try again.
    TakeOutput,
    /// The handle was alone with a stored output (raw rule 12): the caller must move the output
    /// out (`panicked`: it is a panic payload) and destroy the task; nothing was written.
    TakeOutputAndDestroy { panicked: bool },
    /// The handle is gone; other references remain.
    Detached,
    /// The handle was the last owner of a closed task: the caller must destroy it.
    Destroy,
    /// The handle was the last owner of a live future: the state now holds one reference, the
    /// caller must schedule it one last time so the executor drops the future.
    Schedule,
}

/// The atomic state word of one task.
pub(crate) struct StateCell(AtomicUsize);

impl StateCell {
    /// The state of a freshly spawned task: scheduled, with a `Task` handle and one reference
    /// held by the `Runnable`; with `spare_hold`, a second one the `Runnable` carries for the
    /// call of the schedule function that usually follows a spawn (raw rule 6).
    pub(crate) fn new(propagate_panic: bool, spare_hold: bool) -> StateCell {
        let propagate = if propagate_panic { PROPAGATE_PANIC } else { 0 };
        let spare = if spare_hold { REFERENCE } else { 0 };
        StateCell(AtomicUsize::new(
            SCHEDULED | TASK | (REFERENCE + spare) | propagate,
        ))
    }

    /// Releases a spawn's spare schedule hold that no schedule call used (its `Runnable` is run,
    /// dropped or made raw first). Never the last reference: the `Runnable`'s own remains.
    #[inline]
    pub(crate) fn release_spare_hold(&self) {
        let old = State(self.0.fetch_sub(REFERENCE, Ordering::Release));
        debug_assert!(
            old.refs() >= 2,
            "a spare hold without the Runnable's reference"
        );
    }

    #[inline(always)]
    pub(crate) fn load(&self) -> State {
        State(self.0.load(Ordering::Acquire))
    }

    /// Applies `step` until the compare-exchange succeeds; `step` returns `None` to stop without
    /// writing. Returns the state the successful step started from, or `Err` with the state that
    /// made `step` stop.
    #[inline(always)]
    fn transition(&self, step: impl FnMut(State) -> Option<usize>) -> Result<State, State> {
        self.transition_from(self.load(), step)
    }

    /// [`transition`](Self::transition), starting from a state the caller has just loaded.
    #[inline(always)]
    fn transition_from(
        &self,
        current: State,
        mut step: impl FnMut(State) -> Option<usize>,
    ) -> Result<State, State> {
        let mut current = current.0;
        loop {
            let Some(new) = step(State(current)) else {
                return Err(State(current));
            };
            match self
                .0
                .compare_exchange_weak(current, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(State(current)),
                Err(actual) => current = actual,
            }
        }
    }

    /// Adds a reference (a waker clone). Aborts if the count overflows.
    #[inline(always)]
    pub(crate) fn add_ref(&self) {
        // Relaxed suffices: the new reference is made from an existing one, which already keeps
        // the task alive and its contents visible.
        let old = State(self.0.fetch_add(REFERENCE, Ordering::Relaxed));
        if old.overflowed() {
            crate::abort::abort("rawtask: task reference count overflowed");
        }
    }

    /// Adds a reference to a task that no other thread can reach yet: a plain load and store,
    /// with nothing to race with. No overflow check: such a task holds only the references
    /// its spawn counted (at most three).
    ///
    /// # Safety
    /// No pointer to the task (handle, waker or raw pointer) has left the current thread.
    #[cfg(feature = "std")]
    #[inline(always)]
    pub(crate) unsafe fn add_ref_unshared(&self) {
        let old = State(self.0.load(Ordering::Relaxed));
        debug_assert!(
            old.refs() <= 3,
            "a task shared before its last unshared reference"
        );
        self.0.store(old.0 + REFERENCE, Ordering::Relaxed);
    }

    /// Writes the state of a task that only the caller can reach (raw rule 12): the caller saw
    /// [`State::runnable_alone`] or [`State::task_alone`] with an acquire load, so no other
    /// thread reads or writes the word until the caller hands a pointer to the task over, which
    /// synchronises by itself. A plain store then does what a read-modify-write would.
    #[inline(always)]
    fn store_alone(&self, new: usize) {
        self.0.store(new, Ordering::Relaxed);
    }

    /// Clears TASK on a task that no other thread can reach yet and that has not run (raw rule
    /// 11): it has no output to take and its `Runnable` holds a reference, so detaching only
    /// clears the bit.
    ///
    /// # Safety
    /// No pointer to the task has left the current thread, and the task has not run.
    #[cfg(feature = "std")]
    #[inline(always)]
    pub(crate) unsafe fn detach_unshared(&self) {
        let old = State(self.0.load(Ordering::Relaxed));
        debug_assert!(old.refs() >= 1 && old.has_task() && !old.is_done());
        self.0.store(old.0 & !TASK, Ordering::Relaxed);
    }

    /// Releases a reference and returns the new state. If it `is_unreferenced`, the caller now
    /// owns the allocation; if it [`is_orphaned`](State::is_orphaned), the caller must cancel
    /// the task.
    #[inline(always)]
    pub(crate) fn release_ref(&self) -> State {
        State(self.0.fetch_sub(REFERENCE, Ordering::AcqRel) - REFERENCE)
    }

    /// Adds the reference of a `CallbackTask`'s watcher, marking it as one (rule 16). Called by
    /// the `Task` holder, at most once per task.
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn add_watcher_ref(&self) {
        let old = State(self.0.fetch_add(REFERENCE | WATCHED, Ordering::Relaxed));
        debug_assert!(
            !old.has(WATCHED),
            "a task has at most one CallbackTask watcher"
        );
        if old.overflowed() {
            crate::abort::abort("rawtask: task reference count overflowed");
        }
    }

    /// Releases the watcher's reference and its mark; returns the new state, as
    /// [`release_ref`](Self::release_ref).
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn release_watcher_ref(&self) -> State {
        let released = REFERENCE + WATCHED;
        State(self.0.fetch_sub(released, Ordering::AcqRel) - released)
    }

    /// Cancels a task that nothing can wake any more (rule 16): closed and scheduled with a new
    /// reference, for a final run that drops the future. `false` if the state moved on (only
    /// the watcher's awaiter bits can change meanwhile, so in practice it never does).
    #[cfg(feature = "std")]
    #[cold]
    pub(crate) fn close_orphan(&self) -> bool {
        self.transition(|s| {
            if s.is_orphaned() {
                Some((s.0 | SCHEDULED | CLOSED) + REFERENCE)
            } else {
                None
            }
        })
        .is_ok()
    }

    /// The last reference of a task whose future was never dropped: marks it closed and
    /// scheduled with one reference, for a final run that drops the future. Only valid while the
    /// caller owns the allocation (`is_unreferenced`).
    pub(crate) fn reschedule_for_drop(&self, owned: State) {
        let immutable = owned.0 & IMMUTABLE;
        self.0.store(
            SCHEDULED | CLOSED | REFERENCE | immutable,
            Ordering::Release,
        );
    }

    /// Wakes the task. With `by_value`, the caller gives up the reference of the waker it
    /// consumes; otherwise it keeps it.
    #[inline]
    ///
    /// With `hold` (the schedule function has captured state, rule 6), scheduling an idle task
    /// also adds the reference that keeps that function alive during its call, in the same
    /// step: the caller then owns it too and releases it after the call.
    pub(crate) fn wake(&self, by_value: bool, hold: bool) -> Wake {
        let mut outcome = Wake::Done;
        // The references a wake of an idle task adds: one for the new `Runnable` unless the
        // consumed waker's becomes it, and one for the hold.
        let added = (if by_value { 0 } else { REFERENCE }) + (if hold { REFERENCE } else { 0 });
        let result = self.transition(|s| {
            if s.is_done() {
                outcome = Wake::Done;
                None
            } else if s.is_scheduled() {
                // The `Runnable` (which holds a reference) may be polling right now: mark the
                // task so that it polls once more (rule 5). The write also publishes this
                // thread's view of memory to the thread that runs the task: the runner's
                // next read-modify-write (clearing NOTIFIED, or finishing the poll) reads it.
                outcome = Wake::Marked;
                let released = if by_value { REFERENCE } else { 0 };
                Some((s.0 | NOTIFIED) - released)
            } else {
                outcome = Wake::Schedule;
                Some((s.0 | SCHEDULED) + added)
            }
        });
        if let Ok(prev) = result {
            if outcome == Wake::Schedule && added != 0 && prev.overflowed() {
                crate::abort::abort("rawtask: task reference count overflowed");
            }
        }
        outcome
    }

    /// Before a poll: `Err` if the task was closed (cancelled); the caller still holds the
    /// `Runnable`'s reference and SCHEDULED either way.
    ///
    /// Holding SCHEDULED already gives the caller the future, so starting a poll writes
    /// nothing unless the task was woken since its last poll began (NOTIFIED): that mark is
    /// cleared here, so that a wake during the coming poll is told from one before it (rule
    /// 5). A load that misses a concurrent wake or close is harmless: the poll's own end reads
    /// the state with a read-modify-write and polls again, or drops the future. A `Runnable`
    /// that is alone (raw rule 12) clears the mark with a plain store.
    #[inline(always)]
    pub(crate) fn start_running(&self) -> Result<State, State> {
        let s = self.load();
        if s.is_closed() {
            return Err(s);
        }
        if !s.is_notified() {
            return Ok(s);
        }
        if s.runnable_alone() {
            self.store_alone(s.0 & !NOTIFIED);
            return Ok(s);
        }
        self.transition_from(s, |s| {
            if s.is_closed() {
                None
            } else {
                Some(s.0 & !NOTIFIED)
            }
        })
    }

    /// The future returned `Ready` (or panicked with propagation): stores COMPLETED. If no
    /// `Task` handle remains, the task is also closed, as nobody will take the output. Says what
    /// the completing `Runnable` must do next ([`Complete`]).
    ///
    /// When the `Runnable` has nothing left to do with the task after this step, its reference
    /// is released in the same step, saving an atomic operation: either nothing else can reach
    /// the task and the caller now owns it outright ([`State::runnable_alone`]), or a `Task`
    /// handle will take the output and the caller must not touch the task again, or nobody
    /// will take an output that needs no drop and nobody waits (`plain_output`: `T` has no
    /// drop glue). When a waker sits in the awaiter slot and nobody registers, the step also
    /// claims the slot ([`State::awaiter_claimable`]).
    ///
    /// A `Runnable` that is alone (raw rule 12) writes nothing: it frees the task right away.
    #[inline(always)]
    pub(crate) fn complete(&self, panicked: bool, plain_output: bool) -> Complete {
        let s = self.load();
        if s.runnable_alone() {
            return Complete::Alone;
        }
        let panic_bit = if panicked { PANICKED } else { 0 };
        let mut current = s.0;
        // The two common cases (a `Task` that takes the output later, or one that awaits it
        // now) get a compare-exchange each, so that success returns straight to the caller's
        // matching arm instead of through the loop's general dispatch: inside each branch the
        // compiler knows which `Complete` the step returns.
        if s.task_takes_output() {
            match self.complete_once(s, panic_bit, plain_output) {
                Ok(then) => return then,
                Err(actual) => current = actual,
            }
        }
        if s.task_awaits_output() {
            match self.complete_once(s, panic_bit, plain_output) {
                Ok(then) => return then,
                Err(actual) => current = actual,
            }
        }
        loop {
            let (new, then) = State(current).completed(panic_bit, plain_output);
            match self
                .0
                .compare_exchange_weak(current, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return then,
                Err(actual) => current = actual,
            }
        }
    }

    /// One attempt of [`complete`](Self::complete) from `s`: what the step returns, or the
    /// state found instead.
    #[inline(always)]
    fn complete_once(
        &self,
        s: State,
        panic_bit: usize,
        plain_output: bool,
    ) -> Result<Complete, usize> {
        let (new, then) = s.completed(panic_bit, plain_output);
        self.0
            .compare_exchange(s.0, new, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| then)
    }

    /// Ends a notification begun by [`complete`](Self::complete) (the previous state was
    /// [`awaiter_claimable`](State::awaiter_claimable)) and releases the completing `Runnable`'s
    /// reference, in one step: NOTIFYING and AWAITER are known to be set (nobody else clears
    /// them while NOTIFYING is held), so subtracting them clears them. Returns the new state;
    /// if it [`is_unreferenced`](State::is_unreferenced), the caller owns the task.
    #[inline(always)]
    pub(crate) fn end_notify_and_release(&self) -> State {
        let bits = NOTIFYING | AWAITER | REFERENCE;
        let old = State(self.0.fetch_sub(bits, Ordering::AcqRel));
        debug_assert!(old.has(NOTIFYING) && old.has_awaiter() && old.refs() >= 1);
        State(old.0 - bits)
    }

    /// The future returned `Pending`: clears SCHEDULED (and NOTIFIED if the task was closed
    /// meanwhile). When closed, `on_closed` runs first (possibly more than once), while
    /// SCHEDULED is still held, to drop the future. Returns the previous state.
    ///
    /// If the task was woken since the poll began (NOTIFIED, and not closed), SCHEDULED stays
    /// and the caller's reference goes to the `Runnable` it schedules again (raw rule 5).
    /// Without `hold` nothing is written: NOTIFIED stays too, and the new `Runnable` clears it
    /// when it runs, or with SCHEDULED when it is dropped. With `hold` (the schedule function
    /// has captured state, rule 6) one read-modify-write adds the reference that keeps the
    /// function alive during its call and clears NOTIFIED, so that the new `Runnable` starts
    /// with a load; the caller releases the hold after the call.
    ///
    /// `woken_here`: the task woke itself on this thread during the poll, which was recorded
    /// in the thread instead of the state word (rule 17). It counts as NOTIFIED in every
    /// snapshot here, including the one returned; the word itself never gets the bit, so the
    /// new `Runnable` starts with a load either way.
    ///
    /// If the task was neither closed nor woken meanwhile ([`State::releases_at_pending`]), the
    /// `Runnable`'s reference is released in the same step; the caller then owns the task if
    /// that was the last owner ([`State::last_reference_without_task`]) and must not touch it
    /// otherwise. A `Runnable` that would release the last reference writes nothing: nobody
    /// else can reach the task (raw rule 12), and the caller frees it.
    #[inline(always)]
    pub(crate) fn finish_pending(
        &self,
        mut on_closed: impl FnMut(),
        hold: bool,
        woken_here: bool,
    ) -> State {
        let here = if woken_here { NOTIFIED } else { 0 };
        let seen = |s: State| State(s.0 | here);
        let s = self.load();
        if seen(s).releases_at_pending() && s.last_reference_without_task() {
            return s;
        }
        let result = self.transition_from(s, |s| {
            let s = seen(s);
            if s.is_closed() {
                on_closed();
                Some(s.0 & !(SCHEDULED | NOTIFIED))
            } else if s.is_notified() {
                if hold {
                    Some((s.0 & !NOTIFIED) + REFERENCE)
                } else {
                    None
                }
            } else if s.orphaned_at_pending() {
                // Rule 16: nothing could wake it after this; close it and drop the future now.
                on_closed();
                Some((s.0 | CLOSED) & !(SCHEDULED | NOTIFIED))
            } else {
                Some((s.0 & !SCHEDULED) - REFERENCE)
            }
        });
        let prev = match result {
            Ok(prev) => seen(prev),
            Err(prev) => return seen(prev),
        };
        if hold && prev.is_notified() && !prev.is_closed() && prev.overflowed() {
            crate::abort::abort("rawtask: task reference count overflowed");
        }
        prev
    }

    /// After a `Runnable` dropped a closed task's future: clears SCHEDULED and NOTIFIED (the
    /// release makes the drop visible to a `Task` waiting in `cancel`) and, unless an awaiter
    /// waits to be woken, releases the `Runnable`'s reference in the same step. Returns the
    /// previous state: if it
    /// [`has_awaiter`](State::has_awaiter), the caller still holds its reference; otherwise it
    /// owns the task if that was the last owner ([`State::last_reference_without_task`]) and
    /// must not touch it otherwise.
    #[inline]
    pub(crate) fn unschedule_and_release(&self) -> State {
        // NOTIFIED goes too: a `Runnable` scheduled again after a wake during its poll leaves
        // it set (`finish_pending`).
        self.transition(|s| {
            if s.has_awaiter() {
                Some(s.0 & !(SCHEDULED | NOTIFIED))
            } else {
                Some((s.0 & !(SCHEDULED | NOTIFIED)) - REFERENCE)
            }
        })
        .unwrap_or_else(|s| s)
    }

    /// A `Runnable` is dropped without running: closes the task unless it is already done.
    #[inline]
    pub(crate) fn close_from_runnable(&self) {
        let _ = self.transition(|s| {
            if s.is_done() {
                None
            } else {
                Some(s.0 | CLOSED)
            }
        });
    }

    /// The future panicked without propagation: closes the task and clears SCHEDULED and
    /// NOTIFIED. Returns the previous state.
    pub(crate) fn close_after_panic(&self) -> State {
        self.transition(|s| Some((s.0 & !(SCHEDULED | NOTIFIED)) | CLOSED))
            .unwrap_or_else(|s| s)
    }

    /// Cancels from the `Task` side.
    pub(crate) fn close_from_task(&self) -> Close {
        match self.transition(|s| {
            if s.is_done() {
                None
            } else if s.has(SCHEDULED | NOTIFIED) {
                Some(s.0 | CLOSED)
            } else {
                // Idle: schedule it once more (with a new reference) so that the executor,
                // not the `Task` holder, drops the future.
                Some((s.0 | SCHEDULED | CLOSED) + REFERENCE)
            }
        }) {
            Err(_) => Close::AlreadyDone,
            Ok(prev) if prev.has(SCHEDULED | NOTIFIED) => Close::Closed {
                had_awaiter: prev.has_awaiter(),
            },
            Ok(prev) => Close::ClosedSchedule {
                had_awaiter: prev.has_awaiter(),
            },
        }
    }

    /// Cancels and detaches in one step, for a dropped `Task` whose task is neither completed
    /// nor closed: what [`close_from_task`](Self::close_from_task) followed at once by
    /// [`detach`](Self::detach) would store. A scheduled task is closed for its `Runnable` to
    /// drop the future; an idle one is also scheduled once more, with a new reference the
    /// caller hands to the schedule function (rule 6: that reference, not the handle, keeps
    /// the task alive across the call). A waker in the awaiter slot, which the close must
    /// wake, is claimed in the same step (NOTIFYING, as a completion claims it), and the
    /// handle becomes a reference that keeps the task alive until the caller has taken the
    /// waker out and ended the notification with
    /// [`end_notify_and_release`](Self::end_notify_and_release).
    /// [`CloseDetach::Apart`], with nothing written: the task is done, or someone else is
    /// registering or notifying the awaiter, so the caller takes the two steps.
    #[inline]
    pub(crate) fn close_and_detach(&self, seen: State) -> CloseDetach {
        let mut outcome = CloseDetach::Detached;
        let step = self.transition_from(seen, |s| {
            if s.is_done() || (s.has_awaiter() && !s.awaiter_claimable()) {
                return None;
            }
            let schedule = !s.has(SCHEDULED | NOTIFIED);
            // An idle task gets a `Runnable` (and its reference) for the future's drop.
            let (scheduled, runnable_ref) = if schedule {
                (SCHEDULED, REFERENCE)
            } else {
                (0, 0)
            };
            let closed = (s.0 | CLOSED | scheduled) & !TASK;
            if s.has_awaiter() {
                outcome = CloseDetach::ClaimedAwaiter { schedule };
                Some((closed | NOTIFYING) + runnable_ref + REFERENCE)
            } else {
                outcome = if schedule {
                    CloseDetach::Schedule
                } else {
                    // The `Runnable` holds a reference: the task outlives the handle.
                    CloseDetach::Detached
                };
                Some(closed + runnable_ref)
            }
        });
        match step {
            Ok(_) => outcome,
            Err(_) => CloseDetach::Apart,
        }
    }

    /// Cancels from a reference that is not the `Task` handle (an `AbortHandle`, which holds a
    /// reference as a waker does): the same bits as [`close_from_task`](Self::close_from_task)
    /// (closes an unfinished task; an idle one is also scheduled, with a new reference, so
    /// that the executor drops its future, rule 2), but the caller never notifies the
    /// awaiter itself: the `Runnable` that drops the future does, after clearing SCHEDULED
    /// (rule 4), so the awaiter is woken once, when the cancellation is final.
    ///
    /// The caller's reference means nobody else is alone with the task (rule 12), and keeps
    /// the task (and its schedule function) alive across the schedule call (rule 6).
    pub(crate) fn abort(&self) -> Abort {
        match self.transition(|s| {
            if s.is_done() {
                None
            } else if s.has(SCHEDULED | NOTIFIED) {
                Some(s.0 | CLOSED)
            } else {
                Some((s.0 | SCHEDULED | CLOSED) + REFERENCE)
            }
        }) {
            Err(_) => Abort::AlreadyDone,
            Ok(prev) if prev.has(SCHEDULED | NOTIFIED) => Abort::Closed,
            Ok(prev) => {
                if prev.overflowed() {
                    crate::abort::abort("rawtask: task reference count overflowed");
                }
                Abort::ClosedSchedule
            }
        }
    }

    /// Marks a completed output as taken, starting from `seen`, a state the `Task` holder has
    /// just loaded. `Ok` with the previous state if the caller may now move the output out;
    /// `Err` if it is not completed or already closed. A `Task` that is alone (raw rule 12)
    /// marks it with a plain store.
    #[inline]
    pub(crate) fn take_output(&self, seen: State) -> Result<State, State> {
        if seen.task_alone() && seen.has_output() {
            self.store_alone(seen.0 | CLOSED);
            return Ok(seen);
        }
        self.transition_from(seen, |s| {
            if s.has_output() {
                Some(s.0 | CLOSED)
            } else {
                None
            }
        })
    }

    /// One step of dropping or detaching the `Task` handle; call until it returns anything but
    /// `TakeOutput`. A `Task` that is alone (raw rule 12) uses a plain store, or none. With
    /// `plain_output` (`T` has no drop glue), a stored output that is not a panic is marked
    /// taken and the handle let go in the same step: there is nothing to move out or drop.
    #[inline]
    pub(crate) fn detach(&self, plain_output: bool) -> Detach {
        let s = self.load();
        if let Some(outcome) = s.detach_alone_finished() {
            return outcome;
        }
        if s.task_alone() {
            // Alone with an idle task: its future is still there, for a `Runnable` to drop.
            self.store_alone(SCHEDULED | CLOSED | REFERENCE | (s.0 & IMMUTABLE));
            return Detach::Schedule;
        }
        let mut outcome = Detach::Detached;
        let _ = self.transition_from(s, |s| {
            if s.has_output() && plain_output && !s.is_panicked() {
                outcome = if s.refs() == 0 {
                    Detach::Destroy
                } else {
                    Detach::Detached
                };
                Some((s.0 | CLOSED) & !TASK)
            } else if s.has_output() {
                outcome = Detach::TakeOutput;
                Some(s.0 | CLOSED)
            } else if s.refs() == 0 && !s.is_closed() {
                outcome = Detach::Schedule;
                Some(SCHEDULED | CLOSED | REFERENCE | (s.0 & IMMUTABLE))
            } else if s.has(WATCHED) && s.refs() == 1 && !s.is_closed() {
                // Rule 16: the watcher's reference cannot wake the idle task, so the handle was
                // the last way to reach it: cancel it as above, keeping the watcher's
                // reference and its awaiter bits.
                outcome = Detach::Schedule;
                Some(((s.0 & !TASK) | SCHEDULED | CLOSED) + REFERENCE)
            } else if s.refs() == 0 {
                outcome = Detach::Destroy;
                Some(s.0 & !TASK)
            } else {
                outcome = Detach::Detached;
                Some(s.0 & !TASK)
            }
        });
        outcome
    }

    // ----- the awaiter slot -----

    /// Starts a notification: `true` if the caller may take the waker out of the awaiter slot.
    /// Writes nothing when no waker is registered and nobody registers (an empty slot belongs
    /// to the registrar, which may be filling it right now: see
    /// [`publish_awaiter`](Self::publish_awaiter)) or when someone else is notifying. While the
    /// registrar holds REGISTERING, the notification is handed to it: NOTIFYING is set and the
    /// registrar wakes the waker when it ends its registration.
    #[inline]
    pub(crate) fn begin_notify(&self) -> bool {
        self.transition(|s| {
            if s.has(NOTIFYING) || !s.has(AWAITER | REGISTERING) {
                None
            } else {
                Some(s.0 | NOTIFYING)
            }
        })
        .is_ok_and(|prev| !prev.has(REGISTERING))
    }

    /// Ends a notification that took the waker out.
    #[inline]
    pub(crate) fn end_notify(&self) {
        self.0.fetch_and(!(NOTIFYING | AWAITER), Ordering::Release);
    }

    /// Publishes the waker the registrar has just written into the empty awaiter slot
    /// ([`State::awaiter_slot_free`] in `seen`), in one step: sets AWAITER unless the task has
    /// finished since. `false`: it has, so a notifier may already have passed by (notifiers
    /// other than the registrar itself notify only once the task is finished); the slot is
    /// still the registrar's, which takes its waker back out.
    #[inline]
    pub(crate) fn publish_awaiter(&self, seen: State) -> bool {
        self.transition_from(seen, |s| {
            debug_assert!(s.awaiter_slot_free(), "the awaiter slot changed hands");
            if s.is_finished() {
                None
            } else {
                Some(s.0 | AWAITER)
            }
        })
        .is_ok()
    }

    /// Starts registering an awaiter. `false` if a notification is in progress, in which case
    /// the caller should wake its own waker instead of registering.
    #[inline]
    pub(crate) fn begin_register(&self) -> bool {
        self.transition(|s| {
            debug_assert!(!s.has(REGISTERING), "two concurrent awaiter registrations");
            if s.has(NOTIFYING) {
                None
            } else {
                Some(s.0 | REGISTERING)
            }
        })
        .is_ok()
    }

    /// Ends a registration. If a notifier arrived meanwhile it could not take the waker, so
    /// `take_back` runs (still under REGISTERING, possibly more than once) to take the waker back
    /// out for the registrar to wake, and the notification is finished on the notifier's behalf.
    #[inline]
    pub(crate) fn end_register(&self, mut take_back: impl FnMut()) {
        let _ = self.transition(|s| {
            if s.has(NOTIFYING) {
                take_back();
                Some(s.0 & !(REGISTERING | NOTIFYING | AWAITER))
            } else {
                Some((s.0 & !REGISTERING) | AWAITER)
            }
        });
    }
}

impl core::fmt::Debug for StateCell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.load().fmt(f)
    }
}
