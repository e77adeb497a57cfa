//! `rawtask::TaskTracker`: counting, close/reopen, `wait` resolving exactly when closed and
//! empty, wakeups across threads, and the graceful-shutdown pattern with real tasks.

mod common;

use std::future::Future;
use std::task::{Context, Poll};

use common::{block_on, check_leaks, counting_waker, poll_once, spawn_tracked, Queue};
use rawtask::TaskTracker;

#[test]
fn counts_tracked_futures_and_tokens() {
    let _leaks = check_leaks();
    let tracker = TaskTracker::new();
    let a = tracker.track(async { 1 });
    let b = tracker.token();
    assert_eq!(tracker.len(), 2);
    assert_eq!(block_on(a), 1); // consumed and dropped
    assert_eq!(tracker.len(), 1);
    drop(b);
    assert!(tracker.is_empty());
}

/// `wait` stays pending while open or non-empty and is woken by the last transition.
#[test]
fn wait_resolves_only_when_closed_and_empty() {
    let _leaks = check_leaks();
    let tracker = TaskTracker::new();
    let token = tracker.token();
    let (waker, wakes) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut wait = Box::pin(tracker.wait());
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Pending);
    drop(token); // empty but open
    assert_eq!(wakes.get(), 0);
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Pending);
    let token = tracker.token();
    assert!(tracker.close()); // closed but not empty
    assert_eq!(wakes.get(), 0);
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Pending);
    drop(token); // the last task ends
    assert_eq!(wakes.get(), 1);
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(()));
}

/// Closing an empty tracker wakes waiters; reopening makes `wait` pend again.
#[test]
fn close_when_empty_and_reopen() {
    let _leaks = check_leaks();
    let tracker = TaskTracker::new();
    let (waker, wakes) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut wait = Box::pin(tracker.wait());
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Pending);
    tracker.close();
    assert_eq!(wakes.get(), 1);
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(()));
    assert!(tracker.reopen());
    let mut again = tracker.wait();
    assert_eq!(poll_once(&mut again), Poll::Pending);
    drop(again); // unregisters
    tracker.close();
    block_on(tracker.wait());
}

/// Many waiters, re-polled with new wakers and dropped while registered.
#[test]
fn many_waiters() {
    let _leaks = check_leaks();
    let tracker = TaskTracker::new();
    let token = tracker.token();
    tracker.close();
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let tracker = tracker.clone();
            spawn_tracked(move || block_on(tracker.wait()))
        })
        .collect();
    let mut dropped = tracker.wait();
    assert_eq!(poll_once(&mut dropped), Poll::Pending);
    assert_eq!(poll_once(&mut dropped), Poll::Pending); // a second registration replaces
    drop(dropped);
    drop(token);
    for w in waiters {
        w.join().unwrap();
    }
}

/// The graceful-shutdown pattern: tasks on executor threads, tracked; close then wait.
#[test]
fn graceful_shutdown_with_tasks() {
    let _leaks = check_leaks();
    let queue = Queue::new();
    let tracker = TaskTracker::new();
    let stop = rawtask::CancellationToken::new();
    for _ in 0..20 {
        let stop = stop.clone();
        let (runnable, task) = rawtask::spawn(
            tracker.track(async move { stop.wait_cancelled().await }),
            queue.schedule(),
        );
        task.detach();
        runnable.schedule();
    }
    queue.run_all();
    assert_eq!(tracker.len(), 20);
    let executor = {
        let queue = queue.clone();
        let tracker = tracker.clone();
        spawn_tracked(move || {
            while !(tracker.is_closed() && tracker.is_empty()) {
                queue.run_all();
                std::thread::yield_now();
            }
        })
    };
    stop.cancel();
    tracker.close();
    block_on(tracker.wait());
    assert!(tracker.is_empty());
    executor.join().unwrap();
}
