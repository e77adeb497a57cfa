//! Runnables and wakers from C.
//!
//! A `RawtaskRunnable *` is the task pointer itself (what [`Runnable::into_raw`] returns), so
//! the data slot sits at `RAWTASK_DATA_OFFSET` bytes from it, and a `RawtaskWaker *` is the
//! same pointer again, owning one reference. These are the hot paths of a C executor: each
//! function checks for null and catches panics, and does nothing else on top of the Rust
//! call. A pointer that is not null but stale (a runnable already run or dropped, a waker
//! already consumed) cannot be detected; see the header's "Undefined behaviour" section.

use core::ffi::c_void;
use core::marker::{PhantomData, PhantomPinned};
use core::ptr::{self, NonNull};
use core::task::Waker;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::status::{catching_value, panicked, Failure, RawtaskStatus};
use crate::raw::header::prefix;
use crate::raw::release::release_waker_ref;
use crate::raw::waker::waker_from_ref;
use crate::runnable::Runnable;
use crate::schedule_info::ScheduleInfo;

/// A scheduled task, as C sees it: an opaque handle that must be run
/// ([`rawtask_runnable_run`]), scheduled ([`rawtask_runnable_schedule`]) or dropped
/// ([`rawtask_runnable_drop`]) exactly once.
///
/// The pointer is the task pointer of [`Runnable::into_raw`]; the task's data slot is at
/// `RAWTASK_DATA_OFFSET` bytes from it.
///
/// ```
/// use rawtask::capi::{rawtask_runnable_run, RawtaskRunnable, RawtaskStatus};
/// let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
/// let ptr = RawtaskRunnable::from_runnable(runnable);
/// assert_eq!(unsafe { rawtask_runnable_run(ptr.as_ptr()) }, RawtaskStatus::Ok);
/// assert!(task.is_finished());
/// ```
#[derive(Debug)]
pub struct RawtaskRunnable {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

impl RawtaskRunnable {
    /// Converts a runnable into the pointer C handles ([`Runnable::into_raw`], typed).
    ///
    /// ```
    /// let (runnable, _task) = rawtask::spawn(async {}, |_| {});
    /// let ptr = rawtask::capi::RawtaskRunnable::from_runnable(runnable);
    /// // SAFETY: `ptr` came from a `Runnable<()>` and is converted back once.
    /// drop(unsafe { rawtask::capi::RawtaskRunnable::into_runnable::<()>(ptr) });
    /// ```
    pub fn from_runnable<M>(runnable: Runnable<M>) -> NonNull<RawtaskRunnable> {
        runnable.into_raw().cast()
    }

    /// Converts a pointer from [`from_runnable`](Self::from_runnable) (or a schedule callback)
    /// back into a runnable.
    ///
    /// # Safety
    /// `ptr` must come from a `Runnable<M>` with this `M`, and its ownership passes to the
    /// result: C must not use the pointer afterwards.
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn_with(async { 2 }, |_| {}, 5u8);
    /// let ptr = rawtask::capi::RawtaskRunnable::from_runnable(runnable);
    /// // SAFETY: `ptr` came from a `Runnable<u8>` and is converted back once.
    /// let runnable = unsafe { rawtask::capi::RawtaskRunnable::into_runnable::<u8>(ptr) };
    /// assert_eq!(*runnable.data(), 5);
    /// runnable.run();
    /// # drop(task);
    /// ```
    pub unsafe fn into_runnable<M>(ptr: NonNull<RawtaskRunnable>) -> Runnable<M> {
        // SAFETY: forwarded from the caller.
        unsafe { Runnable::from_raw(ptr.cast()) }
    }
}

/// A waker of a task, as C sees it: the task pointer owning one reference. Wake it with
/// [`rawtask_waker_wake`] (which consumes it) or [`rawtask_waker_wake_by_ref`], copy it with
/// [`rawtask_waker_clone`], and release it with [`rawtask_waker_drop`]; every waker must end
/// in exactly one of `rawtask_waker_wake` and `rawtask_waker_drop`.
///
/// ```
/// use rawtask::capi::*;
/// let (runnable, _task) = rawtask::spawn(async {}, |_| {});
/// let ptr = RawtaskRunnable::from_runnable(runnable);
/// // SAFETY: `ptr` is a live runnable; the waker is dropped once, and the runnable run once.
/// unsafe {
///     let waker = rawtask_runnable_waker(ptr.as_ptr());
///     assert!(!waker.is_null());
///     assert_eq!(rawtask_runnable_run(ptr.as_ptr()), RawtaskStatus::Ok);
///     assert_eq!(rawtask_waker_drop(waker), RawtaskStatus::Ok);
/// }
/// ```
#[derive(Debug)]
pub struct RawtaskWaker {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// Reports a null `argument` of `function` and returns `INVALID_ARGUMENT`.
#[cold]
fn null(function: &str, argument: &str) -> RawtaskStatus {
    Failure::null(function, argument).report()
}

/// Runs `f`, turning a panic into `PANICKED` with the message as the last error.
#[inline(always)]
fn catching(context: &str, f: impl FnOnce() -> RawtaskStatus) -> RawtaskStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(status) => status,
        Err(payload) => panicked(context, payload),
    }
}

