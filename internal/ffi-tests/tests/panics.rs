//! Panics at the FFI boundary: a panic in `poll` crosses with its message and is re-raised on
//! the awaiting side; polling after completion and invalid poll tags have defined outcomes;
//! panics in `drop` and in waker functions abort the process with a message on stderr (checked
//! in a child process).

mod common;

use std::ffi::c_void;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};

use common::{drop_counter, run_task};
use futures_lite::future::block_on;
use rawtask::ffi::abi::{
    RawtaskFfiFutureU64, RawtaskFfiPollU64, RAWTASK_FFI_POLL_PENDING, RAWTASK_FFI_POLL_READY,
};
use rawtask::ffi::{FfiContext, FfiFuture, FutureExt, PollPanicked};

fn message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        panic!("not a string payload")
    }
}

fn noop_cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

#[test]
fn the_message_crosses_and_is_reraised() {
    let payload = catch_unwind(|| block_on(async { panic!("boom {}", 1) }.into_ffi())).unwrap_err();
    // async-ffi's message, then the original one; the payload is a `String`.
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("FFI future panicked: boom 1")
    );
    // In a rawtask task, through two FFI layers: the prefix appears once.
    let payload = catch_unwind(|| {
        let inner = async { panic!("deep") }.into_ffi();
        #[allow(clippy::redundant_async_block)] // two FFI layers on purpose
        run_task(async move { inner.await }.into_ffi())
    })
    .unwrap_err();
    assert_eq!(message(&*payload), "FFI future panicked: deep");
    // A payload that is not a string.
    let payload =
        catch_unwind(|| block_on(async { std::panic::panic_any(5u8) }.into_ffi())).unwrap_err();
    assert_eq!(message(&*payload), "FFI future panicked: Box<dyn Any>");
}

