//! The C ABI: every `extern "C"` function of rawtask lives under this module, and
//! `include/rawtask.h` (generated from it by cbindgen) declares them for C.
//!
//! A C event loop drives Rust tasks like this:
//!
//! 1. Rust code spawns a future with a [`RawtaskSchedule`] — a C callback and a context — as
//!    its schedule function, usually with [`Builder::spawn_c`](crate::Builder::spawn_c), and
//!    hands C a runnable (`RawtaskRunnable *`) and a task handle ([`RawtaskTask`]).
//! 2. Whenever the task is woken, the callback receives its runnable; C queues it, reading the
//!    task's data slot at `RAWTASK_DATA_OFFSET` bytes from the runnable pointer if it likes
//!    (a priority, say), and later runs it with [`rawtask_runnable_run`].
//! 3. C polls the task handle with [`rawtask_task_poll`] until it is `READY`, then frees it
//!    with [`rawtask_task_free`].
//!
//! Every function checks its pointers and catches panics. Failures are reported as a
//! [`RawtaskStatus`] plus a thread-local last error (see [`rawtask_last_error_message`] for
//! the rules); no function unwinds into C. What cannot be checked — a runnable or waker used
//! after it was consumed — is undefined behaviour, listed in the header.
//!
//! Out of memory: a task's allocation that fails is reported as `NO_MEMORY`
//! ([`Builder::spawn_c`](crate::Builder::spawn_c), and your own functions that use
//! [`Builder::try_spawn`](crate::Builder::try_spawn) with `?` inside [`guard`]), never an
//! abort. So is any allocation of the token functions `rawtask_token_new`, `rawtask_token_child`
//! and `rawtask_token_on_cancel` (the token, its list entries, its handle). Smaller allocations
//! still abort the process if the global allocator fails: the task handle table's growth (in
//! `spawn_c`), the last error's message, and the boxed wakers, futures and panic notes of
//! [`ffi`](crate::ffi).
//!
//! ```
//! use rawtask::capi::*;
//! use std::ffi::c_void;
//! use std::sync::atomic::{AtomicPtr, Ordering};
//!
//! // The C side, written in Rust for the example: a one-runnable queue.
//! static QUEUE: AtomicPtr<RawtaskRunnable> = AtomicPtr::new(std::ptr::null_mut());
//! unsafe extern "C" fn push(_: *mut c_void, runnable: *mut RawtaskRunnable, _flags: u32) {
//!     QUEUE.store(runnable, Ordering::Release);
//! }
//!
//! // SAFETY: `push` is thread-safe and needs no context.
//! let schedule = unsafe { RawtaskSchedule::new(push, std::ptr::null_mut()) };
//! let (runnable, task) = rawtask::Builder::new()
//!     .metadata(3u32) // a priority, readable from C
//!     .spawn_c(|&priority| async move { u64::from(priority) * 100 }, schedule)
//!     .unwrap();
//! unsafe {
//!     rawtask_runnable_schedule(runnable.as_ptr());
//!     let next = QUEUE.swap(std::ptr::null_mut(), Ordering::Acquire);
//!     let priority = *next.cast::<u8>().add(rawtask::DATA_OFFSET).cast::<u32>();
//!     assert_eq!(priority, 3);
//!     assert_eq!(rawtask_runnable_run(next), RawtaskStatus::Ok);
//!     let mut out = 0u64;
//!     assert_eq!(rawtask_task_poll(task, (&raw mut out).cast(), 8), RawtaskStatus::Ready);
//!     assert_eq!(out, 300);
//!     assert_eq!(rawtask_task_free(task), RawtaskStatus::Ok);
//! }
//! ```

mod abi;
mod buffer;
mod error_message;
mod handle_table;
mod home;
mod into_c;
mod last_error;
mod runnable;
mod schedule;
mod status;
mod task;
mod token;

pub use self::abi::{
    rawtask_abi_version, rawtask_check_abi, rawtask_data_offset, RAWTASK_ABI_VERSION,
    RAWTASK_DATA_OFFSET_WORDS,
};
pub use self::buffer::{rawtask_buffer_free, RawtaskBuffer};
pub use self::error_message::{
    clear_last_error, error_message_utf16, error_message_utf8, last_error_length,
    last_error_length_utf16, rawtask_clear_last_error, rawtask_last_error_length,
    rawtask_last_error_length_utf16, rawtask_last_error_message, rawtask_last_error_message_utf16,
};
pub use self::home::{
    home_schedule, rawtask_home_drain, rawtask_home_free, rawtask_home_new, RawtaskHome,
};
pub use self::into_c::IntoC;
pub use self::last_error::{take_last_error, update_last_error, Error};
pub use self::runnable::{
    rawtask_runnable_data, rawtask_runnable_data_size, rawtask_runnable_drop, rawtask_runnable_run,
    rawtask_runnable_schedule, rawtask_runnable_waker, rawtask_waker_clone, rawtask_waker_drop,
    rawtask_waker_wake, rawtask_waker_wake_by_ref, RawtaskRunnable, RawtaskWaker,
};
pub use self::schedule::{
    RawtaskSchedule, RawtaskScheduleFn, RAWTASK_SCHEDULE_WOKEN_WHILE_RUNNING,
};
pub use self::status::{guard, Failure, RawtaskStatus};
pub use self::task::{
    rawtask_task_cancel, rawtask_task_data, rawtask_task_detach, rawtask_task_free,
    rawtask_task_on_complete, rawtask_task_output_size, rawtask_task_poll, RawtaskCompleteFn,
    RawtaskTask,
};
pub use self::token::{
    rawtask_token_cancel, rawtask_token_child, rawtask_token_free, rawtask_token_is_cancelled,
    rawtask_token_new, rawtask_token_on_cancel, RawtaskCancelFn, RawtaskToken,
};
