//! A Rust host that loads a plugin (the Rust cdylib or the C plugin) with libloading and runs
//! its futures as rawtask tasks on a one-thread executor that sleeps on a channel, so a future
//! that is not woken blocks the host forever instead of being polled in a loop.
//!
//! Usage: `ffi-host PLUGIN.so`. Prints `ffi-host: <plugin>: ok` and exits 0 on success; any
//! failed check panics (exit code 101).

use std::any::Any;
use std::ffi::{c_char, CStr};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use libloading::{Library, Symbol};
use rawtask::ffi::{FfiFuture, FutureExt};
use rawtask::Runnable;

type AbiVersionFn = extern "C" fn() -> u32;
type NameFn = extern "C" fn() -> *const c_char;
type AddFn = extern "C" fn(u64, u64) -> FfiFuture<u64>;
type SleepFn = extern "C" fn(u64, u64, *const AtomicU64) -> FfiFuture<u64>;
type AddOneFn = extern "C" fn(FfiFuture<u64>) -> FfiFuture<u64>;
type PanicFn = extern "C" fn(u64) -> FfiFuture<u64>;
type BadTagFn = extern "C" fn() -> FfiFuture<u64>;

/// What happened while running one task.
#[derive(Debug, Default)]
struct Stats {
    /// `Runnable::run` calls: polls of the task (and so of the plugin's future).
    runs: usize,
}

/// Runs `future` as a rawtask task on this thread until it finishes, blocking on the queue
/// while it is pending. A panic of the future is re-raised here (with its payload).
fn run<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> (T, Stats) {
    let (sender, receiver) = mpsc::channel::<Runnable>();
    let (runnable, mut task) = rawtask::Builder::new()
        .propagate_panic(true)
        .spawn(|_| future, move |runnable| sender.send(runnable).unwrap());
    runnable.schedule();
    let mut stats = Stats::default();
    while !task.is_finished() {
        let runnable = receiver
            .recv_timeout(Duration::from_secs(30))
            .expect("the task was never woken");
        stats.runs += 1;
        runnable.run();
    }
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(&mut task).poll(&mut cx) {
        Poll::Ready(output) => (output, stats),
        Poll::Pending => unreachable!("a finished task is ready"),
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else {
        "<not a string>"
    }
}

/// A host future handed to the plugin: ready with 41 after a timer thread wakes it.
struct HostTimer {
    done: Arc<AtomicBool>,
    started: bool,
    drops: Arc<AtomicUsize>,
}

impl Future for HostTimer {
    type Output = u64;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        if self.done.load(Ordering::Acquire) {
            return Poll::Ready(41);
        }
        if !self.started {
            self.started = true;
            let waker = cx.waker().clone();
            let done = self.done.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                done.store(true, Ordering::Release);
                waker.wake();
            });
        }
        Poll::Pending
    }
}

impl Drop for HostTimer {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: ffi-host PLUGIN.so");
    // SAFETY: the plugins' initialisers are trivial; the symbols below are declared with the
    // signatures of internal/ffi-tests/c/plugin.h, which both plugins implement.
    let library = unsafe { Library::new(&path) }.unwrap_or_else(|e| panic!("{path}: {e}"));
    // SAFETY: as above, for every symbol.
    unsafe {
        let abi_version: Symbol<AbiVersionFn> = library.get(b"plugin_abi_version").unwrap();
        assert_eq!(
            abi_version(),
            rawtask::ffi::ABI_VERSION,
            "ABI version mismatch"
        );
        let name: Symbol<NameFn> = library.get(b"plugin_name").unwrap();
        let name = CStr::from_ptr(name()).to_str().unwrap().to_owned();
        let is_c = name == "c-plugin";

        // Ready at once: one poll.
        let add: Symbol<AddFn> = library.get(b"plugin_add").unwrap();
        let future = add(2, 3);
        let (sum, stats) = run(future);
        assert_eq!((sum, stats.runs), (5, 1));

        // Pending, then woken by the plugin's timer thread: two polls, and the task is
        // scheduled exactly once by the wake, not polled in a loop.
        let sleep: Symbol<SleepFn> = library.get(b"plugin_sleep").unwrap();
        let plugin_polls = Arc::new(AtomicU64::new(0));
        let future = sleep(50, 7, Arc::as_ptr(&plugin_polls));
        let start = Instant::now();
        let (value, stats) = run(future);
        assert_eq!(value, 7);
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert_eq!(
            stats.runs, 2,
            "the plugin's future was polled without a wake"
        );
        assert_eq!(plugin_polls.load(Ordering::SeqCst), 2);

        // A host future awaited inside the plugin's future: futures cross both ways, and the
        // host future is woken through the plugin, by the host task's own waker.
        let add_one: Symbol<AddOneFn> = library.get(b"plugin_add_one").unwrap();
        let drops = Arc::new(AtomicUsize::new(0));
        let inner = HostTimer {
            done: Arc::default(),
            started: false,
            drops: drops.clone(),
        }
        .into_ffi();
        let (value, stats) = run(add_one(inner));
        assert_eq!((value, stats.runs), (42, 2));
        assert_eq!(drops.load(Ordering::SeqCst), 1);

        // A panic in the plugin: re-raised here with async-ffi's prefix and the plugin's
        // message.
        let panic: Symbol<PanicFn> = library.get(b"plugin_panic").unwrap();
        let future = panic(9);
        let payload = catch_unwind(AssertUnwindSafe(|| run(future))).unwrap_err();
        let expected = if is_c {
            "FFI future panicked: c plugin panic: 9"
        } else {
            "FFI future panicked: plugin panic: 9"
        };
        assert_eq!(panic_message(&*payload), expected);

        // The same through the plugin awaiting a panicking host future.
        let future = add_one(async { panic!("host panic") }.into_ffi());
        let payload = catch_unwind(AssertUnwindSafe(|| run(future))).unwrap_err();
        let message = panic_message(&*payload);
        // Two crossings (into the plugin and back), one prefix.
        assert_eq!(
            message, "FFI future panicked: host panic",
            "through the plugin"
        );

        // An invalid tag (only the C plugin can return one): rejected, not transmuted.
        if let Ok(bad_tag) = library.get::<BadTagFn>(b"plugin_bad_tag") {
            let payload = catch_unwind(AssertUnwindSafe(|| run(bad_tag()))).unwrap_err();
            let message = panic_message(&*payload);
            assert!(message.contains("invalid tag 7"), "{message}");
        }

        println!("ffi-host: {name}: ok");
    }
}
