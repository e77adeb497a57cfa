//! `rawtask::JoinSet`: outputs in completion order, cancelled tasks skipped and counted,
//! `abort_all` / `detach_all` / `shutdown` / drop, completions on other threads, allocations.

mod common;

use std::task::{Context, Poll};

use common::{
    block_on, check_leaks, count_allocations, counting_waker, expect_panic, spawn_tracked, Counter,
    DropProbe, Probe, Queue,
};
use rawtask::JoinSet;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn set_is_send_and_sync_when_outputs_are() {
    assert_send_sync::<JoinSet<u32>>();
    assert_send_sync::<JoinSet<String, u64>>();
}

/// Tasks run in a scrambled order come back in exactly that order.
#[test]
fn outputs_in_completion_order() {
    let _leaks = check_leaks();
    let queue = Queue::new();
    let mut set = JoinSet::new();
    let mut runnables: Vec<_> = (0..20usize)
        .map(|i| set.spawn(async move { i }, queue.schedule()))
        .collect();
    assert_eq!(set.len(), 20);
    let mut order = Vec::new();
    // A fixed permutation: odd indices from the back, then even ones from the front.
    let mut taken: Vec<usize> = (0..20).filter(|i| i % 2 == 1).rev().collect();
    taken.extend((0..20).filter(|i| i % 2 == 0));
    let mut slots: Vec<_> = runnables.drain(..).map(Some).collect();
    for &i in &taken {
        slots[i].take().unwrap().run();
        order.push(i);
    }
    let joined: Vec<usize> = std::iter::from_fn(|| block_on(set.join_next())).collect();
    assert_eq!(joined, order);
    assert!(set.is_empty());
    assert_eq!(set.cancelled_count(), 0);
}

/// `join_next` interleaved with completions reuses slots and keeps the order.
#[test]
fn slots_are_reused() {
    let _leaks = check_leaks();
    let mut set = JoinSet::new();
    for round in 0..50u32 {
        let a = set.spawn(async move { round * 2 }, |_| {});
        let b = set.spawn(async move { round * 2 + 1 }, |_| {});
        b.run();
        a.run();
        assert_eq!(set.try_join_next(), Some(round * 2 + 1));
        assert_eq!(set.try_join_next(), Some(round * 2));
        assert_eq!(set.try_join_next(), None);
    }
    assert!(set.is_empty());
}

/// A pending `join_next` is woken by a completion on another thread.
#[test]
fn join_next_woken_from_another_thread() {
    let _leaks = check_leaks();
    let probe = Probe::new();
    let queue = Queue::new();
    let mut set = JoinSet::new();
    set.spawn(probe.future(9u8), queue.schedule()).run(); // pending, its waker in the probe
    let (waker, wakes) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    assert_eq!(set.poll_join_next(&mut cx), Poll::Pending);
    let worker = {
        let (probe, queue) = (probe.clone(), queue.clone());
        spawn_tracked(move || {
            probe.complete();
            probe.take_waker().unwrap().wake();
            queue.recv().run(); // completes on this thread: the callback wakes the set
        })
    };
    worker.join().unwrap();
    assert_eq!(wakes.get(), 1);
    assert_eq!(set.poll_join_next(&mut cx), Poll::Ready(Some(9)));
    assert_eq!(set.poll_join_next(&mut cx), Poll::Ready(None));
}

/// Completions on several executor threads all reach `join_next` on the main thread.
#[test]
fn completions_on_many_threads() {
    let _leaks = check_leaks();
    const TASKS: usize = 200;
    let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let receiver = receiver.clone();
            spawn_tracked(move || {
                for runnable in receiver.iter() {
                    runnable.run();
                }
            })
        })
        .collect();
    let mut set = JoinSet::new();
    for i in 0..TASKS {
        let sender = sender.clone();
        set.spawn(
            async move {
                futures_lite::future::yield_now().await;
                i
            },
            move |r| sender.send(r).unwrap(),
        )
        .schedule();
    }
    let mut seen = [false; TASKS];
    while let Some(i) = block_on(set.join_next()) {
        assert!(!std::mem::replace(&mut seen[i], true));
    }
    assert!(seen.iter().all(|&s| s));
    drop(sender);
    drop(receiver);
    for w in workers {
        w.join().unwrap();
    }
}

