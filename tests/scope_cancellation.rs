//! `rawtask::scope`: what cancels a scoped task and what does not — its cancel sender (also
//! before the first poll), its own token, its scope's token, the root token; a forgotten
//! cancel sender or a dropped done receiver lets it finish.

mod common;

use std::future::pending;
use std::sync::{Arc, Mutex};

use common::scope::{spawn_pending_child, spawner, yield_now, Log, ORDER};
use common::{check_leaks, Queue};
use rawtask::scope::{ForgettableSignalSender, ScopedSpawn};
use rawtask::CancellationToken;

#[test]
fn a_task_cancelled_before_its_first_poll_is_never_polled() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = spawner(&queue)
        .spawn_future_with_signal(
            {
                let log = log.clone();
                async move { log.push("polled") }
            },
            log.done("done"),
        )
        .unwrap();
    drop(signals.cancel_sender);
    queue.run_all();
    assert_eq!(log.events(), ["done"]);
}

#[test]
fn a_forgotten_cancel_sender_lets_the_task_finish() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = spawner(&queue)
        .spawn_future_with_signal(
            {
                let log = log.clone();
                async move {
                    yield_now().await;
                    log.push("finished")
                }
            },
            log.done("done"),
        )
        .unwrap();
    signals.cancel_sender.forget();
    queue.run_all();
    assert_eq!(log.events(), ["finished", "done"]);
}

#[test]
fn a_pending_future_task_is_cancelled_by_its_sender() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = spawner(&queue)
        .spawn_future_with_signal(
            {
                let guard = log.on_drop("future dropped");
                async move {
                    let _guard = guard;
                    pending::<()>().await
                }
            },
            log.done("done"),
        )
        .unwrap();
    queue.run_all();
    assert!(log.events().is_empty());
    drop(signals.cancel_sender);
    assert_eq!(queue.len(), 1, "the cancel woke the task");
    queue.run_all();
    assert_eq!(log.events(), ["future dropped", "done"]);
    assert!(signals.done_receiver.is_done());
}

#[test]
fn cancelling_a_tasks_token_terminates_it_in_order() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let token = Arc::new(Mutex::new(None::<CancellationToken>));
    let signals = {
        let (l1, l2, token) = (log.clone(), log.clone(), token.clone());
        spawner(&queue)
            .spawn_with_signal(
                move |children| {
                    *token.lock().unwrap() = Some(children.token().clone());
                    async move {
                        let _guard = l1.on_drop("parent future dropped");
                        spawn_pending_child(&children, &l1);
                        pending::<()>().await
                    }
                },
                l2.done("parent done"),
            )
            .unwrap()
    };
    signals.cancel_sender.forget();
    queue.run_all();
    let token = token.lock().unwrap().take().unwrap();
    token.cancel();
    queue.run_all();
    assert_eq!(log.events(), ORDER);
    assert!(signals.done_receiver.is_done());
}

#[test]
fn a_child_given_its_scopes_token_stops_with_the_scope() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = {
        let log = log.clone();
        spawner(&queue)
            .spawn_with_signal(
                move |children| async move {
                    // The child runs blocking work on a thread, bounded by the parent's
                    // token; its done function joins the thread.
                    let token = children.token().clone();
                    let worker = common::spawn_tracked({
                        let log = log.clone();
                        move || {
                            // Blocks (rather than yields) between looks, as real blocking
                            // work checking its token would.
                            common::wait_until("the scope's token to be cancelled", || {
                                token.wait_timeout(std::time::Duration::from_millis(1))
                            });
                            log.push("worker saw the scope's token cancelled");
                        }
                    });
                    children
                        .spawn_future(pending(), {
                            let log = log.clone();
                            move || {
                                worker.join().unwrap();
                                log.push("child done");
                            }
                        })
                        .unwrap();
                    pending::<()>().await
                },
                || {},
            )
            .unwrap()
    };
    queue.run_all();
    signals.cancel_sender.child_token().unwrap().cancel();
    queue.run_all();
    assert!(signals.done_receiver.is_done());
    assert_eq!(
        log.events(),
        ["worker saw the scope's token cancelled", "child done"]
    );
    drop(signals.cancel_sender);
}

#[test]
fn cancelling_the_root_token_terminates_every_top_level_task() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let root = spawner(&queue);
    for name in ["a", "b", "c"] {
        root.spawn_future(pending(), log.done(name)).unwrap();
    }
    queue.run_all();
    assert!(log.events().is_empty());
    root.token().cancel();
    queue.run_all();
    let mut events = log.events();
    events.sort();
    assert_eq!(events, ["a", "b", "c"]);
}

#[test]
fn dropping_a_done_receiver_does_not_cancel_the_child() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = spawner(&queue)
        .spawn_future_with_signal(
            {
                let log = log.clone();
                async move {
                    yield_now().await;
                    log.push("finished");
                }
            },
            log.done("done"),
        )
        .unwrap();
    signals.cancel_sender.forget();
    drop(signals.done_receiver);
    queue.run_all();
    assert_eq!(log.events(), ["finished", "done"]);
}
