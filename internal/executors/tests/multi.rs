//! The multi-threaded work-stealing executor.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::{panics, wait_until, yield_forever, Counter, Forever, DEADLINE};
use futures_lite::future::yield_now;
use rawtask_executors::block_on;
use rawtask_executors::multi::{Executor, Handle};

/// Fewer tasks under Miri, which interprets every instruction.
const MANY: u64 = if cfg!(miri) { 100 } else { 10_000 };

#[test]
fn spawn_many_from_outside() {
    let ex = Executor::new(3);
    let tasks: Vec<_> = (0..MANY).map(|i| ex.spawn(async move { i })).collect();
    let sum: u64 = tasks.into_iter().map(block_on).sum();
    assert_eq!(sum, MANY * (MANY - 1) / 2);
}

#[test]
fn spawn_many_from_tasks() {
    let ex = Executor::new(2);
    let handle = ex.handle();
    let sum = ex.block_on(ex.spawn(async move {
        let tasks: Vec<_> = (0..MANY).map(|i| handle.spawn(async move { i })).collect();
        let mut sum = 0;
        for task in tasks {
            sum += task.await;
        }
        sum
    }));
    assert_eq!(sum, MANY * (MANY - 1) / 2);
}

fn tree(handle: Handle, depth: u32) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            return 1;
        }
        let left = handle.spawn(tree(handle.clone(), depth - 1));
        let right = handle.spawn(tree(handle.clone(), depth - 1));
        1 + left.await + right.await
    })
}

#[test]
fn recursive_spawn() {
    let depth = if cfg!(miri) { 5 } else { 11 };
    let ex = Executor::new(4);
    assert_eq!(
        ex.block_on(tree(ex.handle(), depth)),
        (1 << (depth + 1)) - 1
    );
}

/// Pairs of tasks exchange messages; with more pairs than workers, partners end up on
/// different workers and wake each other across threads.
#[test]
fn ping_pong_across_workers() {
    const PAIRS: usize = if cfg!(miri) { 6 } else { 64 };
    const ROUNDS: u32 = if cfg!(miri) { 5 } else { 200 };
    let ex = Executor::new(4);
    let mut tasks = Vec::new();
    for _ in 0..PAIRS {
        let (ping_tx, ping_rx) = flume::bounded::<u32>(1);
        let (pong_tx, pong_rx) = flume::bounded::<u32>(1);
        tasks.push(ex.spawn(async move {
            let mut n = 0;
            for _ in 0..ROUNDS {
                ping_tx.send_async(n).await.unwrap();
                n = pong_rx.recv_async().await.unwrap();
            }
            n
        }));
        tasks.push(ex.spawn(async move {
            let mut last = 0;
            while let Ok(n) = ping_rx.recv_async().await {
                last = n + 1;
                pong_tx.send_async(last).await.unwrap();
            }
            last
        }));
    }
    for task in tasks {
        assert_eq!(block_on(task), ROUNDS);
    }
}

/// Thousands of tasks doing a mix of everything: spawning, yielding, messaging each other
/// and the outside, with workers going idle and waking in between.
#[test]
fn stress() {
    const TASKS: u64 = if cfg!(miri) { 40 } else { 4_000 };
    let ex = Executor::new(4);
    let handle = ex.handle();
    let (tx, rx) = flume::unbounded::<u64>();
    let done = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let (tx, handle, done) = (tx.clone(), handle.clone(), done.clone());
            ex.spawn(async move {
                match i % 4 {
                    0 => {
                        for _ in 0..(i % 7) {
                            yield_now().await;
                        }
                    }
                    1 => {
                        let child = handle.spawn(async move { i * 2 });
                        assert_eq!(child.await, i * 2);
                    }
                    2 => {
                        let (a, b) = flume::bounded::<u64>(1);
                        let echo = handle.spawn(async move { b.recv_async().await.unwrap() });
                        a.send_async(i).await.unwrap();
                        assert_eq!(echo.await, i);
                    }
                    _ => {}
                }
                tx.send_async(i).await.unwrap();
                done.fetch_add(1, SeqCst);
                i
            })
        })
        .collect();
    drop(tx);
    // Collect from a plain thread while the tasks run.
    let received: u64 = rx.iter().sum();
    let sum: u64 = tasks.into_iter().map(block_on).sum();
    assert_eq!(received, TASKS * (TASKS - 1) / 2);
    assert_eq!(sum, received);
    assert_eq!(done.load(SeqCst), TASKS);
}

