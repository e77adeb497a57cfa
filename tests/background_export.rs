//! The functions `export_task!` generates, called the way C calls them: null pointers, status
//! codes, take-once, zero-sized outputs, panics, and reading errors through the buffer API.

mod common;

use std::ffi::{c_char, CStr};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use rawtask::background::{
    CancellationToken, Error, Task, RAWTASK_BACKGROUND_ERROR, RAWTASK_BACKGROUND_PENDING,
    RAWTASK_BACKGROUND_READY,
};
use rawtask::capi::{clear_last_error, error_message_utf8, last_error_length};

/// Adds up to `n`, or fails when `n` is zero.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct Sum {
    n: u64,
}

impl Task for Sum {
    type Output = u64;
    fn run(&self, token: &CancellationToken) -> Result<u64, Error> {
        if self.n == 0 {
            return Err(anyhow::anyhow!("nothing to add"));
        }
        let mut total = 0;
        for i in 1..=self.n {
            token.is_done()?;
            total += i;
        }
        Ok(total)
    }
}

rawtask::export_task! {
    #[allow(clippy::missing_safety_doc)]
    Task: Sum;
    spawn: sum_spawn;
    poll: sum_poll;
    try_poll: sum_try_poll;
    wait: sum_wait;
    cancel: sum_cancel;
    cancelled: sum_cancelled;
    handle_destroy: sum_handle_destroy;
    result_destroy: sum_result_destroy;
}

/// A job with a zero-sized output.
#[derive(Debug, Clone)]
pub struct Nothing;

impl Task for Nothing {
    type Output = ();
    fn run(&self, _: &CancellationToken) -> Result<(), Error> {
        Ok(())
    }
}

rawtask::export_task! {
    Task: Nothing;
    wait: nothing_wait;
    spawn: nothing_spawn;
    poll: nothing_poll;
    result_destroy: nothing_result_destroy;
}

/// A job whose `Clone` panics when armed.
#[derive(Debug)]
pub struct BadClone;

static ARMED: AtomicBool = AtomicBool::new(false);

impl Clone for BadClone {
    fn clone(&self) -> Self {
        if ARMED.load(SeqCst) {
            panic!("clone refused");
        }
        BadClone
    }
}

impl Task for BadClone {
    type Output = u8;
    fn run(&self, _: &CancellationToken) -> Result<u8, Error> {
        Ok(1)
    }
}

rawtask::export_task! {
    Task: BadClone;
    spawn: bad_spawn;
    handle_destroy: bad_handle_destroy;
}

/// Reads the last error through the buffer API, then clears it (reading only peeks), so that
/// every check sees the error of the call just made.
fn last_error() -> String {
    let len = last_error_length();
    assert!(len > 0, "expected a last error");
    let mut buf = vec![0 as c_char; len as usize];
    // SAFETY: `buf` holds `len` bytes.
    let written = unsafe { error_message_utf8(buf.as_mut_ptr(), len) };
    assert_eq!(written, len);
    assert_eq!(last_error_length(), len, "error_message_utf8 peeks");
    clear_last_error();
    // SAFETY: the copy is NUL-terminated.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_error_buffer_functions_peek_and_always_terminate() {
    use rawtask::capi::{error_message_utf16, last_error_length_utf16};
    // SAFETY: every pointer passed is null, a live job, or a handle of these functions not
    // freed yet; the buffers hold the lengths passed with them.
    unsafe {
        let failing = sum_wait(sum_spawn(&Sum { n: 0 }));
        assert!(failing.is_null());
        let mut buf = [0 as c_char; 32];
        let mut wide = [0u16; 32];
        for _ in 0..2 {
            assert_eq!(error_message_utf8(buf.as_mut_ptr(), 32), 15);
            assert_eq!(error_message_utf16(wide.as_mut_ptr(), 32), 15);
            assert_eq!(last_error_length(), 15);
            assert_eq!(last_error_length_utf16(), 15);
        }
        assert_eq!(
            CStr::from_ptr(buf.as_ptr()).to_str().unwrap(),
            "nothing to add"
        );
        assert_eq!(String::from_utf16(&wide[..14]).unwrap(), "nothing to add");
        // Cleared only by clear_last_error (or replaced by the next error).
        clear_last_error();
        assert_eq!(last_error_length(), 0);
        // No error: 0, and a usable buffer still receives a NUL.
        buf[0] = b'x' as c_char;
        wide[0] = u16::from(b'x');
        assert_eq!(error_message_utf8(buf.as_mut_ptr(), 32), 0);
        assert_eq!(error_message_utf16(wide.as_mut_ptr(), 32), 0);
        assert_eq!((buf[0], wide[0]), (0, 0));
    }
}

