//! Background jobs for C callers: ffi_helpers 0.3's task API, built on raw tasks.
//!
//! **Two different `Task`s.** This module's [`Task`] is the *job* trait of ffi_helpers (the
//! name is kept so that ffi_helpers code compiles unchanged); it has nothing to do with the
//! crate root's [`rawtask::Task`](crate::Task), the handle that awaits a raw task's output.
//! [`Job`] is the same trait under a name that cannot be confused with the handle: write
//! `impl Job for …` in new code, or `impl Task for …` in code ported from ffi_helpers.
//!
//! The *Task API* lets C code start a blocking job, check on it, cancel it and collect its
//! result:
//!
//! 1. implement [`Task`] for a type whose [`run`](Task::run) does the job, checking the given
//!    [`CancellationToken`] now and then;
//! 2. [`TaskHandle::spawn`] starts it in the background and returns a handle;
//! 3. [`poll`](TaskHandle::poll) the handle until the result is there (or
//!    [`wait`](TaskHandle::wait) for it), [`cancel`](TaskHandle::cancel) it to ask the job to stop;
//! 4. [`export_task!`](crate::export_task) writes the `extern "C"` functions that do all of this
//!    from C, with errors reported through the thread-local last error of [`crate::capi`].
//!
//! The job error type, [`Error`], is [`anyhow::Error`], as in ffi_helpers: a `run` written for
//! ffi_helpers (with `use anyhow::Error;`) compiles unchanged, and so does one written with
//! `rawtask::background::Error`, the same type.
//!
//! ```
//! use rawtask::background::{CancellationToken, Error, Task, TaskHandle};
//!
//! #[derive(Clone)]
//! struct Sum(Vec<u64>);
//!
//! impl Task for Sum {
//!     type Output = u64;
//!
//!     fn run(&self, token: &CancellationToken) -> Result<u64, Error> {
//!         let mut total = 0;
//!         for x in &self.0 {
//!             token.is_done()?; // stop early with a `Cancelled` error
//!             total += x;
//!         }
//!         Ok(total)
//!     }
//! }
//!
//! let handle = TaskHandle::spawn(Sum(vec![1, 2, 3]));
//! assert_eq!(handle.wait().unwrap(), 6);
//! ```
//!
//! # How it runs
//!
//! Each job is one raw task ([`crate::spawn`]): its future calls `run` once, and its
//! [`Runnable`](crate::Runnable) is scheduled on a pool of blocking threads shared by the whole
//! process. Threads are started on demand (at most 512 at a time; further jobs queue until one
//! finishes), reused for later jobs, and stop after 10 seconds without work. ffi_helpers starts a
//! new detached thread for every job instead. [`TaskHandle::spawn_on`] hands the `Runnable` to
//! your own executor instead of the pool.
//!
//! # Out of memory
//!
//! [`TaskHandle::try_spawn`] and [`TaskHandle::try_spawn_on`] return a
//! [`TrySpawnError`](crate::TrySpawnError) if the job's task cannot be allocated, and the
//! `spawn` and `try_spawn` functions of [`export_task!`](crate::export_task) report it to C
//! (null or `RAWTASK_STATUS_NO_MEMORY`, with the error as the last error); their handle's box
//! is allocated fallibly too. These still abort the process if the global allocator fails:
//! the job's [`CancellationToken`], the pool's queue and a new pool thread's name, the boxed
//! outputs of `poll`, `try_poll` and `wait`, and the last error itself.
//!
//! # Differences from ffi_helpers 0.3
//!
//! - [`TaskHandle`] is `Send + Sync` (ffi_helpers' wraps an `mpsc::Receiver`), so C may poll a
//!   handle from any thread.
//! - After the result was taken, [`poll`](TaskHandle::poll) and [`wait`](TaskHandle::wait)
//!   report [`AlreadyTaken`], not a channel error.
//! - A panic in `run` becomes a [`Panicked`] error carrying the panic message.
//! - The `extern "C"` functions never unwind into C: a panic becomes the last error.
//! - Dropping a handle whose job has not started yet means the job never runs.
//! - A null argument is handled as by ffi_helpers' `null_pointer_check!` (the last error is
//!   set, and the function returns null, 0 or nothing), but the message names the argument
//!   ([`NullPointer`]: "a null pointer was passed as `handle`") instead of "A null pointer
//!   was passed in where it wasn't expected".
//! - The error-buffer functions peek, as ffi_helpers' do, but a null buffer or a length
//!   `<= 0` returns -1 and keeps the error (ffi_helpers returns 0 and replaces it with a
//!   null-pointer error), a buffer too small receives a NUL-terminated prefix, a usable buffer
//!   receives an empty string when there is no error, and `error_message_utf16` returns the
//!   UTF-16 units written (ffi_helpers returns twice that, in bytes); see [`crate::capi`].

mod export;
mod handle;
mod pool;

#[doc(hidden)]
pub use self::export::__private;
pub use self::export::{
    RAWTASK_BACKGROUND_ERROR, RAWTASK_BACKGROUND_PENDING, RAWTASK_BACKGROUND_READY,
};
pub use self::handle::TaskHandle;
/// This module's job trait, [`Task`], under a name distinct from [`rawtask::Task`](crate::Task).
pub use self::Task as Job;
pub use crate::cancel::{CancellationToken, Cancelled};
pub use crate::capi::Error;

use alloc::string::String;
use core::fmt;

