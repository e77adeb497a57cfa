//! Cancelling (dropping the `Task`, `Task::cancel`, dropping the `Runnable`) and detaching.

mod common;

use std::future::poll_fn;
use std::task::Poll;

use common::{
    block_on, check_leaks, counting_waker, expect_panic, poll_once, poll_with, spawn_tracked,
    Counter, DropProbe, Probe, Queue,
};

#[test]
fn drop_task_before_first_run() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.ready(()), queue.schedule());
    drop(task);
    assert_eq!(
        queue.scheduled(),
        0,
        "the runnable exists: no extra schedule"
    );
    assert_eq!(
        probe.drops(),
        0,
        "the future is dropped by whoever holds the runnable"
    );
    assert!(!runnable.run());
    assert_eq!(probe.polls(), 0, "a cancelled task is not polled");
    assert_eq!(probe.drops(), 1);
}

#[test]
fn drop_idle_task_schedules_it_once_more() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), queue.schedule());
    runnable.run();
    assert_eq!(probe.polls(), 1);

    drop(task);
    assert_eq!(
        queue.scheduled(),
        1,
        "cancelling an idle task schedules it to drop its future"
    );
    assert_eq!(probe.drops(), 0);
    let runnable = queue.pop().unwrap();
    assert!(!runnable.run());
    assert_eq!(probe.polls(), 1, "not polled again");
    assert_eq!(probe.drops(), 1);
    assert_eq!(queue.scheduled(), 1);
}

#[test]
fn drop_awaited_task_before_first_run_wakes_the_awaiter() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, mut task) = rawtask::spawn(probe.ready(()), queue.schedule());
    let (waker, wakes) = counting_waker();
    assert!(poll_with(&mut task, &waker).is_pending());
    drop(task);
    assert_eq!(wakes.get(), 1, "the registered awaiter is woken once");
    assert_eq!(
        queue.scheduled(),
        0,
        "the runnable exists: no extra schedule"
    );
    assert_eq!(
        probe.drops(),
        0,
        "the future is dropped by the runnable's holder"
    );
    assert!(!runnable.run());
    assert_eq!(probe.polls(), 0, "a cancelled task is not polled");
    assert_eq!(probe.drops(), 1);
    assert_eq!(wakes.get(), 1, "and not woken again");
    drop(waker);
}

#[test]
fn drop_awaited_idle_task_schedules_it_and_wakes_the_awaiter() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, mut task) = rawtask::spawn(probe.future(()), queue.schedule());
    runnable.run();
    let (waker, wakes) = counting_waker();
    assert!(poll_with(&mut task, &waker).is_pending());
    drop(task);
    assert_eq!(wakes.get(), 1, "the registered awaiter is woken once");
    assert_eq!(
        queue.scheduled(),
        1,
        "scheduled once more to drop its future"
    );
    assert_eq!(probe.drops(), 0);
    assert!(!queue.pop().unwrap().run());
    assert_eq!(probe.polls(), 1, "not polled again");
    assert_eq!(probe.drops(), 1);
    assert_eq!(wakes.get(), 1, "and not woken again");
    drop(waker);
}

#[test]
fn drop_task_after_completion() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let out = DropProbe::new(&drops);
    let (runnable, task) = rawtask::spawn(async move { out }, queue.schedule());
    runnable.run();
    assert_eq!(drops.get(), 0, "the output waits for the task");
    drop(task);
    assert_eq!(drops.get(), 1, "dropping the task drops the output");
    assert_eq!(queue.scheduled(), 0);
}

#[test]
fn cancel_before_first_run() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.ready(1u8), queue.schedule());
    let mut cancel = Box::pin(task.cancel());
    let (waker, wakes) = counting_waker();
    assert!(
        poll_with(&mut cancel, &waker).is_pending(),
        "the future is still alive (the runnable will drop it)"
    );
    assert_eq!(probe.drops(), 0);
    assert!(!runnable.run());
    assert_eq!(probe.polls(), 0);
    assert_eq!(probe.drops(), 1);
    assert_eq!(
        wakes.get(),
        1,
        "the canceller is woken once the future is dropped"
    );
    assert_eq!(poll_once(&mut cancel), Poll::Ready(None));
}

