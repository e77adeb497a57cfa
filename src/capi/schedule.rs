//! A C function as a task's schedule function, and the [`Builder`] entry that spawns tasks for
//! a C executor.

use core::ffi::c_void;
use core::future::Future;
use core::ptr::NonNull;

use super::into_c::IntoC;
use super::runnable::RawtaskRunnable;
use super::status::Failure;
use super::task::RawtaskTask;
use crate::storage::Allocator;
use crate::{Builder, Runnable, Schedule, ScheduleInfo};

/// The bit of a schedule callback's `flags` argument that says the task was woken while it was
/// running ([`ScheduleInfo::woken_while_running`](crate::ScheduleInfo)): it yielded, and a fair
/// executor puts it at the back of its queue.
///
/// ```
/// assert_eq!(rawtask::capi::RAWTASK_SCHEDULE_WOKEN_WHILE_RUNNING, 1);
/// ```
pub const RAWTASK_SCHEDULE_WOKEN_WHILE_RUNNING: u32 = 1;

/// The C function that receives a task's runnable whenever the task is scheduled: `context` is
/// the pointer given with it in [`RawtaskSchedule`], `flags` holds
/// [`RAWTASK_SCHEDULE_WOKEN_WHILE_RUNNING`] if the task yielded. The function owns the runnable
/// and must eventually run, schedule or drop it exactly once; it must not unwind.
///
/// ```
/// use rawtask::capi::{RawtaskRunnable, RawtaskScheduleFn};
/// unsafe extern "C" fn drop_it(_: *mut std::ffi::c_void, r: *mut RawtaskRunnable, _: u32) {
///     // SAFETY: the callback owns `r`, a live runnable, and drops it exactly once.
///     unsafe { rawtask::capi::rawtask_runnable_drop(r) };
/// }
/// let f: RawtaskScheduleFn = drop_it;
/// # let _ = f;
/// ```
pub type RawtaskScheduleFn =
    unsafe extern "C" fn(context: *mut c_void, runnable: *mut RawtaskRunnable, flags: u32);

/// A schedule function made of a C function pointer and a context pointer. It implements
/// [`Schedule`], so it can be passed to every spawn function; [`Builder::spawn_c`] also returns
/// the handles as C needs them.
///
/// In C it is a plain struct: `RawtaskSchedule s = { .schedule = push, .context = &loop };`.
///
/// The callback is called on whatever thread wakes the task (a timer thread, say), possibly
/// while the executor runs another task, and possibly on the executor's own thread from inside
/// `rawtask_runnable_run` (a task that wakes itself or another task). `context` must stay valid
/// until every task spawned with it is freed: until its runnable, wakers and task handle are
/// all gone.
///
/// ```
/// use rawtask::capi::{RawtaskRunnable, RawtaskSchedule};
/// use std::ffi::c_void;
/// use std::sync::atomic::{AtomicPtr, Ordering};
///
/// // A C executor's (one-runnable) queue, written in Rust for the example.
/// unsafe extern "C" fn push(context: *mut c_void, runnable: *mut RawtaskRunnable, _flags: u32) {
///     // SAFETY: the context is the address of the static queue below.
///     let queue = unsafe { &*context.cast::<AtomicPtr<RawtaskRunnable>>() };
///     queue.store(runnable, Ordering::Release);
/// }
/// static QUEUE: AtomicPtr<RawtaskRunnable> = AtomicPtr::new(std::ptr::null_mut());
/// let queue = &QUEUE;
/// let context = (queue as *const AtomicPtr<RawtaskRunnable>).cast_mut().cast();
/// // SAFETY: `push` may be called from any thread with this context, which lives forever.
/// let schedule = unsafe { RawtaskSchedule::new(push, context) };
/// let (runnable, task) = rawtask::spawn(async { 40 + 2 }, schedule);
/// runnable.schedule();
/// let ptr = queue.swap(std::ptr::null_mut(), Ordering::Acquire);
/// // SAFETY: `ptr` is the runnable `push` stored; we own it and run it once.
/// unsafe { rawtask::capi::rawtask_runnable_run(ptr) };
/// assert_eq!(futures_lite::future::block_on(task), 42);
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawtaskSchedule {
    /// The callback (a `RawtaskScheduleFn`, spelled out for cbindgen); never null in a
    /// schedule used to spawn a task.
    pub(super) schedule: Option<
        unsafe extern "C" fn(context: *mut c_void, runnable: *mut RawtaskRunnable, flags: u32),
    >,
    /// Passed to every call of `schedule`.
    pub(super) context: *mut c_void,
}

