//! The C functions that read and clear the thread-local last error (`last_error`).
//!
//! Every `extern "C"` function of rawtask that fails stores a message there and returns a
//! status code. C reads it with [`rawtask_last_error_length`] and [`rawtask_last_error_message`]
//! (or their UTF-16 forms). The rules:
//!
//! - lengths are in the unit of the buffer (bytes for UTF-8, `u16` units for UTF-16) and include
//!   the NUL terminator; `0` means there is no error;
//! - reading the message *peeks*, as ffi_helpers' `error_message_utf8` does: the error stays
//!   until [`rawtask_clear_last_error`] (or [`take_last_error`](crate::capi::take_last_error))
//!   removes it or the next error replaces it;
//! - a failed copy (null buffer, length `<= 0`, buffer too small) returns `-1` and leaves the
//!   error as it was (ffi_helpers replaces it with a null-pointer error for a null buffer);
//! - a non-null buffer of positive length always receives a NUL terminator: the whole message,
//!   the longest prefix that fits (cut at a character boundary), or an empty string when there
//!   is no error.
//!
//! During thread-local teardown the functions behave as if there were no error.

use core::ffi::{c_char, c_int};

use super::last_error::{clear, with_message};
use super::status::catching_value;

/// Clears this thread's last error.
///
/// ```
/// rawtask::capi::update_last_error(anyhow::anyhow!("oops"));
/// rawtask::capi::clear_last_error();
/// assert_eq!(rawtask::capi::last_error_length(), 0);
/// ```
#[no_mangle]
pub extern "C" fn rawtask_clear_last_error() {
    catching_value("rawtask_clear_last_error", (), clear)
}

/// Clears this thread's last error (the Rust name of [`rawtask_clear_last_error`]).
///
/// ```
/// rawtask::capi::clear_last_error();
/// ```
pub fn clear_last_error() {
    rawtask_clear_last_error()
}

fn clamp(len: usize) -> c_int {
    c_int::try_from(len).unwrap_or(c_int::MAX)
}

/// The rules both buffer functions follow, for a buffer of `U` units (bytes or UTF-16 units):
/// with no error, 0 and (if the buffer is usable) an empty string; with an error, -1 for a null
/// buffer or `length <= 0`; otherwise the longest prefix of whole characters that fits before
/// a NUL terminator, returning the units written with the NUL, or -1 if the message was cut.
/// `encode` writes one character's units and returns their number.
///
/// # Safety
/// `buf` is null or valid for writes of `length` units.
unsafe fn copy_message<U: Copy + Default>(
    buf: *mut U,
    length: c_int,
    message: Option<&str>,
    encode: impl Fn(char, &mut [U; 4]) -> usize,
) -> c_int {
    let usable = !buf.is_null() && length > 0;
    let Some(message) = message else {
        if usable {
            // SAFETY: the caller gives `length >= 1` writable units at `buf`.
            unsafe { *buf = U::default() };
        }
        return 0;
    };
    if !usable {
        return -1;
    }
    let room = length as usize - 1; // units before the NUL
    let mut written = 0;
    let mut units = [U::default(); 4];
    let mut fits = true;
    for ch in message.chars() {
        let n = encode(ch, &mut units);
        if written + n > room {
            fits = false;
            break;
        }
        // SAFETY: `written + n <= length - 1`, inside the caller's buffer.
        unsafe { core::ptr::copy_nonoverlapping(units.as_ptr(), buf.add(written), n) };
        written += n;
    }
    // SAFETY: `written <= length - 1`.
    unsafe { *buf.add(written) = U::default() };
    if fits {
        clamp(written + 1)
    } else {
        -1
    }
}

/// The length in bytes of the last error message as UTF-8, including the NUL terminator, or 0
/// if there is no error.
///
/// ```
/// rawtask::capi::update_last_error(anyhow::anyhow!("é"));
/// assert_eq!(rawtask::capi::rawtask_last_error_length(), 3);
/// ```
#[no_mangle]
pub extern "C" fn rawtask_last_error_length() -> c_int {
    catching_value("rawtask_last_error_length", 0, || {
        with_message(|m| m.map_or(0, |m| clamp(m.len() + 1)))
    })
}

/// The length in UTF-16 code units of the last error message, including the NUL terminator, or
/// 0 if there is no error.
///
/// ```
/// rawtask::capi::update_last_error(anyhow::anyhow!("é"));
/// assert_eq!(rawtask::capi::rawtask_last_error_length_utf16(), 2);
/// ```
#[no_mangle]
pub extern "C" fn rawtask_last_error_length_utf16() -> c_int {
    catching_value("rawtask_last_error_length_utf16", 0, || {
        with_message(|m| m.map_or(0, |m| clamp(m.encode_utf16().count() + 1)))
    })
}

