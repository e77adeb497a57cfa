//! Panic payloads caught at a boundary (an `extern "C"` function, an FFI poll, a background
//! job): their message, and how to get rid of them without unwinding.
//!
//! A payload is user data: `panic_any` can carry a value whose destructor panics too. Code that
//! caught a panic to keep it from crossing a boundary must not let dropping the payload undo
//! that, so every layer drops payloads through [`drop_payload`].

use alloc::boxed::Box;
use alloc::string::String;
use core::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A caught panic, as `catch_unwind` returns it.
pub(crate) type Payload = Box<dyn Any + Send>;

/// The message of a panic payload (`panic!` with a literal or a format string), or
/// `placeholder` for a payload of another type. Each layer keeps its own placeholder, the text
/// its users already see.
pub(crate) fn message_or(payload: &(dyn Any + Send), placeholder: &str) -> String {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        String::from(*text)
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        String::from(placeholder)
    }
}

/// Drops a panic payload and never unwinds: a panic in its destructor is caught, and the
/// payload of that second panic is dropped the same way once more; should its destructor panic
/// as well, the third payload is leaked (each further payload could be another such value).
pub(crate) fn drop_payload(payload: Payload) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        if let Err(third) = catch_unwind(AssertUnwindSafe(move || drop(again))) {
            core::mem::forget(third);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::atomic_static::{AtomicUsize, Ordering};
    use std::panic::panic_any;

    /// Panics when dropped, with a payload that is again a `PanicsOnDrop` for `depth` levels.
    struct PanicsOnDrop {
        depth: usize,
        drops: &'static AtomicUsize,
    }

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            self.drops.fetch_add(1, Ordering::SeqCst);
            if self.depth > 0 {
                panic_any(PanicsOnDrop {
                    depth: self.depth - 1,
                    drops: self.drops,
                });
            }
        }
    }

    fn caught(depth: usize, drops: &'static AtomicUsize) -> Payload {
        catch_unwind(|| panic_any(PanicsOnDrop { depth, drops })).unwrap_err()
    }

    #[test]
    fn messages_and_placeholders() {
        let literal = catch_unwind(|| panic!("boom")).unwrap_err();
        assert_eq!(message_or(&*literal, "?"), "boom");
        let formatted = catch_unwind(|| panic!("code {}", 7)).unwrap_err();
        assert_eq!(message_or(&*formatted, "?"), "code 7");
        let other = catch_unwind(|| panic_any(7u8)).unwrap_err();
        assert_eq!(message_or(&*other, "not a string"), "not a string");
    }

    #[test]
    fn a_payload_whose_drop_panics_does_not_unwind() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        // The payload panics when dropped; the second payload drops quietly.
        drop_payload(caught(1, &DROPS));
        assert_eq!(DROPS.load(Ordering::SeqCst), 2);
    }

    #[test]
    #[cfg_attr(miri, ignore = "leaks the last payload on purpose")]
    fn a_payload_whose_drop_panics_twice_is_leaked_not_unwound() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        // Three levels of panicking destructors: the first two are dropped, the third payload
        // (which would panic once more) is leaked.
        drop_payload(caught(3, &DROPS));
        assert_eq!(DROPS.load(Ordering::SeqCst), 2);
    }
}
