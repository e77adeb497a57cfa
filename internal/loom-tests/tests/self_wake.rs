//! Raw rule 17: a task that wakes itself by reference during its own poll, on the thread
//! polling it, is recorded in that thread; the poll's end reschedules it as if the state word
//! had NOTIFIED, and the word never gets the bit. Each model runs such a yield (`YieldOnce`)
//! on one thread while another thread cancels, drops or wakes the task, once with the
//! harness's schedule function (which needs a hold, rule 6: the poll's end adds it in a
//! read-modify-write) and once with a zero-sized one (no hold: the poll's end writes nothing).
//! The harness checks that the future is dropped once, the output delivered as stated, the
//! cancel resolved only after the future's drop, and nothing leaked.
#![cfg(loom)]

use std::cell::RefCell;

use loom::thread;
use loom_tests::Delivery::{AtMostOnce, Never, Once};
use loom_tests::{deep, get, model, Harness, Kind, ModelRunnable, ModelTask, Spawn, VALUE};
use rawtask::Builder;

loom::thread_local! {
    /// The `Runnable`s a zero-sized schedule function queued on this model thread.
    static HERE: RefCell<Vec<ModelRunnable>> = RefCell::new(Vec::new());
}

/// A schedule function without captured state: no hold (rule 6). A yield reschedules from the
/// thread that polls, so the queue can be that thread's own.
fn schedule_here(runnable: ModelRunnable) {
    HERE.with(|queue| queue.borrow_mut().push(runnable));
}

/// Runs what [`schedule_here`] queued on this thread, until nothing is left.
fn run_here(h: &Harness) {
    while let Some(runnable) = HERE.with(|queue| queue.borrow_mut().pop()) {
        h.run(runnable);
    }
}

/// A `YieldOnce` task with the harness's schedule function (`hold`) or [`schedule_here`].
fn spawn_yield(h: &mut Harness, hold: bool) -> (ModelRunnable, ModelTask) {
    if hold {
        return h.spawn(Spawn::new(Kind::YieldOnce).plain());
    }
    h.adopt(Spawn::new(Kind::YieldOnce).custom_schedule());
    let future = h.future(Kind::YieldOnce);
    Builder::new()
        .metadata(h.data())
        .spawn(move |_| future, schedule_here)
}

/// Runs the yielding task and whatever it queued again, on the calling thread.
fn run_yield(h: &Harness, r: ModelRunnable, hold: bool) {
    h.run(r);
    if hold {
        while h.run_next() {}
    } else {
        run_here(h);
    }
}

/// The self-wake against `Task::cancel` on another thread: the cancel lands during the poll
/// (its end must see CLOSED and drop the future instead of rescheduling) or while the task is
/// queued again (the next run drops it). The cancel resolves after the drop, with the output
/// only if the task completed first.
fn self_wake_vs_task_cancel(name: &str, hold: bool) {
    model(name, deep(), move || {
        let mut h = Harness::new();
        let (r, t) = spawn_yield(&mut h, hold);
        let h1 = h.clone();
        let a = thread::spawn(move || run_yield(&h1, r, hold));
        let got = h.cancel_task(t);
        a.join().unwrap();
        if got.is_some() {
            assert_eq!(get(&h.counters.outputs_made), 1);
        }
        h.finish(None, AtMostOnce);
    });
}

#[test]
fn self_wake_vs_task_cancel_with_hold() {
    self_wake_vs_task_cancel("self_wake_vs_task_cancel_with_hold", true);
}

#[test]
fn self_wake_vs_task_cancel_without_hold() {
    self_wake_vs_task_cancel("self_wake_vs_task_cancel_without_hold", false);
}

/// The self-wake against the `Task` handle's drop on another thread (close and detach in one
/// step): the future is dropped once, the output never delivered, nothing leaked.
fn self_wake_vs_task_drop(name: &str, hold: bool) {
    model(name, deep(), move || {
        let mut h = Harness::new();
        let (r, t) = spawn_yield(&mut h, hold);
        let h1 = h.clone();
        let a = thread::spawn(move || run_yield(&h1, r, hold));
        drop(t);
        a.join().unwrap();
        h.finish(None, Never);
    });
}

#[test]
fn self_wake_vs_task_drop_with_hold() {
    self_wake_vs_task_drop("self_wake_vs_task_drop_with_hold", true);
}

#[test]
fn self_wake_vs_task_drop_without_hold() {
    self_wake_vs_task_drop("self_wake_vs_task_drop_without_hold", false);
}

/// The self-wake against a wake by reference from another thread, which goes through the
/// state word (NOTIFIED, or nothing once the task completed): the two wakes of one poll
/// reschedule the task once, and a wake that lands on the requeued task is absorbed by its
/// run. The task is polled twice and its output delivered once.
fn self_wake_vs_remote_wake(name: &str, hold: bool) {
    model(name, deep(), move || {
        let mut h = Harness::new();
        let (r, t) = spawn_yield(&mut h, hold);
        let w = r.waker();
        let h1 = h.clone();
        let a = thread::spawn(move || run_yield(&h1, r, hold));
        w.wake_by_ref();
        drop(w);
        a.join().unwrap();
        assert_eq!(get(&h.counters.polls), 2);
        assert_eq!(get(&h.counters.runs_returning_true), 1);
        assert_eq!(h.finish(Some(t), Once), Some(VALUE));
    });
}

#[test]
fn self_wake_vs_remote_wake_with_hold() {
    self_wake_vs_remote_wake("self_wake_vs_remote_wake_with_hold", true);
}

#[test]
fn self_wake_vs_remote_wake_without_hold() {
    self_wake_vs_remote_wake("self_wake_vs_remote_wake_without_hold", false);
}
