//! Hand-written models, one per protocol rule or corner of `src/raw/mod.rs` that the actor
//! pairs (`pairs.rs`, `panics.rs`) do not pin down on their own: each asserts the specific
//! outcome the rule promises, on top of the harness's exactly-once and leak checks.
#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Waker};

use loom::sync::atomic::{AtomicBool, Ordering::Relaxed};
use loom::thread;
use loom_tests::Delivery::{AtMostOnce, Never, Once};
use loom_tests::{deep, get, loom, model, Harness, Kind, ModelRunnable, SendTaskPtr, Spawn, VALUE};
use rawtask::{Builder, Task};

/// Rules 2 and 4: cancelling an idle task schedules it one last time, so the executor (not the
/// `Task` holder) drops the future, and `cancel` resolves only after that drop. A concurrent
/// wake yields exactly one `Runnable` in every interleaving.
#[test]
fn cancel_idle_vs_wake() {
    model("cancel_idle_vs_wake", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::PendingOnce));
        let w = r.waker();
        h.run(r); // pending, idle, no waker kept by the future
        let h1 = h.clone();
        let a = thread::spawn(move || h1.cancel_task(t));
        let h2 = h.clone();
        let b = thread::spawn(move || {
            w.wake();
            let r = h2.exec.pop_blocking();
            h2.run(r);
        });
        let got = a.join().unwrap();
        b.join().unwrap();
        assert_eq!(get(&h.counters.schedules), 1, "exactly one Runnable");
        // `cancel` returns the output only if the wake's run completed the task first; closed
        // while running, the output is made and dropped by `run` (rule 3).
        if got.is_some() {
            assert_eq!(get(&h.counters.outputs_made), 1);
        }
        h.finish(None, AtMostOnce); // delivered iff `cancel` returned the output
    });
}

/// Rule 7: two wakers dropping the last references of a detached, idle task race; exactly one
/// of them schedules the task one last time, and the future is dropped by the executor, not by
/// a waker's thread.
#[test]
fn last_waker_drop_vs_last_waker_drop() {
    model("last_waker_drop_vs_last_waker_drop", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::PendingOnce));
        let (w1, w2) = (r.waker(), r.waker());
        h.run(r);
        t.detach();
        let a = thread::spawn(move || drop(w1));
        let b = thread::spawn(move || drop(w2));
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(get(&h.counters.schedules), 1);
        assert_eq!(
            get(&h.counters.future_drops),
            0,
            "a waker dropped the future"
        );
        h.finish(None, Never);
        assert_eq!(get(&h.counters.outputs_made), 0);
    });
}

/// Rule 7 (`Detach::Schedule` against the waker's `release_last`): detaching and dropping the
/// only waker of an idle task race; whichever is last schedules the final run.
#[test]
fn task_detach_vs_last_waker_drop() {
    model("task_detach_vs_last_waker_drop", deep(), || {
        let mut h = Harness::new();
        // A plain `Fn(Runnable)` schedule function (not `WithInfo`) for once.
        let (r, t) = h.spawn(Spawn::new(Kind::PendingOnce).plain());
        let w = r.waker();
        h.run(r);
        let a = thread::spawn(move || t.detach());
        let b = thread::spawn(move || drop(w));
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(get(&h.counters.schedules), 1);
        assert_eq!(
            get(&h.counters.future_drops),
            0,
            "the future was dropped off the executor"
        );
        h.finish(None, Never);
    });
}

/// Rules 2 and 7: dropping the `Task` (cancel, then detach) against dropping the last waker.
#[test]
fn task_drop_vs_last_waker_drop() {
    model("task_drop_vs_last_waker_drop", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::PendingOnce));
        let w = r.waker();
        h.run(r);
        let a = thread::spawn(move || drop(t));
        let b = thread::spawn(move || drop(w));
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(get(&h.counters.schedules), 1);
        assert_eq!(
            get(&h.counters.future_drops),
            0,
            "the future was dropped off the executor"
        );
        h.finish(None, Never);
    });
}

/// Rules 2 and 6 for a dropped `Task` (`close_and_detach`, one step): dropping the handle of an
/// idle task against a wake that schedules and runs it. Exactly one `Runnable` exists in every
/// interleaving: the wake's (which then finds the task closed), or the drop's last schedule,
/// whose new reference keeps the task alive across the call. The future is dropped once, by
/// that `Runnable`'s run on the executor's thread, completed or not.
#[test]
fn task_drop_idle_vs_wake() {
    model("task_drop_idle_vs_wake", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::PendingOnce));
        let w = r.waker();
        h.run(r); // pending, idle, no waker kept by the future
        let a = thread::spawn(move || drop(t));
        let h2 = h.clone();
        let b = thread::spawn(move || {
            w.wake();
            let r = h2.exec.pop_blocking();
            h2.run(r);
        });
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(get(&h.counters.schedules), 1, "exactly one Runnable");
        assert_eq!(
            get(&h.counters.future_drops),
            1,
            "the executor's run dropped the future"
        );
        h.finish(None, Never);
    });
}

