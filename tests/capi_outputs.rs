//! Outputs that are not plain data crossing to C through `IntoC`: strings and byte vectors as
//! moved `RawtaskBuffer`s, `Result` errors as `RAWTASK_STATUS_FAILED` plus the last error, and a
//! conversion that panics. Nothing leaks, whether C takes the output or frees the handle first.

mod common;

use std::ffi::CString;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use common::{check_leaks, Counter, DropProbe};
use rawtask::capi::*;

/// Grows the process-wide handle table before the leak check (its memory is the process's).
fn leak_check() -> common::LeakCheck {
    let handles: Vec<_> = (0..64)
        .map(|_| RawtaskTask::new(rawtask::spawn(async { 0u8 }, |_| {}).1))
        .collect();
    for handle in handles {
        assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);
    }
    check_leaks()
}

/// Spawns `future`, runs it to completion, and returns its C handle.
fn finished<T: IntoC>(
    future: impl std::future::Future<Output = T> + Send + 'static,
) -> RawtaskTask {
    let (runnable, task) = rawtask::spawn(future, |_| {});
    runnable.run();
    RawtaskTask::new(task)
}

fn poll_buffer(handle: RawtaskTask) -> (RawtaskStatus, RawtaskBuffer) {
    let mut buffer = RawtaskBuffer::EMPTY;
    let mut size = 0;
    // SAFETY: `size` and `buffer` are writable and `buffer` has the size the handle reports.
    let status = unsafe {
        assert_eq!(
            rawtask_task_output_size(handle, &mut size),
            RawtaskStatus::Ok
        );
        assert_eq!(size, size_of::<RawtaskBuffer>());
        rawtask_task_poll(handle, (&raw mut buffer).cast(), size)
    };
    (status, buffer)
}

fn bytes(buffer: &RawtaskBuffer) -> &[u8] {
    // SAFETY: a buffer from rawtask holds `len` initialised bytes at `data`.
    unsafe { std::slice::from_raw_parts(buffer.data, buffer.len) }
}

#[test]
fn strings_and_bytes_move_to_c() {
    let _leaks = leak_check();
    // With spare capacity for the NUL, the text's allocation itself crosses.
    let mut text = String::with_capacity(64);
    text.push_str("grüße aus rust");
    let address = text.as_ptr();
    let handle = finished(async move { text });
    let (status, mut buffer) = poll_buffer(handle);
    assert_eq!(status, RawtaskStatus::Ready);
    assert_eq!(buffer.data.cast_const(), address, "the text was copied");
    assert_eq!(bytes(&buffer), "grüße aus rust".as_bytes());
    // SAFETY: text buffers carry a NUL after `len`.
    assert_eq!(unsafe { *buffer.data.add(buffer.len) }, 0);
    // SAFETY: `buffer` came from the poll and is freed once (the second call sees it empty).
    unsafe {
        assert_eq!(rawtask_buffer_free(&mut buffer), RawtaskStatus::Ok);
        assert_eq!(rawtask_buffer_free(&mut buffer), RawtaskStatus::Ok);
    }
    assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);

    let data = vec![7u8; 1000];
    let address = data.as_ptr();
    let handle = finished(async move { data });
    let (status, mut buffer) = poll_buffer(handle);
    assert_eq!(status, RawtaskStatus::Ready);
    assert_eq!(buffer.data.cast_const(), address, "the bytes were copied");
    assert_eq!(bytes(&buffer), &[7u8; 1000][..]);
    // SAFETY: as above.
    unsafe { assert_eq!(rawtask_buffer_free(&mut buffer), RawtaskStatus::Ok) };
    assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);

    let handle = finished(async { CString::new("c string").unwrap() });
    let (_, mut buffer) = poll_buffer(handle);
    assert_eq!(bytes(&buffer), b"c string");
    // SAFETY: as above.
    unsafe { assert_eq!(rawtask_buffer_free(&mut buffer), RawtaskStatus::Ok) };
    assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);

    // Empty: no allocation, nothing to free (freeing is still fine).
    let handle = finished(async { Vec::<u8>::new() });
    let (status, mut buffer) = poll_buffer(handle);
    assert_eq!(
        (status, buffer.data.is_null(), buffer.len),
        (RawtaskStatus::Ready, true, 0)
    );
    // SAFETY: as above.
    unsafe { assert_eq!(rawtask_buffer_free(&mut buffer), RawtaskStatus::Ok) };
    assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);
}

