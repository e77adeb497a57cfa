//! The priority executor.

mod common;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{panics, yield_forever, Counter, Forever};
use futures_lite::future::yield_now;
use rawtask_executors::priority::{Executor, Priority};

type Log<T> = Arc<Mutex<Vec<T>>>;

fn log<T>() -> Log<T> {
    Arc::new(Mutex::new(Vec::new()))
}

/// Tasks spawned in any order run highest priority first, and first come, first served among
/// equal priorities.
#[test]
fn runs_highest_priority_first() {
    let ex = Executor::new();
    let order = log();
    // A fixed shuffle of priorities, several tasks per priority (fewer under Miri).
    let tasks: u32 = if cfg!(miri) { 50 } else { 200 };
    let priorities: Vec<u8> = (0..tasks)
        .map(|i| ((i * 37 + 11) % 13) as u8 * 19)
        .collect();
    for (index, &p) in priorities.iter().enumerate() {
        let order = order.clone();
        let task = ex.spawn(Priority(p), async move {
            order.lock().unwrap().push((p, index));
        });
        assert_eq!(*task.metadata(), Priority(p));
        task.detach();
    }
    assert_eq!(ex.run_pending(), priorities.len());
    let order = order.lock().unwrap();
    let mut expected: Vec<(u8, usize)> = priorities.iter().copied().zip(0..).collect();
    // Highest priority first; among equals, spawn order.
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(*order, expected);
}

/// A high-priority task spawned (or woken) while lower ones are queued runs before them.
#[test]
fn high_priority_work_overtakes_queued_work() {
    let ex = Executor::new();
    let spawner = ex.spawner();
    let order = log();
    let push = |order: &Log<&'static str>, what| order.lock().unwrap().push(what);
    let (wake_tx, wake_rx) = flume::bounded::<()>(1);
    {
        // Runs first, then waits for a message from the priority-10 task.
        let order = order.clone();
        ex.spawn(Priority(200), async move {
            wake_rx.recv_async().await.unwrap();
            push(&order, "woken 200");
        })
        .detach();
    }
    {
        let order = order.clone();
        ex.spawn(Priority(10), async move {
            push(&order, "running 10");
            // Spawns a priority-100 task and wakes the priority-200 one: both run next,
            // before the queued priority-0 tasks.
            let inner = order.clone();
            spawner
                .spawn(Priority(100), async move { push(&inner, "spawned 100") })
                .detach();
            wake_tx.send_async(()).await.unwrap();
            push(&order, "done 10");
        })
        .detach();
    }
    for _ in 0..3 {
        let order = order.clone();
        ex.spawn(Priority(0), async move { push(&order, "queued 0") })
            .detach();
    }
    ex.run_pending();
    assert_eq!(
        *order.lock().unwrap(),
        [
            "running 10",
            "done 10",
            "woken 200",
            "spawned 100",
            "queued 0",
            "queued 0",
            "queued 0",
        ]
    );
}

/// A yielding task goes behind its equals but stays ahead of lower priorities.
#[test]
fn yields_round_robin_within_a_priority() {
    let ex = Executor::new();
    let order = log();
    for (name, p) in [('a', 5), ('b', 5), ('z', 1)] {
        let order = order.clone();
        ex.spawn(Priority(p), async move {
            for _ in 0..3 {
                order.lock().unwrap().push(name);
                yield_now().await;
            }
        })
        .detach();
    }
    ex.run_pending();
    let order: String = order.lock().unwrap().iter().collect();
    assert_eq!(order, "abababzzz");
}

#[test]
fn spawn_many() {
    // Fewer tasks under Miri, which interprets every instruction.
    let many: u64 = if cfg!(miri) { 100 } else { 10_000 };
    let ex = Executor::new();
    let tasks: Vec<_> = (0..many)
        .map(|i| ex.spawn(Priority((i % 256) as u8), async move { i }))
        .collect();
    let sum = ex.block_on(async {
        let mut sum = 0;
        for task in tasks {
            sum += task.await;
        }
        sum
    });
    assert_eq!(sum, many * (many - 1) / 2);
}

