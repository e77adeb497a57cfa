//! [`Notify`]: how a home wakes its loop — a Rust closure, or a C function pointer with its
//! context stored as they are.
//!
//! A C loop's notify used to be a boxed closure around the C pointer: two indirect calls per
//! notify. The home thread notifies once per task spawned between drains, so the C form
//! calls the function pointer directly.

use alloc::boxed::Box;
use core::ffi::c_void;
use core::fmt;

/// A C notify function: called with its context, from any thread.
pub(crate) type CNotifyFn = unsafe extern "C" fn(context: *mut c_void);

/// The function a home calls to wake its loop.
pub(super) enum Notify {
    /// From [`Home::new`](super::Home::new).
    Rust(Box<dyn Fn() + Send + Sync + 'static>),
    /// From `rawtask_home_new` (through [`Home::from_c`](super::Home::from_c)).
    C {
        notify: CNotifyFn,
        context: *mut c_void,
    },
}

// SAFETY: the `Rust` form is `Send + Sync`; the `C` form is made only by `Home::from_c`, whose
// contract is that the function may be called from any thread with `context` until the home
// is dropped (the home drops it then, and never calls it afterwards).
unsafe impl Send for Notify {}
// SAFETY: as above; only the pointer values are shared.
unsafe impl Sync for Notify {}

impl Notify {
    /// Wakes the loop.
    #[inline]
    pub(super) fn call(&self) {
        match self {
            Notify::Rust(notify) => notify(),
            // SAFETY: `Home::from_c`'s contract; the home never calls notify after shutdown
            // began, and shutdown waits for a call in progress.
            Notify::C { notify, context } => unsafe { notify(*context) },
        }
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notify::Rust(_) => f.write_str("Notify::Rust"),
            Notify::C { .. } => f.write_str("Notify::C"),
        }
    }
}