/// Polls the task's future once, consuming the runnable.
///
/// Returns `OK`; `RESCHEDULED` if the task was woken while it ran and has already been handed
/// to its schedule function again; `PANICKED` if the future panicked in a task spawned without
/// panic propagation (the task is now cancelled, its future dropped, and the message is in the
/// last error), or if a task made by `spawn_local` was run on a thread other than its own;
/// `INVALID_ARGUMENT` if `runnable` is null. In every case but `INVALID_ARGUMENT` the runnable
/// is consumed.
///
/// # Safety
/// `runnable` must be null or a runnable that was not run, scheduled or dropped yet.
///
/// ```
/// use rawtask::capi::*;
/// assert_eq!(unsafe { rawtask_runnable_run(std::ptr::null_mut()) }, RawtaskStatus::InvalidArgument);
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_runnable_run(runnable: *mut RawtaskRunnable) -> RawtaskStatus {
    catching("rawtask_runnable_run: the future panicked", || {
        let Some(ptr) = NonNull::new(runnable) else {
            return null("rawtask_runnable_run", "runnable");
        };
        let ptr = ptr.cast::<()>();
        // SAFETY: the caller passes a live runnable, whose reference and SCHEDULED bit `run`
        // takes over (as `Runnable::run` does).
        if unsafe { (prefix(ptr).vtable.run)(ptr) } {
            RawtaskStatus::Rescheduled
        } else {
            RawtaskStatus::Ok
        }
    })
}

/// Hands the runnable to its task's schedule function (for a task spawned with a C callback:
/// calls the callback, on this thread, before returning). Consumes the runnable.
///
/// Returns `OK`, `INVALID_ARGUMENT` if `runnable` is null, or `PANICKED` if a Rust schedule
/// function panicked (the runnable is then dropped, which cancels the task).
///
/// # Safety
/// `runnable` must be null or a runnable that was not run, scheduled or dropped yet.
///
/// ```
/// use rawtask::capi::*;
/// let (s, r) = std::sync::mpsc::channel();
/// let (runnable, _task) = rawtask::spawn(async {}, move |r| s.send(r).unwrap());
/// let ptr = RawtaskRunnable::from_runnable(runnable);
/// assert_eq!(unsafe { rawtask_runnable_schedule(ptr.as_ptr()) }, RawtaskStatus::Ok);
/// r.recv().unwrap().run();
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_runnable_schedule(
    runnable: *mut RawtaskRunnable,
) -> RawtaskStatus {
    catching(
        "rawtask_runnable_schedule: the schedule function panicked",
        || {
            let Some(ptr) = NonNull::new(runnable) else {
                return null("rawtask_runnable_schedule", "runnable");
            };
            let ptr = ptr.cast::<()>();
            // SAFETY: the caller's runnable (reference and SCHEDULED bit) passes to the schedule
            // function's new `Runnable`, as in `Runnable::schedule`.
            unsafe { (prefix(ptr).vtable.schedule)(ptr, ScheduleInfo::new(false), false) };
            RawtaskStatus::Ok
        },
    )
}

