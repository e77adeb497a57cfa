//! Loom models of `Task::on_finish` / `CallbackTask` (protocol rules 13 and 14): the callback
//! is registered while another thread runs, cancels, wakes or drops the task, and must run
//! exactly once, only after the task finished (the future's drop happens-before it), without
//! leaking the task (loom's allocation tracker) or the callback's `Arc` (a reference cycle
//! through the awaiter slot would leak the task too).
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc as StdArc;
use std::task::Poll;

use loom::thread;
use loom_tests::{deep, get, model, Delivery, Harness, Kind, ModelTask, Spawn};
use rawtask::CallbackTask;

/// The callback's record: how often it ran, and a loom-checked look at the future's drop.
#[derive(Clone)]
struct Calls {
    count: StdArc<AtomicUsize>,
}

impl Calls {
    fn new() -> Calls {
        Calls {
            count: StdArc::new(AtomicUsize::new(0)),
        }
    }

    /// Registers the callback: it checks that the future is gone (rule 4: a finished task's
    /// future was dropped, and loom must see that drop happen before the call) and counts.
    fn register(
        &self,
        h: &Harness,
        task: ModelTask,
    ) -> CallbackTask<loom_tests::Output, loom_tests::Data> {
        let count = self.count.clone();
        let flags = h.flags.clone();
        task.on_finish(move || {
            assert!(
                flags.future_dropped.get(),
                "the callback ran before the future was dropped"
            );
            count.fetch_add(1, SeqCst);
        })
    }

    fn get(&self) -> usize {
        get(&self.count)
    }
}

/// Takes whatever the handle holds, with the harness's bookkeeping for a delivered output.
fn take(h: &Harness, task: &mut CallbackTask<loom_tests::Output, loom_tests::Data>) {
    match task.try_take() {
        Poll::Ready(Some(out)) => {
            h.record(Ok(Some(out)));
        }
        Poll::Ready(None) => {}
        Poll::Pending => panic!("the callback ran but the task is not finished"),
    }
}

/// Registration on the main thread while another thread runs the task to completion: the
/// callback runs once (on whichever side sees the completion) and the output is taken once.
#[test]
fn on_finish_vs_run() {
    model("on_finish_vs_run", deep(), || {
        let mut h = Harness::new();
        let (runnable, task) = h.spawn(Spawn::new(Kind::Ready));
        let runner = {
            let h = h.clone();
            thread::spawn(move || h.run(runnable))
        };
        let calls = Calls::new();
        let mut task = calls.register(&h, task);
        runner.join().unwrap();
        assert_eq!(calls.get(), 1);
        take(&h, &mut task);
        drop(task);
        h.finish(None, Delivery::Once);
        assert_eq!(calls.get(), 1);
    });
}

/// A waker fired from another thread (the future's stash) and the run it causes race the
/// registration: the callback waits for the second poll's completion.
#[test]
fn on_finish_vs_wake_and_run() {
    model("on_finish_vs_wake_and_run", deep(), || {
        let mut h = Harness::new();
        let (runnable, task) = h.spawn(Spawn::new(Kind::Stash1));
        h.run(runnable); // first poll: stashes its waker, pending
        let executor = {
            let h = h.clone();
            thread::spawn(move || {
                let waker = h
                    .exec
                    .take_stash()
                    .expect("the first poll stashed its waker");
                waker.wake();
                h.run_next();
            })
        };
        let calls = Calls::new();
        let mut task = calls.register(&h, task);
        executor.join().unwrap();
        assert_eq!(calls.get(), 1);
        take(&h, &mut task);
        drop(task);
        h.finish(None, Delivery::Once);
    });
}

/// `CallbackTask::cancel` notifies the awaiter when it closes the task, before the executor
/// drops the future: that early wake must not run the callback; the wake chain registers again
/// and the callback runs once the runnable (on another thread) dropped the future.
#[test]
fn cancel_vs_run() {
    model("cancel_vs_run", deep(), || {
        let mut h = Harness::new();
        let (runnable, task) = h.spawn(Spawn::new(Kind::Stash1));
        h.run(runnable); // idle, its waker stashed
        let calls = Calls::new();
        let mut task = calls.register(&h, task);
        let executor = {
            let h = h.clone();
            thread::spawn(move || {
                // Whatever is queued (the cancel's last schedule) runs here; the stash may
                // wake it too.
                if let Some(waker) = h.exec.take_stash() {
                    waker.wake();
                }
                while h.run_next() {}
            })
        };
        task.cancel();
        executor.join().unwrap();
        h.drain();
        assert_eq!(calls.get(), 1);
        take(&h, &mut task);
        drop(task);
        h.finish(None, Delivery::AtMostOnce);
        assert_eq!(calls.get(), 1);
    });
}

