//! A future that panics, with and without `Builder::propagate_panic`.
//!
//! Without it the panic leaves `Runnable::run` and the task resolves as cancelled; with it
//! the panic is caught, stored, and re-raised by whoever awaits the task.

mod common;

use std::future::poll_fn;
use std::task::Poll;

use common::{
    block_on, check_leaks, counting_waker, expect_panic, panic_message, poll_with, spawn_tracked,
    Counter, DropProbe, Probe, Queue,
};
use rawtask::Builder;

/// A future that is pending on its first poll (if `pending_first`) and then panics with
/// "boom"; it owns a drop probe.
fn panicking(
    drops: &Counter,
    pending_first: bool,
) -> impl std::future::Future<Output = u32> + Send {
    let probe = DropProbe::new(drops);
    let mut first = pending_first;
    poll_fn(move |cx| {
        let _keep = &probe;
        if first {
            first = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        panic!("boom");
    })
}

#[test]
fn panic_leaves_run_and_cancels() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(panicking(&drops, false), queue.schedule());
    let payload = expect_panic(move || runnable.run());
    assert_eq!(panic_message(&*payload), "boom");
    assert_eq!(drops.get(), 1, "the future was dropped during unwinding");
    assert!(task.is_finished());
    assert_eq!(block_on(task.fallible()), None);
    assert_eq!(queue.scheduled(), 0);
}

#[test]
fn awaiting_a_panicked_task_panics() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(panicking(&drops, false), queue.schedule());
    expect_panic(move || runnable.run());
    expect_panic(move || block_on(task));
}

#[test]
fn panic_on_a_later_poll() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let (runnable, mut task) = rawtask::spawn(panicking(&drops, true), queue.schedule());
    let (waker, wakes) = counting_waker();
    assert!(poll_with(&mut task, &waker).is_pending());
    assert!(runnable.run());
    let runnable = queue.pop().unwrap();
    let payload = expect_panic(move || runnable.run());
    assert_eq!(panic_message(&*payload), "boom");
    assert_eq!(drops.get(), 1);
    assert_eq!(wakes.get(), 1, "the awaiter learns about the cancellation");
    assert_eq!(block_on(task.fallible()), None);
}

#[test]
fn panic_in_a_detached_task() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(panicking(&drops, false), queue.schedule());
    task.detach();
    expect_panic(move || runnable.run());
    assert_eq!(drops.get(), 1);
}

#[test]
fn panic_after_task_dropped_while_running() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let (entered_tx, entered_rx) = flume::bounded::<()>(0);
    let (go_tx, go_rx) = flume::bounded::<()>(0);
    let probe = DropProbe::new(&drops);
    let (runnable, task) = rawtask::spawn(
        poll_fn(move |_| -> Poll<()> {
            let _keep = &probe;
            entered_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            panic!("late boom");
        }),
        queue.schedule(),
    );
    let runner = spawn_tracked(move || common::catch_quietly(move || runnable.run()));
    entered_rx.recv().unwrap();
    drop(task);
    go_tx.send(()).unwrap();
    let payload = runner.join().unwrap().unwrap_err();
    assert_eq!(panic_message(&*payload), "late boom");
    assert_eq!(drops.get(), 1);
    assert_eq!(queue.scheduled(), 0);
}

#[test]
fn wakers_after_a_panic_do_nothing() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(panicking(&drops, false), queue.schedule());
    let waker = runnable.waker();
    expect_panic(move || runnable.run());
    waker.wake_by_ref();
    assert_eq!(queue.scheduled(), 0);
    drop(task);
    assert_eq!(queue.scheduled(), 0);
    waker.wake();
    assert_eq!(queue.scheduled(), 0);
}

#[test]
fn propagated_panic_is_raised_by_the_task() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let (runnable, task) = Builder::new()
        .propagate_panic(true)
        .spawn(|()| panicking(&drops, false), queue.schedule());
    assert!(
        !common::quietly(move || runnable.run()),
        "the panic is caught: run returns normally"
    );
    assert_eq!(drops.get(), 1, "the future was dropped");
    assert!(task.is_finished());
    let payload = expect_panic(move || block_on(task));
    assert_eq!(panic_message(&*payload), "boom");
}

