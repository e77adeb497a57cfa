//! The C ABI: every `extern "C"` function of rawtask lives under this module.
//!
//! Failures are reported as status codes plus a thread-local last error (see
//! [`rawtask_last_error_message`] for the rules); no function unwinds into C.

mod error;

pub use self::error::{
    clear_last_error, error_message_utf16, error_message_utf8, last_error_length,
    last_error_length_utf16, rawtask_clear_last_error, rawtask_last_error_length,
    rawtask_last_error_length_utf16, rawtask_last_error_message, rawtask_last_error_message_utf16,
    take_last_error, update_last_error, Error,
};
