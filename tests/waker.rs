//! Waker behaviour: waking while pending, while running, after completion and after
//! cancellation, and wakers that outlive their task.

mod common;

use std::future::{poll_fn, Future};
use std::sync::Arc;
use std::task::{Poll, Waker};

use common::{block_on, check_leaks, spawn_tracked, Counter, DropProbe, Probe, Queue};
use rawtask::WithInfo;

/// A future whose polls are paced by the test: every poll announces itself on `entered`,
/// hands out its waker, waits for `go`, and then returns what the test sent.
struct Gate {
    entered: flume::Receiver<Waker>,
    go: flume::Sender<Poll<()>>,
}

impl Gate {
    fn new() -> (Gate, impl Future<Output = ()> + Send + 'static) {
        let (entered_tx, entered_rx) = flume::bounded::<Waker>(0);
        let (go_tx, go_rx) = flume::bounded::<Poll<()>>(0);
        let future = poll_fn(move |cx| {
            entered_tx.send(cx.waker().clone()).unwrap();
            go_rx.recv().unwrap()
        });
        (
            Gate {
                entered: entered_rx,
                go: go_tx,
            },
            future,
        )
    }
    /// Waits until the future is being polled; returns the poll's waker.
    fn entered(&self) -> Waker {
        self.entered.recv().unwrap()
    }
    /// Lets the current poll return `result`.
    fn release(&self, result: Poll<()>) {
        self.go.send(result).unwrap();
    }
}

#[test]
fn wake_while_pending_schedules_once() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), WithInfo(queue.schedule_with_info()));
    runnable.run();
    let waker = probe.waker();

    waker.wake_by_ref();
    assert_eq!(queue.scheduled(), 1);
    waker.wake_by_ref();
    let clone = waker.clone();
    clone.wake();
    assert_eq!(
        queue.scheduled(),
        1,
        "already scheduled: further wakes are no-ops"
    );

    let (runnable, info) = queue.pop_with_info().unwrap();
    assert!(!info.woken_while_running);
    probe.complete();
    runnable.run();
    block_on(task);
    drop(waker);
}

#[test]
fn wake_by_value_while_pending() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), queue.schedule());
    runnable.run();
    probe.take_waker().unwrap().wake();
    assert_eq!(queue.scheduled(), 1);
    probe.complete();
    queue.pop().unwrap().run();
    assert_eq!(probe.polls(), 2);
    block_on(task);
}

#[test]
fn waker_of_a_scheduled_task_does_not_schedule() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async {}, queue.schedule());
    let waker = runnable.waker();
    waker.wake_by_ref();
    assert_eq!(
        queue.scheduled(),
        0,
        "the runnable exists, the task is already scheduled"
    );
    runnable.run();
    waker.wake();
    assert_eq!(queue.scheduled(), 0);
    block_on(task);
}

#[test]
fn self_wake_while_running_reschedules() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(
        async {
            common::yield_now().await;
            common::yield_now().await;
        },
        WithInfo(queue.schedule_with_info()),
    );
    assert!(runnable.run(), "woken while running: run returns true");
    assert_eq!(queue.scheduled(), 1, "rescheduled by run");
    let (runnable, info) = queue.pop_with_info().unwrap();
    assert!(info.woken_while_running);
    assert!(runnable.run());
    let (runnable, info) = queue.pop_with_info().unwrap();
    assert!(info.woken_while_running);
    assert!(!runnable.run());
    assert_eq!(queue.scheduled(), 2);
    block_on(task);
}

