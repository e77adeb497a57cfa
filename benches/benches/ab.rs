//! Interleaved A/B comparison of rawtask and async-task 4.7.1 on the eight core workloads of
//! `benches/core.rs`, for a machine whose speed drifts by ±25 % between criterion's
//! back-to-back measurements (this project's shared 2-core VM does).
//!
//! Criterion (`benches/core.rs`) measures each implementation in its own few-second window,
//! so a slow window skews a ratio. Here every round times a short batch of rawtask and a
//! short batch of async-task back to back (alternating which goes first) and records their
//! ratio; the median over many rounds is robust to drift. Run:
//!
//!     cargo bench -p rawtask-benches --bench ab            # 41 rounds
//!     AB_ROUNDS=101 cargo bench -p rawtask-benches --bench ab
//!
//! Prints one line per workload: median rawtask/async-task ratio and the quartiles, then the
//! geometric mean of the medians. A ratio below 1 means rawtask is faster.

use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use rawtask_benches::{block_on, poll_ready};

/// Times `iters` calls of `f`.
fn time(iters: u64, f: &mut impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed()
}

/// The median and quartiles of rawtask/async-task over `rounds` interleaved rounds.
fn ab(name: &str, rounds: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> f64 {
    // Calibrate a batch to about 2 ms of `a`, and warm both up.
    let mut iters = 1000u64;
    while time(iters, &mut a) < Duration::from_millis(2) {
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
    q(0.5)
}

thread_local! {
    static RAW_SLOT: Cell<Option<rawtask::Runnable>> = const { Cell::new(None) };
    static AT_SLOT: Cell<Option<async_task::Runnable>> = const { Cell::new(None) };
}

/// Pending `n` times (waking itself), then ready.
struct Yields(u32);

impl std::future::Future for Yields {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 == 0 {
            return std::task::Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: keep that short.
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let rounds: usize = std::env::var("AB_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(if quick { 3 } else { 41 });
    fn raw_noop(_: rawtask::Runnable) {}
    fn at_noop(_: async_task::Runnable) {}
    fn raw_data_noop(_: rawtask::Runnable<u64>) {}
    fn at_data_noop(_: async_task::Runnable<u64>) {}

    println!("| workload (rawtask/async-task, {rounds} rounds) | median | quartiles |");
    println!("|---|---:|---:|");
    let medians = [
        ab(
            "spawn_drop",
            rounds,
            || drop(black_box(rawtask::spawn(async {}, raw_noop))),
            || drop(black_box(async_task::spawn(async {}, at_noop))),
        ),
        ab(
            "spawn_run_join",
            rounds,
            || {
                let x = black_box(7u64);
                let (r, t) = rawtask::spawn(async move { x + 1 }, raw_noop);
                r.run();
                black_box(poll_ready(t));
            },
            || {
                let x = black_box(7u64);
                let (r, t) = async_task::spawn(async move { x + 1 }, at_noop);
                r.run();
                black_box(poll_ready(t));
            },
        ),
        ab(
            "spawn_run_detach",
            rounds,
            || {
                let x = black_box(7u64);
                let (r, t) = rawtask::spawn(
                    async move {
                        black_box(x);
                    },
                    raw_noop,
                );
                t.detach();
                black_box(r.run());
            },
            || {
                let x = black_box(7u64);
                let (r, t) = async_task::spawn(
                    async move {
                        black_box(x);
                    },
                    at_noop,
                );
                t.detach();
                black_box(r.run());
            },
        ),
        ab(
            "spawn_with_u64_data",
            rounds,
            || {
                let x = black_box(7u64);
                let (r, t) = rawtask::spawn_with(async move { x + 1 }, raw_data_noop, x);
                black_box(*r.data());
                r.run();
                black_box(poll_ready(t));
            },
            || {
                let x = black_box(7u64);
                let (r, t) = async_task::Builder::new()
                    .metadata(x)
                    .spawn(move |_| async move { x + 1 }, at_data_noop);
                black_box(*r.metadata());
                r.run();
                black_box(poll_ready(t));
            },
        ),
        ab(
            "self_wake_run (100 polls)",
            rounds,
            || {
                let (r, t) = rawtask::spawn(Yields(99), |r| RAW_SLOT.set(Some(r)));
                let mut next = Some(r);
                while let Some(r) = next {
                    r.run();
                    next = RAW_SLOT.take();
                }
                poll_ready(t);
            },
            || {
                let (r, t) = async_task::spawn(Yields(99), |r| AT_SLOT.set(Some(r)));
                let mut next = Some(r);
                while let Some(r) = next {
                    r.run();
                    next = AT_SLOT.take();
                }
                poll_ready(t);
            },
        ),
        {
            let (raw_runnable, raw_task) = rawtask::spawn(std::future::pending::<()>(), raw_noop);
            let raw_waker = raw_runnable.waker();
            let (at_runnable, at_task) = async_task::spawn(std::future::pending::<()>(), at_noop);
            let at_waker = at_runnable.waker();
            let median = ab(
                "waker_clone_drop",
                rounds,
                || drop(black_box(raw_waker.clone())),
                || drop(black_box(at_waker.clone())),
            );
            drop((raw_runnable, raw_task, at_runnable, at_task));
            median
        },
        ab(
            "future_1k",
            rounds,
            || {
                let buf = black_box([3u8; 1024]);
                let future = async move {
                    std::future::ready(()).await;
                    black_box(&buf)[black_box(1000)]
                };
                let (r, t) = rawtask::spawn(future, raw_noop);
                r.run();
                black_box(poll_ready(t));
            },
            || {
                let buf = black_box([3u8; 1024]);
                let future = async move {
                    std::future::ready(()).await;
                    black_box(&buf)[black_box(1000)]
                };
                let (r, t) = async_task::spawn(future, at_noop);
                r.run();
                black_box(poll_ready(t));
            },
        ),
        {
            // 1,000 tasks per call, scheduled through a flume channel to a worker thread
            // (one worker per implementation, both alive throughout) and joined here.
            let (raw_sender, raw_receiver) = flume::unbounded::<rawtask::Runnable>();
            let (at_sender, at_receiver) = flume::unbounded::<async_task::Runnable>();
            let raw_worker = std::thread::spawn(move || {
                raw_receiver.iter().for_each(|r| {
                    r.run();
                })
            });
            let at_worker = std::thread::spawn(move || {
                at_receiver.iter().for_each(|r| {
                    r.run();
                })
            });
            let mut raw_tasks = Vec::with_capacity(1000);
            let mut at_tasks = Vec::with_capacity(1000);
            let median = ab(
                "flume_cross_thread (1000 tasks)",
                rounds,
                || {
                    for i in 0..1000u64 {
                        let sender = raw_sender.clone();
                        let (r, t) = rawtask::spawn(async move { black_box(i) }, move |r| {
                            sender.send(r).unwrap()
                        });
                        r.schedule();
                        raw_tasks.push(t);
                    }
                    let sum: u64 = raw_tasks.drain(..).map(block_on).sum();
                    assert_eq!(sum, 499_500);
                },
                || {
                    for i in 0..1000u64 {
                        let sender = at_sender.clone();
                        let (r, t) = async_task::spawn(async move { black_box(i) }, move |r| {
                            sender.send(r).unwrap()
                        });
                        r.schedule();
                        at_tasks.push(t);
                    }
                    let sum: u64 = at_tasks.drain(..).map(block_on).sum();
                    assert_eq!(sum, 499_500);
                },
            );
            drop((raw_sender, at_sender));
            raw_worker.join().unwrap();
            at_worker.join().unwrap();
            median
        },
    ];
    let geomean = medians.iter().map(|m| m.ln()).sum::<f64>() / medians.len() as f64;
    println!(
        "| **geometric mean of medians** | **{:.2}** | |",
        geomean.exp()
    );
}