#[test]
fn propagated_panic_wakes_the_awaiter() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let (runnable, mut task) = Builder::new()
        .propagate_panic(true)
        .spawn(|()| panicking(&drops, true), queue.schedule());
    let (waker, wakes) = counting_waker();
    assert!(poll_with(&mut task, &waker).is_pending());
    assert!(runnable.run());
    assert!(!common::quietly(|| queue.pop().unwrap().run()));
    assert_eq!(wakes.get(), 1);
    let payload = expect_panic(move || poll_with(&mut task, &waker));
    assert_eq!(panic_message(&*payload), "boom");
}

#[test]
fn propagated_panic_is_raised_by_the_fallible_task_too() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let (runnable, task) = Builder::new()
        .propagate_panic(true)
        .spawn(|()| panicking(&drops, false), queue.schedule());
    common::quietly(move || runnable.run());
    let payload = expect_panic(move || block_on(task.fallible()));
    assert_eq!(panic_message(&*payload), "boom");
}

#[test]
fn propagated_panic_is_raised_on_the_joining_thread() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let (runnable, task) = Builder::new()
        .propagate_panic(true)
        .spawn(|()| panicking(&drops, false), queue.schedule());
    let joiner = spawn_tracked(move || common::catch_quietly(move || block_on(task)));
    common::quietly(move || runnable.run());
    let payload = joiner.join().unwrap().unwrap_err();
    assert_eq!(panic_message(&*payload), "boom");
}

#[test]
fn propagated_panic_payload_is_freed_when_nobody_awaits() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    // A payload with a destructor, to check that the stored panic is dropped exactly once.
    let payload_drops = Counter::new();
    let pd = payload_drops.clone();
    let (runnable, task) = Builder::new().propagate_panic(true).spawn(
        |()| {
            let probe = DropProbe::new(&drops);
            poll_fn(move |_| -> Poll<()> {
                let _keep = &probe;
                std::panic::resume_unwind(Box::new(DropProbe::new(&pd)))
            })
        },
        queue.schedule(),
    );
    runnable.run();
    assert_eq!(drops.get(), 1);
    assert_eq!(payload_drops.get(), 0, "the payload is stored in the task");
    drop(task);
    assert_eq!(payload_drops.get(), 1);

    // Same with a detached task: the payload is dropped at once.
    let pd = payload_drops.clone();
    let (runnable, task) = Builder::new().propagate_panic(true).spawn(
        |()| {
            poll_fn(move |_| -> Poll<()> {
                std::panic::resume_unwind(Box::new(DropProbe::new(&pd)))
            })
        },
        queue.schedule(),
    );
    task.detach();
    common::quietly(move || runnable.run());
    assert_eq!(payload_drops.get(), 2);
}

#[test]
fn propagated_panic_and_cancel() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let (runnable, task) = Builder::new()
        .propagate_panic(true)
        .spawn(|()| panicking(&drops, false), queue.schedule());
    common::quietly(move || runnable.run());
    // The task completed (with a panic): cancelling it yields that result, re-raised.
    let payload = expect_panic(move || block_on(task.cancel()));
    assert_eq!(panic_message(&*payload), "boom");
}

#[test]
fn propagate_panic_false_is_the_default() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let (runnable, task) = Builder::new()
        .propagate_panic(true)
        .propagate_panic(false)
        .spawn(|()| panicking(&drops, false), queue.schedule());
    expect_panic(move || runnable.run());
    assert_eq!(block_on(task.fallible()), None);
}

#[test]
fn propagate_panic_does_not_change_normal_completion() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = Builder::new()
        .propagate_panic(true)
        .spawn(|()| probe.ready(5u8), queue.schedule());
    runnable.run();
    assert_eq!(block_on(task), 5);
    assert_eq!(probe.drops(), 1);
}

#[test]
fn panic_in_a_local_task_with_propagation() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = Builder::new().propagate_panic(true).spawn_local(
        |()| {
            let not_send = std::rc::Rc::new(());
            poll_fn(move |_| -> Poll<()> {
                let _keep = &not_send;
                panic!("local boom")
            })
        },
        queue.schedule(),
    );
    common::quietly(move || runnable.run());
    let payload = expect_panic(move || block_on(task));
    assert_eq!(panic_message(&*payload), "local boom");
}