#[test]
fn wake_from_another_thread_while_running() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (gate, future) = Gate::new();
    let (runnable, task) = rawtask::spawn(future, WithInfo(queue.schedule_with_info()));
    let runner = spawn_tracked(move || runnable.run());

    let waker = gate.entered();
    waker.wake_by_ref();
    waker.wake_by_ref();
    assert_eq!(
        queue.scheduled(),
        0,
        "a running task is rescheduled by run, not by the waker"
    );
    gate.release(Poll::Pending);
    assert!(runner.join().unwrap());
    assert_eq!(
        queue.scheduled(),
        1,
        "two wakes during one run: one schedule"
    );

    let (runnable, info) = queue.pop_with_info().unwrap();
    assert!(info.woken_while_running);
    let runner = spawn_tracked(move || runnable.run());
    drop(gate.entered());
    gate.release(Poll::Ready(()));
    assert!(!runner.join().unwrap());
    block_on(task);
    drop(waker);
    assert_eq!(queue.scheduled(), 1);
}

#[test]
fn wake_while_running_then_complete_does_not_reschedule() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (gate, future) = Gate::new();
    let (runnable, task) = rawtask::spawn(future, queue.schedule());
    let runner = spawn_tracked(move || runnable.run());
    let waker = gate.entered();
    waker.wake();
    gate.release(Poll::Ready(()));
    assert!(!runner.join().unwrap());
    assert_eq!(queue.scheduled(), 0);
    block_on(task);
}

#[test]
fn wake_and_cancel_while_running() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (gate, future) = Gate::new();
    let drops = Counter::new();
    let probe = DropProbe::new(&drops);
    let future = async move {
        let _keep = probe;
        future.await
    };
    let (runnable, task) = rawtask::spawn(future, queue.schedule());
    let runner = spawn_tracked(move || runnable.run());
    let waker = gate.entered();
    waker.wake_by_ref();
    drop(task);
    gate.release(Poll::Pending);
    assert!(
        !runner.join().unwrap(),
        "a cancelled task is not rescheduled"
    );
    assert_eq!(queue.scheduled(), 0);
    assert_eq!(drops.get(), 1, "the runner dropped the future");
    waker.wake();
    assert_eq!(queue.scheduled(), 0);
}

#[test]
fn wake_after_completion_does_nothing() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(4u32), queue.schedule());
    runnable.run();
    let waker = probe.waker();
    probe.complete();
    waker.wake_by_ref();
    queue.pop().unwrap().run();
    assert_eq!(block_on(task), 4);

    waker.wake_by_ref();
    let clone = waker.clone();
    clone.wake();
    assert_eq!(queue.scheduled(), 1);
    assert_eq!(probe.polls(), 2);
    drop(waker);
}

#[test]
fn wake_after_cancel_does_nothing() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), queue.schedule());
    runnable.run();
    let waker = probe.waker();
    drop(task);
    assert_eq!(queue.scheduled(), 1);
    queue.pop().unwrap().run();
    assert_eq!(probe.drops(), 1);

    waker.wake_by_ref();
    let clone = waker.clone();
    clone.wake();
    assert_eq!(queue.scheduled(), 1);
    assert_eq!(probe.polls(), 1);
    drop(waker);
}

#[test]
fn wakers_outlive_the_task() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async { 1u8 }, queue.schedule());
    let wakers: Vec<Waker> = (0..10).map(|_| runnable.waker()).collect();
    runnable.run();
    assert_eq!(block_on(task), 1);
    // Task and runnable are gone; the allocation lives on for the wakers.
    let more: Vec<Waker> = wakers.iter().map(Waker::clone).collect();
    for w in &more {
        w.wake_by_ref();
    }
    drop(wakers);
    for w in more {
        w.wake();
    }
    assert_eq!(queue.scheduled(), 0);
    // The leak check proves the allocation was freed with the last waker.
}

#[test]
fn waker_moved_to_another_thread_outlives_the_task() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async {}, queue.schedule());
    let waker = runnable.waker();
    runnable.run();
    drop(task);
    let (tx, rx) = flume::bounded::<()>(0);
    let holder = spawn_tracked(move || {
        rx.recv().unwrap();
        waker.wake_by_ref();
        drop(waker);
    });
    tx.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(queue.scheduled(), 0);
}

