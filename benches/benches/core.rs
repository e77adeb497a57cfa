//! rawtask against async-task 4.7.1 and async-task-ffi 4.1.1, in the same run.
//!
//! One criterion group per workload; in each group the three crates are the functions
//! `rawtask`, `async-task` and `async-task-ffi`. These machines are noisy: read the
//! ratios between functions of a group, not the absolute times. `report.sh` beside
//! this crate turns a run into a markdown table.
//!
//! Every workload but `spawn_with_u64_data` is written once, in `workloads!`, and
//! instantiated for each crate, whose spawn API is the same there.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rawtask_benches::poll_ready;

/// Tasks spawned and joined per iteration of `flume_cross_thread`.
const BATCH: u64 = 1000;

/// The workloads whose code is identical for the three crates. `$krate` must export
/// `spawn(future, schedule) -> (Runnable, Task<T>)` with `Runnable::{run, schedule,
/// waker}` and `Task::detach`.
macro_rules! workloads {
    ($module:ident, $krate:ident) => {
        mod $module {
            use std::cell::Cell;
            use std::hint::black_box;
            use std::time::Instant;

            use criterion::Bencher;
            use rawtask_benches::{block_on, poll_ready, SelfWake};
            use $krate::{spawn, Runnable};

            use super::BATCH;

            /// A schedule fn that drops the runnable (which cancels the task).
            fn noop_schedule(_: Runnable) {}

            thread_local! {
                /// Where `to_slot` puts a rescheduled runnable for `self_wake_run`.
                static SLOT: Cell<Option<Runnable>> = const { Cell::new(None) };
            }

            /// A schedule fn for a single task run on this thread.
            fn to_slot(runnable: Runnable) {
                let previous = SLOT.replace(Some(runnable));
                assert!(previous.is_none(), "only one task uses the slot");
            }

            pub fn spawn_drop(b: &mut Bencher) {
                b.iter(|| {
                    let (runnable, task) = spawn(async {}, noop_schedule);
                    drop(black_box(runnable));
                    drop(black_box(task));
                });
            }

            pub fn spawn_run_join(b: &mut Bencher) {
                b.iter(|| {
                    let x = black_box(7u64);
                    let (runnable, task) = spawn(async move { x + 1 }, noop_schedule);
                    black_box(runnable.run());
                    black_box(poll_ready(task))
                });
            }

            pub fn spawn_run_detach(b: &mut Bencher) {
                b.iter(|| {
                    let x = black_box(7u64);
                    let (runnable, task) = spawn(
                        async move {
                            black_box(x);
                        },
                        noop_schedule,
                    );
                    task.detach();
                    black_box(runnable.run())
                });
            }

            /// One measured iteration is one poll: the task returns `Pending`
            /// `iters - 1` times, waking itself each time.
            pub fn self_wake_run(b: &mut Bencher) {
                b.iter_custom(|iters| {
                    let (runnable, task) = spawn(SelfWake::new(iters - 1), to_slot);
                    let start = Instant::now();
                    let mut next = Some(runnable);
                    while let Some(runnable) = next {
                        black_box(runnable.run());
                        next = SLOT.take();
                    }
                    let elapsed = start.elapsed();
                    poll_ready(task);
                    elapsed
                });
            }

            pub fn waker_clone_drop(b: &mut Bencher) {
                let (runnable, task) = spawn(std::future::pending::<()>(), noop_schedule);
                let waker = runnable.waker();
                runnable.run(); // the task is now idle, waiting for a wake-up
                b.iter(|| drop(black_box(black_box(&waker).clone())));
                drop(waker);
                drop(task);
            }

            pub fn future_1k(b: &mut Bencher) {
                b.iter(|| {
                    // Captured by value, so the array is moved into the task and is
                    // part of the future's state across the await point.
                    let buf = black_box([3u8; 1024]);
                    let future = async move {
                        std::future::ready(()).await;
                        black_box(&buf)[black_box(1000)]
                    };
                    let (runnable, task) = spawn(future, noop_schedule);
                    black_box(runnable.run());
                    black_box(poll_ready(task))
                });
            }

            /// The schedule fn sends runnables to a flume channel that a worker thread
            /// drains; this thread spawns `BATCH` tasks and joins them all.
            pub fn flume_cross_thread(b: &mut Bencher) {
                let (sender, receiver) = flume::unbounded::<Runnable>();
                let worker = std::thread::spawn(move || {
                    for runnable in receiver {
                        runnable.run();
                    }
                });
                let mut tasks = Vec::with_capacity(BATCH as usize);
                b.iter(|| {
                    for i in 0..BATCH {
                        let sender = sender.clone();
                        let schedule = move |runnable| sender.send(runnable).unwrap();
                        let (runnable, task) = spawn(async move { black_box(i) }, schedule);
                        runnable.schedule();
                        tasks.push(task);
                    }
                    let sum: u64 = tasks.drain(..).map(block_on).sum();
                    assert_eq!(sum, BATCH * (BATCH - 1) / 2);
                });
                drop(sender); // every task is gone, so the worker's loop ends
                worker.join().unwrap();
            }
        }
    };
}

