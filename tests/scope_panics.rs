//! `rawtask::scope`: a panicking future or done function does not break the termination
//! order — the done signal is still sent, and the panic reaches the executor only after it.

mod common;

use std::future::pending;

use common::scope::{spawn_pending_child, spawner, yield_now, Log, ORDER};
use common::{catch_quietly, check_leaks, panic_message, Queue};
use rawtask::scope::ScopedSpawn;

#[test]
fn a_panicking_future_terminates_in_order_then_resumes_the_panic() {
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
                    panic!("the parent's future panics");
                },
                l2.done("parent done"),
            )
            .unwrap()
    };
    let mut panics = Vec::new();
    while let Some(runnable) = queue.pop() {
        if let Err(payload) = catch_quietly(|| runnable.run()) {
            panics.push(panic_message(&*payload));
            // The panic reaches the executor only once the task has terminated.
            assert_eq!(log.events(), ORDER);
            assert!(signals.done_receiver.is_done());
        }
    }
    assert_eq!(panics, ["the parent's future panics"]);
    assert_eq!(log.events(), ORDER);
}

#[test]
fn a_panicking_done_function_still_sends_the_done_signal() {
    let _g = check_leaks();
    let queue = Queue::new();
    let signals = spawner(&queue)
        .spawn_future_with_signal(async {}, || panic!("done panics"))
        .unwrap();
    let runnable = queue.pop().unwrap();
    let payload = catch_quietly(|| runnable.run()).unwrap_err();
    assert_eq!(panic_message(&*payload), "done panics");
    assert!(signals.done_receiver.is_done());
    assert!(queue.is_empty());
}

#[test]
fn a_panicking_future_task_sends_its_done_signal_then_resumes_the_panic() {
    let _g = check_leaks();
    let queue = Queue::new();
    let log = Log::default();
    let signals = spawner(&queue)
        .spawn_future_with_signal(
            {
                let guard = log.on_drop("future dropped");
                async move {
                    let _guard = guard;
                    yield_now().await;
                    panic!("the future panics")
                }
            },
            log.done("done"),
        )
        .unwrap();
    queue.pop().unwrap().run();
    let payload = catch_quietly(|| queue.pop().unwrap().run()).unwrap_err();
    assert_eq!(panic_message(&*payload), "the future panics");
    assert_eq!(log.events(), ["future dropped", "done"]);
    assert!(signals.done_receiver.is_done());
}

#[test]
fn a_future_task_with_a_panicking_done_dropped_by_the_executor() {
    let _g = check_leaks();
    let queue = Queue::new();
    let signals = spawner(&queue)
        .spawn_future_with_signal(pending(), || panic!("done panics"))
        .unwrap();
    let runnable = queue.pop().unwrap();
    // The panic is reported by the hook but not resumed out of the task's destructor (which
    // would abort the process).
    common::quietly(|| drop(runnable));
    assert!(signals.done_receiver.is_done());
}
