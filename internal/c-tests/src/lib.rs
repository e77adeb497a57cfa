//! rawtask's C harness.
//!
//! This crate (`internal/c-tests/`) is the Rust side of the C programs in its `c/` folder: a
//! static library of `extern "C"` fixtures that spawn Rust futures for C event loops, built
//! together with rawtask's own C API into `librawtask_c_tests.a`. Its tests (`tests/`)
//! regenerate `include/rawtask.h` (at the repository root) and `c/fixtures.h` and fail if the
//! committed files differ, and compile every C program against the library and run it.
//!
//! # Adding a C program
//!
//! 1. Write `c/NAME.c`. It includes `rawtask.h` and `fixtures.h`, returns 0 from `main` on
//!    success, and prints what failed otherwise.
//! 2. If it needs Rust fixtures, add a module here (`src/NAME.rs`, declared below) with
//!    `#[no_mangle] pub extern "C"` functions; regenerate `c/fixtures.h` with
//!    `RAWTASK_BLESS=1 cargo test -p rawtask-c-tests --test header`. cbindgen does not
//!    expand macros: declare functions that a macro writes (`export_task!`, say) in the C
//!    program itself, or in a hand-written header beside it.
//! 3. Add one test to `tests/c_programs.rs`:
//!    `#[test] fn name() { harness::run_c_program("NAME"); }`.
//!
//! Every program is also run under valgrind by `.ci/c-valgrind.sh` (or by setting
//! `RAWTASK_C_VALGRIND=1` for `cargo test -p rawtask-c-tests`).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

pub mod background;
pub mod completion;
pub mod event_loop;
pub mod home;
pub mod misuse;
pub mod timer;

use std::ffi::c_void;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context, Poll};

use rawtask::capi::{Failure, RawtaskRunnable, RawtaskSchedule, RawtaskStatus, RawtaskTask};
use rawtask::Builder;

static LIVE_FUTURES: AtomicI64 = AtomicI64::new(0);

/// The number of fixture futures that exist right now (made and not yet dropped), for C
/// programs to check that cancelling or freeing a task dropped its future.
#[no_mangle]
pub extern "C" fn fixture_live_futures() -> i64 {
    LIVE_FUTURES.load(Ordering::SeqCst)
}

/// Counts itself in [`fixture_live_futures`] from creation to drop.
#[derive(Debug)]
pub struct Tracked<F> {
    future: F,
}

impl<F> Tracked<F> {
    /// Wraps `future`.
    pub fn new(future: F) -> Tracked<F> {
        LIVE_FUTURES.fetch_add(1, Ordering::SeqCst);
        Tracked { future }
    }
}

impl<F> Drop for Tracked<F> {
    fn drop(&mut self) {
        LIVE_FUTURES.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of `Tracked`, and
        // `Tracked` has no `Unpin` impl of its own that would let it move.
        unsafe { self.map_unchecked_mut(|t| &mut t.future) }.poll(cx)
    }
}

/// A pointer that a fixture future carries to another thread; C promised it may.
#[derive(Clone, Copy, Debug)]
pub struct SendPtr(pub *mut c_void);

// SAFETY: the C programs only pass contexts that they use in a thread-safe way.
unsafe impl Send for SendPtr {}

/// Spawns `future` for C and writes the handles to the out-parameters: the shape of every
/// fixture spawn function.
///
/// # Safety
/// `out_runnable` and `out_task` must be null or valid for writes.
pub unsafe fn spawn_for_c<M, F, Fut>(
    builder: Builder<M>,
    future: F,
    schedule: RawtaskSchedule,
    out_runnable: *mut *mut RawtaskRunnable,
    out_task: *mut RawtaskTask,
) -> Result<RawtaskStatus, Failure>
where
    F: FnOnce(&M) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: rawtask::capi::IntoC,
    M: Send + Sync + 'static,
{
    if out_runnable.is_null() || out_task.is_null() {
        return Err(Failure::invalid_argument(
            "fixture: `out_runnable` or `out_task` is null",
        ));
    }
    let (runnable, task) = builder.spawn_c(future, schedule)?;
    // SAFETY: both checked for null; the caller passes writable out-parameters.
    unsafe {
        out_runnable.write(runnable.as_ptr());
        out_task.write(task);
    }
    Ok(RawtaskStatus::Ok)
}
