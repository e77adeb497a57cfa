//! The single-threaded executor.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{panics, yield_forever, Counter, Forever};
use futures_lite::future::yield_now;
use rawtask_executors::single::Executor;

/// Fewer tasks under Miri, which interprets every instruction.
const MANY: u64 = if cfg!(miri) { 100 } else { 10_000 };

#[test]
fn spawn_many() {
    let ex = Executor::new();
    let tasks: Vec<_> = (0..MANY).map(|i| ex.spawn(async move { i })).collect();
    let sum = ex.block_on(async {
        let mut sum = 0;
        for task in tasks {
            sum += task.await;
        }
        sum
    });
    assert_eq!(sum, MANY * (MANY - 1) / 2);
}

#[test]
fn tasks_spawn_tasks() {
    let ex = Executor::new();
    let spawner = ex.spawner();
    let sum = ex.block_on(ex.spawn(async move {
        let children: Vec<_> = (0..100u64)
            .map(|i| spawner.spawn(async move { i }))
            .collect();
        let mut sum = 0;
        for child in children {
            sum += child.await;
        }
        sum
    }));
    assert_eq!(sum, 4950);
}

/// A token goes around a ring of tasks linked by channels.
#[test]
fn ring_of_channels() {
    const TASKS: usize = if cfg!(miri) { 10 } else { 100 };
    const LAPS: u64 = if cfg!(miri) { 5 } else { 50 };
    let ex = Executor::new();
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..TASKS).map(|_| flume::bounded::<u64>(1)).unzip();
    let mut tasks = Vec::new();
    for (i, rx) in receivers.into_iter().enumerate() {
        let tx = senders[(i + 1) % TASKS].clone();
        tasks.push(ex.spawn(async move {
            let mut seen = 0;
            while let Ok(token) = rx.recv_async().await {
                seen += 1;
                if token == LAPS * TASKS as u64 {
                    break;
                }
                if tx.send_async(token + 1).await.is_err() {
                    break;
                }
            }
            seen
        }));
    }
    senders[0].send(1).unwrap();
    drop(senders);
    let seen: u64 = ex.block_on(async {
        let mut seen = 0;
        for task in tasks {
            seen += task.await;
        }
        seen
    });
    assert_eq!(seen, LAPS * TASKS as u64);
}

/// Yielding tasks take turns: a yield puts the task at the back of the queue.
#[test]
fn yields_take_turns() {
    let ex = Executor::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    for name in ['a', 'b', 'c'] {
        let log = log.clone();
        ex.spawn(async move {
            for _ in 0..3 {
                log.lock().unwrap().push(name);
                yield_now().await;
            }
        })
        .detach();
    }
    while ex.run_pending() > 0 {}
    let log: String = log.lock().unwrap().iter().collect();
    assert_eq!(log, "abcabcabc");
}

/// `run_pending` runs what was queued when it was called, not what is queued meanwhile.
#[test]
fn run_pending_is_bounded() {
    let ex = Executor::new();
    let _yielder = ex.spawn(yield_forever());
    assert_eq!(ex.run_pending(), 1);
    assert_eq!(ex.run_pending(), 1);
}

#[test]
fn spawn_local_runs_on_this_thread() {
    let ex = Executor::new();
    let cell = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let cell = cell.clone();
            ex.spawn_local(async move {
                yield_now().await;
                cell.borrow_mut().push(i);
            })
        })
        .collect();
    ex.block_on(async {
        for task in tasks {
            task.await;
        }
    });
    assert_eq!(*cell.borrow(), (0..10).collect::<Vec<_>>());
}

/// Wakes and spawns from other threads reach the thread that runs the executor.
#[test]
fn cross_thread_wakes_and_spawns() {
    let ex = Executor::new();
    let spawner = ex.spawner();
    let (tx, rx) = flume::unbounded::<u32>();
    let receiver = ex.spawn(async move {
        let mut sum = 0;
        while let Ok(x) = rx.recv_async().await {
            sum += x;
        }
        sum
    });
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let tx = tx.clone();
            let spawner = spawner.clone();
            std::thread::spawn(move || {
                let mut spawned = Vec::new();
                for i in 0..100 {
                    tx.send(1).unwrap();
                    if i % 10 == 0 {
                        spawned.push(spawner.spawn(async move { t }));
                    }
                    if i % 25 == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                spawned
            })
        })
        .collect();
    drop(tx);
    let spawned: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let (sum, spawned_sum) = ex.block_on(async {
        let mut spawned_sum = 0;
        for task in spawned {
            spawned_sum += task.await;
        }
        (receiver.await, spawned_sum)
    });
    assert_eq!(sum, 400);
    assert_eq!(spawned_sum, 10 * (1 + 2 + 3));
}

/// `block_on` sleeps while everything waits for another thread, and wakes for it.
#[test]
fn block_on_waits_for_other_threads() {
    let ex = Executor::new();
    let (tx, rx) = flume::bounded::<u32>(1);
    let task = ex.spawn(async move { rx.recv_async().await.unwrap() });
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.send(7).unwrap();
    });
    assert_eq!(ex.block_on(task), 7);
    thread.join().unwrap();
}

#[test]
fn panicking_task_does_not_kill_the_executor() {
    let ex = Executor::new();
    let bad = ex.spawn(async {
        yield_now().await;
        panic!("task panic (expected by the test)");
    });
    let good = ex.spawn(async { 5 });
    // The panic is re-raised where the task is awaited, not in the run loop.
    assert!(panics(|| ex.block_on(bad)));
    assert_eq!(ex.block_on(good), 5);
    assert_eq!(ex.block_on(ex.spawn(async { 6 })), 6);
}

/// Dropping the executor frees every task: queued, waiting, yielding, woken later.
#[test]
fn shutdown_leaks_nothing() {
    let counter = Counter::new();
    let ex = Executor::new();
    let (tx, rx) = flume::unbounded::<()>();
    let mut held = Vec::new();
    let rounds = if cfg!(miri) { 10 } else { 50 };
    for i in 0..rounds {
        // Waiting on a channel whose sender outlives the executor.
        let (t, rx) = (counter.track(), rx.clone());
        let waiting = ex.spawn(async move {
            let _t = t;
            let _ = rx.recv_async().await;
        });
        // Waiting forever without a waker anywhere.
        let t = counter.track();
        let forever = ex.spawn(async move {
            let _t = t;
            Forever.await;
        });
        // Always in the queue.
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
    ex.run_pending(); // every task has run once
                      // Queued, never run.
    for _ in 0..rounds {
        let t = counter.track();
        ex.spawn(async move { drop(t) }).detach();
    }
    let spawner = ex.spawner();
    drop(ex);
    // Woken after shutdown: the schedule function drops the runnable.
    drop(tx);
    drop(held);
    // Spawned after shutdown: cancelled at once.
    let t = counter.track();
    let late = spawner.spawn(async move { drop(t) });
    assert_eq!(futures_lite::future::block_on(late.fallible()), None);
    counter.assert_none_alive(Duration::from_secs(5));
}
