//! `rawtask::scope`: a task the executor drops instead of running (before its first run,
//! while its children live, or at shutdown with a whole tree queued) still terminates in
//! order.

mod common;

use std::future::pending;

use common::scope::{spawn_family, spawn_pending_child, spawner, yield_now, Log, ORDER};
use common::{check_leaks, Queue};
use rawtask::scope::ScopedSpawn;

#[test]
fn a_task_dropped_by_the_executor_terminates_when_its_last_child_does() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = {
        let (l1, l2) = (log.clone(), log.clone());
        spawner(&queue)
            .spawn_with_signal(
                move |children| async move {
                    let _guard = l1.on_drop("parent future dropped");
                    spawn_pending_child(&children, &l1);
                    yield_now().await; // puts the parent back in the queue, after the child
                    pending::<()>().await
                },
                l2.done("parent done"),
            )
            .unwrap()
    };
    queue.pop().unwrap().run(); // the parent: spawns the child, yields
    let child = queue.pop().unwrap();
    let parent = queue.pop().unwrap();
    assert!(queue.is_empty());

    drop(parent); // the executor drops the parent without finishing it
    assert_eq!(log.events(), ["parent future dropped"]);
    assert!(!signals.done_receiver.is_done(), "the child is still alive");

    child.run(); // cancelled by the parent's drop: terminates, and finishes the parent
    assert_eq!(log.events(), ORDER);
    assert!(signals.done_receiver.is_done());
}

#[test]
fn a_task_dropped_before_its_first_run_terminates_at_once() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = spawner(&queue)
        .spawn_future_with_signal(
            {
                let guard = log.on_drop("future dropped");
                let log = log.clone();
                async move {
                    let _guard = guard;
                    log.push("polled")
                }
            },
            log.done("done"),
        )
        .unwrap();
    drop(queue.pop().unwrap());
    assert_eq!(log.events(), ["future dropped", "done"]);
    assert!(signals.done_receiver.is_done());
}

#[test]
fn an_executor_shut_down_with_a_whole_tree_finishes_every_scope() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = spawn_family(&spawner(&queue), &log, false);
    queue.pop().unwrap().run(); // the parent spawns the child
                                // Shut down: drop every queued runnable (the child) — and the parent, which is parked:
                                // cancelling it reschedules it, and the executor drops that too.
    while let Some(runnable) = queue.pop() {
        drop(runnable);
    }
    drop(signals.cancel_sender);
    while let Some(runnable) = queue.pop() {
        drop(runnable);
    }
    assert_eq!(
        log.events(),
        [
            "child future dropped",
            "child done",
            "parent future dropped",
            "parent done"
        ]
    );
    assert!(signals.done_receiver.is_done());
}
