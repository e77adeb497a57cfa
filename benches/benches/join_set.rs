//! `rawtask::JoinSet` against tokio's `JoinSet` on a current-thread runtime: spawn one task,
//! run it, `join_next` its output — the target is rawtask ≤ 0.3 × tokio. A third
//! workload `insert`s tasks spawned elsewhere (the watched path), against the same tokio loop.
//!
//! Interleaved A/B rounds (see `benches/ab.rs`): each call of either side does a batch of
//! `BATCH` spawn + join rounds, so that tokio's `block_on` is entered once per batch and the
//! runtime entry is not what is measured. Both sides keep one set across the batch. rawtask's
//! executor is a thread-local queue run inline, as in `benches/scope.rs`. Run:
//!
//!     cargo bench -p rawtask-benches --bench join_set
//!     AB_ROUNDS=101 cargo bench -p rawtask-benches --bench join_set
//!
//! Prints the median rawtask/tokio time ratio with its quartiles per workload.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::hint::black_box;

use rawtask::Runnable;
use rawtask_benches::{ab, poll_ready};

const BATCH: u64 = 100;

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

fn main() {
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let rounds: usize = std::env::var("AB_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(if quick { 3 } else { 41 });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    println!("| workload (rawtask JoinSet / tokio JoinSet) | median | quartiles |");
    println!("|---|---|---|");

    // One task at a time: spawn, run, join.
    let mut raw_set = rawtask::JoinSet::new();
    let mut tokio_set = tokio::task::JoinSet::new();
    let one = ab(
        "spawn + join_next, one at a time",
        rounds,
        || {
            for i in 0..BATCH {
                raw_set
                    .spawn(
                        async move {
                            black_box(i);
                        },
                        push,
                    )
                    .schedule();
                run_queue();
                poll_ready(raw_set.join_next()).unwrap();
            }
        },
        || {
            runtime.block_on(async {
                for i in 0..BATCH {
                    tokio_set.spawn(async move {
                        black_box(i);
                    });
                    tokio_set.join_next().await.unwrap().unwrap();
                }
            })
        },
    );

    // A batch spawned, then all joined (completion order, many ready at once).
    let mut raw_set = rawtask::JoinSet::new();
    let mut tokio_set = tokio::task::JoinSet::new();
    let batch = ab(
        "spawn 100, then join_next 100",
        rounds,
        || {
            for i in 0..BATCH {
                raw_set
                    .spawn(
                        async move {
                            black_box(i);
                        },
                        push,
                    )
                    .schedule();
            }
            run_queue();
            while poll_ready(raw_set.join_next()).is_some() {}
        },
        || {
            runtime.block_on(async {
                for i in 0..BATCH {
                    tokio_set.spawn(async move {
                        black_box(i);
                    });
                }
                while let Some(out) = tokio_set.join_next().await {
                    out.unwrap();
                }
            })
        },
    );
    // A task spawned elsewhere and `insert`ed: the set watches it through its awaiter slot
    // (the slower path `spawn` avoids), one at a time.
    let mut raw_set = rawtask::JoinSet::new();
    let mut tokio_set = tokio::task::JoinSet::new();
    ab(
        "insert (spawned elsewhere) + join_next, one at a time",
        rounds,
        || {
            for i in 0..BATCH {
                let (runnable, task) = rawtask::spawn(
                    async move {
                        black_box(i);
                    },
                    push,
                );
                raw_set.insert(task);
                runnable.schedule();
                run_queue();
                poll_ready(raw_set.join_next()).unwrap();
            }
        },
        || {
            runtime.block_on(async {
                for i in 0..BATCH {
                    tokio_set.spawn(async move {
                        black_box(i);
                    });
                    tokio_set.join_next().await.unwrap().unwrap();
                }
            })
        },
    );
    println!(
        "geometric mean (spawn workloads): {:.2}",
        (one * batch).sqrt()
    );
}
