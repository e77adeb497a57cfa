//! Raw rule 12: a handle that sees it is the only way left to reach its task changes the state
//! word with plain stores, or frees the task without touching the word at all. Each model
//! releases the last other owner (a waker, a `Runnable`, the `Task`) on another thread while
//! the handle looks, so loom tries both sides: the handle seeing the other owner still there
//! (the atomic path) and gone (the alone path). The harness checks that the future, output and
//! data slot are dropped exactly once, that nothing leaks, and, through loom cells, that every
//! read of the output and the data slot happens after its write and before its drop.
#![cfg(loom)]

use loom::thread;
use loom_tests::Delivery::{Never, Once};
use loom_tests::{deep, get, model, Harness, Kind, Spawn};

/// The `Task` takes the output alone (`take_output`) and frees the task alone (`detach`) only
/// if the runner's completion and its waker's release on another thread happen-before its look.
#[test]
fn task_takes_output_vs_runner_and_waker_release() {
    model(
        "task_takes_output_vs_runner_and_waker_release",
        deep(),
        || {
            let mut h = Harness::new();
            let (r, t) = h.spawn(Spawn::new(Kind::Ready));
            let w = r.waker();
            let h1 = h.clone();
            let a = thread::spawn(move || {
                h1.run(r);
                drop(w);
            });
            let got = h.await_task(t);
            a.join().unwrap();
            assert_eq!(got, Some(loom_tests::VALUE));
            h.finish(None, Once);
        },
    );
}

/// A detached task completes while its only waker is dropped on another thread: the runner
/// starts polling and completes alone only if the waker is gone; otherwise whichever of the two
/// releases last frees the task.
#[test]
fn detached_completion_vs_waker_drop() {
    model("detached_completion_vs_waker_drop", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::Ready));
        let w = r.waker();
        t.detach();
        let a = thread::spawn(move || drop(w));
        h.run(r);
        a.join().unwrap();
        assert_eq!(get(&h.counters.outputs_made), 1);
        assert_eq!(get(&h.counters.output_drops), 1);
        h.finish(None, Never);
    });
}

/// Rules 5 and 12: a detached task yields (queued again with NOTIFIED set), then its requeued
/// run starts while its only waker is dropped on another thread. The start clears NOTIFIED with
/// a plain store if the waker is gone (alone), with a compare-exchange otherwise; the task then
/// completes, and the last owner frees it, the output dropped exactly once.
#[test]
fn detached_yield_then_start_vs_waker_drop() {
    model("detached_yield_then_start_vs_waker_drop", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::YieldOnce));
        let w = r.waker();
        t.detach();
        h.run(r); // yields: queued again, SCHEDULED | NOTIFIED
        assert_eq!(get(&h.counters.runs_returning_true), 1);
        let a = thread::spawn(move || drop(w));
        assert!(h.run_next());
        a.join().unwrap();
        assert_eq!(get(&h.counters.polls), 2);
        assert_eq!(get(&h.counters.outputs_made), 1);
        assert_eq!(get(&h.counters.output_drops), 1);
        h.finish(None, Never);
    });
}

/// A detached task's poll returns `Pending` while its only waker is dropped on another thread.
/// If the runner is alone it drops the future and frees the task; otherwise its release goes
/// with clearing SCHEDULED, and the waker, last, schedules the task one final time (raw rule 7)
/// so that the executor drops the future. Either way the future is dropped exactly once.
#[test]
fn detached_pending_vs_waker_drop() {
    model("detached_pending_vs_waker_drop", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::PendingOnce));
        let w = r.waker();
        t.detach();
        let a = thread::spawn(move || drop(w));
        h.run(r);
        a.join().unwrap();
        h.finish(None, Never);
        assert_eq!(get(&h.counters.outputs_made), 0);
        assert!(
            get(&h.counters.schedules) <= 1,
            "at most the final run of rule 7"
        );
    });
}

/// A `Runnable` is dropped unrun while the `Task` is dropped on another thread: the `Runnable`
/// drops the future and frees the task with no transition if the `Task` is gone, and the
/// `Task` frees it alone if the `Runnable` is gone.
#[test]
fn runnable_drop_vs_task_drop() {
    model("runnable_drop_vs_task_drop", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::Ready));
        let a = thread::spawn(move || drop(t));
        drop(r);
        a.join().unwrap();
        assert_eq!(get(&h.counters.polls), 0);
        h.finish(None, Never);
    });
}

/// A `Runnable` is dropped unrun while the `Task` awaits it on another thread: the `Task` must
/// resolve to `None`, after the future's drop, whether it registered before the `Runnable`
/// looked (the atomic path wakes it) or found the task closed when it polled.
#[test]
fn runnable_drop_vs_task_await() {
    model("runnable_drop_vs_task_await", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::Ready));
        let h1 = h.clone();
        let a = thread::spawn(move || h1.await_task(t));
        drop(r);
        let got = a.join().unwrap();
        assert_eq!(got, None);
        h.finish(None, Never);
    });
}

/// A `Runnable` is dropped unrun while a waker is dropped on another thread, the `Task` being
/// detached: the last of the two frees the task, and the future is dropped by the `Runnable`.
#[test]
fn detached_runnable_drop_vs_waker_drop() {
    model("detached_runnable_drop_vs_waker_drop", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::Ready));
        let w = r.waker();
        t.detach();
        let a = thread::spawn(move || drop(w));
        drop(r);
        a.join().unwrap();
        assert_eq!(get(&h.counters.future_drops), 1);
        h.finish(None, Never);
    });
}

/// The `Task` is detached while the runner completes the task on another thread: detaching
/// alone (the runner's reference already released) moves the unread output out and frees the
/// task in one step (`Detach::TakeOutputAndDestroy`); otherwise the atomic path marks the output
/// taken or leaves it to the runner. The output is dropped exactly once either way.
#[test]
fn task_detach_vs_completion() {
    model("task_detach_vs_completion", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::Ready));
        let h1 = h.clone();
        let a = thread::spawn(move || h1.run(r));
        t.detach();
        a.join().unwrap();
        assert_eq!(get(&h.counters.outputs_made), 1);
        assert_eq!(get(&h.counters.output_drops), 1);
        h.finish(None, Never);
    });
}