#[test]
fn dropping_the_last_waker_of_a_task_with_a_handle_does_not_schedule() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), queue.schedule());
    runnable.run();
    drop(probe.take_waker());
    assert_eq!(queue.scheduled(), 0, "the Task can still cancel it");
    assert!(!task.is_finished());
    drop(task);
    assert_eq!(queue.scheduled(), 1);
    queue.pop().unwrap().run();
    assert_eq!(probe.drops(), 1);
}

#[test]
fn concurrent_wakes_schedule_once() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), queue.schedule());
    runnable.run();
    let waker = probe.waker();
    let threads = if cfg!(miri) { 3 } else { 8 };
    let barrier = Arc::new(std::sync::Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let w = waker.clone();
            let b = barrier.clone();
            spawn_tracked(move || {
                b.wait();
                for _ in 0..10 {
                    w.wake_by_ref();
                }
                w.wake();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(queue.scheduled(), 1);
    probe.complete();
    queue.pop().unwrap().run();
    block_on(task);
    drop(waker);
}

#[test]
fn wake_and_run_race() {
    // Wakers fire from another thread while the task is run here, repeatedly; every wake
    // must lead to a later poll, and the task must never be scheduled twice at once.
    let _g = check_leaks();
    let queue = Queue::new();
    let rounds = if cfg!(miri) { 5 } else { 300 };
    let (wakers_tx, wakers_rx) = flume::unbounded::<Waker>();
    let polls = Counter::new();
    let p = polls.clone();
    let (runnable, task) = rawtask::spawn(
        poll_fn(move |cx| {
            p.inc();
            if p.get() > rounds {
                Poll::Ready(())
            } else {
                wakers_tx.send(cx.waker().clone()).unwrap();
                Poll::Pending
            }
        }),
        queue.schedule(),
    );
    let waker_thread = spawn_tracked(move || {
        for w in wakers_rx {
            w.wake();
        }
    });
    runnable.run();
    while polls.get() <= rounds {
        let r = queue.recv();
        r.run();
        assert!(queue.len() <= 1);
    }
    block_on(task);
    waker_thread.join().unwrap();
    assert_eq!(polls.get(), rounds + 1);
}

#[test]
fn wakers_of_one_task_will_wake_each_other() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (r1, t1) = rawtask::spawn(async {}, queue.schedule());
    let (r2, t2) = rawtask::spawn(async {}, queue.schedule());
    let a = r1.waker();
    let b = r1.waker();
    let c = r2.waker();
    assert!(a.will_wake(&b));
    assert!(!a.will_wake(&c));
    r1.run();
    r2.run();
    block_on(t1);
    block_on(t2);
}

#[test]
fn waker_clone_storm() {
    let _g = check_leaks();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(async {}, queue.schedule());
    let waker = runnable.waker();
    let mut all = Vec::new();
    for _ in 0..common::N {
        all.push(waker.clone());
    }
    runnable.run();
    block_on(task);
    drop(waker);
    let half = all.split_off(all.len() / 2);
    let t = spawn_tracked(move || drop(half));
    drop(all);
    t.join().unwrap();
}

#[test]
fn wake_of_a_cancelled_task_still_in_the_queue() {
    let _g = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let (runnable, task) = rawtask::spawn(probe.future(()), queue.schedule());
    runnable.run();
    let waker = probe.waker();
    waker.wake_by_ref();
    assert_eq!(queue.scheduled(), 1);
    drop(task);
    assert_eq!(
        queue.scheduled(),
        1,
        "already scheduled: cancelling does not schedule again"
    );
    waker.wake_by_ref();
    assert_eq!(queue.scheduled(), 1);
    assert!(!queue.pop().unwrap().run());
    assert_eq!(probe.polls(), 1);
    assert_eq!(probe.drops(), 1);
    waker.wake();
    assert_eq!(queue.scheduled(), 1);
}
