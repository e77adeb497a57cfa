//! `Debug` of `Runnable` and `Task` describes the task's state in words.

mod common;

use std::future::{pending, Future};
use std::pin::pin;
use std::task::{Context, Waker};

fn debug<T: std::fmt::Debug>(value: &T) -> String {
    format!("{value:?}")
}

#[test]
fn the_stages_of_a_task_in_words() {
    let _g = common::check_leaks();
    let queue = common::Queue::new();
    let probe = common::Probe::new();
    let (runnable, task) = rawtask::spawn(probe.future(7u32), queue.schedule());
    // Two references: the `Runnable`'s, and the hold it carries for its first schedule call
    // (the queue's schedule function has captured state, raw rule 6), given back by the run.
    assert_eq!(
        debug(&runnable),
        "Runnable { state: scheduled, references: 2, task_handle: true, metadata: () }"
    );
    assert_eq!(
        debug(&task),
        "Task { state: scheduled, references: 2, awaiter: false, metadata: () }"
    );
    runnable.run(); // the probe keeps the task's waker: one reference
    assert_eq!(
        debug(&task),
        "Task { state: idle, waiting for a wake, references: 1, awaiter: false, metadata: () }"
    );
    probe.waker().wake_by_ref();
    let runnable = queue.pop().unwrap();
    assert!(debug(&runnable).starts_with("Runnable { state: scheduled, references: 2,"));
    probe.complete();
    runnable.run();
    assert!(debug(&task).starts_with("Task { state: completed, output not yet taken,"));
    assert_eq!(common::block_on(task), 7);
}

#[test]
fn a_cancelled_task_in_words() {
    let _g = common::check_leaks();
    let (runnable, task) = rawtask::spawn(pending::<()>(), |_| {});
    let mut cancel = pin!(task.cancel());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(cancel.as_mut().poll(&mut cx).is_pending());
    assert_eq!(
        debug(&runnable),
        "Runnable { state: cancelled, references: 1, task_handle: true, metadata: () }"
    );
    drop(runnable);
    assert!(cancel.as_mut().poll(&mut cx).is_ready());
}

#[test]
fn a_detached_task_in_words() {
    let _g = common::check_leaks();
    let (runnable, task) = rawtask::Builder::new()
        .metadata("data")
        .spawn(|_| pending::<()>(), |_| {});
    task.detach();
    assert_eq!(
        debug(&runnable),
        r#"Runnable { state: scheduled, references: 1, task_handle: false, metadata: "data" }"#
    );
}