#[test]
fn spawn_poll_until_done_then_already_taken() {
    // SAFETY: every pointer passed is null, a live job, or a handle/result of these functions
    // not freed yet.
    unsafe {
        let job = Sum { n: 100 };
        let handle = sum_spawn(&job);
        assert!(!handle.is_null());
        let result = common::wait_for("the sum's result", || {
            clear_last_error();
            let result = sum_poll(handle);
            assert_eq!(last_error_length(), 0);
            (!result.is_null()).then_some(result)
        });
        assert_eq!(*result, 5050);
        sum_result_destroy(result);

        clear_last_error();
        assert!(sum_poll(handle).is_null());
        assert_eq!(last_error(), "the task's result has already been taken");
        sum_handle_destroy(handle);
    }
}

#[test]
fn try_poll_tells_pending_ready_and_error_apart() {
    // SAFETY: every pointer passed is null, a live job, or a handle/result of these functions
    // not freed yet.
    unsafe {
        let handle = sum_spawn(&Sum { n: 10 });
        let mut out: *mut u64 = std::ptr::dangling_mut();
        let status = common::wait_for("the sum to be ready", || {
            let status = sum_try_poll(handle, &mut out);
            if status == RAWTASK_BACKGROUND_PENDING {
                assert!(out.is_null());
                return None;
            }
            Some(status)
        });
        assert_eq!(status, RAWTASK_BACKGROUND_READY);
        assert_eq!(*out, 55);
        sum_result_destroy(out);

        assert_eq!(sum_try_poll(handle, &mut out), RAWTASK_BACKGROUND_ERROR);
        assert!(out.is_null());
        assert_eq!(last_error(), "the task's result has already been taken");
        sum_handle_destroy(handle);

        let failing = sum_spawn(&Sum { n: 0 });
        let status = common::wait_for("the failing sum to finish", || {
            let status = sum_try_poll(failing, &mut out);
            (status != RAWTASK_BACKGROUND_PENDING).then_some(status)
        });
        assert_eq!(status, RAWTASK_BACKGROUND_ERROR);
        assert_eq!(last_error(), "nothing to add");
        sum_handle_destroy(failing);
    }
}

#[test]
fn wait_consumes_the_handle_and_reports_errors() {
    // SAFETY: every pointer passed is null, a live job, or a handle/result of these functions
    // not freed yet.
    unsafe {
        let result = sum_wait(sum_spawn(&Sum { n: 4 }));
        assert_eq!(*result, 10);
        sum_result_destroy(result);

        clear_last_error();
        assert!(sum_wait(sum_spawn(&Sum { n: 0 })).is_null());
        assert_eq!(last_error(), "nothing to add");
    }
}

#[test]
fn cancel_and_cancelled() {
    // SAFETY: every pointer passed is null, a live job, or a handle/result of these functions
    // not freed yet.
    unsafe {
        let handle = sum_spawn(&Sum { n: u64::MAX });
        assert_eq!(sum_cancelled(handle), 0);
        sum_cancel(handle);
        assert_eq!(sum_cancelled(handle), 1);
        clear_last_error();
        assert!(sum_wait(handle).is_null());
        assert_eq!(last_error(), "The task was cancelled");
    }
}