#[test]
fn try_poll_returns_the_panic() {
    let (drops, token) = drop_counter();
    let mut future = async move {
        let _token = token;
        panic!("caught")
    }
    .into_ffi();
    let err: PollPanicked = future.try_poll(&mut noop_cx()).unwrap_err();
    assert_eq!(err.message(), Some("caught"));
    assert_eq!(err.to_string(), "FFI future panicked: caught");
    // The async block dropped its locals while unwinding.
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    // Fused: the poll function is not called again.
    let again = future.try_poll(&mut noop_cx()).unwrap_err();
    assert!(
        again
            .message()
            .unwrap()
            .contains("polled again after it panicked"),
        "{again}"
    );
    drop(future);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn polling_after_ready_is_defined() {
    let (drops, token) = drop_counter();
    let mut future = async move {
        let _token = token;
        3u8
    }
    .into_ffi();
    assert_eq!(future.try_poll(&mut noop_cx()).unwrap(), Poll::Ready(3));
    // The async block dropped its locals when it finished.
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    // Polled again: the async block panics, and its message crosses.
    let err = future.try_poll(&mut noop_cx()).unwrap_err();
    assert_eq!(err.message(), Some("`async fn` resumed after completion"));
    // From then on the poll function is not called again.
    let payload = catch_unwind(AssertUnwindSafe(|| {
        Pin::new(&mut future).poll(&mut noop_cx())
    }))
    .unwrap_err();
    assert!(message(&*payload).contains("polled again after it panicked"));
    drop(future);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "calls a function through a pointer to another crate's (layout-identical) type, which Miri rejects by its nominal ABI rules"
)]
fn polling_after_ready_from_a_foreign_host_is_defined() {
    // async-ffi's awaiting side calls rawtask's poll function again after Ready: the async
    // block panics ("`async fn` resumed after completion"), which crosses as `Panicked`, and
    // async-ffi raises its own message.
    let (drops, token) = drop_counter();
    let future = async move {
        let _token = token;
        4u64
    }
    .into_ffi();
    // SAFETY: the layouts are the same (tests/async_ffi_compat.rs).
    let mut future: async_ffi::FfiFuture<u64> = unsafe { std::mem::transmute(future) };
    assert_eq!(Pin::new(&mut future).poll(&mut noop_cx()), Poll::Ready(4));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let payload = catch_unwind(AssertUnwindSafe(|| {
        Pin::new(&mut future).poll(&mut noop_cx())
    }))
    .unwrap_err();
    assert_eq!(message(&*payload), "FFI future panicked");
    drop(future);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

static BAD_DROPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

unsafe extern "C" fn bad_tag_poll(_: *mut c_void, _: *mut FfiContext<'_>) -> RawtaskFfiPollU64 {
    RawtaskFfiPollU64 { tag: 7, ready: 0 }
}

unsafe extern "C" fn pending_then_bad(
    state: *mut c_void,
    cx: *mut FfiContext<'_>,
) -> RawtaskFfiPollU64 {
    // SAFETY: the state is the `u8` counter below.
    let polls = unsafe { &mut *state.cast::<u8>() };
    *polls += 1;
    match *polls {
        1 => {
            // SAFETY: the context and its waker are lent for the call.
            unsafe {
                let waker = (*cx).raw_waker();
                ((*(*waker).vtable).wake_by_ref)(waker);
            }
            RawtaskFfiPollU64 {
                tag: RAWTASK_FFI_POLL_PENDING,
                ready: 0,
            }
        }
        2 => RawtaskFfiPollU64 { tag: 200, ready: 0 },
        _ => RawtaskFfiPollU64 {
            tag: RAWTASK_FFI_POLL_READY,
            ready: 1,
        },
    }
}

unsafe extern "C" fn count_drop(state: *mut c_void) {
    BAD_DROPS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the state is a leaked `Box<u8>`.
    drop(unsafe { Box::from_raw(state.cast::<u8>()) });
}

/// A future "from C" whose poll function returns an invalid tag.
fn foreign(
    poll_fn: unsafe extern "C" fn(*mut c_void, *mut FfiContext<'_>) -> RawtaskFfiPollU64,
) -> FfiFuture<u64> {
    let raw = RawtaskFfiFutureU64 {
        fut_ptr: Box::into_raw(Box::new(0u8)).cast(),
        poll_fn,
        drop_fn: count_drop,
    };
    // SAFETY: the C view has the layout of `FfiFuture<u64>`; its functions keep the ABI's
    // ownership rules (only the tag is wrong).
    unsafe { std::mem::transmute::<RawtaskFfiFutureU64, FfiFuture<u64>>(raw) }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "calls a function through a pointer to another crate's (layout-identical) type, which Miri rejects by its nominal ABI rules"
)]
fn invalid_tags_are_rejected() {
    BAD_DROPS.store(0, Ordering::SeqCst);
    let mut future = foreign(bad_tag_poll);
    let err = future.try_poll(&mut noop_cx()).unwrap_err();
    assert!(err.message().unwrap().contains("invalid tag 7"), "{err}");
    // Not polled again.
    let err = future.try_poll(&mut noop_cx()).unwrap_err();
    assert!(
        err.message()
            .unwrap()
            .contains("polled again after it panicked"),
        "{err}"
    );
    drop(future);
    assert_eq!(BAD_DROPS.load(Ordering::SeqCst), 1);

    // Awaited: the awaiting side panics with the message, and the future is dropped once.
    let payload = catch_unwind(|| run_task(foreign(pending_then_bad))).unwrap_err();
    assert!(message(&*payload).contains("invalid tag 200"));
    assert_eq!(BAD_DROPS.load(Ordering::SeqCst), 2);
}

// ----- aborts, each in a child process -----

const SCENARIO: &str = "RAWTASK_FFI_ABORT_SCENARIO";

/// Runs this test binary again with only `abort_child` and the scenario `name`, and checks
/// that it aborted after printing `expected` to stderr.
fn expect_abort(name: &str, expected: &str) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "abort_child", "--nocapture", "--test-threads=1"])
        .env(SCENARIO, name)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            output.status.signal(),
            Some(6),
            "{name}: not SIGABRT: {}\n{stderr}",
            output.status
        );
    }
    assert!(!output.status.success(), "{name} did not abort");
    assert!(
        stderr.contains(expected),
        "{name}: stderr lacks {expected:?}:\n{stderr}"
    );
}

