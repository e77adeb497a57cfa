//! Futures that are ready on their first poll.

mod common;

use std::future::ready;
use std::task::Poll;

use common::{block_on, check_leaks, counting_waker, poll_with, Counter, DropProbe, Probe, Queue};

#[test]
fn ready_future_completes_in_one_run() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(ready(String::from("now")), queue.schedule());
    assert!(!runnable.run());
    assert!(task.is_finished());
    assert_eq!(queue.scheduled(), 0, "never scheduled");
    assert_eq!(block_on(task), "now");
}

#[test]
fn future_is_dropped_before_the_output_is_taken() {
    let _g = check_leaks();
    let probe = Probe::new();
    let out_drops = Counter::new();
    let queue = Queue::new();
    let (runnable, task) =
        rawtask::spawn(probe.ready(DropProbe::new(&out_drops)), queue.schedule());
    runnable.run();
    assert_eq!(probe.polls(), 1);
    assert_eq!(
        probe.drops(),
        1,
        "the future is dropped as soon as it completes"
    );
    assert_eq!(out_drops.get(), 0);
    let out = block_on(task);
    assert_eq!(out_drops.get(), 0);
    drop(out);
    assert_eq!(out_drops.get(), 1);
}

#[test]
fn ready_output_is_delivered_to_a_waiting_awaiter() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, mut task) = rawtask::spawn(ready(7i8), queue.schedule());
    let (waker, wakes) = counting_waker();
    assert!(poll_with(&mut task, &waker).is_pending());
    runnable.run();
    assert_eq!(wakes.get(), 1);
    assert_eq!(poll_with(&mut task, &waker), Poll::Ready(7));
    assert_eq!(wakes.get(), 1);
}

#[test]
fn ready_future_of_a_cancelled_task_is_not_polled() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.ready(()), queue.schedule());
    drop(task);
    runnable.run();
    assert_eq!(probe.polls(), 0);
    assert_eq!(probe.drops(), 1);
}

#[test]
fn ready_future_of_a_detached_task() {
    let _g = check_leaks();
    let probe = Probe::new();
    let out_drops = Counter::new();
    let queue = Queue::new();
    let (runnable, task) =
        rawtask::spawn(probe.ready(DropProbe::new(&out_drops)), queue.schedule());
    task.detach();
    runnable.run();
    assert_eq!(probe.polls(), 1);
    assert_eq!(probe.drops(), 1);
    assert_eq!(out_drops.get(), 1, "nobody can take the output");
}

#[test]
fn waking_a_completed_task_does_nothing() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.ready(1u8), queue.schedule());
    let waker = runnable.waker();
    runnable.run();
    waker.wake_by_ref();
    assert_eq!(queue.scheduled(), 0);
    assert_eq!(probe.polls(), 1);
    assert_eq!(block_on(task), 1);
    waker.wake();
    assert_eq!(queue.scheduled(), 0);
}

#[test]
fn future_that_wakes_itself_and_completes_is_not_rescheduled() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(
        std::future::poll_fn(|cx| {
            cx.waker().wake_by_ref();
            Poll::Ready(3u8)
        }),
        queue.schedule(),
    );
    assert!(!runnable.run());
    assert_eq!(queue.scheduled(), 0);
    assert_eq!(block_on(task), 3);
}

#[test]
fn many_ready_tasks() {
    let _g = check_leaks();
    let queue = Queue::new();
    for i in 0..common::N {
        let (runnable, task) = rawtask::spawn(ready(i), queue.schedule());
        runnable.run();
        assert_eq!(block_on(task), i);
    }
    assert_eq!(queue.scheduled(), 0);
}

#[test]
fn zero_sized_future_and_output() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(ready(()), queue.schedule());
    runnable.run();
    block_on(task);
}