/// A waker that counts its wakes (by value or by reference), for the awaiter models.
#[derive(Default)]
struct CountingWaker(std::sync::atomic::AtomicUsize);

impl std::task::Wake for CountingWaker {
    fn wake(self: StdArc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Polls `t` once with a counting waker, which the `Task` registers as its awaiter (the task
/// must not have finished). Returns the waker's counter.
fn register_counting_awaiter(t: &mut loom_tests::ModelTask) -> StdArc<CountingWaker> {
    let counter = StdArc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(t).poll(&mut cx).is_pending());
    counter
}

/// Checks that the awaiter `register_counting_awaiter` made was woken exactly once and that
/// nothing holds its waker any more.
fn assert_woken_once(awaiter: &StdArc<CountingWaker>) {
    assert_eq!(awaiter.0.load(Relaxed), 1, "the awaiter is woken once");
    assert_eq!(
        StdArc::strong_count(awaiter),
        1,
        "the awaiter's waker leaked"
    );
}

/// Rules 1, 2 and 4 for a dropped `Task` with a registered awaiter (`close_and_detach` claims
/// the slot in the closing step and turns the handle into a reference until it has woken the
/// waker): the drop races the run of the queued task, which may complete it first and claim
/// the awaiter itself. Either way the awaiter is woken exactly once, its waker is not leaked,
/// the future is dropped once on the executor and the task freed once.
#[test]
fn awaited_task_drop_vs_run() {
    model("awaited_task_drop_vs_run", deep(), || {
        let mut h = Harness::new();
        let (r, mut t) = h.spawn(Spawn::new(Kind::Ready));
        let awaiter = register_counting_awaiter(&mut t);
        let a = thread::spawn(move || drop(t));
        let h2 = h.clone();
        let b = thread::spawn(move || h2.run(r));
        a.join().unwrap();
        b.join().unwrap();
        assert_woken_once(&awaiter);
        h.finish(None, Never);
    });
}

/// The same for an idle task, against a wake: the drop schedules the task one last time (or
/// the wake does, and the drop finds it scheduled), and exactly one `Runnable` exists.
#[test]
fn awaited_task_drop_idle_vs_wake() {
    model("awaited_task_drop_idle_vs_wake", deep(), || {
        let mut h = Harness::new();
        let (r, mut t) = h.spawn(Spawn::new(Kind::PendingOnce));
        let w = r.waker();
        h.run(r); // pending, idle, no waker kept by the future
        let awaiter = register_counting_awaiter(&mut t);
        let a = thread::spawn(move || drop(t));
        let h2 = h.clone();
        let b = thread::spawn(move || {
            w.wake();
            let r = h2.exec.pop_blocking();
            h2.run(r);
        });
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(get(&h.counters.schedules), 1, "exactly one Runnable");
        assert_woken_once(&awaiter);
        h.finish(None, Never);
    });
}

/// Rule 5: a future that yields (wakes itself while running) against a wake by reference from
/// another thread: `run` returns `true` exactly once, the task is scheduled exactly once, with
/// `woken_while_running`.
#[test]
fn yield_vs_wake_by_ref_with_info() {
    model("yield_vs_wake_by_ref_with_info", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::YieldOnce));
        let w = r.waker();
        let h1 = h.clone();
        let a = thread::spawn(move || h1.run(r));
        let b = thread::spawn(move || {
            w.wake_by_ref();
            drop(w);
        });
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(get(&h.counters.runs_returning_true), 1);
        assert_eq!(get(&h.counters.woken_while_running), 1);
        assert_eq!(get(&h.counters.schedules), 1);
        assert_eq!(h.finish(Some(t), Once), Some(VALUE));
    });
}

