//! Whole executors compared end to end, in the same run: rawtask's reference work-stealing
//! executor (`rawtask_executors::multi`), async-executor, and tokio's multi-threaded runtime,
//! each with **2 worker threads**.
//!
//! One criterion group per workload; in each group the functions are `rawtask`,
//! `async-executor` and `tokio`. Six workloads are our own versions of those of tokio's
//! `benches/rt_multi_threaded.rs`, with its sizes (its busy loads scaled to our 2 workers);
//! three are rawtask's own:
//!
//! - `spawn_one`: spawn a trivial task from outside the executor and wait for it with the
//!   executor's `block_on` (rawtask: `rawtask_executors::block_on`, async-executor:
//!   `futures_lite::future::block_on`, tokio: `Handle::block_on`);
//! - `spawn_many_local` (tokio's): a task spawns 10,000 detached tasks; the last one to finish
//!   signals the benchmark thread over a `std::sync::mpsc` channel. (tokio's spawns from its
//!   `block_on`, which for the multi-threaded runtime is not a worker; ours spawns from a
//!   task, as the name says.)
//! - `spawn_many_remote_idle` (tokio's; replaces our old `spawn_many` of 1,000): spawn 10,000
//!   tasks from outside onto the idle executor, then await them all in `block_on`;
//! - `spawn_many_remote_busy1` (tokio's): the same while 4 (2 per worker) tasks keep the
//!   workers busy, each looping "yield, then spin 10 µs" (a yield is a lower priority than a
//!   spawn);
//! - `spawn_many_remote_busy2` (tokio's): 1,000 spawns from outside while 2 (1 per worker)
//!   chains of tasks keep the workers busy, each task spinning 10 µs and spawning the next;
//! - `spawn_recursive`: a task spawns two children, each of which spawns two, down to depth
//!   10 (2,047 tasks), every parent awaiting its children;
//! - `yield_many` (tokio's; replaces our old 100 x 100): 200 tasks spawned from outside, each
//!   yielding 1,000 times, then signalling over a `std::sync::mpsc` channel;
//! - `ping_pong` (tokio's): a task spawns 1,000 tasks; each spawns a partner and they
//!   exchange one message each way over one-message flume channels;
//! - `chained_spawn` (tokio's): a chain of 1,000 tasks, each spawning the next;
//! - `round_trips` (our old `ping_pong`, renamed): 100 pairs of tasks, each pair sending a
//!   number back and forth 100 times over two flume channels.
//!
//! The workloads are written once, generic over the [`Runtime`] trait, with the same channels
//! for all three, so that only the executors differ. A task yields the executor's own way, as
//! tokio's benchmark does: `tokio::task::yield_now` on tokio (which defers the task behind
//! other work), and `futures_lite::future::yield_now` (a future that wakes itself and returns
//! `Pending` once) on the two that have no yield of their own. Each executor
//! is started once per group and reused by every iteration. This machine is noisy and has as
//! many cores as there are workers: read the ratios within a group, not the absolute times.
//! `report-executors.sh` beside this crate turns a run into a markdown table.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Worker threads of every executor.
const THREADS: usize = 2;
/// Tasks per iteration of `spawn_many_local`, `spawn_many_remote_idle` and
/// `spawn_many_remote_busy1` (tokio's `NUM_SPAWN`).
const NUM_SPAWN: usize = 10_000;
/// Tasks per iteration of `spawn_many_remote_busy2`.
const NUM_SPAWN_BUSY2: usize = 1_000;
/// How long a busy task spins before it yields or spawns the next (tokio's `STALL_DUR`).
const STALL: Duration = Duration::from_micros(10);
/// Depth of the `spawn_recursive` tree: 2^(DEPTH + 1) - 1 tasks.
const DEPTH: u32 = 10;
/// Tasks and yields per task of `yield_many`.
const YIELD_TASKS: usize = 200;
const YIELDS: usize = 1_000;
/// Pairs of tasks of `ping_pong`.
const PINGS: usize = 1_000;
/// Length of the `chained_spawn` chain.
const CHAIN: usize = 1_000;
/// Pairs and round trips per pair of `round_trips`.
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

    /// Lets the task run to completion without anyone awaiting it.
    fn detach<T: Send + 'static>(task: Self::Task<T>);

    /// The executor's own way for a task to yield: tokio's `yield_now`, which tokio defers
    /// behind other work, or (for executors without one) a future that wakes itself once.
    fn yield_now() -> impl Future<Output = ()> + Send;
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

    fn detach<T: Send + 'static>(task: Self::Task<T>) {
        task.detach();
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
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

    fn detach<T: Send + 'static>(task: Self::Task<T>) {
        task.detach();
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
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

    fn detach<T: Send + 'static>(task: Self::Task<T>) {
        // Dropping a `JoinHandle` detaches its task.
        drop(task);
    }

    fn yield_now() -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
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