/// `abort_all` cancels running tasks; completed outputs still come out; the rest are counted.
#[test]
fn abort_all_keeps_completed_outputs() {
    let _leaks = check_leaks();
    let queue = Queue::new();
    let futures = Counter::new();
    let mut set = JoinSet::new();
    for i in 0..5u32 {
        let probe = DropProbe::new(&futures);
        let runnable = set.spawn(
            async move {
                let _probe = probe;
                if i % 2 == 0 {
                    std::future::pending::<()>().await;
                }
                i
            },
            queue.schedule(),
        );
        runnable.run();
    }
    set.abort_all();
    assert_eq!(set.len(), 5);
    queue.run_all(); // drops the pending futures
    assert_eq!(futures.get(), 5);
    let mut outs: Vec<u32> = std::iter::from_fn(|| set.try_join_next()).collect();
    outs.sort();
    assert_eq!(outs, [1, 3]);
    assert_eq!(set.cancelled_count(), 3);
    assert!(set.is_empty());
}

/// Dropping the set cancels its tasks: futures and unjoined outputs are dropped, and tasks
/// that finish later do not touch the gone set.
#[test]
fn drop_cancels_tasks() {
    let _leaks = check_leaks();
    let queue = Queue::new();
    let drops = Counter::new();
    let mut set = JoinSet::new();
    let idle = {
        let probe = DropProbe::new(&drops);
        set.spawn(
            async move {
                let _p = probe;
                std::future::pending::<DropProbe>().await
            },
            queue.schedule(),
        )
    };
    idle.run();
    let done = set.spawn(std::future::ready(DropProbe::new(&drops)), queue.schedule());
    done.run(); // an output nobody joins
    let never_run = set.spawn(std::future::ready(DropProbe::new(&drops)), queue.schedule());
    drop(set);
    assert_eq!(
        drops.get(),
        1,
        "the unjoined output is dropped with the set"
    );
    queue.run_all(); // the idle task, scheduled by the cancel, drops its future
    assert_eq!(drops.get(), 2);
    drop(never_run); // its future (with the probe it would return) is dropped
    assert_eq!(drops.get(), 3);
}

/// `detach_all` lets the tasks run on; the set is empty and usable again.
#[test]
fn detach_all_lets_tasks_run() {
    let _leaks = check_leaks();
    let queue = Queue::new();
    let ran = Counter::new();
    let mut set = JoinSet::new();
    for _ in 0..3 {
        let ran = ran.clone();
        set.spawn(
            async move {
                ran.inc();
                0
            },
            queue.schedule(),
        )
        .schedule();
    }
    set.detach_all();
    assert!(set.is_empty());
    let again = set.spawn(async { 7 }, queue.schedule());
    again.schedule();
    assert_eq!(queue.run_all(), 4);
    assert_eq!(ran.get(), 3);
    assert_eq!(set.try_join_next(), Some(7));
    assert_eq!(set.try_join_next(), None);
}

/// `shutdown` waits for an executor on another thread to drop every future.
#[test]
fn shutdown_waits_for_every_task() {
    let _leaks = check_leaks();
    let drops = Counter::new();
    let (sender, receiver) = flume::unbounded::<rawtask::Runnable>();
    let executor = spawn_tracked(move || {
        for runnable in receiver.iter() {
            runnable.run();
        }
    });
    let mut set = JoinSet::new();
    for _ in 0..10 {
        let probe = DropProbe::new(&drops);
        let sender = sender.clone();
        set.spawn(
            async move {
                let _p = probe;
                std::future::pending::<()>().await
            },
            move |r| sender.send(r).unwrap(),
        )
        .schedule();
    }
    block_on(set.shutdown());
    assert!(set.is_empty());
    assert_eq!(drops.get(), 10);
    drop(set);
    drop(sender);
    executor.join().unwrap();
}

/// Tasks that finished before joining the set, and tasks with a data slot.
#[test]
fn insert_finished_and_with_metadata() {
    let _leaks = check_leaks();
    let mut set: JoinSet<u32, u32> = JoinSet::new();
    let (runnable, task) = rawtask::Builder::new()
        .metadata(4u32)
        .spawn(|m: &u32| std::future::ready(*m * 10), |_| {});
    runnable.run();
    set.insert(task); // its callback runs right here
    assert_eq!(set.try_join_next(), Some(40));
}