/// Rule 5: a task that yielded is queued again with NOTIFIED still set beside SCHEDULED. A
/// `Task::cancel` on another thread must wait until the queued `Runnable` runs, finds the task
/// closed and drops the future (clearing both bits); it resolves to `None` after that drop.
#[test]
fn yield_then_cancel_while_queued() {
    model("yield_then_cancel_while_queued", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::YieldOnce));
        h.run(r); // yields: queued again, SCHEDULED | NOTIFIED
        assert_eq!(get(&h.counters.runs_returning_true), 1);
        let h1 = h.clone();
        let a = thread::spawn(move || h1.cancel_task(t));
        h.run_next();
        // The requeued run may poll (and complete) the task before the cancel closes it;
        // either way the harness checks that `cancel` resolved after the future's drop.
        a.join().unwrap();
        h.finish(None, AtMostOnce);
    });
}

/// Rule 5: the executor drops the `Runnable` of a task that yielded (queued with NOTIFIED still
/// set) while the `Task` is awaited on another thread: the drop clears SCHEDULED and NOTIFIED,
/// so the await resolves to `None` after the future's drop instead of waiting forever.
#[test]
fn yield_then_runnable_dropped_vs_task_await() {
    model("yield_then_runnable_dropped_vs_task_await", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::YieldOnce));
        h.run(r);
        let h1 = h.clone();
        let a = thread::spawn(move || h1.await_task(t));
        let queued = h.exec.pop().expect("the yield queued the task again");
        drop(queued);
        assert_eq!(a.join().unwrap(), None);
        assert_eq!(get(&h.counters.polls), 1);
        h.finish(None, Never);
    });
}

/// Rule 5: a wake publishes the waker's memory to the poll it causes, also when the task was
/// already scheduled or being polled (the wake then only sets NOTIFIED). The message is a
/// relaxed atomic, so a poll sees it only through the task's own synchronisation: the last
/// poll must see it. An earlier poll may miss it (a run that started with a load of the state
/// that did not yet show the wake), but then the wake made the task poll again.
#[test]
fn wake_publishes_memory_to_next_poll() {
    model("wake_publishes_memory_to_next_poll", deep(), || {
        let mut h = Harness::new();
        let msg = StdArc::new(AtomicBool::new(false));
        let seen = StdArc::new(std::sync::Mutex::new(Vec::new()));
        let (m, record) = (msg.clone(), seen.clone());
        let hook = Box::new(move |_poll: usize| {
            let saw = m.load(Relaxed);
            record.lock().unwrap().push(saw);
        });
        let (r, t) = h.spawn_hooked(Spawn::new(Kind::PendingOnce), Some(hook));
        let w = r.waker();
        let h1 = h.clone();
        let a = thread::spawn(move || h1.run(r));
        let b = thread::spawn(move || {
            msg.store(true, Relaxed);
            w.wake();
        });
        a.join().unwrap();
        b.join().unwrap();
        // Completes only if the wake came after the first poll started (a wake absorbed
        // before it leaves the future with no waker); the kept `Task` gets the output whenever
        // it was produced (checked by `finish`).
        h.finish(Some(t), AtMostOnce);
        let seen = seen.lock().unwrap();
        assert!(!seen.is_empty() && seen.len() <= 2, "polls: {seen:?}");
        assert!(
            seen[seen.len() - 1],
            "the last poll missed the waker's message: {seen:?}"
        );
    });
}

/// Another thread pops the task's next `Runnable` and runs it: in the rule-6 models, to
/// completion while the schedule call that queued it may still be running.
fn run_next_elsewhere(h: &Harness) -> thread::JoinHandle<()> {
    let h = h.clone();
    thread::spawn(move || {
        let r = h.exec.pop_blocking();
        h.run(r);
    })
}

/// Rule 6: a wake schedules a detached idle task and, while the schedule function is still
/// inside its call (after the push), another thread runs the task to completion. The schedule
/// function must not be dropped before its call returns (the harness's schedule function
/// asserts it after every push). The wake's own transition adds the call's hold: by value the
/// consumed waker's reference becomes it, by reference the transition adds it beside the new
/// `Runnable`'s; it must be released exactly once (the leak check and loom's double-free
/// check).
fn schedule_fn_outlives_wake(name: &str, wake: fn(Waker)) {
    model(name, deep(), move || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::PendingOnce));
        let w = r.waker();
        h.run(r);
        t.detach();
        let a = thread::spawn(move || wake(w));
        let b = run_next_elsewhere(&h);
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(get(&h.counters.outputs_made), 1);
        assert_eq!(get(&h.counters.schedules), 1);
        h.finish(None, Never);
    });
}

#[test]
fn schedule_fn_outlives_its_call() {
    schedule_fn_outlives_wake("schedule_fn_outlives_its_call", Waker::wake);
}

