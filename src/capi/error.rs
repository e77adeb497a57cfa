//! The thread-local "last error" that C callers read after a function reports failure.
//!
//! Every `extern "C"` function of rawtask that fails stores a message here and returns a status
//! code. C reads it with [`rawtask_last_error_length`] and [`rawtask_last_error_message`] (or
//! their UTF-16 forms). The rules, which fix the sharp edges of ffi_helpers' versions:
//!
//! - lengths are in the unit of the buffer (bytes for UTF-8, `u16` units for UTF-16) and include
//!   the NUL terminator; `0` means there is no error;
//! - a successful copy clears the error; a failed one (null buffer, length `<= 0`, buffer too
//!   small) returns `-1` and leaves the error as it was, so the message being read is never
//!   clobbered;
//! - whatever is written into a buffer is NUL-terminated: a buffer that is too small receives the
//!   longest prefix that fits (cut at a character boundary).

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use core::cell::RefCell;
use core::ffi::{c_char, c_int};
use std::error::Error as StdError;

/// The error type stored as the last error: any error, boxed.
pub type Error = Box<dyn StdError + Send + Sync + 'static>;

struct LastError {
    error: Error,
    /// The rendered message, kept so that repeated length queries agree with the copy.
    message: String,
}

std::thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

/// Stores `error` as this thread's last error, replacing any previous one.
///
/// ```
/// rawtask::capi::update_last_error("disk on fire");
/// assert_eq!(rawtask::capi::last_error_length(), 13); // 12 bytes + NUL
/// ```
pub fn update_last_error<E: Into<Error>>(error: E) {
    let error = error.into();
    let mut message = error.to_string();
    // A NUL inside the message would cut it short in C; show it instead.
    if message.contains('\0') {
        message = message.replace('\0', "\\0");
    }
    LAST_ERROR.with(|slot| *slot.borrow_mut() = Some(LastError { error, message }));
}

/// Takes this thread's last error out, leaving none.
///
/// ```
/// rawtask::capi::update_last_error("oops");
/// assert_eq!(rawtask::capi::take_last_error().unwrap().to_string(), "oops");
/// assert!(rawtask::capi::take_last_error().is_none());
/// ```
pub fn take_last_error() -> Option<Error> {
    LAST_ERROR.with(|slot| slot.borrow_mut().take().map(|last| last.error))
}

/// Clears this thread's last error.
///
/// ```
/// rawtask::capi::update_last_error("oops");
/// rawtask::capi::clear_last_error();
/// assert_eq!(rawtask::capi::last_error_length(), 0);
/// ```
#[no_mangle]
pub extern "C" fn rawtask_clear_last_error() {
    LAST_ERROR.with(|slot| *slot.borrow_mut() = None);
}

/// Clears this thread's last error (the Rust name of [`rawtask_clear_last_error`]).
///
/// ```
/// rawtask::capi::clear_last_error();
/// ```
pub fn clear_last_error() {
    rawtask_clear_last_error()
}

fn with_message<R>(f: impl FnOnce(Option<&str>) -> R) -> R {
    LAST_ERROR.with(|slot| f(slot.borrow().as_ref().map(|last| last.message.as_str())))
}

fn clamp(len: usize) -> c_int {
    c_int::try_from(len).unwrap_or(c_int::MAX)
}

/// The length in bytes of the last error message as UTF-8, including the NUL terminator, or 0
/// if there is no error.
///
/// ```
/// rawtask::capi::update_last_error("é");
/// assert_eq!(rawtask::capi::rawtask_last_error_length(), 3);
/// ```
#[no_mangle]
pub extern "C" fn rawtask_last_error_length() -> c_int {
    with_message(|m| m.map_or(0, |m| clamp(m.len() + 1)))
}

