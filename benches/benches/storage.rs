//! Custom task storage (`Builder::allocator`) against the default path, in the same run:
//!
//! - `storage_spawn_run_join` / `spawn`: `rawtask::spawn`, the default path;
//! - `… / builder`: `Builder::new().spawn`, which goes through the allocator machinery with the
//!   zero-sized `Heap` allocator — it must cost the same as `spawn`;
//! - `… / builder_identity`: the same with an opt-in task id (`assign_id`);
//! - `… / task_pool`: `Builder::new().allocator(&POOL)`, memory recycled by a `TaskPool`;
//! - `… / async-task`: async-task 4.7.1's `spawn`, the reference of the core benchmarks.
//!
//! Read the ratios within the group: this machine is noisy.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use rawtask::storage::TaskPool;
use rawtask_benches::poll_ready;

static POOL: TaskPool = TaskPool::new(64);

fn noop(_: rawtask::Runnable) {}
fn noop_async_task(_: async_task::Runnable) {}

fn spawn_run_join(c: &mut Criterion) {
    let mut group = c.benchmark_group("storage_spawn_run_join");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.bench_function("spawn", |b| {
        b.iter(|| {
            let x = black_box(7u64);
            let (runnable, task) = rawtask::spawn(async move { x + 1 }, noop);
            runnable.run();
            black_box(poll_ready(task))
        })
    });
    group.bench_function("builder", |b| {
        b.iter(|| {
            let x = black_box(7u64);
            let (runnable, task) =
                rawtask::Builder::new().spawn(move |()| async move { x + 1 }, noop);
            runnable.run();
            black_box(poll_ready(task))
        })
    });
    group.bench_function("builder_identity", |b| {
        b.iter(|| {
            let x = black_box(7u64);
            let (runnable, task) = rawtask::Builder::new()
                .assign_id()
                .spawn(move |()| async move { x + 1 }, noop);
            runnable.run();
            black_box(poll_ready(task))
        })
    });
    group.bench_function("task_pool", |b| {
        b.iter(|| {
            let x = black_box(7u64);
            let (runnable, task) = rawtask::Builder::new()
                .allocator(&POOL)
                .spawn(move |()| async move { x + 1 }, noop);
            runnable.run();
            black_box(poll_ready(task))
        })
    });
    group.bench_function("async-task", |b| {
        b.iter(|| {
            let x = black_box(7u64);
            let (runnable, task) = async_task::spawn(async move { x + 1 }, noop_async_task);
            runnable.run();
            black_box(poll_ready(task))
        })
    });
    group.finish();
}

criterion_group!(benches, spawn_run_join);
criterion_main!(benches);