/// A task that yields in a loop must not starve another task on the same worker: a yield
/// goes to the deferred list, run after the queues, not to the LIFO slot.
#[test]
fn yield_is_fair_on_one_worker() {
    let ex = Executor::new(1);
    let flag = Arc::new(AtomicBool::new(false));
    let spinner = {
        let flag = flag.clone();
        ex.spawn(async move {
            let mut yields = 0u64;
            let started = Instant::now();
            while !flag.load(SeqCst) {
                // An unfair yield would starve the setter forever: fail instead of hanging.
                assert!(
                    started.elapsed() < DEADLINE,
                    "timed out after {DEADLINE:?} waiting for the setter: the yield starved it"
                );
                yields += 1;
                yield_now().await;
            }
            yields
        })
    };
    let setter = ex.spawn(async move { flag.store(true, SeqCst) });
    block_on(setter);
    assert!(block_on(spinner) >= 1);
}

/// Two tasks that keep waking each other through the LIFO slot must not starve a third
/// task queued on the same worker (the LIFO poll limit).
#[test]
fn lifo_ping_pong_does_not_starve_the_queue() {
    let ex = Executor::new(1);
    let stop = Arc::new(AtomicBool::new(false));
    let (a_tx, a_rx) = flume::unbounded::<()>();
    let (b_tx, b_rx) = flume::unbounded::<()>();
    let handle = ex.handle();
    let players = {
        let stop = stop.clone();
        ex.spawn(async move {
            let ping = handle.spawn({
                let stop = stop.clone();
                async move {
                    let mut rounds = 0u64;
                    let started = Instant::now();
                    while !stop.load(SeqCst) {
                        // Without the LIFO poll limit the stopper never runs: fail instead
                        // of hanging.
                        assert!(
                            started.elapsed() < DEADLINE,
                            "timed out after {DEADLINE:?} waiting for the stopper: starved"
                        );
                        a_tx.send(()).unwrap();
                        b_rx.recv_async().await.unwrap();
                        rounds += 1;
                    }
                    drop(a_tx);
                    rounds
                }
            });
            let pong = handle.spawn(async move {
                while a_rx.recv_async().await.is_ok() {
                    if b_tx.send(()).is_err() {
                        break;
                    }
                }
            });
            let stopper = handle.spawn(async move { stop.store(true, SeqCst) });
            stopper.await;
            let rounds = ping.await;
            pong.await;
            rounds
        })
    };
    let (tx, rx) = flume::bounded(1);
    thread::spawn(move || tx.send(block_on(players)).unwrap());
    rx.recv_timeout(DEADLINE)
        .expect("the queued task was starved by two tasks waking each other");
}

#[test]
fn panicking_task_does_not_kill_the_executor() {
    let ex = Executor::new(2);
    let bad: Vec<_> = (0..10)
        .map(|_| {
            ex.spawn(async {
                yield_now().await;
                panic!("task panic (expected by the test)");
            })
        })
        .collect();
    for task in bad {
        assert!(panics(|| block_on(task)));
    }
    // Every worker is still alive and running.
    let n: u32 = if cfg!(miri) { 20 } else { 100 };
    let tasks: Vec<_> = (0..n).map(|i| ex.spawn(async move { i })).collect();
    assert_eq!(
        tasks.into_iter().map(block_on).sum::<u32>(),
        n * (n - 1) / 2
    );
}

/// Many rounds of: every worker asleep, then one wake from an outside thread. The task must
/// run (and answer) every time.
#[test]
fn no_lost_wakeup_when_all_workers_sleep() {
    const THREADS: usize = 3;
    const ROUNDS: u32 = if cfg!(miri) { 4 } else { 200 };
    let ex = Executor::new(THREADS);
    let (request_tx, request_rx) = flume::unbounded::<u32>();
    let (reply_tx, reply_rx) = flume::unbounded::<u32>();
    ex.spawn(async move {
        while let Ok(n) = request_rx.recv_async().await {
            reply_tx.send_async(n).await.unwrap();
        }
    })
    .detach();
    for round in 0..ROUNDS {
        // Wait until every worker has registered as sleeping.
        wait_until("every worker to go to sleep", || {
            ex.sleeping_workers() == THREADS
        });
        if round % 2 == 0 {
            request_tx.send(round).unwrap();
            assert_eq!(reply_rx.recv_timeout(DEADLINE), Ok(round), "lost wake-up");
        } else {
            // A spawn from outside must wake a worker too.
            let (tx, rx) = flume::bounded(1);
            ex.spawn(async move { tx.send(round).unwrap() }).detach();
            assert_eq!(rx.recv_timeout(DEADLINE), Ok(round), "lost wake-up (spawn)");
        }
    }
}

