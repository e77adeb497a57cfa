//! [`ScheduleInfo`]: what a schedule function is told about the wake that scheduled the task.

/// Extra information passed to a schedule function.
///
/// ```
/// use rawtask::{Runnable, ScheduleInfo, WithInfo};
///
/// let (s, r) = flume::unbounded();
/// let schedule = WithInfo(move |runnable: Runnable, info: ScheduleInfo| {
///     // A task that yielded (woke itself while running) goes to the back of the queue.
///     let _ = info.woken_while_running;
///     s.send(runnable).unwrap();
/// });
/// let (runnable, task) = rawtask::spawn(async { 1 + 2 }, schedule);
/// runnable.schedule();
/// r.recv().unwrap().run();
/// assert_eq!(futures_lite::future::block_on(task), 3);
/// ```
#[derive(Debug, Copy, Clone)]
#[non_exhaustive]
pub struct ScheduleInfo {
    /// The task was woken while it was running, usually because it yielded to the executor.
    ///
    /// Executors typically put such a task at the back of a queue rather than in a LIFO slot,
    /// so that a yielding task cannot starve the others.
    pub woken_while_running: bool,
}

impl ScheduleInfo {
    #[inline(always)]
    pub(crate) const fn new(woken_while_running: bool) -> ScheduleInfo {
        ScheduleInfo {
            woken_while_running,
        }
    }
}
