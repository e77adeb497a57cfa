//! What is dropped, when, and how many times: the future, the output, the metadata and the
//! schedule function are each dropped exactly once on every path; `Task::cancel` resolves
//! only after the future was dropped; a dropped `Runnable` drops its future; a detached task
//! whose last waker goes away while it is pending is scheduled one final time so that the
//! executor drops the future.

mod common;

use std::future::poll_fn;
use std::task::{Poll, Waker};

use common::{
    block_on, check_leaks, counting_waker, expect_panic, poll_once, poll_with, spawn_tracked,
    Counter, DropProbe, Probe, Queue,
};
use rawtask::{Builder, Runnable, Task};

/// Counters for everything a task owns.
#[derive(Default)]
struct Drops {
    future: Counter,
    output: Counter,
    metadata: Counter,
    schedule: Counter,
}

/// How many times each thing a task owns has been dropped so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Dropped {
    future: usize,
    output: usize,
    metadata: usize,
    schedule: usize,
}

impl Dropped {
    const NOTHING: Dropped = Dropped {
        future: 0,
        output: 0,
        metadata: 0,
        schedule: 0,
    };
    const EVERYTHING_ONCE: Dropped = Dropped {
        future: 1,
        output: 1,
        metadata: 1,
        schedule: 1,
    };
}

impl Drops {
    fn now(&self) -> Dropped {
        Dropped {
            future: self.future.get(),
            output: self.output.get(),
            metadata: self.metadata.get(),
            schedule: self.schedule.get(),
        }
    }

    /// Asserts the drop counts (failing at the caller's line, with every count named).
    #[track_caller]
    fn expect(&self, expected: Dropped) {
        assert_eq!(self.now(), expected, "drops so far");
    }
}

/// Spawns a task whose future, output, metadata and schedule function are all drop probes.
/// The future is pending until `probe.complete()` and its waker is kept by `probe`.
fn spawn_probed(
    drops: &Drops,
    probe: &Probe,
    queue: &Queue<DropProbe>,
) -> (Runnable<DropProbe>, Task<DropProbe, DropProbe>) {
    let schedule_guard = DropProbe::new(&drops.schedule);
    let push = queue.schedule();
    let future = FutureProbe {
        inner: probe.future(()),
        output: drops.output.clone(),
        _drop: DropProbe::new(&drops.future),
    };
    Builder::new()
        .metadata(DropProbe::new(&drops.metadata))
        .spawn(
            move |_| future,
            move |r: Runnable<DropProbe>| {
                let _keep = &schedule_guard;
                push(r);
            },
        )
}

/// Wraps a probe future, counts its own drops, and makes its output (a drop probe) only
/// when it completes.
struct FutureProbe {
    inner: common::ProbeFuture<()>,
    output: Counter,
    _drop: DropProbe,
}

impl std::future::Future for FutureProbe {
    type Output = DropProbe;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<DropProbe> {
        std::pin::Pin::new(&mut self.inner)
            .poll(cx)
            .map(|()| DropProbe::new(&self.output))
    }
}

#[test]
fn completed_and_output_taken() {
    let _g = check_leaks();
    let (drops, probe, queue) = (Drops::default(), Probe::new(), Queue::new());
    let (runnable, task) = spawn_probed(&drops, &probe, &queue);
    probe.complete();
    runnable.run();
    drops.expect(Dropped {
        future: 1,
        ..Dropped::NOTHING
    });
    let out = block_on(task);
    drops.expect(Dropped {
        output: 0,
        ..Dropped::EVERYTHING_ONCE
    });
    drop(out);
    drops.expect(Dropped::EVERYTHING_ONCE);
}

#[test]
fn completed_and_output_not_taken() {
    let _g = check_leaks();
    let (drops, probe, queue) = (Drops::default(), Probe::new(), Queue::new());
    let (runnable, task) = spawn_probed(&drops, &probe, &queue);
    probe.complete();
    runnable.run();
    drops.expect(Dropped {
        future: 1,
        ..Dropped::NOTHING
    });
    drop(task);
    drops.expect(Dropped::EVERYTHING_ONCE);
}

#[test]
fn completed_after_detach() {
    let _g = check_leaks();
    let (drops, probe, queue) = (Drops::default(), Probe::new(), Queue::new());
    let (runnable, task) = spawn_probed(&drops, &probe, &queue);
    task.detach();
    runnable.run();
    drops.expect(Dropped::NOTHING);
    probe.complete();
    probe.take_waker().unwrap().wake();
    queue.pop().unwrap().run();
    drops.expect(Dropped::EVERYTHING_ONCE);
}

