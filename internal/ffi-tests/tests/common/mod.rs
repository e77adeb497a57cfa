//! Helpers shared by the tests of this crate: a one-task rawtask executor, a timer future
//! that wakes from another thread, drop counters and an allocation counter.

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rawtask::Runnable;

/// Counts the allocations made by the current thread while `COUNTING` is set on it.
pub struct CountingAlloc;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the bookkeeping touches only thread-locals with
// const initialisers (no allocation, no reentrancy).
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNTING.try_with(|counting| {
            if counting.get() {
                ALLOCATIONS.with(|n| n.set(n.get() + 1));
            }
        });
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Runs `f` and returns its result with the number of allocations this thread made meanwhile
/// (the test binary must install `CountingAlloc` as its global allocator).
pub fn count_allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    let result = f();
    COUNTING.with(|c| c.set(false));
    (result, ALLOCATIONS.with(Cell::get))
}

/// Runs `future` as a rawtask task on this thread until it finishes, blocking on the queue
/// while it is pending (so a missing wake hangs, and fails after 30 s). Returns the output and
/// the number of `Runnable::run` calls. A panic of the future is re-raised.
pub fn run_task<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> (T, usize) {
    let (sender, receiver) = mpsc::channel::<Runnable>();
    let (runnable, mut task) = rawtask::Builder::new()
        .propagate_panic(true)
        .spawn(|_| future, move |runnable| sender.send(runnable).unwrap());
    runnable.schedule();
    let mut runs = 0;
    while !task.is_finished() {
        let runnable = receiver
            .recv_timeout(Duration::from_secs(30))
            .expect("the task was never woken");
        runs += 1;
        runnable.run();
    }
    match Pin::new(&mut task).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => (output, runs),
        Poll::Pending => unreachable!("a finished task is ready"),
    }
}

/// Ready with `value` once a thread, started by the first poll with a clone of its waker,
/// wakes it `delay` later.
pub struct Timer<T> {
    value: Option<T>,
    delay: Duration,
    done: Arc<AtomicBool>,
    started: bool,
}

impl<T> Timer<T> {
    pub fn new(value: T, delay: Duration) -> Timer<T> {
        Timer {
            value: Some(value),
            delay,
            done: Arc::default(),
            started: false,
        }
    }
}

impl<T: Unpin> Future for Timer<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if self.done.load(Ordering::Acquire) {
            return Poll::Ready(self.value.take().expect("polled after Ready"));
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

/// Counts its drops.
#[derive(Debug)]
pub struct DropCount(pub Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A new drop counter and a token counting into it.
pub fn drop_counter() -> (Arc<AtomicUsize>, DropCount) {
    let count = Arc::new(AtomicUsize::new(0));
    (count.clone(), DropCount(count))
}
