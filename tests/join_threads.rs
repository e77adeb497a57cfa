//! Awaiting a task on one thread while it runs on another.

mod common;

use std::sync::{Arc, Barrier};

use common::{block_on, check_leaks, spawn_tracked, Counter, DropProbe, Probe, Queue};
use rawtask::Runnable;

#[test]
fn join_on_another_thread() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) =
        rawtask::spawn(async { String::from("from the runner") }, queue.schedule());
    let joiner = spawn_tracked(move || block_on(task));
    runnable.run();
    assert_eq!(joiner.join().unwrap(), "from the runner");
}

#[test]
fn join_on_another_thread_after_completion() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async { 99u64 }, queue.schedule());
    runnable.run();
    let joiner = spawn_tracked(move || block_on(task));
    assert_eq!(joiner.join().unwrap(), 99);
}

#[test]
fn join_while_the_future_waits_for_a_channel() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (tx, rx) = flume::unbounded::<u32>();
    let (runnable, task) = rawtask::spawn(
        async move {
            let mut sum = 0;
            while let Ok(v) = rx.recv_async().await {
                sum += v;
            }
            sum
        },
        queue.schedule(),
    );
    let joiner = spawn_tracked(move || block_on(task));
    runnable.run();
    for i in 1..=10 {
        tx.send(i).unwrap();
        queue.run_all();
    }
    drop(tx);
    queue.run_all();
    assert_eq!(joiner.join().unwrap(), 55);
}

/// An executor thread runs everything scheduled on a channel; the test thread joins.
#[test]
fn run_on_an_executor_thread() {
    let _g = check_leaks();
    let (tx, rx) = flume::unbounded::<Runnable>();
    let executor = spawn_tracked(move || {
        let mut runs = 0;
        for runnable in rx {
            runnable.run();
            runs += 1;
        }
        runs
    });
    let schedule = move |r: Runnable| tx.send(r).unwrap();
    let tasks: Vec<_> = (0..common::N)
        .map(|i| {
            let (runnable, task) = rawtask::spawn(
                async move {
                    common::yield_now().await;
                    i
                },
                schedule.clone(),
            );
            runnable.schedule();
            task
        })
        .collect();
    drop(schedule);
    let sum: usize = tasks.into_iter().map(block_on).sum();
    assert_eq!(sum, (0..common::N).sum());
    // All tasks are done: their schedule closures (the last senders) are gone.
    assert_eq!(executor.join().unwrap(), 2 * common::N);
}

/// Two executor threads share a queue; tasks reschedule themselves a few times.
#[test]
fn two_executor_threads() {
    let _g = check_leaks();
    let (tx, rx) = flume::unbounded::<Runnable>();
    let executors: Vec<_> = (0..2)
        .map(|_| {
            let rx = rx.clone();
            spawn_tracked(move || {
                for runnable in rx {
                    runnable.run();
                }
            })
        })
        .collect();
    drop(rx);
    let schedule = move |r: Runnable| tx.send(r).unwrap();
    let count = if cfg!(miri) { 8 } else { 200 };
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let (runnable, task) = rawtask::spawn(
                async move {
                    for _ in 0..3 {
                        common::yield_now().await;
                    }
                    i
                },
                schedule.clone(),
            );
            runnable.schedule();
            task
        })
        .collect();
    drop(schedule);
    // Join half of the tasks on another thread, half here.
    let mut tasks = tasks;
    let second_half = tasks.split_off(count / 2);
    let joiner = spawn_tracked(move || second_half.into_iter().map(block_on).sum::<usize>());
    let sum: usize = tasks.into_iter().map(block_on).sum::<usize>() + joiner.join().unwrap();
    assert_eq!(sum, (0..count).sum());
    for e in executors {
        e.join().unwrap();
    }
}

#[test]
fn drop_task_on_another_thread_while_pending() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), queue.schedule());
    runnable.run();
    spawn_tracked(move || drop(task)).join().unwrap();
    assert_eq!(queue.scheduled(), 1);
    queue.pop().unwrap().run();
    assert_eq!(probe.drops(), 1);
}

#[test]
fn output_moves_to_the_joining_thread() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let out = DropProbe::with_value(&drops, 5);
    let (runnable, task) = rawtask::spawn(async move { out }, queue.schedule());
    let barrier = Arc::new(Barrier::new(2));
    let b = barrier.clone();
    let joiner = spawn_tracked(move || {
        b.wait();
        let out = block_on(task);
        let v = out.value;
        drop(out);
        v
    });
    barrier.wait();
    runnable.run();
    assert_eq!(joiner.join().unwrap(), 5);
    assert_eq!(drops.get(), 1);
}

#[test]
fn many_joiners_many_runners() {
    let _g = check_leaks();
    let count = if cfg!(miri) { 4 } else { 100 };
    let queue = Queue::new();
    let mut joiners = Vec::new();
    let mut runners = Vec::new();
    for i in 0..count {
        let (runnable, task) = rawtask::spawn(async move { i * i }, queue.schedule());
        joiners.push(spawn_tracked(move || block_on(task)));
        runners.push(spawn_tracked(move || runnable.run()));
    }
    for r in runners {
        assert!(!r.join().unwrap());
    }
    let results: Vec<usize> = joiners.into_iter().map(|j| j.join().unwrap()).collect();
    assert_eq!(results, (0..count).map(|i| i * i).collect::<Vec<_>>());
    assert_eq!(queue.scheduled(), 0);
}
