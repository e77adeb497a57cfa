//! [`HomeSchedule`]: the schedule function of tasks that run on a home thread.

use core::fmt;

use super::shared_ref::SharedRef;
use crate::runnable::Runnable;
use crate::schedule::{sealed::Sealed, Schedule};
use crate::schedule_info::ScheduleInfo;

/// The schedule function of tasks driven by a [`Home`](super::Home): pass it to
/// [`spawn`](crate::spawn), [`spawn_local`](crate::spawn_local) or any other spawn function.
///
/// A wake on the home thread queues the task locally (and notifies if no drain is running); a
/// wake on any other thread pushes it into the home's lock-free inbox and notifies. At most one
/// notify is pending until the loop drains. It never blocks, never runs a task and never calls into the loop. It holds the
/// home's shared part alive, so a wake after the [`Home`](super::Home) was dropped is safe: it
/// drops the runnable, cancelling the task (see the [module docs](super)).
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let notified = Arc::new(AtomicUsize::new(0));
/// let n = notified.clone();
/// let home = rawtask::home::Home::new(move || { n.fetch_add(1, Ordering::SeqCst); });
/// let (runnable, task) = rawtask::spawn(async { 7 }, home.schedule());
/// // Scheduled from another thread: the inbox, and one notify.
/// std::thread::spawn(move || runnable.schedule()).join().unwrap();
/// assert_eq!(notified.load(Ordering::SeqCst), 1);
/// assert_eq!(home.drain(16).unwrap().ran, 1);
/// assert_eq!(futures_lite::future::block_on(task), 7);
/// ```
pub struct HomeSchedule<M = ()> {
    /// Made on the home thread, a reference that costs no atomic operation to make or to drop
    /// there ([`SharedRef`]).
    pub(super) shared: SharedRef<M>,
}

impl<M> Clone for HomeSchedule<M> {
    fn clone(&self) -> Self {
        HomeSchedule {
            shared: self.shared.clone(),
        }
    }
}

impl<M> fmt::Debug for HomeSchedule<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HomeSchedule").finish_non_exhaustive()
    }
}

impl<M> HomeSchedule<M> {
    /// Whether the current thread is the home's thread.
    ///
    /// ```
    /// let home = rawtask::home::Home::<()>::new(|| {});
    /// let schedule = home.schedule();
    /// assert!(schedule.on_home_thread());
    /// assert!(!std::thread::spawn(move || schedule.on_home_thread()).join().unwrap());
    /// ```
    pub fn on_home_thread(&self) -> bool {
        self.shared.get().on_home()
    }
}

impl<M> Sealed<M> for HomeSchedule<M> {
    // The task calls a bitwise copy (never dropped) of its `HomeSchedule` without holding an
    // extra reference across the call (rule 6), which saves two atomic operations per wake.
    // The copy's pointer to the shared part is valid while the task, which owns the original,
    // lives: during the whole call on the home thread (the runnable is queued, nothing runs
    // it meanwhile), and up to the push on another thread — `schedule` clones the `Arc`
    // before pushing there, and drops a refused runnable only after its last use of the
    // shared part.
    const PLAIN_DATA: bool = true;
}

impl<M> Schedule<M> for HomeSchedule<M> {
    #[inline]
    fn schedule(&self, runnable: Runnable<M>, _info: ScheduleInfo) {
        // Every wake goes to the back of the queue, so a task woken while running
        // (`info.woken_while_running`, a yield) runs after the tasks already waiting: a
        // yielding task cannot starve the others.
        let refused = if self.shared.get().on_home() {
            // SAFETY: on the home thread.
            unsafe { self.shared.get().schedule_local(runnable) }
        } else {
            // Once pushed, the task may run and be freed on the home thread, and with it the
            // `HomeSchedule` this one may be a copy of: hold the shared part ourselves.
            let shared = self.shared.to_arc();
            let refused = shared.schedule_foreign(runnable);
            drop(shared);
            refused
        };
        // After shutdown: the loop is gone and the task can never run again. Dropping the
        // runnable cancels the task (see the module docs for why this is the right place).
        // It may free the task and the shared part: nothing borrows them any more.
        drop(refused);
    }
}
