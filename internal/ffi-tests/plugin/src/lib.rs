//! A Rust plugin built as a `cdylib` with its own copy of rawtask, exporting FFI futures.
//!
//! The C plugin `../c/plugin.c` exports the same functions (declared for C in
//! `../c/plugin.h`), so that every host can load either.

use std::ffi::c_char;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rawtask::ffi::{async_ffi, FfiFuture, FutureExt};

/// The FFI future ABI version this plugin was built with.
#[no_mangle]
pub extern "C" fn plugin_abi_version() -> u32 {
    rawtask::ffi::ABI_VERSION
}

/// The plugin's name, for the hosts' messages.
#[no_mangle]
pub extern "C" fn plugin_name() -> *const c_char {
    c"rust-plugin".as_ptr()
}

/// Ready at once with `a + b` (written with `#[async_ffi]`).
#[async_ffi]
#[no_mangle]
pub async extern "C" fn plugin_add(a: u64, b: u64) -> u64 {
    a + b
}

/// Completes with `value` about `delay_ms` milliseconds after its first poll: the first poll
/// clones the waker and hands it to a timer thread, which wakes it. Every poll of the plugin's
/// future increments `*polls` (owned by the host, which must keep it alive until the future is
/// dropped).
#[no_mangle]
pub extern "C" fn plugin_sleep(
    delay_ms: u64,
    value: u64,
    polls: *const AtomicU64,
) -> FfiFuture<u64> {
    let polls = SendPtr(polls);
    async move {
        let polls = polls;
        Counted {
            inner: Sleep::new(Duration::from_millis(delay_ms)),
            polls: polls.0,
        }
        .await;
        value
    }
    .into_ffi()
}

/// Awaits a future that the host made (possibly in another language) and adds one to its
/// output.
#[async_ffi]
#[no_mangle]
pub async extern "C" fn plugin_add_one(inner: FfiFuture<u64>) -> u64 {
    inner.await + 1
}

/// Panics with "plugin panic: {code}" on its first poll.
#[async_ffi]
#[no_mangle]
pub async extern "C" fn plugin_panic(code: u64) -> u64 {
    if code != u64::MAX {
        panic!("plugin panic: {code}");
    }
    code
}

/// A pointer the host keeps alive; only used through atomics.
struct SendPtr(*const AtomicU64);
// SAFETY: the pointee is an atomic, usable from any thread.
unsafe impl Send for SendPtr {}

/// Counts the polls of `inner` in the host's counter.
struct Counted<F> {
    inner: F,
    polls: *const AtomicU64,
}

// SAFETY: `polls` points to an atomic the host keeps alive; `F` is `Send`.
unsafe impl<F: Send> Send for Counted<F> {}

impl<F: Future + Unpin> Future for Counted<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if !self.polls.is_null() {
            // SAFETY: the host keeps the counter alive until it drops the future.
            unsafe { &*self.polls }.fetch_add(1, Ordering::SeqCst);
        }
        Pin::new(&mut self.inner).poll(cx)
    }
}

/// A timer on a thread of its own: the first poll starts it with a clone of the waker.
struct Sleep {
    delay: Duration,
    done: Arc<AtomicBool>,
    started: bool,
}

impl Sleep {
    fn new(delay: Duration) -> Sleep {
        Sleep {
            delay,
            done: Arc::new(AtomicBool::new(false)),
            started: false,
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.done.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if !self.started {
            self.started = true;
            let waker = cx.waker().clone();
            let done = self.done.clone();
            let delay = self.delay;
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                done.store(true, Ordering::Release);
                waker.wake();
            });
        }
        Poll::Pending
    }
}