#[test]
fn cancelled_by_dropping_the_task_before_running() {
    let _g = check_leaks();
    let (drops, probe, queue) = (Drops::default(), Probe::new(), Queue::new());
    let (runnable, task) = spawn_probed(&drops, &probe, &queue);
    drop(task);
    drops.expect(Dropped::NOTHING);
    runnable.run();
    drops.expect(Dropped {
        output: 0,
        ..Dropped::EVERYTHING_ONCE
    });
    assert_eq!(probe.polls(), 0);
}

#[test]
fn dropping_the_runnable_without_running_drops_the_future() {
    let _g = check_leaks();
    let (drops, probe, queue) = (Drops::default(), Probe::new(), Queue::new());
    let (runnable, task) = spawn_probed(&drops, &probe, &queue);
    drop(runnable);
    assert_eq!(
        drops.future.get(),
        1,
        "dropped by the Runnable's destructor"
    );
    assert_eq!(probe.polls(), 0);
    drops.expect(Dropped {
        future: 1,
        ..Dropped::NOTHING
    });
    drop(task);
    drops.expect(Dropped {
        output: 0,
        ..Dropped::EVERYTHING_ONCE
    });
}

#[test]
fn dropping_a_woken_runnable_drops_the_future() {
    let _g = check_leaks();
    let (drops, probe, queue) = (Drops::default(), Probe::new(), Queue::new());
    let (runnable, task) = spawn_probed(&drops, &probe, &queue);
    runnable.run();
    probe.waker().wake();
    drop(queue.pop().unwrap());
    drops.expect(Dropped {
        future: 1,
        ..Dropped::NOTHING
    });
    assert_eq!(block_on(task.fallible()).map(|o| o.value), None);
    drops.expect(Dropped {
        output: 0,
        ..Dropped::EVERYTHING_ONCE
    });
}

#[test]
fn cancel_resolves_only_after_the_future_was_dropped() {
    let _g = check_leaks();
    let (drops, probe, queue) = (Drops::default(), Probe::new(), Queue::new());
    let (runnable, task) = spawn_probed(&drops, &probe, &queue);
    runnable.run();

    let future_drops = drops.future.clone();
    let mut cancel = Box::pin(async move {
        let result = task.cancel().await;
        // Observed from inside the awaiting future, right when `cancel` resolves.
        (result.is_none(), future_drops.get())
    });
    let (waker, wakes) = counting_waker();
    assert!(poll_with(&mut cancel, &waker).is_pending());
    assert!(
        poll_with(&mut cancel, &waker).is_pending(),
        "still pending: the future lives"
    );
    drops.expect(Dropped::NOTHING);
    assert_eq!(wakes.get(), 0);

    queue.pop().unwrap().run();
    assert_eq!(wakes.get(), 1);
    assert_eq!(poll_once(&mut cancel), Poll::Ready((true, 1)));
    drops.expect(Dropped {
        output: 0,
        ..Dropped::EVERYTHING_ONCE
    });
}

#[test]
fn cancel_while_running_on_another_thread_resolves_after_the_drop() {
    let _g = check_leaks();
    let future_drops = Counter::new();
    let queue = Queue::new();
    let (entered_tx, entered_rx) = flume::bounded::<()>(0);
    let (go_tx, go_rx) = flume::bounded::<()>(0);
    let probe = DropProbe::new(&future_drops);
    let (runnable, task) = rawtask::spawn(
        poll_fn(move |_| -> Poll<()> {
            let _keep = &probe;
            entered_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            Poll::Pending
        }),
        queue.schedule(),
    );
    let runner = spawn_tracked(move || runnable.run());
    entered_rx.recv().unwrap();
    let fd = future_drops.clone();
    let (cancelling_tx, cancelling_rx) = flume::bounded::<()>(0);
    let canceller = spawn_tracked(move || {
        let mut cancel = Box::pin(task.cancel());
        assert!(
            poll_once(&mut cancel).is_pending(),
            "the future is being polled"
        );
        cancelling_tx.send(()).unwrap();
        assert_eq!(block_on(cancel), None);
        fd.get()
    });
    cancelling_rx.recv().unwrap();
    assert_eq!(future_drops.get(), 0);
    go_tx.send(()).unwrap();
    runner.join().unwrap();
    assert_eq!(
        canceller.join().unwrap(),
        1,
        "cancel resolved after the drop"
    );
}

