//! `rawtask::scope` children with outputs (`spawn_output`, `spawn_future_output`): the
//! handle yields the output once the child has terminated (its own children included),
//! `None` when cancelled first; dropping it cancels; no child outlives its parent.

mod common;

use std::future::pending;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;

use common::scope::{spawner, Log};
use common::{block_on, check_leaks, poll_once, spawn_tracked, Queue};
use rawtask::scope::ScopedSpawn;

#[test]
fn leaf_output() {
    let _g = check_leaks();
    let queue = Queue::new();
    let handle = spawner(&queue)
        .spawn_future_output(async { String::from("out") })
        .unwrap();
    assert!(!handle.is_finished());
    queue.run_all();
    assert!(handle.is_finished());
    assert_eq!(block_on(handle).as_deref(), Some("out"));
}

/// The output arrives only after the child's own children terminated.
#[test]
fn output_after_grandchildren() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let log2 = log.clone();
    let mut handle = spawner(&queue)
        .spawn_output(move |children| async move {
            let guard = log2.on_drop("grandchild dropped");
            children
                .spawn_future(
                    async move {
                        let _g = guard;
                        pending::<()>().await
                    },
                    || {},
                )
                .unwrap();
            5u32
        })
        .unwrap();
    assert_eq!(poll_once(&mut handle), std::task::Poll::Pending);
    queue.run_all();
    assert_eq!(log.events(), ["grandchild dropped"]);
    assert_eq!(block_on(handle), Some(5));
}

#[test]
fn cancelled_child_yields_none() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let guard = log.on_drop("child dropped");
    let mut handle = spawner(&queue)
        .spawn_future_output(async move {
            let _g = guard;
            pending::<u8>().await
        })
        .unwrap();
    queue.run_all();
    handle.cancel();
    queue.run_all();
    assert_eq!(log.events(), ["child dropped"]);
    assert_eq!(block_on(handle), None);
}

/// Dropping the handle cancels the child; detaching lets it finish.
#[test]
fn drop_cancels_detach_runs() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let spawner = spawner(&queue);
    let guard = log.on_drop("dropped child");
    drop(
        spawner
            .spawn_output(move |_| async move {
                let _g = guard;
                pending::<()>().await
            })
            .unwrap(),
    );
    let log2 = log.clone();
    spawner
        .spawn_future_output(async move { log2.push("detached child ran") })
        .unwrap()
        .detach();
    queue.run_all();
    let mut events = log.events();
    events.sort();
    assert_eq!(events, ["detached child ran", "dropped child"]);
}

/// A parent awaits its children's outputs; the root awaits the parent's, from another thread.
#[test]
fn nested_outputs_across_threads() {
    let _g = check_leaks();
    let queue = Queue::new();
    let handle = spawner(&queue)
        .spawn_output(|children| async move {
            let handles: Vec<_> = (1..=4u64)
                .map(|i| children.spawn_future_output(async move { i * i }).unwrap())
                .collect();
            let mut sum = 0;
            for h in handles {
                sum += h.await.unwrap();
            }
            sum
        })
        .unwrap();
    let finished = Arc::new(AtomicBool::new(false));
    let runner = {
        let (queue, finished) = (queue.clone(), finished.clone());
        spawn_tracked(move || {
            while !finished.load(SeqCst) {
                queue.run_all();
                std::thread::yield_now();
            }
        })
    };
    let waiter = spawn_tracked(move || {
        let out = block_on(handle);
        finished.store(true, SeqCst);
        out
    });
    assert_eq!(waiter.join().unwrap(), Some(1 + 4 + 9 + 16));
    runner.join().unwrap();
    queue.run_all();
}

/// A terminating parent cancels a child whose handle it still holds: the structured-scope
/// guarantee holds for output children too.
#[test]
fn parent_termination_cancels_output_children() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let log2 = log.clone();
    let parent = spawner(&queue)
        .spawn_with_signal(
            move |children| async move {
                let guard = log2.on_drop("child dropped");
                let handle = children
                    .spawn_future_output(async move {
                        let _g = guard;
                        pending::<u8>().await
                    })
                    .unwrap();
                handle.detach(); // even detached, the child ends with its parent
            },
            log.done("parent done"),
        )
        .unwrap();
    queue.run_all();
    assert_eq!(log.events(), ["child dropped", "parent done"]);
    block_on(parent.done_receiver);
}