/// A propagated panic comes out of `join_next`; the set stays usable.
#[test]
fn propagated_panic_is_reraised() {
    let _leaks = check_leaks();
    let mut set = JoinSet::new();
    let (runnable, task) = rawtask::Builder::new()
        .propagate_panic(true)
        .spawn(|()| async { panic!("boom") }, |_| {});
    set.insert(task);
    runnable.run();
    let ok = set.spawn(async { 1 }, |_| {});
    let payload = expect_panic(|| set.try_join_next());
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    assert_eq!(set.len(), 1);
    ok.run();
    assert_eq!(set.try_join_next(), Some(1));
}

/// A panic without propagation ends the task without an output: skipped and counted.
#[test]
fn unpropagated_panic_is_skipped() {
    let _leaks = check_leaks();
    let mut set = JoinSet::new();
    let runnable = set.spawn(async { panic!("quiet") }, |_| {});
    let _ = expect_panic(|| runnable.run());
    assert_eq!(set.try_join_next(), None::<()>);
    assert_eq!(set.cancelled_count(), 1);
}

/// `spawn_local` futures; the set itself crosses threads when `T: Send`.
#[test]
fn spawn_local_and_send_set() {
    let _leaks = check_leaks();
    let mut set = JoinSet::new();
    let shared = std::rc::Rc::new(3u8);
    set.spawn_local(async move { *shared }, |_| {}).run();
    let joined = spawn_tracked(move || block_on(set.join_next()))
        .join()
        .unwrap();
    assert_eq!(joined, Some(3));
}

/// In steady state a spawn + run + join allocates once: the task (its completion record is
/// reused).
#[test]
fn one_allocation_per_task() {
    let mut set = JoinSet::new();
    // Warm up the slot vector and the spare completion records.
    for _ in 0..2 {
        for _ in 0..4 {
            set.spawn(async { 1u64 }, |_| {}).run();
        }
        while set.try_join_next().is_some() {}
    }
    let ((), allocations) = count_allocations(|| {
        for i in 0..4u64 {
            set.spawn(async move { i }, |_| {}).run();
        }
        for _ in 0..4 {
            assert!(set.try_join_next().is_some());
        }
    });
    assert_eq!(allocations, 4);
}

/// Thread-safety smoke: the set is moved to a thread that joins while others complete.
#[test]
fn join_on_another_thread() {
    let _leaks = check_leaks();
    let queue = Queue::new();
    let mut set = JoinSet::new();
    for i in 0..50u32 {
        set.spawn(async move { i }, queue.schedule()).schedule();
    }
    let runner = {
        let queue = queue.clone();
        spawn_tracked(move || while queue.run_all() > 0 {})
    };
    let sum = spawn_tracked(move || {
        let mut sum = 0;
        while let Some(i) = block_on(set.join_next()) {
            sum += i;
        }
        sum
    })
    .join()
    .unwrap();
    runner.join().unwrap();
    queue.run_all();
    assert_eq!(sum, (0..50).sum::<u32>());
}

/// A spawned task's future is dropped before `join_next` yields its output (the set hears of
/// the task when it is finished, as through its awaiter), and each output is dropped once
/// whether it is joined, left in the set, or produced after the set is gone.
#[test]
fn spawned_future_dropped_before_join_and_outputs_dropped_once() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    let _leaks = check_leaks();
    let futures = Arc::new(AtomicUsize::new(0));
    let outputs = Arc::new(AtomicUsize::new(0));
    let mut set = JoinSet::new();
    let spawn = |set: &mut JoinSet<Counted>| {
        let held = Counted(futures.clone());
        let out = outputs.clone();
        set.spawn(
            async move {
                let _held = held;
                Counted(out)
            },
            |_| {},
        )
    };
    spawn(&mut set).run();
    let joined = set.try_join_next().expect("the output");
    assert_eq!(
        futures.load(SeqCst),
        1,
        "the future was dropped before the join"
    );
    drop(joined);
    assert_eq!(outputs.load(SeqCst), 1);
    spawn(&mut set).run(); // finished, never joined
    let late = spawn(&mut set); // runs after the set is gone
    drop(set);
    assert_eq!(outputs.load(SeqCst), 2);
    late.run();
    assert_eq!(futures.load(SeqCst), 3);
    assert_eq!(
        outputs.load(SeqCst),
        2,
        "a task cancelled by the set's drop makes no output"
    );
}
