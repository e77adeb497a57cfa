//! Whole executors compared end to end, in the same run: rawtask's reference work-stealing
//! executor (`rawtask_executors::multi`), async-executor, and tokio's multi-threaded runtime,
//! each with **2 worker threads**.
//!
//! One criterion group per workload; in each group the functions are `rawtask`,
//! `async-executor` and `tokio`:
//!
//! - `spawn_one`: spawn a trivial task from outside the executor and wait for it with the
//!   executor's `block_on` (rawtask: `rawtask_executors::block_on`, async-executor:
//!   `futures_lite::future::block_on`, tokio: `Handle::block_on`);
//! - `spawn_many`: spawn 1,000 trivial tasks from outside, then await them all;
//! - `spawn_recursive`: a task spawns two children, each of which spawns two, down to depth
//!   10 (2,047 tasks), every parent awaiting its children;
//! - `yield_many`: 100 tasks that each yield 100 times (a future that wakes itself and
//!   returns `Pending` once: the same future for all three);
//! - `ping_pong`: 100 pairs of tasks, each pair sending a number back and forth 100 times
//!   over two flume channels.
//!
//! The workloads are written once, generic over the [`Runtime`] trait, with the same channels
//! and the same yield future for all three, so that only the executors differ. Each
//! executor is started once per group and reused by every iteration. This machine is noisy and
//! has as many cores as there are workers: read the ratios within a group, not the absolute
//! times. `report-executors.sh` beside this crate turns a run into a markdown table.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_lite::future::yield_now;

/// Worker threads of every executor.
const THREADS: usize = 2;
/// Tasks per iteration of `spawn_many`.
const SPAWN_MANY: u64 = 1_000;
/// Depth of the `spawn_recursive` tree: 2^(DEPTH + 1) - 1 tasks.
const DEPTH: u32 = 10;
/// Tasks and yields per task of `yield_many`.
const YIELD_TASKS: u64 = 100;
const YIELDS: u64 = 100;
/// Pairs and round trips per pair of `ping_pong`.
const PAIRS: u64 = 100;
const ROUND_TRIPS: u64 = 100;

/// What a workload needs from an executor: spawn from anywhere (including its own tasks),
/// and block the calling thread on a future.
trait Runtime: Clone + Send + Sync + 'static {
    type Task<T: Send + 'static>: Future<Output = T> + Send + 'static;

    fn spawn<F>(&self, future: F) -> Self::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    fn block_on<F: Future>(&self, future: F) -> F::Output;
}

impl Runtime for rawtask_executors::multi::Handle {
    type Task<T: Send + 'static> = rawtask::Task<T>;

    fn spawn<F>(&self, future: F) -> Self::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        rawtask_executors::multi::Handle::spawn(self, future)
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        rawtask_executors::block_on(future)
    }
}

impl Runtime for Arc<async_executor::Executor<'static>> {
    type Task<T: Send + 'static> = async_executor::Task<T>;

    fn spawn<F>(&self, future: F) -> Self::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        async_executor::Executor::spawn(self, future)
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        futures_lite::future::block_on(future)
    }
}

impl Runtime for tokio::runtime::Handle {
    type Task<T: Send + 'static> = TokioTask<T>;

    fn spawn<F>(&self, future: F) -> Self::Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        TokioTask(tokio::runtime::Handle::spawn(self, future))
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        tokio::runtime::Handle::block_on(self, future)
    }
}

/// A tokio `JoinHandle` whose output is the task's (tokio's is a `Result`).
struct TokioTask<T>(tokio::task::JoinHandle<T>);

impl<T> Future for TokioTask<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|result| result.expect("task failed"))
    }
}

