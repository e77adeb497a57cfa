//! Schedule functions: how a woken task gets back to its executor.

use crate::runnable::Runnable;
use crate::schedule_info::ScheduleInfo;

/// Seals [`Schedule`]: only this crate implements it (for closures, [`WithInfo`], and the C
/// API's schedule type).
pub(crate) mod sealed {
    use super::WithInfo;
    use crate::runnable::Runnable;
    use crate::schedule_info::ScheduleInfo;

    pub trait Sealed<M> {
        /// The schedule function is plain data (`Copy`, no destructor, no interior
        /// mutability): a bitwise copy of it is an equivalent schedule function. The task then
        /// calls a copy on its stack instead of holding a reference across the call (raw rule
        /// 6), which saves two atomic operations per schedule.
        const PLAIN_DATA: bool = false;
    }

    impl<M, F: Fn(Runnable<M>)> Sealed<M> for F {}
    impl<M, F: Fn(Runnable<M>, ScheduleInfo)> Sealed<M> for WithInfo<F> {}
    // The C API's `RawtaskSchedule` implements it beside its own definition, in `capi`: the
    // core does not know the layers built on it.
}

/// A function that schedules a task: a plain `Fn(Runnable<M>)` closure, a
/// `Fn(Runnable<M>, ScheduleInfo)` closure wrapped in [`WithInfo`], or a C callback
/// ([`capi::RawtaskSchedule`], with the `std` feature).
///
/// The trait is sealed; it exists so that both kinds of closure are accepted by the `spawn`
/// functions.
///
/// The function runs inside the `wake` call that scheduled the task, on the waking thread.
/// Avoid dropping the `Runnable` there (for example once the executor has shut down): that
/// cancels the task and runs its future's destructor inside `wake`, where the waker's caller
/// may hold a lock the destructor needs too (flume, for one, wakes receivers with its channel
/// locked). Queue it, or hand it to another thread to drop.
///
/// ```
/// use rawtask::Schedule;
///
/// fn takes_schedule<S: Schedule + Send + Sync + 'static>(s: S) -> S { s }
/// let s = takes_schedule(|runnable: rawtask::Runnable| { runnable.run(); });
/// # let _ = s;
/// ```
#[cfg_attr(
    feature = "std",
    doc = "
[`capi::RawtaskSchedule`]: crate::capi::RawtaskSchedule"
)]
#[cfg_attr(
    not(feature = "std"),
    doc = "
[`capi::RawtaskSchedule`]: https://docs.rs/rawtask/latest/rawtask/capi/struct.RawtaskSchedule.html"
)]
pub trait Schedule<M = ()>: sealed::Sealed<M> {
    /// Hands `runnable` to the executor.
    fn schedule(&self, runnable: Runnable<M>, info: ScheduleInfo);
}

impl<M, F> Schedule<M> for F
where
    F: Fn(Runnable<M>),
{
    #[inline(always)]
    fn schedule(&self, runnable: Runnable<M>, _: ScheduleInfo) {
        self(runnable)
    }
}

/// Wraps a `Fn(Runnable<M>, ScheduleInfo)` closure so that it can be used as a schedule
/// function that receives [`ScheduleInfo`].
///
/// ```
/// use rawtask::{Runnable, ScheduleInfo, WithInfo};
///
/// let schedule = WithInfo(|runnable: Runnable, info: ScheduleInfo| {
///     if info.woken_while_running { /* back of the queue */ }
///     drop(runnable);
/// });
/// let (runnable, _task) = rawtask::spawn(async {}, schedule);
/// runnable.schedule();
/// ```
#[derive(Debug)]
pub struct WithInfo<F>(pub F);

impl<F> From<F> for WithInfo<F> {
    fn from(f: F) -> Self {
        WithInfo(f)
    }
}

impl<M, F> Schedule<M> for WithInfo<F>
where
    F: Fn(Runnable<M>, ScheduleInfo),
{
    #[inline(always)]
    fn schedule(&self, runnable: Runnable<M>, info: ScheduleInfo) {
        (self.0)(runnable, info)
    }
}
