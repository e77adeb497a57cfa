//! Status codes, and the guard every `extern "C"` function of rawtask runs inside: it catches
//! panics and turns failures into a status code plus the thread-local last error.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use core::any::Any;
use core::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::panic::{drop_payload, message_or, Payload};
use crate::{TryAllocError, TrySpawnError};

use super::last_error::{update_last_error, Error};

/// What [`Failure`] accepts: anything a boxed standard error can be made from.
type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a call of the C API did.
///
/// Non-negative values are outcomes, negative values are errors; every error and the
/// `CANCELLED` and `PANICKED` outcomes also store a message in the thread-local last error
/// ([`rawtask_last_error_message`](super::rawtask_last_error_message)). In C the values are
/// `RAWTASK_STATUS_OK`, `RAWTASK_STATUS_PENDING`, … and the type is an `int32_t`.
///
/// ```
/// use rawtask::capi::RawtaskStatus;
/// assert_eq!(RawtaskStatus::Ok as i32, 0);
/// assert!(RawtaskStatus::InvalidHandle.is_error());
/// assert!(!RawtaskStatus::Pending.is_error());
/// ```
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RawtaskStatus {
    /// The call did what it says.
    Ok = 0,
    /// `rawtask_task_poll`: the task has not finished yet. Poll again after its runnable ran.
    Pending = 1,
    /// `rawtask_task_poll`: the task finished and its output was written to the out-parameter.
    Ready = 2,
    /// `rawtask_task_poll`: the task was cancelled (by `rawtask_task_cancel`, by dropping its
    /// runnable, or because its future panicked in a task spawned without panic propagation)
    /// and its future has been dropped. There is no output.
    Cancelled = 3,
    /// A Rust panic was caught at the boundary. From `rawtask_task_poll`: the future panicked
    /// in a task spawned with `propagate_panic(true)`. From `rawtask_runnable_run`: the future
    /// panicked in a task spawned without it (the task is now cancelled). Elsewhere: Rust code
    /// called by the function (a Rust schedule function, say) panicked. The last error holds
    /// the panic message.
    Panicked = 4,
    /// `rawtask_runnable_run`: the task was woken while it was running and has already been
    /// handed to its schedule function again.
    Rescheduled = 5,
    /// `rawtask_task_poll`: the task completed with an error (its output was a Rust `Err`, or
    /// its [`IntoC`](super::IntoC) conversion failed). Nothing was written to the buffer; the
    /// error is the last error, and the output counts as taken.
    Failed = 6,
    /// A null pointer, a null task handle, or an output buffer of the wrong size. Nothing was
    /// done.
    InvalidArgument = -1,
    /// The task handle is not live: it was freed or detached before (a double free or a use
    /// after free, detected), or was never issued. Nothing was done.
    InvalidHandle = -2,
    /// `rawtask_task_poll`: an earlier poll already returned `READY` or `PANICKED` and took the
    /// output; the handle is still live and must be freed.
    OutputTaken = -3,
    /// The task handle is being used by another call right now: on another thread, or further
    /// up the stack of this one (a schedule callback called by `rawtask_task_cancel` polling
    /// the same handle). Nothing was done; try again once that call returned.
    Busy = -4,
    /// `rawtask_check_abi`: the header the caller was compiled with does not match the library.
    AbiMismatch = -5,
    /// An allocation failed: the task's memory when spawning (the allocator refused the task's
    /// layout, which the last error names). Nothing was spawned and nothing leaked; the call
    /// may be retried once memory is available.
    NoMemory = -6,
    /// `rawtask_task_on_complete`: the handle already has a completion callback; the new one
    /// was not registered (and will never be called).
    AlreadyRegistered = -7,
}

impl RawtaskStatus {
    /// Whether the status is an error (negative).
    ///
    /// ```
    /// assert!(rawtask::capi::RawtaskStatus::Busy.is_error());
    /// assert!(!rawtask::capi::RawtaskStatus::Ready.is_error());
    /// ```
    pub fn is_error(self) -> bool {
        (self as i32) < 0
    }
}

