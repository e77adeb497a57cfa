//! Helpers shared by rawtask's benchmarks.
//!
//! The benchmarks themselves live in `benches/core.rs`; this library only holds what
//! every implementation under test needs alike: polling a future once, a tiny
//! `block_on`, a self-waking future, and a per-thread counting allocator used by the
//! test below to compare how many bytes each crate allocates for one task.
//!
//! Run the allocation comparison with
//! `cargo test -p rawtask-benches --release -- --nocapture`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Polls `future` once with a no-op waker and returns its output.
///
/// # Panics
///
/// If the future is not ready on that first poll.
pub fn poll_ready<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("poll_ready: the future is pending"),
    }
}

/// Polls `future` once with a waker that does nothing and returns whether it was pending:
/// an awaiting handle's first poll, which registers the waker.
pub fn poll_pending<F: Future + Unpin>(future: &mut F) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(future).poll(&mut cx).is_pending()
}

/// Times `iters` calls of `f`.
fn time(iters: u64, f: &mut impl FnMut()) -> std::time::Duration {
    let start = std::time::Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed()
}

/// Set in a benchmark process whose rounds another process pools: [`ab`] then also prints every
/// round's ratio, on a line of its own after the row (`@ratios r1 r2 ...`).
pub const AB_CHILD: &str = "AB_CHILD";

/// Interleaved A/B timing for a machine whose speed drifts between measurement windows:
/// calibrates a batch to about 2 ms of `a`, then over `rounds` rounds times one batch of `a`
/// and one of `b` back to back (alternating which goes first), and prints the median and the
/// quartiles of the per-round ratios `a / b` as a Markdown table row named `name`.
///
/// Returns the median ratio.
pub fn ab(name: &str, rounds: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> f64 {
    let mut iters = 1000u64;
    while time(iters, &mut a) < std::time::Duration::from_millis(2) {
        iters *= 2;
    }
    time(iters, &mut b);
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|round| {
            let (ta, tb) = if round % 2 == 0 {
                let ta = time(iters, &mut a);
                (ta, time(iters, &mut b))
            } else {
                let tb = time(iters, &mut b);
                (time(iters, &mut a), tb)
            };
            ta.as_secs_f64() / tb.as_secs_f64()
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let q = |p: f64| ratios[((ratios.len() - 1) as f64 * p).round() as usize];
    println!("| {name} | {:.2} | {:.2}–{:.2} |", q(0.5), q(0.25), q(0.75));
    if std::env::var_os(AB_CHILD).is_some() {
        // For the process that pools several processes' rounds (`benches/ab.rs`).
        let all: Vec<String> = ratios.iter().map(|r| format!("{r:.6}")).collect();
        println!("@ratios {}", all.join(" "));
    }
    q(0.5)
}

/// Wakes a thread that sleeps in [`block_on`].
struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    /// One waker per thread, so that `block_on` itself allocates nothing.
    static THREAD_WAKER: Waker = Waker::from(Arc::new(Unparker(thread::current())));
}

/// Runs `future` to completion on the current thread, parking while it is pending.
pub fn block_on<F: Future>(future: F) -> F::Output {
    THREAD_WAKER.with(|waker| {
        let mut cx = Context::from_waker(waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            thread::park();
        }
    })
}

/// A future that wakes itself by reference and returns `Pending` a given number of
/// times, then completes: `SelfWake::new(n)` is polled `n + 1` times in all.
#[derive(Debug)]
pub struct SelfWake {
    pending_left: u64,
}

impl SelfWake {
    /// A future that returns `Pending` `pending` times before it is ready.
    pub fn new(pending: u64) -> Self {
        Self {
            pending_left: pending,
        }
    }
}

impl Future for SelfWake {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.pending_left == 0 {
            return Poll::Ready(());
        }
        self.pending_left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// What a closure allocated on the current thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocated {
    /// Number of calls to `alloc`, `alloc_zeroed` and `realloc`.
    pub count: usize,
    /// Bytes requested by those calls (for `realloc`, the new size).
    pub bytes: usize,
}

thread_local! {
    static ALLOC_COUNT: Cell<usize> = const { Cell::new(0) };
    static ALLOC_BYTES: Cell<usize> = const { Cell::new(0) };
}

/// A global allocator that forwards to [`System`] and counts, per thread, the
/// allocations made and the bytes requested. Install it with `#[global_allocator]`,
/// then use [`allocated_by`].
#[derive(Debug)]
pub struct CountingAlloc;

impl CountingAlloc {
    fn record(size: usize) {
        // `try_with`: the counters may already be gone while a thread exits.
        let _ = ALLOC_COUNT.try_with(|c| c.set(c.get() + 1));
        let _ = ALLOC_BYTES.try_with(|b| b.set(b.get() + size));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees are ours; the bookkeeping touches only const-initialised
// thread-locals, which never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::record(layout.size());
        // SAFETY: our caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::record(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`, as our caller promises.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::record(new_size);
        // SAFETY: our caller upholds `GlobalAlloc::realloc`'s contract, which we pass on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and returns its result with what it allocated on this thread. Meaningful
/// only in a binary whose `#[global_allocator]` is [`CountingAlloc`].
pub fn allocated_by<R>(f: impl FnOnce() -> R) -> (R, Allocated) {
    let snapshot = || Allocated {
        count: ALLOC_COUNT.with(Cell::get),
        bytes: ALLOC_BYTES.with(Cell::get),
    };
    let before = snapshot();
    let result = f();
    let after = snapshot();
    let delta = Allocated {
        count: after.count - before.count,
        bytes: after.bytes - before.bytes,
    };
    (result, delta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[global_allocator]
    static ALLOC: CountingAlloc = CountingAlloc;

    /// Spawns a trivial `async {}` with a no-op schedule fn in each crate and reports
    /// the heap allocations made by `spawn`. rawtask must fit the task in one
    /// allocation of at most 40 bytes (async-task 4.7.1 takes 56, async-task-ffi 33).
    #[test]
    fn bytes_allocated_for_a_trivial_task() {
        let ((runnable, task), rawtask) =
            allocated_by(|| rawtask::spawn(async {}, |_: rawtask::Runnable| {}));
        runnable.run();
        poll_ready(task);

        let ((runnable, task), async_task) =
            allocated_by(|| async_task::spawn(async {}, |_: async_task::Runnable| {}));
        runnable.run();
        poll_ready(task);

        let ((runnable, task), async_task_ffi) =
            allocated_by(|| async_task_ffi::spawn(async {}, |_: async_task_ffi::Runnable| {}));
        runnable.run();
        poll_ready(task);

        println!("bytes allocated by spawn(async {{}}, no-op schedule):");
        for (name, a) in [
            ("rawtask", rawtask),
            ("async-task 4.7.1", async_task),
            ("async-task-ffi 4.1.1", async_task_ffi),
        ] {
            println!(
                "  {name:<22} {:>3} bytes in {} allocation(s)",
                a.bytes, a.count
            );
        }

        assert_eq!(
            rawtask.count, 1,
            "rawtask must allocate a task exactly once"
        );
        assert!(
            rawtask.bytes <= 40,
            "rawtask allocated {} bytes for a trivial task, more than 40",
            rawtask.bytes
        );
    }
}