#[test]
fn wake_by_ref_schedule_fn_outlives_its_call() {
    schedule_fn_outlives_wake("wake_by_ref_schedule_fn_outlives_its_call", |w| {
        w.wake_by_ref();
        drop(w);
    });
}

/// Rule 6, the spare hold a spawn pays for: the spawned `Runnable` is scheduled explicitly
/// (what an executor's spawn does) and, while the schedule function is still inside that call,
/// another thread runs the detached task to completion, releasing every other reference. The
/// hold the call uses is the one the spawn counted in the new task's state; it must keep the
/// function alive through the call and be released exactly once (the leak check).
#[test]
fn spawn_schedule_fn_outlives_its_call() {
    model("spawn_schedule_fn_outlives_its_call", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::Ready));
        t.detach();
        let a = thread::spawn(move || r.schedule());
        let b = run_next_elsewhere(&h);
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(get(&h.counters.outputs_made), 1);
        assert_eq!(get(&h.counters.schedules), 1);
        h.finish(None, Never);
    });
}

/// Rule 6, the hold added by the end of a poll that finds NOTIFIED (rule 5): a detached task
/// yields, so its run schedules it again from `finish_pending`, and while the schedule
/// function is still inside that call another thread runs the requeued task to completion,
/// which releases every other reference. The function must outlive its call.
#[test]
fn yield_reschedule_fn_outlives_its_call() {
    model("yield_reschedule_fn_outlives_its_call", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::YieldOnce));
        t.detach();
        let h1 = h.clone();
        let a = thread::spawn(move || h1.run(r));
        let b = run_next_elsewhere(&h);
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(get(&h.counters.outputs_made), 1);
        assert_eq!(get(&h.counters.runs_returning_true), 1);
        h.finish(None, Never);
    });
}

/// Rule 6 with a zero-sized schedule function that drops the `Runnable` (cancelling the task)
/// inside the call, woken by value and by reference at once: one schedule, the future dropped
/// once, the `Task` resolves as cancelled.
#[test]
fn dropping_scheduler_wake_vs_wake_by_ref() {
    model("dropping_scheduler_wake_vs_wake_by_ref", deep(), || {
        let mut h = Harness::new();
        h.adopt(Spawn::new(Kind::PendingOnce).custom_schedule());
        let future = h.future(Kind::PendingOnce);
        let schedule = |r: ModelRunnable| drop(r);
        assert_eq!(std::mem::size_of_val(&schedule), 0);
        let (r, t) = Builder::new()
            .metadata(h.data())
            .spawn(move |_| future, schedule);
        let (w1, w2) = (r.waker(), r.waker());
        h.run(r);
        let a = thread::spawn(move || w1.wake());
        let b = thread::spawn(move || {
            w2.wake_by_ref();
            drop(w2);
        });
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(get(&h.counters.future_drops), 1);
        assert_eq!(h.finish(Some(t), Never), None);
    });
}

/// Awaiter registration: the `Task` is polled once with one waker, then awaited with another
/// (the awaiter slot's waker is replaced) while the task completes on another thread. The
/// output arrives exactly once and no notification is lost (a lost one deadlocks the model).
#[test]
fn awaiter_reregistration_vs_run() {
    model("awaiter_reregistration_vs_run", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::Ready));
        let h1 = h.clone();
        let a = thread::spawn(move || h1.run(r));
        let h2 = h.clone();
        let b = thread::spawn(move || {
            let mut f = t.fallible();
            let mut cx = Context::from_waker(Waker::noop());
            let got = match Pin::new(&mut f).poll(&mut cx) {
                Poll::Ready(out) => out,
                Poll::Pending => loom::future::block_on(f),
            };
            h2.record(Ok(got))
        });
        a.join().unwrap();
        assert_eq!(b.join().unwrap(), Some(VALUE));
        assert_eq!(get(&h.counters.outputs_received), 1);
        h.finish(None, Once);
    });
}

/// The data slot: `Runnable::data_mut` hands out `&mut` only once the `Task` is gone, and
/// that write is ordered after the `Task`'s last read of the slot; the slot's destructor is
/// ordered after both (loom checks the slot's cell).
#[test]
fn data_mut_vs_task_metadata() {
    model("data_mut_vs_task_metadata", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::Ready));
        let a = thread::spawn(move || {
            assert_eq!(t.metadata().read(), 7);
            t.detach();
        });
        let h2 = h.clone();
        let b = thread::spawn(move || {
            let mut r = r;
            if let Some(data) = r.data_mut() {
                data.write(9);
                assert_eq!(r.data().read(), 9);
            }
            h2.run(r);
        });
        a.join().unwrap();
        b.join().unwrap();
        h.finish(None, Never);
    });
}