/// The child side of `expect_abort`: does nothing unless a scenario is set.
#[test]
#[cfg_attr(miri, ignore = "runs a child process")]
fn abort_child() {
    let Ok(name) = std::env::var(SCENARIO) else {
        return;
    };
    match name.as_str() {
        "drop_fn" => {
            struct PanicOnDrop;
            impl Drop for PanicOnDrop {
                fn drop(&mut self) {
                    panic!("drop panicked");
                }
            }
            let token = PanicOnDrop;
            let future = async move {
                let _token = token;
                std::future::pending::<()>().await
            }
            .into_ffi();
            drop(future);
        }
        "schedule_in_ffi_wake" => {
            // The task's waker reaches async-ffi's side as the task pointer; waking it there
            // goes through the task's FFI `wake`, which calls the (panicking) schedule fn.
            static STASH: std::sync::Mutex<Option<Waker>> = std::sync::Mutex::new(None);
            let future = async_ffi::FutureExt::into_ffi(std::future::poll_fn(|cx| {
                *STASH.lock().unwrap() = Some(cx.waker().clone());
                Poll::<()>::Pending
            }));
            // SAFETY: the layouts are the same.
            let future: FfiFuture<()> = unsafe { std::mem::transmute(future) };
            let (runnable, _task) = rawtask::spawn(future, |_| panic!("schedule panicked"));
            runnable.run();
            // The task is idle: this wake calls the schedule function, from the FFI `wake`.
            let waker = STASH.lock().unwrap().take().unwrap();
            waker.wake();
        }
        "borrowed_waker_consumed" => {
            use rawtask::ffi::ContextExt;
            noop_cx().with_ffi_context(|cx| {
                let waker = cx.raw_waker();
                // SAFETY: a protocol violation on purpose: the context's waker is borrowed.
                unsafe { ((*(*waker).vtable).wake)(waker) }
            });
        }
        "rust_waker_wake_in_ffi" => {
            struct Panicky;
            impl std::task::Wake for Panicky {
                fn wake(self: std::sync::Arc<Self>) {
                    panic!("wake panicked");
                }
            }
            let waker = Waker::from(std::sync::Arc::new(Panicky));
            #[allow(clippy::waker_clone_wake)] // the clone is the point: a boxed Rust waker
            let future = async_ffi::FutureExt::into_ffi(std::future::poll_fn(|cx| {
                cx.waker().clone().wake();
                Poll::<()>::Pending
            }));
            // SAFETY: the layouts are the same.
            let mut future: FfiFuture<()> = unsafe { std::mem::transmute(future) };
            let _ = Pin::new(&mut future).poll(&mut Context::from_waker(&waker));
        }
        other => panic!("unknown scenario {other}"),
    }
    eprintln!("scenario {name} did not abort");
    std::process::exit(3);
}

#[test]
#[cfg_attr(miri, ignore = "runs a child process")]
fn a_panic_in_drop_fn_aborts() {
    expect_abort(
        "drop_fn",
        "rawtask::ffi: an FFI future's destructor panicked (in its drop_fn)",
    );
}

#[test]
fn a_panic_while_dropping_a_panic_payload_is_caught() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("drop panicked");
        }
    }
    // The poll function drops the payload and catches its destructor's panic: the poll still
    // reports the first panic, and nothing unwinds or aborts.
    let mut future = async { std::panic::panic_any(PanicOnDrop) }.into_ffi();
    let panicked = future.try_poll(&mut noop_cx()).unwrap_err();
    assert_eq!(panicked.message(), Some("Box<dyn Any>"));
}

#[test]
#[cfg_attr(miri, ignore = "runs a child process")]
fn a_panicking_schedule_function_in_an_ffi_wake_aborts() {
    expect_abort(
        "schedule_in_ffi_wake",
        "rawtask: a task's schedule function panicked in an FFI waker's wake",
    );
}

#[test]
#[cfg_attr(miri, ignore = "runs a child process")]
fn consuming_a_borrowed_waker_aborts() {
    expect_abort("borrowed_waker_consumed", "that waker is only borrowed");
}

#[test]
#[cfg_attr(miri, ignore = "runs a child process")]
fn a_panicking_rust_waker_behind_an_ffi_waker_aborts() {
    expect_abort(
        "rust_waker_wake_in_ffi",
        "rawtask::ffi: a Rust waker's wake panicked in an FFI waker's wake",
    );
}