/// The length in UTF-16 code units of the last error message, including the NUL terminator, or
/// 0 if there is no error.
///
/// ```
/// rawtask::capi::update_last_error("é");
/// assert_eq!(rawtask::capi::rawtask_last_error_length_utf16(), 2);
/// ```
#[no_mangle]
pub extern "C" fn rawtask_last_error_length_utf16() -> c_int {
    with_message(|m| m.map_or(0, |m| clamp(m.encode_utf16().count() + 1)))
}

/// Copies the last error message into `buf` as NUL-terminated UTF-8.
///
/// Returns the number of bytes written including the NUL (and clears the error), 0 if there is
/// no error, or -1 if `buf` is null, `length <= 0`, or `buf` is too small — then the error is
/// kept, and a non-empty buffer receives the longest prefix that fits, NUL-terminated.
///
/// # Safety
/// `buf` must be null or valid for writes of `length` bytes.
///
/// ```
/// rawtask::capi::update_last_error("bad handle");
/// let mut buf = [0 as std::ffi::c_char; 32];
/// let n = unsafe { rawtask::capi::rawtask_last_error_message(buf.as_mut_ptr(), 32) };
/// assert_eq!(n, 11);
/// let text = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
/// assert_eq!(text.to_str().unwrap(), "bad handle");
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_last_error_message(buf: *mut c_char, length: c_int) -> c_int {
    let outcome = with_message(|message| {
        let Some(message) = message else {
            return Copy::NoError;
        };
        if buf.is_null() || length <= 0 {
            return Copy::Failed;
        }
        let capacity = length as usize;
        let bytes = message.as_bytes();
        let fits = bytes.len() < capacity;
        let mut n = bytes.len().min(capacity - 1);
        while !message.is_char_boundary(n) {
            n -= 1;
        }
        // SAFETY: the caller gives `length >= n + 1` writable bytes at `buf`.
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
            *buf.add(n) = 0;
        }
        if fits {
            Copy::Done(n + 1)
        } else {
            Copy::Failed
        }
    });
    finish(outcome)
}

/// Copies the last error message into `buf` as NUL-terminated UTF-16, with the rules of
/// [`rawtask_last_error_message`], counting in `u16` units.
///
/// # Safety
/// `buf` must be null or valid for writes of `length` `u16` units.
///
/// ```
/// rawtask::capi::update_last_error("hé");
/// let mut buf = [0u16; 8];
/// let n = unsafe { rawtask::capi::rawtask_last_error_message_utf16(buf.as_mut_ptr(), 8) };
/// assert_eq!(n, 3);
/// assert_eq!(String::from_utf16(&buf[..2]).unwrap(), "hé");
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_last_error_message_utf16(buf: *mut u16, length: c_int) -> c_int {
    let outcome = with_message(|message| {
        let Some(message) = message else {
            return Copy::NoError;
        };
        if buf.is_null() || length <= 0 {
            return Copy::Failed;
        }
        let capacity = length as usize;
        let mut written = 0;
        let mut fits = true;
        let mut units = [0u16; 2];
        for ch in message.chars() {
            let encoded = ch.encode_utf16(&mut units);
            if written + encoded.len() > capacity - 1 {
                fits = false;
                break;
            }
            // SAFETY: `written + encoded.len() <= length - 1`, inside the caller's buffer.
            unsafe {
                core::ptr::copy_nonoverlapping(encoded.as_ptr(), buf.add(written), encoded.len())
            };
            written += encoded.len();
        }
        // SAFETY: `written <= length - 1`.
        unsafe { *buf.add(written) = 0 };
        if fits {
            Copy::Done(written + 1)
        } else {
            Copy::Failed
        }
    });
    finish(outcome)
}

enum Copy {
    NoError,
    Failed,
    Done(usize),
}

fn finish(outcome: Copy) -> c_int {
    match outcome {
        Copy::NoError => 0,
        Copy::Failed => -1,
        Copy::Done(n) => {
            rawtask_clear_last_error();
            clamp(n)
        }
    }
}

