//! How the C handle table scales with threads.
//!
//! Each thread spawns 1,000 ready tasks, wraps them in `RawtaskTask` handles of its own, and
//! calls `rawtask_task_output_size` on them round-robin for a fixed number of calls; the
//! figure is the total number of calls per second over all threads. With one process-wide
//! lock the second thread slows both down (the lock's cache line bounces between cores); the
//! target is 2 threads ≥ 1.8 × 1 thread. Thread counts: 1, 2, and the number of cores if more.
//!
//! Run with `cargo bench -p rawtask-benches --bench handles`. Plain output, no criterion:
//! each figure is the best of 5 rounds.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use rawtask::capi::{rawtask_task_free, rawtask_task_output_size, RawtaskStatus, RawtaskTask};

/// Handles per thread.
const HANDLES: usize = 1_000;
/// Calls per thread per round.
const CALLS: usize = 4_000_000;
/// Rounds per thread count; the best one is reported.
const ROUNDS: usize = 5;

/// One round with `threads` threads: returns the wall time of the slowest thread.
fn round(threads: usize) -> Duration {
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let handles: Vec<RawtaskTask> = (0..HANDLES)
                        .map(|i| {
                            let (runnable, task) = rawtask::spawn(async move { i as u64 }, |_| {});
                            runnable.run();
                            RawtaskTask::new(task)
                        })
                        .collect();
                    barrier.wait();
                    let start = Instant::now();
                    let mut size = 0usize;
                    for call in 0..CALLS {
                        let handle = handles[call % HANDLES];
                        // SAFETY: `size` is a writable usize.
                        let status = unsafe { rawtask_task_output_size(handle, &mut size) };
                        debug_assert_eq!(status, RawtaskStatus::Ok);
                        black_box(status);
                    }
                    let elapsed = start.elapsed();
                    assert_eq!(size, 8);
                    for handle in handles {
                        assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);
                    }
                    elapsed
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .max()
            .unwrap()
    })
}

fn main() {
    // `cargo test --benches` runs bench binaries with `--bench` absent: do one quick round.
    let quick = !std::env::args().any(|a| a == "--bench");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut counts = vec![1, 2];
    if cores > 2 {
        counts.push(cores);
    }
    let mut rates = Vec::new();
    for &threads in &counts {
        let best = (0..if quick { 1 } else { ROUNDS })
            .map(|_| round(threads))
            .min()
            .unwrap();
        let rate = (threads * CALLS) as f64 / best.as_secs_f64();
        println!(
            "handles/output_size/{threads} threads: {:.1} M calls/s in total ({:.1} ns/call per thread)",
            rate / 1e6,
            best.as_nanos() as f64 / CALLS as f64
        );
        rates.push(rate);
    }
    println!(
        "handles/output_size: 2 threads / 1 thread = {:.2} (target >= 1.8)",
        rates[1] / rates[0]
    );
}