/// A cancellable job meant to run on a background thread.
///
/// `run` should check its token now and then (a cheap atomic load) and return early once it is
/// cancelled. The bounds are those of ffi_helpers 0.3's `Task`: the value is cloned out of the
/// caller's memory by the `spawn` function [`export_task!`](crate::export_task) generates.
///
/// ```
/// use rawtask::background::{CancellationToken, Error, Task};
///
/// #[derive(Clone)]
/// struct Countdown(u32);
///
/// impl Task for Countdown {
///     type Output = u32;
///
///     fn run(&self, token: &CancellationToken) -> Result<u32, Error> {
///         let mut left = self.0;
///         while left > 0 && !token.cancelled() {
///             left -= 1;
///         }
///         Ok(left)
///     }
/// }
///
/// assert_eq!(Countdown(3).run(&CancellationToken::new()).unwrap(), 0);
/// ```
pub trait Task: Send + Sync + Clone {
    /// What the job produces.
    type Output: Send + Sync;

    /// Runs the job to completion on the current thread, returning early if `cancel_tok` is
    /// cancelled. Prefer [`TaskHandle::spawn`] or the functions of
    /// [`export_task!`](crate::export_task) over calling it directly.
    fn run(&self, cancel_tok: &CancellationToken) -> Result<Self::Output, Error>;
}

/// The error [`TaskHandle::poll`] and [`TaskHandle::wait`] report once the result has already
/// been taken by an earlier `poll`.
///
/// ```
/// use rawtask::background::{AlreadyTaken, CancellationToken, Error, Task, TaskHandle};
///
/// #[derive(Clone)]
/// struct One;
/// impl Task for One {
///     type Output = u8;
///     fn run(&self, _: &CancellationToken) -> Result<u8, Error> { Ok(1) }
/// }
///
/// let handle = TaskHandle::spawn(One);
/// let first = loop {
///     if let Some(result) = handle.poll() { break result; }
///     std::thread::yield_now();
/// };
/// assert_eq!(first.unwrap(), 1);
/// let again = handle.poll().unwrap().unwrap_err();
/// assert!(again.is::<AlreadyTaken>());
/// assert!(handle.wait().unwrap_err().is::<AlreadyTaken>());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AlreadyTaken;

impl fmt::Display for AlreadyTaken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the task's result has already been taken")
    }
}

impl std::error::Error for AlreadyTaken {}

/// The error reported for a job whose `run` panicked (or whose `Clone` panicked in a generated
/// `spawn` function), with the panic message.
///
/// ```
/// use rawtask::background::{CancellationToken, Error, Panicked, Task, TaskHandle};
///
/// #[derive(Clone)]
/// struct Boom;
/// impl Task for Boom {
///     type Output = ();
///     fn run(&self, _: &CancellationToken) -> Result<(), Error> { panic!("boom") }
/// }
///
/// let error = TaskHandle::spawn(Boom).wait().unwrap_err();
/// assert_eq!(error.downcast_ref::<Panicked>().unwrap().message(), "boom");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panicked {
    message: String,
}

impl Panicked {
    /// Builds the error from a panic payload (as `catch_unwind` returns it).
    ///
    /// ```
    /// let payload = std::panic::catch_unwind(|| panic!("oops")).unwrap_err();
    /// assert_eq!(rawtask::background::Panicked::from_payload(payload).message(), "oops");
    /// ```
    pub fn from_payload(payload: std::boxed::Box<dyn core::any::Any + Send>) -> Panicked {
        let message = crate::panic::message_or(&*payload, "a panic without a message");
        // Never let the payload's destructor unwind out of here.
        crate::panic::drop_payload(payload);
        Panicked { message }
    }

    /// The panic message.
    ///
    /// ```
    /// let payload = std::panic::catch_unwind(|| panic!("code {}", 7)).unwrap_err();
    /// assert_eq!(rawtask::background::Panicked::from_payload(payload).message(), "code 7");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the task panicked: {}", self.message)
    }
}

impl std::error::Error for Panicked {}

/// The error reported for a job that was never run because its
/// [`Runnable`](crate::Runnable) was dropped (only possible with [`TaskHandle::spawn_on`] and
/// a schedule function that drops it).
///
/// ```
/// use rawtask::background::{Abandoned, CancellationToken, Error, Task, TaskHandle};
///
/// #[derive(Clone)]
/// struct Never;
/// impl Task for Never {
///     type Output = ();
///     fn run(&self, _: &CancellationToken) -> Result<(), Error> { Ok(()) }
/// }
///
/// let handle = TaskHandle::spawn_on(Never, |runnable| drop(runnable));
/// assert!(handle.wait().unwrap_err().is::<Abandoned>());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Abandoned;

impl fmt::Display for Abandoned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the task was dropped before it ran")
    }
}

impl std::error::Error for Abandoned {}

/// The error the generated `extern "C"` functions report when given a null pointer.
///
/// ```
/// let error = rawtask::background::NullPointer::new("handle");
/// assert_eq!(error.to_string(), "a null pointer was passed as `handle`");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NullPointer {
    argument: &'static str,
}

impl NullPointer {
    /// The error for a null `argument`.
    ///
    /// ```
    /// let error = rawtask::background::NullPointer::new("result");
    /// assert_eq!(error.argument(), "result");
    /// ```
    pub const fn new(argument: &'static str) -> NullPointer {
        NullPointer { argument }
    }

    /// The name of the argument that was null.
    ///
    /// ```
    /// assert_eq!(rawtask::background::NullPointer::new("task").argument(), "task");
    /// ```
    pub const fn argument(&self) -> &'static str {
        self.argument
    }
}

impl fmt::Display for NullPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a null pointer was passed as `{}`", self.argument)
    }
}

impl std::error::Error for NullPointer {}