/// `Task::into_raw`/`from_raw` hand-off across threads, racing the run that completes it: the
/// rebuilt `Task` receives the output exactly once.
#[test]
fn task_raw_handoff_vs_run() {
    model("task_raw_handoff_vs_run", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::Ready));
        let p = SendTaskPtr(t.into_raw());
        let h1 = h.clone();
        let a = thread::spawn(move || h1.run(r));
        let h2 = h.clone();
        let b = thread::spawn(move || {
            let p = p;
            // SAFETY: the pointer came from `Task::into_raw` with the same types, once.
            let t = unsafe { Task::from_raw(p.0) };
            h2.await_task(t)
        });
        a.join().unwrap();
        assert_eq!(b.join().unwrap(), Some(VALUE));
        h.finish(None, Once);
    });
}

/// Three threads: an executor, a wake by value, and the `Task` awaiting the output, which
/// must arrive (nobody cancels).
#[test]
fn run_vs_wake_vs_task_poll() {
    model("run_vs_wake_vs_task_poll", None, || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::Stash1));
        let w = r.waker();
        r.schedule();
        let h1 = h.clone();
        let a = thread::spawn(move || h1.executor_loop());
        let h3 = h.clone();
        let c = thread::spawn(move || {
            let got = h3.await_task(t);
            h3.exec.set_done();
            got
        });
        w.wake(); // on the main thread: three threads in all
        a.join().unwrap();
        assert_eq!(c.join().unwrap(), Some(VALUE));
        h.finish(None, Once);
    });
}

/// Three threads: an executor, a wake by reference, and `Task::cancel`; `cancel` resolves
/// after the future is dropped (rule 4), with the output only if the task completed first.
#[test]
fn cancel_vs_run_vs_wake() {
    model("cancel_vs_run_vs_wake", None, || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::Stash1));
        let w = r.waker();
        r.schedule();
        let h1 = h.clone();
        let a = thread::spawn(move || h1.executor_loop());
        let h3 = h.clone();
        let c = thread::spawn(move || {
            let got = h3.cancel_task(t);
            h3.exec.set_done();
            got
        });
        w.wake_by_ref(); // on the main thread: three threads in all
        drop(w);
        a.join().unwrap();
        let got = c.join().unwrap();
        // The output is returned only if the task completed before `cancel` closed it; closed
        // while running, the output is made and dropped by `run` (rule 3).
        if got.is_some() {
            assert_eq!(get(&h.counters.outputs_made), 1);
        }
        h.finish(None, AtMostOnce); // delivered iff `cancel` returned the output
    });
}

/// Rule 9 / panic propagation: the stored panic reaches the `Task` holder exactly once.
#[test]
fn propagated_panic_reaches_task_poll() {
    model("propagated_panic_reaches_task_poll", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::Panic1).propagate());
        let h1 = h.clone();
        let a = thread::spawn(move || h1.run(r));
        let h2 = h.clone();
        let b = thread::spawn(move || h2.await_task(t));
        a.join().unwrap();
        assert_eq!(b.join().unwrap(), Some(usize::MAX));
        assert_eq!(get(&h.counters.panics_received), 1);
        h.finish(None, Once);
    });
}

/// Rule 9: without propagation a panic in `poll` closes the task; the `Task` resolves as
/// cancelled, after the future was dropped.
#[test]
fn panic_cancels_task_poll() {
    model("panic_cancels_task_poll", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::Panic1));
        let h1 = h.clone();
        let a = thread::spawn(move || h1.run(r));
        let h2 = h.clone();
        let b = thread::spawn(move || h2.await_task(t));
        a.join().unwrap();
        assert_eq!(b.join().unwrap(), None);
        assert_eq!(get(&h.counters.panic_drops), 1);
        h.finish(None, Never);
    });
}

/// Rule 3: a detached task's output is dropped by `run`; racing the detach, it is dropped
/// exactly once, by `run` or by the detaching thread.
#[test]
fn output_dropped_once_run_vs_task_detach() {
    model("output_dropped_once_run_vs_task_detach", deep(), || {
        let mut h = Harness::new();
        let (r, t) = h.spawn(Spawn::new(Kind::Ready));
        let h1 = h.clone();
        let a = thread::spawn(move || h1.run(r));
        let b = thread::spawn(move || t.detach());
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(get(&h.counters.outputs_made), 1);
        assert_eq!(get(&h.counters.output_drops), 1);
        h.finish(None, Never);
    });
}