/// Wakes from outside that land while workers are on their way to sleep, at random points.
#[test]
fn no_lost_wakeup_racing_with_sleep() {
    const ROUNDS: u32 = if cfg!(miri) { 30 } else { 3_000 };
    let ex = Executor::new(2);
    let (request_tx, request_rx) = flume::unbounded::<u32>();
    let (reply_tx, reply_rx) = flume::unbounded::<u32>();
    ex.spawn(async move {
        while let Ok(n) = request_rx.recv_async().await {
            reply_tx.send_async(n).await.unwrap();
        }
    })
    .detach();
    let mut rng = 0x2545_F491_u32;
    for round in 0..ROUNDS {
        // Spin for a pseudo-random 0 to ~50 µs, so that the wake lands anywhere in a
        // worker's search, registration, last look and park.
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        let spin = Instant::now() + Duration::from_nanos(u64::from(rng % 50_000));
        while Instant::now() < spin {
            std::hint::spin_loop();
        }
        request_tx.send(round).unwrap();
        assert_eq!(reply_rx.recv_timeout(DEADLINE), Ok(round), "lost wake-up");
    }
}

/// Several outside threads wake tasks at once while the workers come and go.
#[test]
fn concurrent_outside_wakes() {
    const THREADS: usize = 4;
    const MESSAGES: u64 = if cfg!(miri) { 50 } else { 500 };
    let ex = Executor::new(2);
    let barrier = Arc::new(Barrier::new(THREADS));
    let (sum_tx, sum_rx) = flume::unbounded::<u64>();
    let senders: Vec<_> = (0..THREADS)
        .map(|_| {
            let (tx, rx) = flume::unbounded::<u64>();
            let sum_tx = sum_tx.clone();
            ex.spawn(async move {
                let mut sum = 0;
                while let Ok(x) = rx.recv_async().await {
                    sum += x;
                }
                sum_tx.send(sum).unwrap();
            })
            .detach();
            tx
        })
        .collect();
    drop(sum_tx);
    let threads: Vec<_> = senders
        .into_iter()
        .map(|tx| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                for i in 1..=MESSAGES {
                    tx.send(i).unwrap();
                    if i % 50 == 0 {
                        thread::sleep(Duration::from_micros(200));
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let mut total = 0;
    for _ in 0..THREADS {
        total += sum_rx.recv_timeout(DEADLINE).expect("lost wake-up");
    }
    assert_eq!(total, THREADS as u64 * MESSAGES * (MESSAGES + 1) / 2);
}

/// A task of one executor awaits a task of another: each wake goes to the right executor.
#[test]
fn two_executors() {
    let a = Executor::new(2);
    let b = Executor::new(2);
    let b_handle = b.handle();
    let n: u64 = if cfg!(miri) { 20 } else { 200 };
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let b_handle = b_handle.clone();
            a.spawn(async move {
                let on_b = b_handle.spawn(async move {
                    yield_now().await;
                    i
                });
                on_b.await + 1
            })
        })
        .collect();
    let sum: u64 = tasks.into_iter().map(block_on).sum();
    assert_eq!(sum, n * (n - 1) / 2 + n);
}

/// Dropping the executor frees every task: queued and never run, waiting on channels,
/// waiting forever, yielding forever, woken after shutdown, and spawned after it.
#[test]
fn shutdown_leaks_nothing() {
    const THREADS: usize = 2;
    let counter = Counter::new();
    let ex = Executor::new(THREADS);
    let handle = ex.handle();
    let (tx, rx) = flume::unbounded::<()>();
    let mut held = Vec::new();
    for i in 0..if cfg!(miri) { 10 } else { 100 } {
        let (t, rx) = (counter.track(), rx.clone());
        let waiting = ex.spawn(async move {
            let _t = t;
            let _ = rx.recv_async().await;
        });
        let t = counter.track();
        let forever = ex.spawn(async move {
            let _t = t;
            Forever.await;
        });
        let t = counter.track();
        let yielding = ex.spawn(async move {
            let _t = t;
            yield_forever().await;
        });
        if i % 2 == 0 {
            held.extend([waiting, forever, yielding]);
        } else {
            waiting.detach();
            forever.detach();
            yielding.detach();
        }
    }
    // Keep every worker busy in a blocking call, then queue tasks that will never run.
    let (release_tx, release_rx) = flume::unbounded::<()>();
    let started = Arc::new(Barrier::new(THREADS + 1));
    for _ in 0..THREADS {
        let (release_rx, started) = (release_rx.clone(), started.clone());
        ex.spawn(async move {
            started.wait();
            let _ = release_rx.recv_timeout(Duration::from_millis(100));
        })
        .detach();
    }
    started.wait();
    for _ in 0..if cfg!(miri) { 100 } else { 1_000 } {
        let t = counter.track();
        ex.spawn(async move { drop(t) }).detach();
    }
    drop(ex); // joins the workers once their blocking tasks return
    drop(release_tx);
    drop(tx); // wakes the waiting tasks after shutdown
    drop(held); // cancels the held ones
    let t = counter.track();
    let late = handle.spawn(async move { drop(t) });
    assert_eq!(block_on(late.fallible()), None);
    counter.assert_none_alive(DEADLINE);
}

/// Shutdown while tasks are being woken as fast as possible, from each other (through a hub
/// thread that forwards every task's message to the next task) and by their own yields.
///
/// Each waiting task waits on a channel whose sender only the hub holds, so that closing the
/// hub frees every task. (Tasks that hold each other's wakers in a cycle would stay in memory:
/// see the limits in the `multi` module docs.)
#[test]
fn shutdown_while_busy() {
    const TASKS: usize = 16;
    let counter = Counter::new();
    for _ in 0..if cfg!(miri) { 2 } else { 10 } {
        let ex = Executor::new(2);
        let (out_tx, out_rx) = flume::unbounded::<usize>();
        let mut inboxes = Vec::new();
        for i in 0..TASKS {
            let (inbox_tx, inbox_rx) = flume::unbounded::<()>();
            inboxes.push(inbox_tx);
            let (out_tx, t) = (out_tx.clone(), counter.track());
            ex.spawn(async move {
                let _t = t;
                while inbox_rx.recv_async().await.is_ok() {
                    let _ = out_tx.send(i);
                    yield_now().await;
                }
            })
            .detach();
            let t = counter.track();
            ex.spawn(async move {
                let _t = t;
                yield_forever().await;
            })
            .detach();
        }
        drop(out_tx);
        let stop = Arc::new(AtomicBool::new(false));
        let hub = {
            let stop = stop.clone();
            thread::spawn(move || {
                for inbox in &inboxes {
                    let _ = inbox.send(());
                }
                while !stop.load(SeqCst) {
                    if let Ok(i) = out_rx.recv_timeout(Duration::from_millis(1)) {
                        let _ = inboxes[(i + 1) % TASKS].send(());
                    }
                }
                // Dropping the inboxes wakes (and so frees) the tasks waiting on them.
            })
        };
        thread::sleep(Duration::from_millis(3));
        drop(ex);
        stop.store(true, SeqCst);
        hub.join().unwrap();
    }
    counter.assert_none_alive(DEADLINE);
}

/// A worker whose own tasks only yield still steals from a worker stuck in a blocking call:
/// yields are run last (the deferred list), after a look at the other workers' queues.
#[test]
fn yielders_do_not_keep_a_worker_from_stealing() {
    let ex = Executor::new(2);
    let stop = Arc::new(AtomicBool::new(false));
    let yielders: Vec<_> = (0..8)
        .map(|_| {
            let stop = stop.clone();
            ex.spawn(async move {
                while !stop.load(SeqCst) {
                    yield_now().await;
                }
            })
        })
        .collect();
    let handle = ex.handle();
    let blocker = ex.spawn(async move {
        let (ran_tx, ran_rx) = std::sync::mpsc::channel();
        // The first spawn goes to this worker's LIFO slot, the second pushes it to the
        // queue, where only the other worker can take it while this one blocks.
        handle
            .spawn(async move { ran_tx.send(()).unwrap() })
            .detach();
        handle.spawn(async {}).detach();
        ran_rx.recv_timeout(DEADLINE).is_ok()
    });
    let ran = block_on(blocker);
    stop.store(true, SeqCst);
    yielders.into_iter().for_each(block_on);
    assert!(
        ran,
        "the queued task did not run within {DEADLINE:?}: not stolen"
    );
}