/// Drops the runnable without running it, which cancels the task: its future is dropped now,
/// and polling its task handle returns `CANCELLED`.
///
/// Returns `OK`, or `INVALID_ARGUMENT` if `runnable` is null. (A future whose destructor
/// panics aborts the process, as in Rust.)
///
/// # Safety
/// `runnable` must be null or a runnable that was not run, scheduled or dropped yet.
///
/// ```
/// use rawtask::capi::*;
/// let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
/// let ptr = RawtaskRunnable::from_runnable(runnable);
/// assert_eq!(unsafe { rawtask_runnable_drop(ptr.as_ptr()) }, RawtaskStatus::Ok);
/// assert!(task.is_finished());
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_runnable_drop(runnable: *mut RawtaskRunnable) -> RawtaskStatus {
    catching("rawtask_runnable_drop: a waker panicked", || {
        let Some(ptr) = NonNull::new(runnable) else {
            return null("rawtask_runnable_drop", "runnable");
        };
        // SAFETY: the caller gives up a live runnable.
        unsafe { crate::runnable::drop_runnable(ptr.cast()) };
        RawtaskStatus::Ok
    })
}

/// Returns a new waker for the runnable's task (one reference count increment), or null if
/// `runnable` is null (with the last error set). The runnable stays valid.
///
/// # Safety
/// `runnable` must be null or a runnable that was not run, scheduled or dropped yet.
///
/// ```
/// use rawtask::capi::*;
/// assert!(unsafe { rawtask_runnable_waker(std::ptr::null()) }.is_null());
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_runnable_waker(
    runnable: *const RawtaskRunnable,
) -> *mut RawtaskWaker {
    catching_value("rawtask_runnable_waker", ptr::null_mut(), || {
        let Some(ptr) = NonNull::new(runnable.cast_mut()) else {
            null("rawtask_runnable_waker", "runnable");
            return ptr::null_mut();
        };
        // SAFETY: the caller's runnable keeps the task alive while we add the waker's
        // reference.
        unsafe { prefix(ptr.cast()) }.state.add_ref();
        ptr.as_ptr().cast()
    })
}

/// Returns a pointer to the task's data slot, or null if `runnable` is null (with the last
/// error set). For slot types aligned to at most a pointer this is
/// `(char *)runnable + RAWTASK_DATA_OFFSET`, which C may compute itself.
///
/// The slot is shared by every handle of the task: C may read it, and may write it only if
/// nothing else reads it at the same time (Rust code holding `&M`, say, or another thread).
///
/// # Safety
/// `runnable` must be null or a runnable that was not run, scheduled or dropped yet. The
/// returned pointer is valid while the task is alive (as long as any runnable, waker or task
/// handle of it is).
///
/// ```
/// use rawtask::capi::*;
/// let (runnable, _task) = rawtask::spawn_with(async {}, |_| {}, 0xABCDu32);
/// let ptr = RawtaskRunnable::from_runnable(runnable);
/// unsafe {
///     let data = rawtask_runnable_data(ptr.as_ptr());
///     assert_eq!(data, ptr.as_ptr().cast::<u8>().add(rawtask::DATA_OFFSET).cast());
///     assert_eq!(*data.cast::<u32>(), 0xABCD);
///     rawtask_runnable_drop(ptr.as_ptr());
/// }
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_runnable_data(runnable: *const RawtaskRunnable) -> *mut c_void {
    catching_value("rawtask_runnable_data", ptr::null_mut(), || {
        let Some(ptr) = NonNull::new(runnable.cast_mut()) else {
            null("rawtask_runnable_data", "runnable");
            return ptr::null_mut();
        };
        // SAFETY: the caller's runnable keeps the task alive; the vtable gives the slot's
        // offset, which lies inside the allocation.
        unsafe {
            let offset = prefix(ptr.cast()).vtable.data_offset;
            ptr.as_ptr().cast::<u8>().add(offset).cast()
        }
    })
}