// SAFETY: building a `RawtaskSchedule` (`new`, or in C) promises that the callback may be
// called from any thread with its context, for as long as a task uses it.
unsafe impl Send for RawtaskSchedule {}
// SAFETY: as above; the callback only ever receives the context pointer by value.
unsafe impl Sync for RawtaskSchedule {}

impl RawtaskSchedule {
    /// Makes a schedule function from a C callback and its context.
    ///
    /// # Safety
    /// `schedule` must be safe to call from any thread with `context` and a runnable, at any
    /// time until every task spawned with this schedule function is freed, and `context` must
    /// stay valid that long.
    ///
    /// ```
    /// use rawtask::capi::{rawtask_runnable_drop, RawtaskRunnable, RawtaskSchedule};
    /// unsafe extern "C" fn cancel(_: *mut std::ffi::c_void, r: *mut RawtaskRunnable, _: u32) {
    ///     // SAFETY: the callback owns `r`, a live runnable, and drops it exactly once.
    ///     unsafe { rawtask_runnable_drop(r) };
    /// }
    /// // SAFETY: `cancel` is thread-safe and ignores its context.
    /// let schedule = unsafe { RawtaskSchedule::new(cancel, std::ptr::null_mut()) };
    /// assert!(schedule.callback().is_some());
    /// ```
    pub unsafe fn new(schedule: RawtaskScheduleFn, context: *mut c_void) -> RawtaskSchedule {
        RawtaskSchedule {
            schedule: Some(schedule),
            context,
        }
    }

    /// The callback, or `None` if C passed a null function pointer.
    ///
    /// ```
    /// # use rawtask::capi::{RawtaskRunnable, RawtaskSchedule};
    /// # unsafe extern "C" fn f(_: *mut std::ffi::c_void, _: *mut RawtaskRunnable, _: u32) {}
    /// // SAFETY: `f` does nothing and ignores its context.
    /// let s = unsafe { RawtaskSchedule::new(f, std::ptr::null_mut()) };
    /// assert!(s.callback().is_some());
    /// ```
    pub fn callback(&self) -> Option<RawtaskScheduleFn> {
        self.schedule
    }

    /// The context pointer passed to every call of the callback.
    ///
    /// ```
    /// # use rawtask::capi::{RawtaskRunnable, RawtaskSchedule};
    /// # unsafe extern "C" fn f(_: *mut std::ffi::c_void, _: *mut RawtaskRunnable, _: u32) {}
    /// let mut state = 0u8;
    /// let context = (&raw mut state).cast::<std::ffi::c_void>();
    /// // SAFETY: `f` does nothing and never reads the context.
    /// let s = unsafe { RawtaskSchedule::new(f, context) };
    /// assert_eq!(s.context(), context);
    /// ```
    pub fn context(&self) -> *mut c_void {
        self.context
    }
}

impl<M> crate::schedule::sealed::Sealed<M> for RawtaskSchedule {
    // A function pointer and a context pointer, `Copy`: the task calls a copy on its stack
    // (raw rule 6).
    const PLAIN_DATA: bool = true;
}