impl fmt::Display for RawtaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            RawtaskStatus::Ok => "RAWTASK_STATUS_OK",
            RawtaskStatus::Pending => "RAWTASK_STATUS_PENDING",
            RawtaskStatus::Ready => "RAWTASK_STATUS_READY",
            RawtaskStatus::Cancelled => "RAWTASK_STATUS_CANCELLED",
            RawtaskStatus::Panicked => "RAWTASK_STATUS_PANICKED",
            RawtaskStatus::Rescheduled => "RAWTASK_STATUS_RESCHEDULED",
            RawtaskStatus::Failed => "RAWTASK_STATUS_FAILED",
            RawtaskStatus::InvalidArgument => "RAWTASK_STATUS_INVALID_ARGUMENT",
            RawtaskStatus::InvalidHandle => "RAWTASK_STATUS_INVALID_HANDLE",
            RawtaskStatus::OutputTaken => "RAWTASK_STATUS_OUTPUT_TAKEN",
            RawtaskStatus::Busy => "RAWTASK_STATUS_BUSY",
            RawtaskStatus::AbiMismatch => "RAWTASK_STATUS_ABI_MISMATCH",
            RawtaskStatus::NoMemory => "RAWTASK_STATUS_NO_MEMORY",
            RawtaskStatus::AlreadyRegistered => "RAWTASK_STATUS_ALREADY_REGISTERED",
        };
        f.write_str(name)
    }
}

/// A failed C API call: the status code to return and the message for the last error.
///
/// Return it from the closure given to [`guard`] to report a failure from an `extern "C"`
/// function of your own.
///
/// ```
/// use rawtask::capi::{Failure, RawtaskStatus};
/// let failure = Failure::invalid_argument("count must be positive");
/// assert_eq!(failure.status(), RawtaskStatus::InvalidArgument);
/// assert_eq!(failure.to_string(), "count must be positive");
/// ```
pub struct Failure {
    status: RawtaskStatus,
    error: Error,
}

impl Failure {
    /// A failure with the given status and message: a `&str`, a `String` or any standard
    /// error (an [`anyhow::Error`] too), stored as the last error's [`Error`] when reported.
    ///
    /// ```
    /// use rawtask::capi::{Failure, RawtaskStatus};
    /// let failure = Failure::new(RawtaskStatus::Busy, "try later");
    /// assert_eq!(failure.status(), RawtaskStatus::Busy);
    /// ```
    pub fn new(status: RawtaskStatus, error: impl Into<BoxError>) -> Failure {
        Failure {
            status,
            // Through a box so that plain messages convert too, as they did before the last
            // error became an `anyhow::Error` (which has no `From<&str>`).
            error: Error::from_boxed(error.into()),
        }
    }

    /// A failure with status `INVALID_ARGUMENT`.
    ///
    /// ```
    /// let failure = rawtask::capi::Failure::invalid_argument("null pointer");
    /// assert!(failure.status().is_error());
    /// ```
    pub fn invalid_argument(error: impl Into<BoxError>) -> Failure {
        Failure::new(RawtaskStatus::InvalidArgument, error)
    }

    /// A failure with status `NO_MEMORY`, for a spawn whose allocation failed.
    ///
    /// ```
    /// # use core::{alloc::Layout, ptr::NonNull};
    /// # use rawtask::storage::{AllocError, Allocator};
    /// # struct Empty;
    /// # // SAFETY: it never hands out memory.
    /// # unsafe impl Allocator for Empty {
    /// #     fn allocate(&self, _: Layout) -> Result<NonNull<[u8]>, AllocError> { Err(AllocError) }
    /// #     unsafe fn deallocate(&self, _: NonNull<u8>, _: Layout) {}
    /// # }
    /// use rawtask::capi::{Failure, RawtaskStatus};
    /// let error = rawtask::Builder::new().allocator(Empty).try_spawn(|()| async {}, |_| {}).unwrap_err();
    /// let failure = Failure::from(error);
    /// assert_eq!(failure.status(), RawtaskStatus::NoMemory);
    /// assert_eq!(failure.to_string(), error.to_string());
    /// ```
    pub fn no_memory(error: TrySpawnError) -> Failure {
        Failure {
            status: RawtaskStatus::NoMemory,
            // Directly, not through a box: one allocation fewer, and the last error
            // downcasts to `TrySpawnError`.
            error: Error::new(error),
        }
    }

    /// `INVALID_ARGUMENT` for a null pointer `argument` passed to `function`.
    pub(crate) fn null(function: &str, argument: &str) -> Failure {
        Failure::invalid_argument(format!("{function}: `{argument}` is null"))
    }

