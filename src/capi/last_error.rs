//! The thread-local "last error": the one error a C caller reads after a function of rawtask
//! (or of a user's library) reported failure.
//!
//! The stored error is an [`anyhow::Error`], as in ffi_helpers, and its message is its
//! `Display` text (`to_string()`: the outermost message, without the chain of sources), as
//! ffi_helpers reports it. The error is user-supplied, so dropping it runs user code: it is
//! always dropped after the thread-local is released (its destructor may store a new error),
//! and a panic in its destructor is caught, as is a panic in its `Display`. During thread-local
//! teardown the store behaves as if there were no error, and storing one drops it at once.
//!
//! The C functions that read it are in `error_message`.

use alloc::string::{String, ToString};
use core::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::panic::drop_payload;

/// The error type stored as the last error: [`anyhow::Error`], as in ffi_helpers (any
/// standard error converts into it with `?` or `.into()`; [`Error::msg`] makes one from a
/// message).
///
/// ```
/// let error: rawtask::capi::Error = std::io::Error::other("disk on fire").into();
/// assert!(error.is::<std::io::Error>());
/// assert_eq!(rawtask::capi::Error::msg("bad input").to_string(), "bad input");
/// ```
pub use anyhow::Error;

struct LastError {
    /// Always `Some` until [`take_last_error`] moves it out or the destructor drops it.
    error: Option<Error>,
    /// The rendered message, kept so that repeated length queries agree with the copy.
    message: String,
}

impl Drop for LastError {
    fn drop(&mut self) {
        // The error is user code: never let its destructor unwind out of ours (which may run
        // inside an `extern "C"` function, or as a thread-local destructor).
        if let Some(error) = self.error.take() {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(error))) {
                drop_payload(payload);
            }
        }
    }
}

std::thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

/// Puts `value` into this thread's slot and returns what was there, without dropping anything
/// while the slot is borrowed. If the slot cannot be used (the thread-local is being torn down,
/// or — which rawtask never does — it is borrowed), `value` itself comes back.
fn swap(value: Option<LastError>) -> Option<LastError> {
    let mut value = value;
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            core::mem::swap(&mut *slot, &mut value);
        }
    });
    value
}

/// Replaces this thread's last error with `value`. The old error is dropped after the borrow
/// ended and before `value` is stored, so an old error whose destructor stores an error of its
/// own does not overwrite `value`.
fn replace(value: Option<LastError>) {
    drop(swap(None));
    drop(swap(value));
}

/// Stores `error` as this thread's last error, replacing any previous one (ffi_helpers'
/// signature: anything that converts into an [`anyhow::Error`]).
///
/// ```
/// rawtask::capi::update_last_error(anyhow::anyhow!("disk on fire"));
/// assert_eq!(rawtask::capi::last_error_length(), 13); // 12 bytes + NUL
/// // Any standard error converts too.
/// rawtask::capi::update_last_error(std::io::Error::other("disk on fire"));
/// ```
pub fn update_last_error<E: Into<Error>>(error: E) {
    let error = error.into();
    let message = match catch_unwind(AssertUnwindSafe(|| error.to_string())) {
        Ok(message) => message,
        Err(payload) => {
            drop_payload(payload);
            String::from("(an error whose Display implementation panicked)")
        }
    };
    // A NUL inside the message would cut it short in C; show it instead.
    let message = if message.contains('\0') {
        message.replace('\0', "\\0")
    } else {
        message
    };
    replace(Some(LastError {
        error: Some(error),
        message,
    }));
}

/// Takes this thread's last error out, leaving none.
///
/// ```
/// rawtask::capi::update_last_error(anyhow::anyhow!("oops"));
/// assert_eq!(rawtask::capi::take_last_error().unwrap().to_string(), "oops");
/// assert!(rawtask::capi::take_last_error().is_none());
/// ```
pub fn take_last_error() -> Option<Error> {
    swap(None).and_then(|mut last| last.error.take())
}

/// Removes this thread's last error.
pub(crate) fn clear() {
    replace(None);
}

/// Calls `f` with the last error's message (`None` if there is none, or if the thread-local is
/// being torn down).
pub(crate) fn with_message<R>(f: impl FnOnce(Option<&str>) -> R) -> R {
    let mut f = Some(f);
    let result = LAST_ERROR.try_with(|slot| {
        let f = f.take().unwrap();
        match slot.try_borrow() {
            Ok(slot) => f(slot.as_ref().map(|last| last.message.as_str())),
            Err(_) => f(None),
        }
    });
    match result {
        Ok(result) => result,
        // `f` was not called: the thread-local is gone.
        Err(_) => (f.take().unwrap())(None),
    }
}