/// Counts finished tasks down and tells the benchmark thread when the last one is done: the
/// completion signal of the workloads whose tasks are detached (tokio's shape).
#[derive(Clone)]
struct Countdown {
    left: Arc<AtomicUsize>,
    done: mpsc::SyncSender<()>,
}

impl Countdown {
    /// A countdown from `n`, and the receiver of its one signal.
    fn new(n: usize) -> (Countdown, mpsc::Receiver<()>) {
        let (done, finished) = mpsc::sync_channel(1);
        let countdown = Countdown {
            left: Arc::new(AtomicUsize::new(n)),
            done,
        };
        (countdown, finished)
    }

    /// One task finished.
    fn tick(&self) {
        if self.left.fetch_sub(1, Relaxed) == 1 {
            self.done.send(()).unwrap();
        }
    }
}

/// Spins for `STALL`, yielding the thread to the OS meanwhile (tokio's `stall`).
fn stall() {
    let start = Instant::now();
    while start.elapsed() < STALL {
        thread::yield_now();
    }
}

/// Tasks that keep the workers busy for a whole group, stopped and awaited on drop.
struct Busy<R: Runtime> {
    rt: R,
    running: Arc<AtomicBool>,
    tasks: Vec<R::Task<()>>,
}

impl<R: Runtime> Drop for Busy<R> {
    fn drop(&mut self) {
        self.running.store(false, Relaxed);
        let tasks = std::mem::take(&mut self.tasks);
        self.rt.block_on(async {
            for task in tasks {
                task.await;
            }
        });
    }
}

/// `spawn_many_remote_busy1`'s load: 2 tasks per worker, each looping "yield, then spin".
fn busy_yielders<R: Runtime>(rt: &R) -> Busy<R> {
    let running = Arc::new(AtomicBool::new(true));
    let tasks = (0..2 * THREADS)
        .map(|_| {
            let running = running.clone();
            rt.spawn(async move {
                while running.load(Relaxed) {
                    R::yield_now().await;
                    stall();
                }
            })
        })
        .collect();
    Busy {
        rt: rt.clone(),
        running,
        tasks,
    }
}

/// One link of a `busy_spawners` chain: spins, then spawns the next link, until stopped. The
/// last link completes the chain's `Task` by sending on `end`.
fn busy_link<R: Runtime>(rt: R, running: Arc<AtomicBool>, end: flume::Sender<()>) {
    let next = rt.clone();
    R::detach(rt.spawn(async move {
        if running.load(Relaxed) {
            stall();
            busy_link(next, running, end);
        } else {
            let _ = end.send(());
        }
    }));
}

/// `spawn_many_remote_busy2`'s load: one chain per worker of tasks that spin, then spawn the
/// next.
fn busy_spawners<R: Runtime>(rt: &R) -> Busy<R> {
    let running = Arc::new(AtomicBool::new(true));
    let tasks = (0..THREADS)
        .map(|_| {
            let (end, ended) = flume::bounded(1);
            busy_link(rt.clone(), running.clone(), end);
            rt.spawn(async move {
                let _ = ended.recv_async().await;
            })
        })
        .collect();
    Busy {
        rt: rt.clone(),
        running,
        tasks,
    }
}

fn spawn_one<R: Runtime>(rt: &R) {
    let task = rt.spawn(async { black_box(1u64) });
    black_box(rt.block_on(task));
}

fn spawn_many_local<R: Runtime>(rt: &R) {
    let (countdown, finished) = Countdown::new(NUM_SPAWN);
    let spawner = rt.clone();
    R::detach(rt.spawn(async move {
        for _ in 0..NUM_SPAWN {
            let countdown = countdown.clone();
            R::detach(spawner.spawn(async move { countdown.tick() }));
        }
    }));
    finished.recv().unwrap();
}

/// Spawns `n` empty tasks from this (non-worker) thread, then awaits them all.
fn spawn_remote<R: Runtime>(rt: &R, n: usize) {
    let tasks: Vec<_> = (0..n).map(|_| rt.spawn(async {})).collect();
    rt.block_on(async {
        for task in tasks {
            task.await;
        }
    });
}

fn spawn_many_remote_idle<R: Runtime>(rt: &R) {
    spawn_remote(rt, NUM_SPAWN);
}

fn spawn_many_remote_busy1<R: Runtime>(rt: &R) {
    spawn_remote(rt, NUM_SPAWN);
}

fn spawn_many_remote_busy2<R: Runtime>(rt: &R) {
    spawn_remote(rt, NUM_SPAWN_BUSY2);
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
    let (countdown, finished) = Countdown::new(YIELD_TASKS);
    for _ in 0..YIELD_TASKS {
        let countdown = countdown.clone();
        R::detach(rt.spawn(async move {
            for _ in 0..YIELDS {
                R::yield_now().await;
            }
            countdown.tick();
        }));
    }
    finished.recv().unwrap();
}

