//! Loom models of `JoinSet` and `TaskTracker`: a task's completion callback (on another
//! thread) races `join_next`, `abort_all`, `detach_all` and the set's drop; the last tracked
//! task's end races `close` and `wait`. A lost wakeup is a deadlock in `block_on`, a lost or
//! doubled output fails an assertion, a leaked task or `Arc` fails loom's leak check.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc as StdArc;

use loom::future::block_on;
use loom::thread;
use loom_tests::{deep, model};
use rawtask::{JoinSet, TaskTracker};

/// An output that counts its drops (a `std` atomic: no happens-before edges for loom).
struct Out(u32, StdArc<AtomicUsize>);

impl Drop for Out {
    fn drop(&mut self) {
        self.1.fetch_add(1, SeqCst);
    }
}

/// The completion runs on another thread while `join_next` waits: the output arrives once
/// (a lost wakeup would deadlock `block_on`).
#[test]
fn completion_vs_join_next() {
    model("join_set completion_vs_join_next", deep(), || {
        let drops = StdArc::new(AtomicUsize::new(0));
        let mut set = JoinSet::new();
        let d = drops.clone();
        let runnable = set.spawn(async move { Out(7, d) }, |_| {});
        let runner = thread::spawn(move || {
            runnable.run();
        });
        let out = block_on(set.join_next()).expect("the output was lost");
        assert_eq!(out.0, 7);
        assert!(block_on(set.join_next()).is_none());
        drop(out);
        runner.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
        assert_eq!(set.cancelled_count(), 0);
    });
}

/// Two tasks completing on two threads, joined on the main one: both outputs, once each.
#[test]
fn two_completions_vs_join_next() {
    model("join_set two_completions_vs_join_next", None, || {
        let mut set = JoinSet::new();
        let a = set.spawn(async { 1u32 }, |_| {});
        let b = set.spawn(async { 2u32 }, |_| {});
        let ta = thread::spawn(move || {
            a.run();
        });
        let tb = thread::spawn(move || {
            b.run();
        });
        let x = block_on(set.join_next()).unwrap();
        let y = block_on(set.join_next()).unwrap();
        assert_eq!(x + y, 3);
        assert!(set.try_join_next().is_none() && set.is_empty());
        ta.join().unwrap();
        tb.join().unwrap();
    });
}

/// `abort_all` races the completion: the task ends either with its output or cancelled,
/// never both, and `join_next` finishes either way.
#[test]
fn abort_all_vs_completion() {
    model("join_set abort_all_vs_completion", deep(), || {
        let drops = StdArc::new(AtomicUsize::new(0));
        let mut set = JoinSet::new();
        let d = drops.clone();
        let runnable = set.spawn(async move { Out(1, d) }, |_| {});
        let runner = thread::spawn(move || {
            runnable.run();
        });
        set.abort_all();
        let out = block_on(set.join_next());
        let joined = out.is_some() as usize;
        assert_eq!(joined + set.cancelled_count(), 1);
        assert!(set.is_empty());
        drop(out);
        runner.join().unwrap();
        // An output made while the abort lands is dropped by the run instead.
        let dropped = drops.load(SeqCst);
        assert!(joined <= dropped && dropped <= 1);
    });
}

/// `abort_all` on an idle task schedules it; the executor thread drops its future, and the
/// callback from there wakes `join_next`.
#[test]
fn abort_all_idle_task() {
    model("join_set abort_all_idle_task", deep(), || {
        let (tx, rx) = loom::sync::mpsc::channel::<rawtask::Runnable>();
        let tx = loom::sync::Arc::new(loom::sync::Mutex::new(tx));
        let mut set = JoinSet::new();
        let runnable = set.spawn(std::future::pending::<u32>(), move |r| {
            tx.lock().unwrap().send(r).unwrap()
        });
        runnable.run(); // idle
        let executor = thread::spawn(move || {
            rx.recv().unwrap().run();
        });
        set.abort_all();
        assert!(block_on(set.join_next()).is_none());
        assert_eq!(set.cancelled_count(), 1);
        executor.join().unwrap();
    });
}

/// The set is dropped while the task completes: the output is dropped exactly once, and the
/// late callback touches nothing freed (loom's leak and causality checks).
#[test]
fn drop_set_vs_completion() {
    model("join_set drop_set_vs_completion", deep(), || {
        let drops = StdArc::new(AtomicUsize::new(0));
        let mut set = JoinSet::new();
        let d = drops.clone();
        let runnable = set.spawn(async move { Out(3, d) }, |_| {});
        let runner = thread::spawn(move || {
            runnable.run();
        });
        drop(set);
        runner.join().unwrap();
        assert!(drops.load(SeqCst) <= 1);
    });
}