/// Returns the size in bytes of the task's data slot (`sizeof` the Rust type `M`), so that C
/// can check it against the struct it expects; 0 if `runnable` is null (with the last error
/// set) or the slot is empty.
///
/// # Safety
/// `runnable` must be null or a runnable that was not run, scheduled or dropped yet.
///
/// ```
/// use rawtask::capi::*;
/// let (runnable, _task) = rawtask::spawn_with(async {}, |_| {}, [0u32; 3]);
/// let ptr = RawtaskRunnable::from_runnable(runnable);
/// unsafe {
///     assert_eq!(rawtask_runnable_data_size(ptr.as_ptr()), 12);
///     rawtask_runnable_drop(ptr.as_ptr());
/// }
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_runnable_data_size(runnable: *const RawtaskRunnable) -> usize {
    catching_value("rawtask_runnable_data_size", 0, || {
        let Some(ptr) = NonNull::new(runnable.cast_mut()) else {
            null("rawtask_runnable_data_size", "runnable");
            return 0;
        };
        // SAFETY: the caller's runnable keeps the task alive.
        unsafe { prefix(ptr.cast()) }.vtable.data_size
    })
}

/// Wakes the task and consumes the waker: a task that is idle is handed to its schedule
/// function (a C callback is called on this thread before this returns); a task that is
/// scheduled or running is marked to run again; a finished task is left alone.
///
/// Returns `OK`, `INVALID_ARGUMENT` if `waker` is null (nothing is consumed), or `PANICKED` if
/// a Rust schedule function panicked.
///
/// # Safety
/// `waker` must be null or a waker that was not woken by value or dropped yet.
///
/// ```
/// use rawtask::capi::*;
/// let (s, r) = std::sync::mpsc::channel();
/// let (runnable, _task) = rawtask::spawn(std::future::pending::<()>(), move |r| s.send(r).unwrap());
/// let ptr = RawtaskRunnable::from_runnable(runnable);
/// unsafe {
///     let waker = rawtask_runnable_waker(ptr.as_ptr());
///     rawtask_runnable_run(ptr.as_ptr()); // pending, now idle
///     assert_eq!(rawtask_waker_wake(waker), RawtaskStatus::Ok);
/// }
/// assert!(r.try_recv().is_ok()); // scheduled again
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_waker_wake(waker: *mut RawtaskWaker) -> RawtaskStatus {
    catching("rawtask_waker_wake: the schedule function panicked", || {
        let Some(ptr) = NonNull::new(waker) else {
            return null("rawtask_waker_wake", "waker");
        };
        // SAFETY: the caller gives up the waker's reference, which the `Waker` takes over.
        unsafe { waker_from_ref(ptr.cast()) }.wake();
        RawtaskStatus::Ok
    })
}

/// Wakes the task like [`rawtask_waker_wake`] but keeps the waker.
///
/// # Safety
/// `waker` must be null or a waker that was not woken by value or dropped yet.
///
/// ```
/// use rawtask::capi::*;
/// assert_eq!(unsafe { rawtask_waker_wake_by_ref(std::ptr::null()) }, RawtaskStatus::InvalidArgument);
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_waker_wake_by_ref(waker: *const RawtaskWaker) -> RawtaskStatus {
    catching(
        "rawtask_waker_wake_by_ref: the schedule function panicked",
        || {
            let Some(ptr) = NonNull::new(waker.cast_mut()) else {
                return null("rawtask_waker_wake_by_ref", "waker");
            };
            // SAFETY: the caller's waker owns a reference, which `ManuallyDrop` keeps.
            let waker = core::mem::ManuallyDrop::new(unsafe { waker_from_ref(ptr.cast()) });
            Waker::wake_by_ref(&waker);
            RawtaskStatus::Ok
        },
    )
}

/// Returns a new waker for the same task (one reference count increment), or null if `waker`
/// is null (with the last error set).
///
/// # Safety
/// `waker` must be null or a waker that was not woken by value or dropped yet.
///
/// ```
/// use rawtask::capi::*;
/// let (runnable, _task) = rawtask::spawn(async {}, |_| {});
/// let ptr = RawtaskRunnable::from_runnable(runnable);
/// unsafe {
///     let a = rawtask_runnable_waker(ptr.as_ptr());
///     let b = rawtask_waker_clone(a);
///     assert_eq!(a, b); // the same task pointer, one more reference
///     rawtask_waker_drop(a);
///     rawtask_waker_drop(b);
///     rawtask_runnable_drop(ptr.as_ptr());
/// }
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_waker_clone(waker: *const RawtaskWaker) -> *mut RawtaskWaker {
    catching_value("rawtask_waker_clone", ptr::null_mut(), || {
        let Some(ptr) = NonNull::new(waker.cast_mut()) else {
            null("rawtask_waker_clone", "waker");
            return ptr::null_mut();
        };
        // SAFETY: the caller's waker keeps the task alive while we add the clone's reference.
        unsafe { prefix(ptr.cast()) }.state.add_ref();
        ptr.as_ptr()
    })
}