impl<M> Schedule<M> for RawtaskSchedule {
    #[inline]
    fn schedule(&self, runnable: Runnable<M>, info: ScheduleInfo) {
        let Some(callback) = self.schedule else {
            // Only reachable by spawning through the generic spawn functions with a schedule
            // that C filled with a null callback: nobody can run the task, so cancel it.
            drop(runnable);
            return;
        };
        let flags = if info.woken_while_running {
            RAWTASK_SCHEDULE_WOKEN_WHILE_RUNNING
        } else {
            0
        };
        let runnable = RawtaskRunnable::from_runnable(runnable).as_ptr();
        // SAFETY: whoever built this schedule function promised that the callback may be
        // called like this; the runnable's ownership passes to it.
        unsafe { callback(self.context, runnable, flags) }
    }
}

impl<M, A: Allocator> Builder<M, A> {
    /// Spawns a `Send` future for a C executor: its schedule function is a C callback, and the
    /// handles come back as C uses them — the runnable as a `RawtaskRunnable *` (not scheduled
    /// yet: run it, or pass it to `rawtask_runnable_schedule`), the task as a
    /// [`RawtaskTask`] handle that C polls for the output and frees.
    ///
    /// The output crosses to C through [`IntoC`](super::IntoC) when C polls the handle:
    /// numbers and `repr(C)` structs as they are, `String`s and byte vectors as a
    /// [`RawtaskBuffer`](super::RawtaskBuffer) (moved, not copied), a `Result`'s error as the
    /// status `FAILED` with the error as the last error.
    ///
    /// Fails with `INVALID_ARGUMENT` if the callback is null, and with `NO_MEMORY` (the last
    /// error names the layout, see [`TrySpawnError`](crate::TrySpawnError)) if the allocator
    /// cannot provide the task's memory: it never aborts the process for that. On failure
    /// nothing was spawned and the closure, data slot and allocator have been dropped. (The
    /// task handle's own bookkeeping and the last error's message are allocated with the
    /// global allocator and still abort if that fails.)
    ///
    /// ```
    /// use rawtask::capi::*;
    /// use std::ffi::c_void;
    ///
    /// unsafe extern "C" fn run_now(_: *mut c_void, r: *mut RawtaskRunnable, _: u32) {
    ///     // SAFETY: the callback owns `r`, a live runnable, and runs it exactly once.
    ///     unsafe { rawtask_runnable_run(r) };
    /// }
    /// // SAFETY: `run_now` is thread-safe and ignores its context.
    /// let schedule = unsafe { RawtaskSchedule::new(run_now, std::ptr::null_mut()) };
    /// let (runnable, task) = rawtask::Builder::new()
    ///     .metadata(7u32)
    ///     .spawn_c(|&m| async move { m * 6 }, schedule)
    ///     .unwrap();
    /// // SAFETY: the handles come from `spawn_c`; `out` is a writable u32; each is used once.
    /// unsafe {
    ///     assert_eq!(rawtask_runnable_schedule(runnable.as_ptr()), RawtaskStatus::Ok);
    ///     let mut out = 0u32;
    ///     let status = rawtask_task_poll(task, (&raw mut out).cast(), size_of::<u32>());
    ///     assert_eq!((status, out), (RawtaskStatus::Ready, 42));
    ///     assert_eq!(rawtask_task_free(task), RawtaskStatus::Ok);
    /// }
    /// ```
    pub fn spawn_c<F, Fut>(
        self,
        future: F,
        schedule: RawtaskSchedule,
    ) -> Result<(NonNull<RawtaskRunnable>, RawtaskTask), Failure>
    where
        F: FnOnce(&M) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: IntoC,
        M: Send + Sync + 'static,
        A: Send + 'static,
    {
        if schedule.schedule.is_none() {
            return Err(Failure::invalid_argument(
                "Builder::spawn_c: the schedule callback is null",
            ));
        }
        let (runnable, task) = self.try_spawn(future, schedule)?;
        Ok((
            RawtaskRunnable::from_runnable(runnable),
            RawtaskTask::new(task),
        ))
    }
}