/// `detach_all` races the completion: the task still runs, its output is dropped once, and
/// the set (now empty) reports nothing.
#[test]
fn detach_all_vs_completion() {
    model("join_set detach_all_vs_completion", deep(), || {
        let drops = StdArc::new(AtomicUsize::new(0));
        let mut set = JoinSet::new();
        let d = drops.clone();
        let runnable = set.spawn(async move { Out(4, d) }, |_| {});
        let runner = thread::spawn(move || {
            runnable.run();
        });
        set.detach_all();
        assert!(set.try_join_next().is_none());
        runner.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
        assert!(block_on(set.join_next()).is_none());
    });
}

/// A task spawned elsewhere and `insert`ed is watched through its awaiter slot: its completion
/// on another thread races `join_next` (the set's own spawns report through their future).
#[test]
fn inserted_completion_vs_join_next() {
    model("join_set inserted_completion_vs_join_next", deep(), || {
        let drops = StdArc::new(AtomicUsize::new(0));
        let mut set = JoinSet::new();
        let d = drops.clone();
        let (runnable, task) = rawtask::spawn(async move { Out(5, d) }, |_| {});
        set.insert(task);
        let runner = thread::spawn(move || {
            runnable.run();
        });
        let out = block_on(set.join_next()).expect("the output was lost");
        assert_eq!(out.0, 5);
        drop(out);
        assert!(block_on(set.join_next()).is_none());
        runner.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// `insert` races the task's completion: the watch either finds the task finished or is woken
/// by it (or both: the entry is pushed once).
#[test]
fn insert_vs_completion() {
    model("join_set insert_vs_completion", deep(), || {
        let mut set = JoinSet::new();
        let (runnable, task) = rawtask::spawn(async { 6u32 }, |_| {});
        let runner = thread::spawn(move || {
            runnable.run();
        });
        set.insert(task);
        assert_eq!(block_on(set.join_next()), Some(6));
        assert!(set.try_join_next().is_none() && set.is_empty());
        runner.join().unwrap();
    });
}

/// A spawned (reporting) and an inserted (watched) task complete on two threads; both entries
/// share the set's ready list.
#[test]
fn spawned_and_inserted_completions_vs_join_next() {
    model(
        "join_set spawned_and_inserted_completions_vs_join_next",
        None,
        || {
            let mut set = JoinSet::new();
            let a = set.spawn(async { 1u32 }, |_| {});
            let (b, task) = rawtask::spawn(async { 2u32 }, |_| {});
            set.insert(task);
            let ta = thread::spawn(move || {
                a.run();
            });
            let tb = thread::spawn(move || {
                b.run();
            });
            let x = block_on(set.join_next()).unwrap();
            let y = block_on(set.join_next()).unwrap();
            assert_eq!(x + y, 3);
            assert!(set.try_join_next().is_none() && set.is_empty());
            ta.join().unwrap();
            tb.join().unwrap();
        },
    );
}

/// `close` races the last task's end on another thread; `wait` must resolve.
#[test]
fn tracker_close_vs_last_task() {
    model("tracker close_vs_last_task", deep(), || {
        let tracker = TaskTracker::new();
        let token = tracker.token();
        let ender = thread::spawn(move || drop(token));
        tracker.close();
        block_on(tracker.wait());
        assert!(tracker.is_empty() && tracker.is_closed());
        ender.join().unwrap();
    });
}

/// A waiter on a third thread, `close` on the main one and the last task's end on another.
#[test]
fn tracker_waiter_vs_close_vs_end() {
    model("tracker waiter_vs_close_vs_end", None, || {
        let tracker = TaskTracker::new();
        let token = tracker.token();
        let waiter = {
            let tracker = tracker.clone();
            thread::spawn(move || block_on(tracker.wait()))
        };
        let ender = thread::spawn(move || drop(token));
        tracker.close();
        waiter.join().unwrap();
        ender.join().unwrap();
    });
}

/// A tracked task run on another thread while the tracker closes and waits.
#[test]
fn tracker_tracked_task_vs_wait() {
    model("tracker tracked_task_vs_wait", deep(), || {
        let tracker = TaskTracker::new();
        let (runnable, task) = rawtask::spawn(tracker.track(async {}), |_| {});
        task.detach();
        let runner = thread::spawn(move || {
            runnable.run();
        });
        tracker.close();
        block_on(tracker.wait());
        runner.join().unwrap();
    });
}