/// Releases the waker without waking. If it was the last reference of a task whose future
/// still lives, the task is cancelled and handed to its schedule function one last time, so
/// that the executor drops the future (raw rule 7).
///
/// Returns `OK`, `INVALID_ARGUMENT` if `waker` is null, or `PANICKED` if a Rust schedule
/// function panicked.
///
/// # Safety
/// `waker` must be null or a waker that was not woken by value or dropped yet.
///
/// ```
/// use rawtask::capi::*;
/// assert_eq!(unsafe { rawtask_waker_drop(std::ptr::null_mut()) }, RawtaskStatus::InvalidArgument);
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_waker_drop(waker: *mut RawtaskWaker) -> RawtaskStatus {
    catching("rawtask_waker_drop: the schedule function panicked", || {
        let Some(ptr) = NonNull::new(waker) else {
            return null("rawtask_waker_drop", "waker");
        };
        // SAFETY: the caller gives up the waker's reference.
        unsafe { release_waker_ref(ptr.cast()) };
        RawtaskStatus::Ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capi::{rawtask_check_abi, take_last_error, update_last_error, RAWTASK_ABI_VERSION};
    use alloc::string::{String, ToString};
    use core::fmt;

    /// A previous error whose destructor panics: storing the null-argument error drops it.
    #[derive(Debug)]
    struct PanicsOnDrop;
    impl fmt::Display for PanicsOnDrop {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("panics on drop")
        }
    }
    impl std::error::Error for PanicsOnDrop {}
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("drop refused");
        }
    }

    fn last_error_after<R>(f: impl FnOnce() -> R) -> (R, String) {
        update_last_error(PanicsOnDrop);
        let result = f();
        let message = take_last_error().map(|e| e.to_string()).unwrap_or_default();
        (result, message)
    }

    #[test]
    fn null_arguments_never_unwind() {
        let null_r = ptr::null_mut::<RawtaskRunnable>();
        let null_w = ptr::null_mut::<RawtaskWaker>();
        // SAFETY: null is a valid argument of every function below.
        unsafe {
            for (status, message) in [
                last_error_after(|| rawtask_runnable_run(null_r)),
                last_error_after(|| rawtask_runnable_schedule(null_r)),
                last_error_after(|| rawtask_runnable_drop(null_r)),
                last_error_after(|| rawtask_waker_wake(null_w)),
                last_error_after(|| rawtask_waker_wake_by_ref(null_w)),
                last_error_after(|| rawtask_waker_drop(null_w)),
            ] {
                assert_eq!(status, RawtaskStatus::InvalidArgument);
                assert!(message.ends_with("is null"), "{message}");
            }
            let (waker, message) = last_error_after(|| rawtask_runnable_waker(null_r));
            assert!(waker.is_null());
            assert_eq!(message, "rawtask_runnable_waker: `runnable` is null");
            let (clone, message) = last_error_after(|| rawtask_waker_clone(null_w));
            assert!(clone.is_null());
            assert_eq!(message, "rawtask_waker_clone: `waker` is null");
            let (data, message) = last_error_after(|| rawtask_runnable_data(null_r));
            assert!(data.is_null());
            assert_eq!(message, "rawtask_runnable_data: `runnable` is null");
            let (size, message) = last_error_after(|| rawtask_runnable_data_size(null_r));
            assert_eq!(size, 0);
            assert_eq!(message, "rawtask_runnable_data_size: `runnable` is null");
        }
        let (status, message) =
            last_error_after(|| rawtask_check_abi(RAWTASK_ABI_VERSION + 1, 0, 0, 0));
        assert_eq!(status, RawtaskStatus::AbiMismatch);
        assert!(
            message.starts_with("rawtask_check_abi: RAWTASK_ABI_VERSION"),
            "{message}"
        );
    }
}
