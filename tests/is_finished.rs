//! `Task::is_finished`: true once the task completed or was closed (cancelled, panicked).

mod common;

use std::future::poll_fn;
use std::task::Poll;

use common::{block_on, check_leaks, expect_panic, spawn_tracked, Probe, Queue};

#[test]
fn not_finished_before_the_first_run() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async {}, queue.schedule());
    assert!(!task.is_finished());
    runnable.run();
    assert!(task.is_finished());
    block_on(task);
}

#[test]
fn not_finished_while_pending() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), queue.schedule());
    runnable.run();
    assert!(!task.is_finished());
    probe.complete();
    probe.waker().wake();
    assert!(!task.is_finished(), "scheduled is not finished");
    queue.pop().unwrap().run();
    assert!(task.is_finished());
    block_on(task);
}

#[test]
fn not_finished_while_running() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (entered_tx, entered_rx) = flume::bounded::<()>(0);
    let (go_tx, go_rx) = flume::bounded::<()>(0);
    let (runnable, task) = rawtask::spawn(
        poll_fn(move |_| {
            entered_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            Poll::Ready(1u8)
        }),
        queue.schedule(),
    );
    let runner = spawn_tracked(move || runnable.run());
    entered_rx.recv().unwrap();
    assert!(!task.is_finished());
    go_tx.send(()).unwrap();
    runner.join().unwrap();
    assert!(task.is_finished());
    assert_eq!(block_on(task), 1);
}

#[test]
fn finished_after_the_runnable_is_dropped() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async {}, queue.schedule());
    drop(runnable);
    assert!(task.is_finished());
    assert_eq!(block_on(task.fallible()), None);
}

#[test]
fn finished_after_a_panic() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(
        poll_fn(|_| -> Poll<()> { panic!("finished by panic") }),
        queue.schedule(),
    );
    expect_panic(move || runnable.run());
    assert!(task.is_finished());
    drop(task);
}

#[test]
fn finished_with_propagated_panic() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::Builder::new().propagate_panic(true).spawn(
        |()| poll_fn(|_| -> Poll<()> { panic!("stored") }),
        queue.schedule(),
    );
    common::quietly(move || runnable.run());
    assert!(task.is_finished());
    expect_panic(move || block_on(task));
}

#[test]
fn is_finished_from_another_thread() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async { 3u8 }, queue.schedule());
    let (checked_tx, checked_rx) = flume::bounded::<()>(0);
    let (done_tx, done_rx) = flume::bounded::<()>(0);
    let watcher = spawn_tracked(move || {
        assert!(!task.is_finished());
        checked_tx.send(()).unwrap();
        done_rx.recv().unwrap();
        assert!(task.is_finished());
        block_on(task)
    });
    checked_rx.recv().unwrap();
    runnable.run();
    done_tx.send(()).unwrap();
    assert_eq!(watcher.join().unwrap(), 3);
}