    /// The status code the failure is reported with.
    ///
    /// ```
    /// use rawtask::capi::{Failure, RawtaskStatus};
    /// assert_eq!(Failure::invalid_argument("x").status(), RawtaskStatus::InvalidArgument);
    /// ```
    pub fn status(&self) -> RawtaskStatus {
        self.status
    }

    /// Stores the message as the last error and returns the status.
    pub(crate) fn report(self) -> RawtaskStatus {
        update_last_error(self.error);
        self.status
    }
}

/// `NO_MEMORY` for a failed allocation of a token or a scope, so that `?` turns a failed
/// `try_new` or `try_child_token` into it; the message says what could not be allocated.
///
/// ```
/// use rawtask::capi::{Failure, RawtaskStatus};
/// let error = rawtask::TryAllocError::new("a token", core::alloc::Layout::new::<u64>());
/// let failure = Failure::from(error);
/// assert_eq!(failure.status(), RawtaskStatus::NoMemory);
/// assert_eq!(failure.to_string(), error.to_string());
/// ```
impl From<TryAllocError> for Failure {
    fn from(error: TryAllocError) -> Failure {
        Failure {
            status: RawtaskStatus::NoMemory,
            error: Error::new(error),
        }
    }
}

/// [`Failure::no_memory`], so that `?` turns a failed `try_spawn` into `NO_MEMORY`.
impl From<TrySpawnError> for Failure {
    fn from(error: TrySpawnError) -> Failure {
        Failure::no_memory(error)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failure")
            .field("status", &self.status)
            .field("error", &self.error.to_string())
            .finish()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

/// Runs the body of an `extern "C"` function: a returned [`Failure`] becomes its status code
/// plus the last error, and a panic is caught and reported as `PANICKED` with its message, so
/// that nothing unwinds into C. rawtask's own C functions are written with it; use it for the
/// `extern "C"` functions that spawn your futures.
///
/// ```
/// use rawtask::capi::{guard, Failure, RawtaskStatus};
///
/// #[no_mangle]
/// pub extern "C" fn my_lib_square(x: i32, out: *mut i32) -> RawtaskStatus {
///     guard(|| {
///         if out.is_null() {
///             return Err(Failure::invalid_argument("my_lib_square: `out` is null"));
///         }
///         let square = x.checked_mul(x).expect("overflow");
///         // SAFETY: checked for null; the caller passes a writable `int32_t`.
///         unsafe { *out = square };
///         Ok(RawtaskStatus::Ok)
///     })
/// }
///
/// let mut out = 0;
/// assert_eq!(my_lib_square(7, &mut out), RawtaskStatus::Ok);
/// assert_eq!(out, 49);
/// assert_eq!(my_lib_square(7, std::ptr::null_mut()), RawtaskStatus::InvalidArgument);
/// assert_eq!(my_lib_square(1 << 20, &mut out), RawtaskStatus::Panicked);
/// assert!(rawtask::capi::take_last_error().unwrap().to_string().contains("overflow"));
/// ```
#[inline]
pub fn guard<F>(f: F) -> RawtaskStatus
where
    F: FnOnce() -> Result<RawtaskStatus, Failure>,
{
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(status)) => status,
        Ok(Err(failure)) => failure.report(),
        Err(payload) => panicked("a Rust panic", payload),
    }
}

/// Runs the body of an `extern "C"` function that returns a value rather than a status: a
/// panic is caught, its message stored as the last error (prefixed with `context`), and
/// `fallback` returned instead.
#[inline(always)]
pub(crate) fn catching_value<R>(context: &str, fallback: R, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => {
            panicked(context, payload);
            fallback
        }
    }
}

/// Reports a caught panic as `PANICKED`, with `context` and the panic's message as the last
/// error, and disposes of the payload without letting its destructor unwind.
pub(crate) fn panicked(context: &str, payload: Payload) -> RawtaskStatus {
    let message = format!("{context}: {}", panic_message(&*payload));
    drop_payload(payload);
    update_last_error(Error::msg(message));
    RawtaskStatus::Panicked
}

/// The message of a panic payload, as the C API reports it.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    message_or(payload, "(a panic payload that is not a string)")
}
