//! rawtask::ffi against async-ffi 0.5.1, in the same run.
//!
//! One criterion group per workload, with the functions `rawtask` and `async-ffi`. These
//! machines are noisy: read the ratios between the functions of a group. To keep background
//! load from favouring one peer, each measurement interleaves chunks of both peers and keeps
//! the time of its own (see `interleaved`).
//!
//! - `ffi_poll_ready`: one poll of an FFI future that is ready at once (converted outside the
//!   measurement, dropped after it), with a plain Rust waker: the cost of the FFI poll path.
//! - `ffi_clone_wake_pending`: one run of a rawtask task whose future is an FFI future that,
//!   on every poll, clones its waker, wakes the clone and stays pending. With rawtask the
//!   clone is a reference count increment (the task pointer is the FFI waker); with async-ffi
//!   it is a box.
//! - `ffi_clone_store_pending`: one poll, with the waker of a (idle) rawtask task, of an FFI
//!   future that clones its waker on every poll and keeps the clone instead of the previous
//!   one: the waker bridge alone, without the run of the task around it.
//! - `ffi_into_ffi`: converting a small future into an FFI future (the drop is not measured).

use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use rawtask::ffi as rawtask_ffi;

use criterion::{criterion_group, criterion_main, Criterion};
use rawtask::Runnable;

/// Pending forever; every poll clones the waker and wakes the clone by value.
struct CloneWake;

impl Future for CloneWake {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        black_box(cx.waker().clone()).wake();
        Poll::Pending
    }
}

/// Pending forever; every poll clones the waker and keeps the clone in place of the previous
/// one (which is dropped), as a future waiting on an event source does.
struct CloneStore(Option<Waker>);

impl Future for CloneStore {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0 = Some(black_box(cx.waker().clone()));
        Poll::Pending
    }
}

/// Polls `future` `iters` times with the waker of an idle rawtask task.
fn poll_with_task_waker(mut future: impl Future<Output = ()> + Unpin, iters: u64) -> Duration {
    let (runnable, task) = rawtask::spawn(std::future::pending::<()>(), |_| {});
    let waker = runnable.waker();
    runnable.run(); // the task is idle: the clones never wake it
    let mut cx = Context::from_waker(&waker);
    let start = Instant::now();
    for _ in 0..iters {
        let _ = black_box(Pin::new(&mut future).poll(&mut cx));
    }
    let elapsed = start.elapsed();
    drop(future);
    drop(waker);
    drop(task);
    elapsed
}

thread_local! {
    static SLOT: Cell<Option<Runnable>> = const { Cell::new(None) };
}

fn to_slot(runnable: Runnable) {
    SLOT.set(Some(runnable));
}

/// Runs the task of `future` `iters` times from a one-slot queue; returns the time taken.
fn run_repeatedly(future: impl Future<Output = ()> + Send + 'static, iters: u64) -> Duration {
    let (runnable, task) = rawtask::spawn(future, to_slot);
    runnable.schedule();
    let start = Instant::now();
    for _ in 0..iters {
        let runnable = SLOT.take().expect("the task rescheduled itself");
        black_box(runnable.run());
    }
    let elapsed = start.elapsed();
    drop(task);
    if let Some(runnable) = SLOT.take() {
        drop(runnable); // drops the future
    }
    elapsed
}

/// The two peers of a workload: each measures `iters` iterations and returns the time taken.
struct Peers {
    rawtask: fn(u64) -> Duration,
    async_ffi: fn(u64) -> Duration,
}

/// Chunks per measurement: each peer's measurement is cut into this many chunks, interleaved
/// with chunks of the other peer (whose time is thrown away), so that both peers run under
/// the same background load on this shared machine. The ratio is what counts.
const CHUNKS: u64 = 32;

fn interleaved(own: fn(u64) -> Duration, other: fn(u64) -> Duration, iters: u64) -> Duration {
    let chunk = iters.div_ceil(CHUNKS);
    let mut left = iters;
    let mut total = Duration::ZERO;
    let mut own_first = true;
    while left > 0 {
        let n = chunk.min(left);
        if own_first {
            total += own(n);
            black_box(other(n));
        } else {
            black_box(other(n));
            total += own(n);
        }
        own_first = !own_first;
        left -= n;
    }
    total
}

fn group(c: &mut Criterion, name: &str, peers: Peers) {
    let mut group = c.benchmark_group(name);
    group.bench_function("rawtask", |b| {
        b.iter_custom(|iters| interleaved(peers.rawtask, peers.async_ffi, iters))
    });
    group.bench_function("async-ffi", |b| {
        b.iter_custom(|iters| interleaved(peers.async_ffi, peers.rawtask, iters))
    });
    group.finish();
}

/// Polls `iters` ready futures once each (made before, dropped after the measurement). The
/// future is zero-sized (boxing it allocates nothing), so that the measurement is the poll
/// through the FFI functions, not the cache misses of reaching `iters` scattered boxes.
macro_rules! poll_ready {
    ($krate:ident) => {
        |iters| {
            use $krate::FutureExt;
            let mut futures: Vec<_> = (0..iters)
                .map(|_| std::future::poll_fn(|_| Poll::Ready(black_box(7u64))).into_ffi())
                .collect();
            let mut cx = Context::from_waker(Waker::noop());
            let start = Instant::now();
            for future in &mut futures {
                let _ = black_box(Pin::new(future).poll(&mut cx));
            }
            let elapsed = start.elapsed();
            drop(futures);
            elapsed
        }
    };
}

/// Converts `iters` futures (dropped after the measurement).
macro_rules! into_ffi {
    ($krate:ident) => {
        |iters| {
            use $krate::FutureExt;
            let mut futures = Vec::with_capacity(iters as usize);
            let start = Instant::now();
            for _ in 0..iters {
                let x = black_box(7u64);
                futures.push(async move { x + 1 }.into_ffi());
            }
            let elapsed = start.elapsed();
            drop(futures);
            elapsed
        }
    };
}

fn benches(c: &mut Criterion) {
    group(
        c,
        "ffi_poll_ready",
        Peers {
            rawtask: poll_ready!(rawtask_ffi),
            async_ffi: poll_ready!(async_ffi),
        },
    );
    group(
        c,
        "ffi_clone_wake_pending",
        Peers {
            rawtask: |iters| run_repeatedly(rawtask::ffi::FutureExt::into_ffi(CloneWake), iters),
            async_ffi: |iters| run_repeatedly(async_ffi::FutureExt::into_ffi(CloneWake), iters),
        },
    );
    group(
        c,
        "ffi_clone_store_pending",
        Peers {
            rawtask: |iters| {
                poll_with_task_waker(rawtask::ffi::FutureExt::into_ffi(CloneStore(None)), iters)
            },
            async_ffi: |iters| {
                poll_with_task_waker(async_ffi::FutureExt::into_ffi(CloneStore(None)), iters)
            },
        },
    );
    group(
        c,
        "ffi_into_ffi",
        Peers {
            rawtask: into_ffi!(rawtask_ffi),
            async_ffi: into_ffi!(async_ffi),
        },
    );
}

criterion_group!(ffi, benches);
criterion_main!(ffi);