/// Copies the last error message into `buf` as NUL-terminated UTF-8, and leaves the error in
/// place (it peeks, as ffi_helpers' `error_message_utf8` does; clear the error with
/// [`rawtask_clear_last_error`]).
///
/// Returns the number of bytes written including the NUL; 0 if there is no error (a non-null
/// `buf` with `length > 0` then receives an empty string); or -1 if `buf` is null,
/// `length <= 0`, or `buf` is too small, in which case a non-empty buffer receives the longest
/// prefix that fits, NUL-terminated. The error is never changed.
///
/// # Safety
/// `buf` must be null or valid for writes of `length` bytes.
///
/// ```
/// rawtask::capi::update_last_error(anyhow::anyhow!("bad handle"));
/// let mut buf = [1 as std::ffi::c_char; 32];
/// let n = unsafe { rawtask::capi::rawtask_last_error_message(buf.as_mut_ptr(), 32) };
/// assert_eq!(n, 11);
/// let text = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
/// assert_eq!(text.to_str().unwrap(), "bad handle");
/// assert_eq!(rawtask::capi::last_error_length(), 11); // still there
/// rawtask::capi::clear_last_error();
/// let n = unsafe { rawtask::capi::rawtask_last_error_message(buf.as_mut_ptr(), 32) };
/// assert_eq!((n, buf[0]), (0, 0)); // no error: an empty string
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_last_error_message(buf: *mut c_char, length: c_int) -> c_int {
    catching_value("rawtask_last_error_message", -1, || {
        with_message(|message| {
            // SAFETY: forwarded from the caller (`buf` is null or holds `length` bytes).
            unsafe {
                copy_message(buf.cast::<u8>(), length, message, |ch, units| {
                    ch.encode_utf8(units).len()
                })
            }
        })
    })
}