#[test]
fn cancel_idle_task() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(1u8), queue.schedule());
    runnable.run();

    let mut cancel = Box::pin(task.cancel());
    let (waker, wakes) = counting_waker();
    assert!(poll_with(&mut cancel, &waker).is_pending());
    assert_eq!(queue.scheduled(), 1, "scheduled one final time");
    assert_eq!(probe.drops(), 0);
    queue.pop().unwrap().run();
    assert_eq!(probe.drops(), 1);
    assert_eq!(probe.polls(), 1);
    assert_eq!(wakes.get(), 1);
    assert_eq!(poll_once(&mut cancel), Poll::Ready(None));
}

#[test]
fn cancel_completed_task_returns_the_output() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let out = DropProbe::with_value(&drops, 17);
    let (runnable, task) = rawtask::spawn(async move { out }, queue.schedule());
    runnable.run();
    let out = block_on(task.cancel()).expect("the task had completed");
    assert_eq!(out.value, 17);
    assert_eq!(drops.get(), 0);
    drop(out);
    assert_eq!(drops.get(), 1);
}

#[test]
fn cancel_from_another_thread_while_running() {
    let _g = check_leaks();
    let queue = Queue::new();
    let drops = Counter::new();
    let (entered_tx, entered_rx) = flume::bounded::<()>(0);
    let (go_tx, go_rx) = flume::bounded::<()>(0);
    let probe = DropProbe::new(&drops);
    let (runnable, task) = rawtask::spawn(
        poll_fn(move |_| {
            let _keep = &probe;
            entered_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            Poll::<()>::Pending
        }),
        queue.schedule(),
    );
    let runner = spawn_tracked(move || runnable.run());
    entered_rx.recv().unwrap();

    // The future is being polled on the runner thread.
    let mut cancel = Box::pin(task.cancel());
    let (waker, wakes) = counting_waker();
    assert!(poll_with(&mut cancel, &waker).is_pending());
    assert_eq!(drops.get(), 0);
    go_tx.send(()).unwrap();
    assert!(
        !runner.join().unwrap(),
        "a cancelled task is not rescheduled"
    );

    assert_eq!(
        drops.get(),
        1,
        "the runner dropped the future after the poll"
    );
    assert_eq!(wakes.get(), 1);
    assert_eq!(poll_once(&mut cancel), Poll::Ready(None));
    assert_eq!(queue.scheduled(), 0);
}

#[test]
fn drop_task_while_running_then_complete() {
    let _g = check_leaks();
    let queue = Queue::new();
    let out_drops = Counter::new();
    let (entered_tx, entered_rx) = flume::bounded::<()>(0);
    let (go_tx, go_rx) = flume::bounded::<()>(0);
    let out = Some(DropProbe::new(&out_drops));
    let mut out = out;
    let (runnable, task) = rawtask::spawn(
        poll_fn(move |_| {
            entered_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            Poll::Ready(out.take().unwrap())
        }),
        queue.schedule(),
    );
    let runner = spawn_tracked(move || runnable.run());
    entered_rx.recv().unwrap();
    drop(task);
    go_tx.send(()).unwrap();
    assert!(!runner.join().unwrap());
    assert_eq!(
        out_drops.get(),
        1,
        "nobody can take the output: it is dropped by the runner"
    );
    assert_eq!(queue.scheduled(), 0);
}

#[test]
fn detach_then_run_to_completion() {
    let _g = check_leaks();
    let drops = Counter::new();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(DropProbe::new(&drops)), queue.schedule());
    task.detach();
    assert_eq!(queue.scheduled(), 0);
    runnable.run();
    assert_eq!(probe.polls(), 1);
    probe.complete();
    probe.take_waker().unwrap().wake();
    queue.pop().unwrap().run();
    assert_eq!(probe.polls(), 2, "a detached task keeps running");
    assert_eq!(probe.drops(), 1);
    assert_eq!(
        drops.get(),
        1,
        "the output of a detached task is dropped on completion"
    );
}

#[test]
fn detach_after_completion_drops_the_output() {
    let _g = check_leaks();
    let drops = Counter::new();
    let queue = Queue::new();
    let out = DropProbe::new(&drops);
    let (runnable, task) = rawtask::spawn(async move { out }, queue.schedule());
    runnable.run();
    assert_eq!(drops.get(), 0);
    task.detach();
    assert_eq!(drops.get(), 1);
}