#[test]
fn detached_task_whose_last_waker_is_dropped_is_scheduled_once_more() {
    let _g = check_leaks();
    let (drops, probe, queue) = (Drops::default(), Probe::new(), Queue::new());
    let (runnable, task) = spawn_probed(&drops, &probe, &queue);
    task.detach();
    runnable.run();
    assert_eq!(queue.scheduled(), 0);

    // Nothing can wake the task any more once this waker is gone.
    let waker: Waker = probe.take_waker().unwrap();
    drop(waker);
    assert_eq!(queue.scheduled(), 1, "scheduled one final time");
    drops.expect(Dropped::NOTHING);

    let runnable = queue.pop().unwrap();
    assert!(!runnable.run());
    assert_eq!(probe.polls(), 1, "not polled: the task was closed");
    drops.expect(Dropped {
        output: 0,
        ..Dropped::EVERYTHING_ONCE
    });
}

#[test]
fn last_waker_dropped_on_another_thread() {
    let _g = check_leaks();
    let (drops, probe, queue) = (Drops::default(), Probe::new(), Queue::new());
    let (runnable, task) = spawn_probed(&drops, &probe, &queue);
    task.detach();
    runnable.run();
    let waker = probe.take_waker().unwrap();
    spawn_tracked(move || drop(waker)).join().unwrap();
    assert_eq!(queue.scheduled(), 1);
    queue.pop().unwrap().run();
    drops.expect(Dropped {
        output: 0,
        ..Dropped::EVERYTHING_ONCE
    });
}

#[test]
fn metadata_and_schedule_live_as_long_as_the_wakers() {
    let _g = check_leaks();
    let (drops, probe, queue) = (Drops::default(), Probe::new(), Queue::new());
    let (runnable, task) = spawn_probed(&drops, &probe, &queue);
    let waker = runnable.waker();
    probe.complete();
    runnable.run();
    block_on(task);
    drops.expect(Dropped {
        future: 1,
        output: 1,
        ..Dropped::NOTHING
    });
    let clone = waker.clone();
    drop(waker);
    drops.expect(Dropped {
        future: 1,
        output: 1,
        ..Dropped::NOTHING
    });
    drop(clone);
    drops.expect(Dropped::EVERYTHING_ONCE);
}

#[test]
fn panicking_future_is_dropped_once() {
    let _g = check_leaks();
    let drops = Drops::default();
    let queue = Queue::new();
    let future_probe = DropProbe::new(&drops.future);
    let schedule_guard = DropProbe::new(&drops.schedule);
    let push = queue.schedule();
    let (runnable, task) = Builder::new()
        .metadata(DropProbe::new(&drops.metadata))
        .spawn(
            move |_| {
                poll_fn(move |_| -> Poll<()> {
                    let _keep = &future_probe;
                    panic!("drop me once")
                })
            },
            move |r: Runnable<DropProbe>| {
                let _keep = &schedule_guard;
                push(r);
            },
        );
    expect_panic(move || runnable.run());
    drops.expect(Dropped {
        future: 1,
        ..Dropped::NOTHING
    });
    drop(task);
    drops.expect(Dropped {
        output: 0,
        ..Dropped::EVERYTHING_ONCE
    });
}

#[test]
fn output_dropped_once_when_task_dropped_during_the_last_run() {
    let _g = check_leaks();
    let output_drops = Counter::new();
    let queue = Queue::new();
    let (entered_tx, entered_rx) = flume::bounded::<()>(0);
    let (go_tx, go_rx) = flume::bounded::<()>(0);
    let mut out = Some(DropProbe::new(&output_drops));
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
    task.detach();
    go_tx.send(()).unwrap();
    runner.join().unwrap();
    assert_eq!(output_drops.get(), 1);
}

#[test]
fn everything_dropped_once_across_many_tasks() {
    let _g = check_leaks();
    let drops = Drops::default();
    let queue = Queue::new();
    let probes: Vec<Probe> = (0..common::N).map(|_| Probe::new()).collect();
    let mut tasks = Vec::new();
    for (i, probe) in probes.iter().enumerate() {
        let (runnable, task) = spawn_probed(&drops, probe, &queue);
        match i % 4 {
            0 => {
                probe.complete();
                runnable.run();
                tasks.push(task);
            }
            1 => {
                runnable.run();
                task.detach();
            }
            2 => drop(runnable),
            _ => {
                runnable.run();
                drop(task);
            }
        }
    }
    queue.run_all();
    drop(tasks);
    // Detached tasks (i % 4 == 1) are still pending with a waker in their probe.
    for probe in probes.iter().skip(1).step_by(4) {
        drop(probe.take_waker());
    }
    queue.run_all();
    let n = common::N;
    drops.expect(Dropped {
        future: n,
        output: n.div_ceil(4),
        metadata: n,
        schedule: n,
    });
}
