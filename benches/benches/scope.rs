//! rawtask::scope's cost, in the same run as its references:
//!
//! - `scope_spawn_join` / `rawtask_plain`: a plain raw task, spawned, scheduled onto a local
//!   queue, run and joined (`Task` polled to its output);
//! - `scope_spawn_join` / `rawtask_scoped`: a scoped child spawned from a root
//!   `ScopedSpawner` onto the same queue, run, and its done signal awaited;
//! - `scope_spawn_join` / `rawtask_scoped_with_spawner`: the same with `spawn_with_signal`, whose
//!   child gets a spawner (and so a registry and a token) of its own;
//! - `scope_spawn_join` / `tokio_joinset`: tokio's `JoinSet::spawn` then `join_next` on a
//!   current-thread runtime.
//!
//! Targets: scoped ≤ 1.5 × plain, scoped ≤ 1.0 × tokio. Each function times a loop of
//! `iters` spawn-and-wait rounds with `iter_custom`, so tokio's runtime is entered once per
//! sample rather than once per round. Read the ratios, not absolute times: this machine is
//! noisy.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use rawtask::scope::{ForgettableSignalSender, ScopedSpawn, ScopedSpawner};
use rawtask::Runnable;
use rawtask_benches::poll_ready;

thread_local! {
    static QUEUE: RefCell<VecDeque<Runnable>> = const { RefCell::new(VecDeque::new()) };
}

fn push(runnable: Runnable) {
    QUEUE.with(|queue| queue.borrow_mut().push_back(runnable));
}

fn run_queue() {
    while let Some(runnable) = QUEUE.with(|queue| queue.borrow_mut().pop_front()) {
        runnable.run();
    }
}

fn spawn_join(c: &mut Criterion) {
    let mut group = c.benchmark_group("scope_spawn_join");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));

    group.bench_function("rawtask_plain", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                let (runnable, task) = rawtask::spawn(
                    async move {
                        black_box(i);
                    },
                    push,
                );
                runnable.schedule();
                run_queue();
                poll_ready(task);
            }
            start.elapsed()
        });
    });

    group.bench_function("rawtask_scoped", |b| {
        let spawner = ScopedSpawner::on_schedule(push);
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                let signals = spawner
                    .spawn_future_with_signal(
                        async move {
                            black_box(i);
                        },
                        || {},
                    )
                    .unwrap();
                run_queue();
                poll_ready(signals.done_receiver);
                signals.cancel_sender.forget();
            }
            start.elapsed()
        });
    });

    group.bench_function("rawtask_scoped_with_spawner", |b| {
        let spawner = ScopedSpawner::on_schedule(push);
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                let signals = spawner
                    .spawn_with_signal(
                        move |_children| async move {
                            black_box(i);
                        },
                        || {},
                    )
                    .unwrap();
                run_queue();
                poll_ready(signals.done_receiver);
                signals.cancel_sender.forget();
            }
            start.elapsed()
        });
    });

    group.bench_function("rawtask_scoped_no_signal", |b| {
        let spawner = ScopedSpawner::on_schedule(push);
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                spawner
                    .spawn_future(
                        async move {
                            black_box(i);
                        },
                        || {},
                    )
                    .unwrap();
                run_queue();
            }
            start.elapsed()
        });
    });

    group.bench_function("arc_clone_drop_x10", |b| {
        let arc = std::sync::Arc::new(0u64);
        b.iter(|| {
            for _ in 0..10 {
                black_box(arc.clone());
            }
        });
    });

    group.bench_function("tokio_joinset", |b| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                let start = Instant::now();
                for i in 0..iters {
                    set.spawn(async move {
                        black_box(i);
                    });
                    set.join_next().await.unwrap().unwrap();
                }
                start.elapsed()
            })
        });
    });

    group.finish();
}

criterion_group!(benches, spawn_join);
criterion_main!(benches);