#[test]
fn results_cross_as_a_status_and_the_error() {
    let _leaks = leak_check();
    let handle = finished(async { Ok::<u32, std::io::Error>(5) });
    let mut out = 0u32;
    // SAFETY: `out` is a writable u32, the size of `Result<u32, _>`'s C value.
    unsafe {
        assert_eq!(
            rawtask_task_poll(handle, (&raw mut out).cast(), 4),
            RawtaskStatus::Ready
        );
    }
    assert_eq!(out, 5);
    assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);

    let handle = finished(async {
        Err::<String, _>(anyhow::anyhow!("no route to host").context("fetching the page"))
    });
    let (status, buffer) = poll_buffer(handle);
    assert_eq!(status, RawtaskStatus::Failed);
    assert!(buffer.data.is_null(), "nothing is written on failure");
    let error = take_last_error().expect("the error is the last error");
    assert_eq!(error.to_string(), "fetching the page");
    assert_eq!(error.root_cause().to_string(), "no route to host");
    let (status, _) = poll_buffer(handle);
    assert_eq!(status, RawtaskStatus::OutputTaken);
    assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);
    clear_last_error();
}

/// An output whose conversion panics, and one whose conversion fails; both drop what they own.
struct Tricky {
    panic: bool,
    _probe: DropProbe,
}

impl IntoC for Tricky {
    type C = u64;
    fn into_c(self) -> Result<u64, Error> {
        if self.panic {
            panic!("conversion exploded");
        }
        Err(Error::msg("cannot convert"))
    }
}

#[test]
fn conversions_that_panic_or_fail_drop_the_output_once() {
    let _leaks = leak_check();
    let drops = Counter::new();
    for panic in [true, false] {
        let probe = DropProbe::new(&drops);
        let handle = finished(async move {
            Tricky {
                panic,
                _probe: probe,
            }
        });
        let mut out = 0u64;
        // SAFETY: `out` is a writable u64.
        let status =
            common::quietly(|| unsafe { rawtask_task_poll(handle, (&raw mut out).cast(), 8) });
        let expected = if panic {
            RawtaskStatus::Panicked
        } else {
            RawtaskStatus::Failed
        };
        assert_eq!(status, expected);
        assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);
    }
    assert_eq!(drops.get(), 2);
    clear_last_error();
}

#[test]
fn an_output_c_never_takes_is_dropped_with_the_handle() {
    let _leaks = leak_check();
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct Counted(#[allow(dead_code)] String);
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPS.fetch_add(1, SeqCst);
        }
    }
    impl IntoC for Counted {
        type C = u8;
        fn into_c(self) -> Result<u8, Error> {
            Ok(1)
        }
    }
    let handle = finished(async { Counted(String::from("never read")) });
    assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);
    assert_eq!(DROPS.load(SeqCst), 1);
}

#[test]
fn inconsistent_buffers_are_rejected() {
    let _leaks = leak_check();
    let mut forged = RawtaskBuffer {
        data: std::ptr::null_mut(),
        len: 3,
        capacity: 0,
    };
    // SAFETY: rejected before anything is freed.
    unsafe {
        assert_eq!(
            rawtask_buffer_free(&mut forged),
            RawtaskStatus::InvalidArgument
        );
        assert_eq!(
            rawtask_buffer_free(std::ptr::null_mut()),
            RawtaskStatus::InvalidArgument
        );
    }
    let mut byte = 0u8;
    let mut forged = RawtaskBuffer {
        data: &mut byte,
        len: 2,
        capacity: 1,
    };
    // SAFETY: rejected before anything is freed (`len` above `capacity`).
    unsafe {
        assert_eq!(
            rawtask_buffer_free(&mut forged),
            RawtaskStatus::InvalidArgument
        )
    };
    clear_last_error();
}
