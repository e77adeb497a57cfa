//! A user's `cdylib`, as the README's "Cancellation and background jobs for C" section
//! describes it: one background job exported with [`rawtask::export_task!`] and ffi_helpers'
//! error functions with [`rawtask::export_error_handling_functions!`].
//!
//! A `cdylib` exports only the `#[no_mangle]` functions that the crate itself defines, so this
//! checks what the macros promise: `tests/exports.rs` loads the built library with libloading
//! (as a C program would with `dlopen`), looks every symbol up, spawns jobs, polls them until
//! done, and reads their errors through the exported buffer functions — which see the
//! library's own copy of rawtask's thread-local last error, not the test's.

use rawtask::background::{CancellationToken, Error, Task};

/// Sums `1..=n`, checking its token between terms. `n == 0` is an error; `n == u64::MAX` runs
/// until cancelled.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct Triangle {
    /// The last term.
    pub n: u64,
}

impl Task for Triangle {
    type Output = u64;

    fn run(&self, token: &CancellationToken) -> Result<u64, Error> {
        if self.n == 0 {
            return Err(Error::msg("triangle: n must be positive"));
        }
        let mut total = 0u64;
        for i in 1..=self.n {
            token.is_done()?;
            total = total.wrapping_add(i);
        }
        Ok(total)
    }
}

rawtask::export_task! {
    #[allow(clippy::missing_safety_doc)]
    Task: Triangle;
    spawn: triangle_spawn;
    poll: triangle_poll;
    try_poll: triangle_try_poll;
    wait: triangle_wait;
    cancel: triangle_cancel;
    cancelled: triangle_cancelled;
    handle_destroy: triangle_handle_destroy;
    result_destroy: triangle_result_destroy;
}

rawtask::export_error_handling_functions!();

/// The README's Rust examples as doc tests of an edition-2024 crate: they must compile for users
/// on either edition (rawtask's own crate runs them as edition 2021).
#[cfg(doctest)]
#[doc = include_str!("../../../../README.md")]
struct ReadmeDoctests2024;