/// Copies the last error message into `buf` as NUL-terminated UTF-16, with the rules of
/// [`rawtask_last_error_message`] (it peeks; a usable buffer always receives a NUL), counting
/// in `u16` units.
///
/// # Safety
/// `buf` must be null or valid for writes of `length` `u16` units.
///
/// ```
/// rawtask::capi::update_last_error(anyhow::anyhow!("hé"));
/// let mut buf = [0u16; 8];
/// let n = unsafe { rawtask::capi::rawtask_last_error_message_utf16(buf.as_mut_ptr(), 8) };
/// assert_eq!(n, 3);
/// assert_eq!(String::from_utf16(&buf[..2]).unwrap(), "hé");
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_last_error_message_utf16(buf: *mut u16, length: c_int) -> c_int {
    catching_value("rawtask_last_error_message_utf16", -1, || {
        with_message(|message| {
            // SAFETY: forwarded from the caller (`buf` is null or holds `length` units).
            unsafe {
                copy_message(buf, length, message, |ch, units: &mut [u16; 4]| {
                    let mut pair = [0u16; 2];
                    let encoded = ch.encode_utf16(&mut pair);
                    units[..encoded.len()].copy_from_slice(encoded);
                    encoded.len()
                })
            }
        })
    })
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
/// rawtask::capi::update_last_error(anyhow::anyhow!("x"));
/// assert_eq!(rawtask::capi::last_error_length_utf16(), 2);
/// ```
pub extern "C" fn last_error_length_utf16() -> c_int {
    rawtask_last_error_length_utf16()
}

/// ffi_helpers' name for [`rawtask_last_error_message`]. Like ffi_helpers' function of this
/// name it peeks: the error stays until it is cleared or replaced.
///
/// # Safety
/// As [`rawtask_last_error_message`].
///
/// ```
/// rawtask::capi::update_last_error(anyhow::anyhow!("x"));
/// assert_eq!(unsafe { rawtask::capi::error_message_utf8(std::ptr::null_mut(), 4) }, -1);
/// assert_eq!(rawtask::capi::last_error_length(), 2); // not clobbered
/// let mut buf = [0 as std::ffi::c_char; 4];
/// assert_eq!(unsafe { rawtask::capi::error_message_utf8(buf.as_mut_ptr(), 4) }, 2);
/// assert_eq!(rawtask::capi::last_error_length(), 2); // peeked, not taken
/// ```
pub unsafe extern "C" fn error_message_utf8(buf: *mut c_char, length: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { rawtask_last_error_message(buf, length) }
}

/// ffi_helpers' name for [`rawtask_last_error_message_utf16`]; it peeks too.
///
/// # Safety
/// As [`rawtask_last_error_message_utf16`].
///
/// ```
/// rawtask::capi::update_last_error(anyhow::anyhow!("x"));
/// assert_eq!(unsafe { rawtask::capi::error_message_utf16(std::ptr::null_mut(), -3) }, -1);
/// ```
pub unsafe extern "C" fn error_message_utf16(buf: *mut u16, length: c_int) -> c_int {
    // SAFETY: forwarded from the caller.
    unsafe { rawtask_last_error_message_utf16(buf, length) }
}

/// Re-exports the error-handling functions from a user's `cdylib` under ffi_helpers' names
/// (`last_error_length`, `last_error_length_utf16`, `error_message_utf8`,
/// `error_message_utf16`, `clear_last_error`). rawtask defines these names without
/// `#[no_mangle]`, so that they never clash with ffi_helpers' or another library's symbols;
/// a `cdylib` (or `staticlib`) that wants to offer them to C invokes this once in its library
/// crate. (rawtask's own `rawtask_*` functions are `#[no_mangle]` and exported as they are;
/// `internal/c-tests/cdylib-fixture` checks both, and ffi_helpers' macro of this name exists
/// because of rust-lang/rfcs#2771.)
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

        /// Copies the last error message as NUL-terminated UTF-8 and leaves the error in place
        /// (it peeks, like ffi_helpers'); see `rawtask_last_error_message`.
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

        /// Copies the last error message as NUL-terminated UTF-16 and leaves the error in place
        /// (it peeks, like ffi_helpers'); see `rawtask_last_error_message_utf16`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capi::last_error::{take_last_error, update_last_error, Error};
    use crate::capi::status::{guard, Failure, RawtaskStatus};
    use crate::sync::atomic_static::{AtomicUsize, Ordering::SeqCst};
    use alloc::string::String;
    use core::fmt;
    use std::error::Error as StdError;

    fn message() -> Option<String> {
        with_message(|m| m.map(String::from))
    }

    /// An error whose destructor stores an error of its own.
    #[derive(Debug)]
    struct StoresOnDrop;
    impl fmt::Display for StoresOnDrop {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("stores on drop")
        }
    }
    impl StdError for StoresOnDrop {}
    impl Drop for StoresOnDrop {
        fn drop(&mut self) {
            update_last_error(Error::msg("stored by a destructor"));
        }
    }

    /// An error whose destructor panics.
    #[derive(Debug)]
    struct PanicsOnDrop;
    impl fmt::Display for PanicsOnDrop {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("panics on drop")
        }
    }
    impl StdError for PanicsOnDrop {}
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("drop refused");
        }
    }

    /// An error whose `Display` panics.
    #[derive(Debug)]
    struct PanicsOnDisplay;
    impl fmt::Display for PanicsOnDisplay {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            panic!("display refused")
        }
    }
    impl StdError for PanicsOnDisplay {}

    #[test]
    fn a_cut_message_keeps_whole_characters() {
        update_last_error(Error::msg("aé"));
        let mut bytes = [7 as c_char; 3];
        // SAFETY: three writable bytes.
        let n = unsafe { rawtask_last_error_message(bytes.as_mut_ptr(), 3) };
        // "é" is two bytes: only "a" fits before the NUL.
        assert_eq!((n, bytes[0] as u8, bytes[1]), (-1, b'a', 0));

        update_last_error(Error::msg("a\u{1F600}"));
        let mut units = [7u16; 3];
        // SAFETY: three writable units.
        let n = unsafe { rawtask_last_error_message_utf16(units.as_mut_ptr(), 3) };
        // The emoji is a surrogate pair: only "a" fits before the NUL.
        assert_eq!((n, units[0], units[1]), (-1, u16::from(b'a'), 0));
        let mut units = [7u16; 4];
        // SAFETY: four writable units.
        let n = unsafe { rawtask_last_error_message_utf16(units.as_mut_ptr(), 4) };
        assert_eq!((n, units[3]), (4, 0));
        clear_last_error();
    }

    #[test]
    fn a_destructor_that_stores_an_error_does_not_hit_the_borrowed_slot() {
        update_last_error(StoresOnDrop);
        // Dropping the old error stores one while we replace it: the caller's error wins.
        update_last_error(Error::msg("second"));
        assert_eq!(message().as_deref(), Some("second"));

        update_last_error(StoresOnDrop);
        rawtask_clear_last_error();
        assert_eq!(
            rawtask_last_error_length(),
            0,
            "clear leaves nothing behind"
        );

        update_last_error(StoresOnDrop);
        let taken = take_last_error().unwrap();
        assert_eq!(rawtask_last_error_length(), 0);
        drop(taken); // outside the slot: stores its error normally
        assert_eq!(message().as_deref(), Some("stored by a destructor"));
        rawtask_clear_last_error();
    }

    #[test]
    fn a_destructor_that_panics_does_not_unwind() {
        update_last_error(PanicsOnDrop);
        rawtask_clear_last_error(); // an `extern "C"` function: unwinding would abort
        assert_eq!(rawtask_last_error_length(), 0);

        update_last_error(PanicsOnDrop);
        update_last_error(Error::msg("after"));
        assert_eq!(message().as_deref(), Some("after"));

        // `guard` stores its failure outside its `catch_unwind`.
        update_last_error(PanicsOnDrop);
        let status = guard(|| Err(Failure::invalid_argument("x")));
        assert_eq!(status, RawtaskStatus::InvalidArgument);
        assert_eq!(message().as_deref(), Some("x"));
        rawtask_clear_last_error();
    }

    #[test]
    fn a_display_that_panics_is_replaced_by_a_placeholder() {
        update_last_error(PanicsOnDisplay);
        assert_eq!(
            message().as_deref(),
            Some("(an error whose Display implementation panicked)")
        );
        rawtask_clear_last_error();
    }

    static TEARDOWN_DROPS: AtomicUsize = AtomicUsize::new(0);

    /// An error whose destructor uses the last error, then panics: run as the thread-local's
    /// own destructor when its thread exits.
    #[derive(Debug)]
    struct UsesLastErrorOnDrop;
    impl fmt::Display for UsesLastErrorOnDrop {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("uses the last error on drop")
        }
    }
    impl StdError for UsesLastErrorOnDrop {}
    impl Drop for UsesLastErrorOnDrop {
        fn drop(&mut self) {
            update_last_error(Error::msg("during teardown"));
            let _ = rawtask_last_error_length();
            let _ = rawtask_last_error_length_utf16();
            let mut buf = [1 as c_char; 8];
            // SAFETY: `buf` holds 8 bytes.
            let _ = unsafe { rawtask_last_error_message(buf.as_mut_ptr(), 8) };
            rawtask_clear_last_error();
            let _ = take_last_error();
            TEARDOWN_DROPS.fetch_add(1, SeqCst);
            panic!("and a panic on top");
        }
    }

    #[test]
    fn the_functions_work_during_thread_local_teardown() {
        std::thread::spawn(|| update_last_error(UsesLastErrorOnDrop))
            .join()
            .unwrap();
        assert_eq!(TEARDOWN_DROPS.load(SeqCst), 1);
    }

    #[test]
    fn reading_the_message_peeks() {
        update_last_error(Error::msg("peek at me"));
        let mut buf = [0 as c_char; 16];
        for _ in 0..2 {
            // SAFETY: `buf` holds 16 bytes.
            let n = unsafe { rawtask_last_error_message(buf.as_mut_ptr(), 16) };
            assert_eq!(n, 11);
            assert_eq!(rawtask_last_error_length(), 11);
        }
        let mut wide = [0u16; 16];
        // SAFETY: `wide` holds 16 units.
        let n = unsafe { rawtask_last_error_message_utf16(wide.as_mut_ptr(), 16) };
        assert_eq!(n, 11);
        assert_eq!(rawtask_last_error_length_utf16(), 11);
        // SAFETY: as above.
        assert_eq!(unsafe { error_message_utf8(buf.as_mut_ptr(), 16) }, 11);
        assert_eq!(last_error_length(), 11);
        rawtask_clear_last_error();
        assert_eq!(rawtask_last_error_length(), 0);
    }

    #[test]
    fn a_usable_buffer_gets_a_nul_even_without_an_error() {
        rawtask_clear_last_error();
        let x = b'x' as c_char;
        let mut buf = [x; 4];
        // SAFETY: `buf` holds 4 bytes.
        let n = unsafe { rawtask_last_error_message(buf.as_mut_ptr(), 4) };
        assert_eq!((n, buf), (0, [0, x, x, x]));
        buf[0] = x;
        // SAFETY: as above.
        let n = unsafe { error_message_utf8(buf.as_mut_ptr(), 1) };
        assert_eq!((n, buf[0]), (0, 0));
        // A length of 0 means no buffer: nothing is written.
        buf[0] = x;
        // SAFETY: nothing is written for a length of 0.
        let n = unsafe { rawtask_last_error_message(buf.as_mut_ptr(), 0) };
        assert_eq!((n, buf[0]), (0, x));
        // SAFETY: null is allowed.
        let n = unsafe { rawtask_last_error_message(core::ptr::null_mut(), 4) };
        assert_eq!(n, 0);

        let mut wide = [0xFFFFu16; 3];
        // SAFETY: `wide` holds 3 units.
        let n = unsafe { rawtask_last_error_message_utf16(wide.as_mut_ptr(), 3) };
        assert_eq!((n, wide), (0, [0, 0xFFFF, 0xFFFF]));
        wide[0] = 0xFFFF;
        // SAFETY: as above.
        let n = unsafe { error_message_utf16(wide.as_mut_ptr(), 3) };
        assert_eq!((n, wide[0]), (0, 0));
    }
}
