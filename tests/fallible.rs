//! `FallibleTask`: a `Task` that yields `None` instead of panicking when the task was
//! cancelled.

mod common;

use std::task::Poll;

use common::{
    block_on, check_leaks, counting_waker, expect_panic, poll_once, poll_with, spawn_tracked,
    Counter, DropProbe, Probe, Queue,
};

#[test]
fn completed_task_yields_some() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async { 12u16 }, queue.schedule());
    let task = task.fallible();
    runnable.run();
    assert_eq!(block_on(task), Some(12));
}

#[test]
fn cancelled_task_yields_none() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async { 12u16 }, queue.schedule());
    let mut task = task.fallible();
    let (waker, wakes) = counting_waker();
    assert!(poll_with(&mut task, &waker).is_pending());
    drop(runnable);
    assert_eq!(wakes.get(), 1);
    assert_eq!(poll_once(&mut task), Poll::Ready(None));
}

#[test]
fn panicked_task_yields_none() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(
        std::future::poll_fn(|_| -> Poll<u8> { panic!("nope") }),
        queue.schedule(),
    );
    let task = task.fallible();
    expect_panic(move || runnable.run());
    assert_eq!(block_on(task), None);
}

#[test]
fn fallible_cancel() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(1u8), queue.schedule());
    runnable.run();
    let mut cancel = Box::pin(task.fallible().cancel());
    assert!(poll_once(&mut cancel).is_pending());
    queue.pop().unwrap().run();
    assert_eq!(probe.drops(), 1);
    assert_eq!(poll_once(&mut cancel), Poll::Ready(None));

    let (runnable, task) = rawtask::spawn(async { 2u8 }, queue.schedule());
    runnable.run();
    assert_eq!(block_on(task.fallible().cancel()), Some(2));
}

#[test]
fn fallible_detach() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let out = DropProbe::new(&drops);
    let (runnable, task) = rawtask::spawn(async move { out }, queue.schedule());
    task.fallible().detach();
    runnable.run();
    assert_eq!(drops.get(), 1);
}

#[test]
fn dropping_a_fallible_task_cancels() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), queue.schedule());
    runnable.run();
    drop(task.fallible());
    assert_eq!(queue.scheduled(), 1);
    queue.pop().unwrap().run();
    assert_eq!(probe.drops(), 1);
}

#[test]
fn fallible_is_finished() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async {}, queue.schedule());
    let task = task.fallible();
    assert!(!task.is_finished());
    runnable.run();
    assert!(task.is_finished());
    assert_eq!(block_on(task), Some(()));
}

#[test]
fn fallible_joined_on_another_thread() {
    let _g = check_leaks();
    let queue = Queue::new();
    let mut joiners = Vec::new();
    for i in 0..if cfg!(miri) { 4 } else { 50 } {
        let (runnable, task) = rawtask::spawn(async move { i }, queue.schedule());
        let task = task.fallible();
        joiners.push((i, spawn_tracked(move || block_on(task))));
        if i % 2 == 0 {
            runnable.run();
        } else {
            drop(runnable);
        }
    }
    for (i, j) in joiners {
        let expected = if i % 2 == 0 { Some(i) } else { None };
        assert_eq!(j.join().unwrap(), expected);
    }
}