fn ping_pong<R: Runtime>(rt: &R) {
    let (countdown, finished) = Countdown::new(PINGS);
    let spawner = rt.clone();
    R::detach(rt.spawn(async move {
        for _ in 0..PINGS {
            let countdown = countdown.clone();
            let partner = spawner.clone();
            R::detach(spawner.spawn(async move {
                let (ping_tx, ping_rx) = flume::bounded::<()>(1);
                let (pong_tx, pong_rx) = flume::bounded::<()>(1);
                R::detach(partner.spawn(async move {
                    ping_rx.recv_async().await.unwrap();
                    pong_tx.send(()).unwrap();
                }));
                ping_tx.send(()).unwrap();
                pong_rx.recv_async().await.unwrap();
                countdown.tick();
            }));
        }
    }));
    finished.recv().unwrap();
}

/// One link of `chained_spawn`: spawns the next link, or signals the end of the chain.
fn chain<R: Runtime>(rt: R, n: usize, end: Countdown) {
    if n == 0 {
        end.tick();
    } else {
        let next = rt.clone();
        R::detach(rt.spawn(async move { chain(next, n - 1, end) }));
    }
}

fn chained_spawn<R: Runtime>(rt: &R) {
    let (countdown, finished) = Countdown::new(1);
    let next = rt.clone();
    R::detach(rt.spawn(async move { chain(next, CHAIN, countdown) }));
    finished.recv().unwrap();
}

fn round_trips<R: Runtime>(rt: &R) {
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
/// `|group| { .. }` block that configures the group first and an optional `load` function
/// that starts tasks keeping the executor busy for the whole group. Each executor is started
/// for the group and shut down after it.
macro_rules! group {
    ($c:expr, $name:ident) => {
        group!($c, $name, |group| {})
    };
    ($c:expr, $name:ident, |$group:ident| $configure:block) => {
        group!($c, $name, |$group| $configure, load = no_load)
    };
    ($c:expr, $name:ident, |$group:ident| $configure:block, load = $load:ident) => {{
        let mut $group = $c.benchmark_group(stringify!($name));
        $configure
        {
            let executor = rawtask_executors::multi::Executor::new(THREADS);
            let handle = executor.handle();
            let _load = $load(&handle);
            $group.bench_function("rawtask", |b| b.iter(|| $name(&handle)));
        }
        {
            let executor = AsyncExecutor::new();
            let handle = executor.executor.clone();
            let _load = $load(&handle);
            $group.bench_function("async-executor", |b| b.iter(|| $name(&handle)));
        }
        {
            let runtime = tokio_runtime();
            let handle = runtime.handle().clone();
            let _load = $load(&handle);
            $group.bench_function("tokio", |b| b.iter(|| $name(&handle)));
        }
        $group.finish();
    }};
}

/// The load of the groups that have none.
fn no_load<R: Runtime>(_: &R) {}

fn benches(c: &mut Criterion) {
    group!(c, spawn_one);
    group!(c, spawn_many_local, |g| {
        g.throughput(Throughput::Elements(NUM_SPAWN as u64));
        g.sample_size(20);
    });
    group!(c, spawn_many_remote_idle, |g| {
        g.throughput(Throughput::Elements(NUM_SPAWN as u64));
        g.sample_size(20);
    });
    group!(
        c,
        spawn_many_remote_busy1,
        |g| {
            g.throughput(Throughput::Elements(NUM_SPAWN as u64));
            g.sample_size(10);
        },
        load = busy_yielders
    );
    group!(
        c,
        spawn_many_remote_busy2,
        |g| {
            g.throughput(Throughput::Elements(NUM_SPAWN_BUSY2 as u64));
            g.sample_size(10);
        },
        load = busy_spawners
    );
    group!(c, spawn_recursive, |g| {
        g.throughput(Throughput::Elements((1 << (DEPTH + 1)) - 1));
        g.sample_size(30);
    });
    group!(c, yield_many, |g| {
        g.throughput(Throughput::Elements((YIELD_TASKS * YIELDS) as u64)); // polls
        g.sample_size(10);
    });
    group!(c, ping_pong, |g| {
        g.throughput(Throughput::Elements(PINGS as u64)); // pairs
        g.sample_size(20);
    });
    group!(c, chained_spawn, |g| {
        g.throughput(Throughput::Elements(CHAIN as u64));
        g.sample_size(30);
    });
    group!(c, round_trips, |g| {
        g.throughput(Throughput::Elements(PAIRS * ROUND_TRIPS));
        g.sample_size(20);
    });
}

criterion_group! {
    name = executors;
    // 30 benchmarks of about 4 s each (more where one iteration is long): the whole file
    // runs in about two and a half minutes.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .without_plots();
    targets = benches
}
criterion_main!(executors);