#[test]
fn null_pointers_are_errors_not_crashes() {
    // SAFETY: every pointer passed is null, a live job, or a handle/result of these functions
    // not freed yet.
    unsafe {
        clear_last_error();
        assert!(sum_spawn(std::ptr::null()).is_null());
        assert_eq!(last_error(), "a null pointer was passed as `task`");
        assert!(sum_poll(null_mut()).is_null());
        assert_eq!(last_error(), "a null pointer was passed as `handle`");
        assert!(sum_wait(null_mut()).is_null());
        assert_eq!(last_error(), "a null pointer was passed as `handle`");
        sum_cancel(null_mut());
        assert_eq!(last_error(), "a null pointer was passed as `handle`");
        // ffi_helpers' `null_pointer_check!`: the error, and `Nullable::NULL` (0) returned.
        clear_last_error();
        assert_eq!(sum_cancelled(null_mut()), 0);
        assert_eq!(last_error(), "a null pointer was passed as `handle`");
        let mut out = null_mut();
        assert_eq!(sum_try_poll(null_mut(), &mut out), RAWTASK_BACKGROUND_ERROR);
        assert_eq!(last_error(), "a null pointer was passed as `handle`");
        let handle = sum_spawn(&Sum { n: 1 });
        assert_eq!(sum_try_poll(handle, null_mut()), RAWTASK_BACKGROUND_ERROR);
        assert_eq!(last_error(), "a null pointer was passed as `result`");
        sum_handle_destroy(handle);
        // Destructors given null do nothing but set the last error, as ffi_helpers' do.
        clear_last_error();
        sum_handle_destroy(null_mut());
        assert_eq!(last_error(), "a null pointer was passed as `handle`");
        clear_last_error();
        sum_result_destroy(null_mut());
        assert_eq!(last_error(), "a null pointer was passed as `result`");
    }
}

#[test]
fn zero_sized_outputs_are_a_non_null_sentinel() {
    // SAFETY: every pointer passed is null, a live job, or a handle/result of these functions
    // not freed yet.
    unsafe {
        let result = nothing_wait(nothing_spawn(&Nothing));
        assert!(!result.is_null());
        nothing_result_destroy(result);

        let handle = nothing_spawn(&Nothing);
        let result = common::wait_for("the result of Nothing", || {
            let result = nothing_poll(handle);
            (!result.is_null()).then_some(result)
        });
        nothing_result_destroy(result);
        // `wait` after the result was taken reports it, and frees the handle.
        clear_last_error();
        assert!(nothing_wait(handle).is_null());
        assert_eq!(last_error(), "the task's result has already been taken");
    }
}

#[test]
fn a_panic_in_clone_does_not_unwind_into_c() {
    ARMED.store(true, SeqCst);
    // SAFETY: a valid job.
    let handle = unsafe { bad_spawn(&BadClone) };
    ARMED.store(false, SeqCst);
    assert!(handle.is_null());
    assert_eq!(last_error(), "the task panicked: clone refused");
    // SAFETY: a valid job, and the handle `bad_spawn` returns.
    unsafe { bad_handle_destroy(bad_spawn(&BadClone)) };
}

#[test]
fn a_panic_in_run_is_an_error() {
    #[derive(Clone)]
    pub struct Boom;
    impl Task for Boom {
        type Output = u8;
        fn run(&self, _: &CancellationToken) -> Result<u8, Error> {
            panic!("boom")
        }
    }
    rawtask::export_task! {
        Task: Boom;
        spawn: boom_spawn;
        wait: boom_wait;
    }
    // SAFETY: every pointer passed is null, a live job, or a handle/result of these functions
    // not freed yet.
    unsafe {
        assert!(boom_wait(boom_spawn(&Boom)).is_null());
    }
    assert_eq!(last_error(), "the task panicked: boom");
}