#[test]
fn dropping_the_runnable_cancels() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.ready(3i32), queue.schedule());
    drop(runnable);
    assert_eq!(probe.polls(), 0);
    assert_eq!(probe.drops(), 1, "dropping the runnable drops the future");
    assert!(task.is_finished());
    assert_eq!(block_on(task.fallible()), None);
    assert_eq!(queue.scheduled(), 0);
}

#[test]
fn awaiting_a_cancelled_task_panics() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async { 3i32 }, queue.schedule());
    drop(runnable);
    expect_panic(move || block_on(task));
}

#[test]
fn dropping_a_rescheduled_runnable_cancels() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), queue.schedule());
    runnable.run();
    probe.waker().wake();
    drop(queue.pop().unwrap());
    assert_eq!(probe.drops(), 1);
    assert_eq!(block_on(task.fallible()), None);
}

#[test]
fn dropping_the_runnable_wakes_the_awaiter() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, mut task) = rawtask::spawn(async {}, queue.schedule());
    let (waker, wakes) = counting_waker();
    assert!(poll_with(&mut task, &waker).is_pending());
    drop(runnable);
    assert_eq!(wakes.get(), 1);
    assert_eq!(block_on(task.fallible()), None);
}

#[test]
fn cancel_and_detach_from_many_threads() {
    let _g = check_leaks();
    let queue = Queue::new();
    let count = if cfg!(miri) { 4 } else { 64 };
    let probes: Vec<Probe> = (0..count).map(|_| Probe::new()).collect();
    let mut handles = Vec::new();
    for (i, probe) in probes.iter().enumerate() {
        let (runnable, task) = rawtask::spawn(probe.future(i), queue.schedule());
        runnable.run();
        handles.push(spawn_tracked(move || {
            if i % 2 == 0 {
                task.detach();
            } else {
                drop(task);
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    // Cancelled tasks were scheduled one final time to drop their futures.
    assert_eq!(queue.scheduled(), count / 2);
    queue.run_all();
    for (i, probe) in probes.iter().enumerate() {
        assert_eq!(probe.polls(), 1);
        assert_eq!(
            probe.drops(),
            i % 2,
            "only the cancelled futures are dropped"
        );
    }
    // Detached tasks keep running when woken.
    for probe in probes.iter().step_by(2) {
        probe.complete();
        probe.take_waker().unwrap().wake();
    }
    queue.run_all();
    for probe in &probes {
        assert_eq!(probe.drops(), 1);
    }
}

/// Executors whose queue is closed drop the runnables they are handed (for example a
/// failed `send`); the task is then cancelled from inside the schedule function.
#[test]
fn schedule_function_that_drops_the_runnable() {
    let _g = check_leaks();
    let probe = Probe::new();
    let scheduled = Counter::new();
    let s = scheduled.clone();
    let (runnable, task) = rawtask::spawn(probe.future(()), move |r: rawtask::Runnable| {
        s.inc();
        drop(r);
    });
    runnable.run();
    let waker = probe.take_waker().unwrap();
    waker.wake_by_ref();
    assert_eq!(scheduled.get(), 1);
    assert_eq!(probe.drops(), 1, "dropped inside the wake call");
    assert!(task.is_finished());
    waker.wake();
    assert_eq!(scheduled.get(), 1);
    assert_eq!(block_on(task.fallible()), None);
}

#[test]
fn schedule_function_that_drops_the_runnable_of_a_self_waking_task() {
    let _g = check_leaks();
    let drops = Counter::new();
    let probe = DropProbe::new(&drops);
    let (runnable, task) = rawtask::spawn(
        async move {
            let _keep = probe;
            loop {
                common::yield_now().await;
            }
        },
        |r: rawtask::Runnable| drop(r),
    );
    assert!(
        runnable.run(),
        "woken while running: handed to the schedule function"
    );
    assert_eq!(drops.get(), 1, "which dropped it");
    assert_eq!(block_on(task.fallible()), None::<()>);
}

#[test]
fn explicit_schedule_into_a_closed_queue() {
    let _g = check_leaks();
    let probe = Probe::new();
    let (tx, rx) = flume::unbounded::<rawtask::Runnable>();
    drop(rx);
    let (runnable, task) = rawtask::spawn(probe.future(()), move |r: rawtask::Runnable| {
        // The send fails and hands the runnable back; dropping it cancels the task.
        let _ = tx.send(r);
    });
    runnable.schedule();
    assert_eq!(probe.drops(), 1);
    assert_eq!(probe.polls(), 0);
    assert_eq!(block_on(task.fallible()), None);
}