/// async-executor on `THREADS` threads, each running `Executor::run` until the stop
/// channel closes.
struct AsyncExecutor {
    executor: Arc<async_executor::Executor<'static>>,
    stop: Option<flume::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl AsyncExecutor {
    fn new() -> AsyncExecutor {
        let executor = Arc::new(async_executor::Executor::new());
        let (stop, stopped) = flume::bounded::<()>(1);
        let threads = (0..THREADS)
            .map(|_| {
                let (executor, stopped) = (executor.clone(), stopped.clone());
                thread::spawn(move || {
                    futures_lite::future::block_on(executor.run(async {
                        let _ = stopped.recv_async().await;
                    }))
                })
            })
            .collect();
        AsyncExecutor {
            executor,
            stop: Some(stop),
            threads,
        }
    }
}

impl Drop for AsyncExecutor {
    fn drop(&mut self) {
        drop(self.stop.take());
        for thread in self.threads.drain(..) {
            thread.join().unwrap();
        }
    }
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(THREADS)
        .build()
        .unwrap()
}

fn spawn_one<R: Runtime>(rt: &R) {
    let task = rt.spawn(async { black_box(1u64) });
    black_box(rt.block_on(task));
}

fn spawn_many<R: Runtime>(rt: &R) {
    let tasks: Vec<_> = (0..SPAWN_MANY)
        .map(|i| rt.spawn(async move { black_box(i) }))
        .collect();
    let sum = rt.block_on(async {
        let mut sum = 0;
        for task in tasks {
            sum += task.await;
        }
        sum
    });
    assert_eq!(sum, SPAWN_MANY * (SPAWN_MANY - 1) / 2);
}

/// A task that spawns two children down to `depth` and returns the size of its tree. Boxed:
/// the future's type would otherwise contain itself.
fn tree<R: Runtime>(rt: R, depth: u32) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            return 1;
        }
        let left = rt.spawn(tree(rt.clone(), depth - 1));
        let right = rt.spawn(tree(rt.clone(), depth - 1));
        1 + left.await + right.await
    })
}

fn spawn_recursive<R: Runtime>(rt: &R) {
    let root = rt.spawn(tree(rt.clone(), DEPTH));
    assert_eq!(rt.block_on(root), (1 << (DEPTH + 1)) - 1);
}

fn yield_many<R: Runtime>(rt: &R) {
    let tasks: Vec<_> = (0..YIELD_TASKS)
        .map(|_| {
            rt.spawn(async {
                for _ in 0..YIELDS {
                    yield_now().await;
                }
            })
        })
        .collect();
    rt.block_on(async {
        for task in tasks {
            task.await;
        }
    });
}

fn ping_pong<R: Runtime>(rt: &R) {
    let pairs: Vec<_> = (0..PAIRS)
        .map(|_| {
            let (ping_tx, ping_rx) = flume::bounded::<u64>(1);
            let (pong_tx, pong_rx) = flume::bounded::<u64>(1);
            let ping = rt.spawn(async move {
                let mut n = 0;
                for _ in 0..ROUND_TRIPS {
                    ping_tx.send_async(n).await.unwrap();
                    n = pong_rx.recv_async().await.unwrap();
                }
                n
            });
            let pong = rt.spawn(async move {
                while let Ok(n) = ping_rx.recv_async().await {
                    pong_tx.send_async(n + 1).await.unwrap();
                }
            });
            (ping, pong)
        })
        .collect();
    rt.block_on(async {
        for (ping, pong) in pairs {
            assert_eq!(ping.await, ROUND_TRIPS);
            pong.await;
        }
    });
}

/// Adds the group `$name`, running `$name` on each executor, with an optional
/// `|group| { .. }` block that configures the group first. Each executor is started for the
/// group and shut down after it.
macro_rules! group {
    ($c:expr, $name:ident) => {
        group!($c, $name, |group| {})
    };
    ($c:expr, $name:ident, |$group:ident| $configure:block) => {{
        let mut $group = $c.benchmark_group(stringify!($name));
        $configure
        {
            let executor = rawtask_executors::multi::Executor::new(THREADS);
            let handle = executor.handle();
            $group.bench_function("rawtask", |b| b.iter(|| $name(&handle)));
        }
        {
            let executor = AsyncExecutor::new();
            let handle = executor.executor.clone();
            $group.bench_function("async-executor", |b| b.iter(|| $name(&handle)));
        }
        {
            let runtime = tokio_runtime();
            let handle = runtime.handle().clone();
            $group.bench_function("tokio", |b| b.iter(|| $name(&handle)));
        }
        $group.finish();
    }};
}

fn benches(c: &mut Criterion) {
    group!(c, spawn_one);
    group!(c, spawn_many, |g| {
        g.throughput(Throughput::Elements(SPAWN_MANY));
    });
    group!(c, spawn_recursive, |g| {
        g.throughput(Throughput::Elements((1 << (DEPTH + 1)) - 1));
        g.sample_size(30);
    });
    group!(c, yield_many, |g| {
        g.throughput(Throughput::Elements(YIELD_TASKS * YIELDS)); // polls
        g.sample_size(30);
    });
    group!(c, ping_pong, |g| {
        g.throughput(Throughput::Elements(PAIRS * ROUND_TRIPS)); // round trips
        g.sample_size(20);
    });
}

criterion_group! {
    name = executors;
    // 15 benchmarks of about 4 s each: the whole file runs in about a minute.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .without_plots();
    targets = benches
}
criterion_main!(executors);