/// ffi_helpers' name for [`rawtask_last_error_length`].
///
/// ```
/// rawtask::capi::clear_last_error();
/// assert_eq!(rawtask::capi::last_error_length(), 0);
/// ```
pub extern "C" fn last_error_length() -> c_int {
    rawtask_last_error_length()
}

/// ffi_helpers' name for [`rawtask_last_error_length_utf16`].
///
/// ```
/// rawtask::capi::update_last_error("x");
/// assert_eq!(rawtask::capi::last_error_length_utf16(), 2);
/// ```
pub extern "C" fn last_error_length_utf16() -> c_int {
    rawtask_last_error_length_utf16()
}

/// ffi_helpers' name for [`rawtask_last_error_message`].
///
/// # Safety
/// As [`rawtask_last_error_message`].
///
/// ```
/// rawtask::capi::update_last_error("x");
/// assert_eq!(unsafe { rawtask::capi::error_message_utf8(std::ptr::null_mut(), 4) }, -1);
/// assert_eq!(rawtask::capi::last_error_length(), 2); // not clobbered
/// ```
pub unsafe extern "C" fn error_message_utf8(buf: *mut c_char, length: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { rawtask_last_error_message(buf, length) }
}

/// ffi_helpers' name for [`rawtask_last_error_message_utf16`].
///
/// # Safety
/// As [`rawtask_last_error_message_utf16`].
///
/// ```
/// rawtask::capi::update_last_error("x");
/// assert_eq!(unsafe { rawtask::capi::error_message_utf16(std::ptr::null_mut(), -3) }, -1);
/// ```
pub unsafe extern "C" fn error_message_utf16(buf: *mut u16, length: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { rawtask_last_error_message_utf16(buf, length) }
}

/// Re-exports the error-handling functions from a user's `cdylib` under ffi_helpers' names
/// (`last_error_length`, `last_error_length_utf16`, `error_message_utf8`,
/// `error_message_utf16`, `clear_last_error`). A `cdylib` does not export the `#[no_mangle]`
/// symbols of its dependencies on its own (rust-lang/rust#36342), so invoke this once in the
/// library crate.
///
/// ```
/// rawtask::export_error_handling_functions!();
/// ```
#[macro_export]
macro_rules! export_error_handling_functions {
    () => {
        /// The length in bytes of the last error message, including the NUL, or 0.
        #[no_mangle]
        pub extern "C" fn last_error_length() -> ::core::ffi::c_int {
            $crate::capi::rawtask_last_error_length()
        }

        /// The length in UTF-16 units of the last error message, including the NUL, or 0.
        #[no_mangle]
        pub extern "C" fn last_error_length_utf16() -> ::core::ffi::c_int {
            $crate::capi::rawtask_last_error_length_utf16()
        }

        /// Copies the last error message as NUL-terminated UTF-8; see rawtask's docs.
        ///
        /// # Safety
        /// `buf` must be null or valid for writes of `length` bytes.
        #[no_mangle]
        pub unsafe extern "C" fn error_message_utf8(
            buf: *mut ::core::ffi::c_char,
            length: ::core::ffi::c_int,
        ) -> ::core::ffi::c_int {
            // SAFETY: forwarded from the caller.
            unsafe { $crate::capi::rawtask_last_error_message(buf, length) }
        }

        /// Copies the last error message as NUL-terminated UTF-16; see rawtask's docs.
        ///
        /// # Safety
        /// `buf` must be null or valid for writes of `length` `u16` units.
        #[no_mangle]
        pub unsafe extern "C" fn error_message_utf16(
            buf: *mut u16,
            length: ::core::ffi::c_int,
        ) -> ::core::ffi::c_int {
            // SAFETY: forwarded from the caller.
            unsafe { $crate::capi::rawtask_last_error_message_utf16(buf, length) }
        }

        /// Clears the last error.
        #[no_mangle]
        pub extern "C" fn clear_last_error() {
            $crate::capi::rawtask_clear_last_error()
        }
    };
}