/// Tasks at different priorities talk over channels; the block_on future waits for them.
#[test]
fn cross_task_channels() {
    let messages: u32 = if cfg!(miri) { 20 } else { 100 };
    let ex = Executor::new();
    let (tx, rx) = flume::bounded::<u32>(2);
    let producers: Vec<_> = (0..4u8)
        .map(|p| {
            let tx = tx.clone();
            ex.spawn(Priority(p * 60), async move {
                for i in 0..messages {
                    tx.send_async(i).await.unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumer = ex.spawn(Priority(30), async move {
        let mut sum = 0;
        while let Ok(i) = rx.recv_async().await {
            sum += i;
        }
        sum
    });
    let sum = ex.block_on(async {
        for p in producers {
            p.await;
        }
        consumer.await
    });
    assert_eq!(sum, 4 * messages * (messages - 1) / 2);
}

/// The running thread sleeps while tasks wait for other threads, and wakes for them.
#[test]
fn wakes_and_spawns_from_other_threads() {
    let ex = Executor::new();
    let spawner = ex.spawner();
    let (tx, rx) = flume::unbounded::<u32>();
    let waiting = ex.spawn(Priority(1), async move {
        let mut sum = 0;
        while let Ok(x) = rx.recv_async().await {
            sum += x;
        }
        sum
    });
    let thread = thread::spawn(move || {
        let mut tasks = Vec::new();
        for i in 0..100 {
            thread::sleep(Duration::from_micros(100));
            tx.send(i).unwrap();
            if i % 10 == 0 {
                tasks.push(spawner.spawn(Priority(9), async move { i }));
            }
        }
        tasks
    });
    let sum = ex.block_on(waiting);
    let spawned = thread.join().unwrap();
    let spawned_sum: u32 = ex.block_on(async {
        let mut sum = 0;
        for task in spawned {
            sum += task.await;
        }
        sum
    });
    assert_eq!(sum, 4950);
    assert_eq!(spawned_sum, 450);
}

#[test]
fn panicking_task_does_not_kill_the_executor() {
    let ex = Executor::new();
    let bad = ex.spawn(Priority(10), async {
        yield_now().await;
        panic!("task panic (expected by the test)");
    });
    let good = ex.spawn(Priority(1), async { 3 });
    assert!(panics(|| ex.block_on(bad)));
    assert_eq!(ex.block_on(good), 3);
}

/// Dropping the executor frees every task, whatever its state.
#[test]
fn shutdown_leaks_nothing() {
    let counter = Counter::new();
    let ex = Executor::new();
    let (tx, rx) = flume::unbounded::<()>();
    let mut held = Vec::new();
    let rounds: u8 = if cfg!(miri) { 10 } else { 30 };
    for i in 0..rounds {
        let (t, rx) = (counter.track(), rx.clone());
        let waiting = ex.spawn(Priority(i), async move {
            let _t = t;
            let _ = rx.recv_async().await;
        });
        let t = counter.track();
        let forever = ex.spawn(Priority(i), async move {
            let _t = t;
            Forever.await;
        });
        if i % 2 == 0 {
            held.extend([waiting, forever]);
        } else {
            waiting.detach();
            forever.detach();
        }
    }
    ex.run_pending();
    for i in 0..rounds {
        let t = counter.track();
        ex.spawn(Priority(i), async move {
            let _t = t;
            yield_forever().await;
        })
        .detach();
    }
    let spawner = ex.spawner();
    drop(ex);
    drop(tx);
    drop(held);
    let t = counter.track();
    let late = spawner.spawn(Priority(0), async move { drop(t) });
    assert_eq!(futures_lite::future::block_on(late.fallible()), None);
    counter.assert_none_alive(Duration::from_secs(10));
}