/// Dropping the handle (a C `free`) with the callback pending, while another thread runs the
/// task: the callback still runs exactly once, when the future is gone.
#[test]
fn drop_handle_vs_run() {
    model("drop_handle_vs_run", deep(), || {
        let mut h = Harness::new();
        let (runnable, task) = h.spawn(Spawn::new(Kind::Ready));
        let calls = Calls::new();
        let task = calls.register(&h, task);
        let runner = {
            let h = h.clone();
            thread::spawn(move || h.run(runnable))
        };
        drop(task);
        runner.join().unwrap();
        h.drain();
        assert_eq!(calls.get(), 1);
        h.finish(None, Delivery::Never);
    });
}

/// Detaching with the callback pending while another thread drops the runnable (cancelling the
/// task): the callback runs once, after the drop of the future.
#[test]
fn detach_vs_runnable_drop() {
    model("detach_vs_runnable_drop", deep(), || {
        let mut h = Harness::new();
        let (runnable, task) = h.spawn(Spawn::new(Kind::Ready));
        let calls = Calls::new();
        let task = calls.register(&h, task);
        let dropper = thread::spawn(move || drop(runnable));
        task.detach();
        dropper.join().unwrap();
        h.drain();
        assert_eq!(calls.get(), 1);
        h.finish(None, Delivery::Never);
    });
}

/// The callback is registered after the task finished: it runs at once, on the registering
/// thread, and nothing waits in the awaiter slot afterwards (else the task would leak).
#[test]
fn on_finish_after_completion() {
    model("on_finish_after_completion", deep(), || {
        let mut h = Harness::new();
        let (runnable, task) = h.spawn(Spawn::new(Kind::Ready));
        h.run(runnable);
        let calls = Calls::new();
        let mut task = calls.register(&h, task);
        assert_eq!(calls.get(), 1);
        take(&h, &mut task);
        drop(task);
        h.finish(None, Delivery::Once);
    });
}

// ----- rule 16: the watcher's reference never keeps an unwakeable task alive -----

/// The first poll returned `Pending` keeping no waker; the handle is detached while the task
/// runs on another thread. Whichever comes last — the detach (`Detach::Schedule` for a watched
/// task) or the `Pending` (`orphaned_at_pending`) — cancels the task: the future is dropped and
/// the callback runs once; nothing leaks.
#[test]
fn detach_vs_run_of_an_unwakeable_task() {
    model("detach_vs_run_of_an_unwakeable_task", deep(), || {
        let mut h = Harness::new();
        let (runnable, task) = h.spawn(Spawn::new(Kind::PendingOnce));
        let calls = Calls::new();
        let task = calls.register(&h, task);
        let runner = {
            let h = h.clone();
            thread::spawn(move || h.run(runnable))
        };
        task.detach();
        runner.join().unwrap();
        h.drain();
        assert_eq!(calls.get(), 1, "the unwakeable task was not cancelled");
        h.finish(None, Delivery::Never);
    });
}

/// The last waker is dropped on another thread while the handle is detached: whichever comes
/// last cancels the task (`is_orphaned` after the waker's release, or the detach).
#[test]
fn detach_vs_last_waker_drop() {
    model("detach_vs_last_waker_drop", deep(), || {
        let mut h = Harness::new();
        let (runnable, task) = h.spawn(Spawn::new(Kind::Stash1));
        h.run(runnable); // pending, its waker in the stash
        let calls = Calls::new();
        let task = calls.register(&h, task);
        let waker = h
            .exec
            .take_stash()
            .expect("the first poll stashed its waker");
        let dropper = thread::spawn(move || drop(waker));
        task.detach();
        dropper.join().unwrap();
        h.drain();
        assert_eq!(calls.get(), 1, "the unwakeable task was not cancelled");
        h.finish(None, Delivery::Never);
    });
}

/// The last waker wakes instead (by value, on another thread) while the handle is detached:
/// the task completes normally and the callback runs once; the orphan path must not cancel a
/// task that a wake has just scheduled.
#[test]
fn detach_vs_last_waker_wake() {
    model("detach_vs_last_waker_wake", deep(), || {
        let mut h = Harness::new();
        let (runnable, task) = h.spawn(Spawn::new(Kind::Stash1));
        h.run(runnable);
        let calls = Calls::new();
        let task = calls.register(&h, task);
        let waker = h
            .exec
            .take_stash()
            .expect("the first poll stashed its waker");
        let waking = thread::spawn(move || waker.wake());
        task.detach();
        waking.join().unwrap();
        h.drain();
        assert_eq!(calls.get(), 1);
        h.finish(None, Delivery::Never);
    });
}