workloads!(rt, rawtask);
workloads!(at, async_task);
workloads!(atf, async_task_ffi);

/// Adds one group named `$name` whose functions are the three crates' `$name`; the
/// optional `|group| { .. }` block configures the group first.
macro_rules! group {
    ($c:expr, $name:ident) => {
        group!($c, $name, |group| {})
    };
    ($c:expr, $name:ident, |$group:ident| $configure:block) => {{
        let mut $group = $c.benchmark_group(stringify!($name));
        $configure
        $group.bench_function("rawtask", rt::$name);
        $group.bench_function("async-task", at::$name);
        $group.bench_function("async-task-ffi", atf::$name);
        $group.finish();
    }};
}

/// The data-slot workload: the three crates name it differently.
fn spawn_with_u64_data(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_with_u64_data");
    group.bench_function("rawtask", |b| {
        b.iter(|| {
            let x = black_box(7u64);
            let (runnable, task) =
                rawtask::spawn_with(async move { x + 1 }, |_: rawtask::Runnable<u64>| {}, x);
            black_box(*runnable.data());
            black_box(runnable.run());
            black_box(poll_ready(task))
        });
    });
    group.bench_function("async-task", |b| {
        b.iter(|| {
            let x = black_box(7u64);
            let (runnable, task) = async_task::Builder::new()
                .metadata(x)
                .spawn(|_| async move { x + 1 }, |_: async_task::Runnable<u64>| {});
            black_box(*runnable.metadata());
            black_box(runnable.run());
            black_box(poll_ready(task))
        });
    });
    group.bench_function("async-task-ffi", |b| {
        b.iter(|| {
            let x = black_box(7u64);
            let (runnable, task) = async_task_ffi::spawn_with(
                async move { x + 1 },
                |_: async_task_ffi::Runnable<u64>| {},
                x,
            );
            black_box(*runnable.data());
            black_box(runnable.run());
            black_box(poll_ready(task))
        });
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    group!(c, spawn_drop);
    group!(c, spawn_run_join);
    group!(c, spawn_run_detach);
    spawn_with_u64_data(c);
    group!(c, self_wake_run, |g| {
        g.throughput(Throughput::Elements(1)); // one iteration is one poll
    });
    group!(c, waker_clone_drop);
    group!(c, future_1k);
    group!(c, flume_cross_thread, |g| {
        g.throughput(Throughput::Elements(BATCH)); // one iteration is BATCH tasks
        g.sample_size(20);
        g.measurement_time(Duration::from_secs(4));
    });
}

criterion_group! {
    name = core;
    // 24 benchmarks of about 4 s each: the whole file runs in under 2 minutes. Plots
    // are off because drawing them takes longer than the measurements.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
        .without_plots();
    targets = benches
}
criterion_main!(core);
