//! Rule 8: `spawn_local` tasks never drop their future on a thread other than the one that
//! spawned them. Their futures are `!Send` (they hold an `Rc`) and assert in their destructor
//! that they are dropped on their home thread. A future that must leak holds no loom object
//! (loom would report the leak): its counters are plain `std` atomics.
//!
//! Every model also counts the outputs: each one made is dropped exactly once, and it reaches
//! the `Task` exactly once where the `Task` is awaited (`local_foreign_wake_vs_home_task_poll`)
//! and never where the `Task` is detached or dropped (the other models). loom's allocation
//! tracker checks that the task is freed.
#![cfg(loom)]

use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc as StdArc;
use std::task::{Context, Poll};

use loom::sync::Mutex;
use loom::thread;
use loom_tests::{deep, loom, model, quiet_test_panics};
use rawtask::Runnable;

/// Pending on the first poll (keeping no waker), ready on the second.
struct LocalFuture {
    home: thread::ThreadId,
    drops: StdArc<AtomicUsize>,
    outputs: StdArc<Outputs>,
    polls: usize,
    _not_send: Rc<()>,
}

/// What happened to the outputs of one execution.
#[derive(Default)]
struct Outputs {
    made: AtomicUsize,
    dropped: AtomicUsize,
    received: AtomicUsize,
}

impl Outputs {
    /// Every output made was dropped exactly once, and `received` of them reached the `Task`.
    fn check(&self, received: usize) {
        let made = self.made.load(SeqCst);
        assert!(made <= 1, "the future completed twice");
        assert_eq!(self.dropped.load(SeqCst), made, "output drops");
        assert_eq!(self.received.load(SeqCst), received, "outputs received");
    }
}

/// A local task's output: counts its drop.
struct LocalOutput(StdArc<Outputs>);

impl Drop for LocalOutput {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, SeqCst);
    }
}

impl Future for LocalFuture {
    type Output = LocalOutput;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<LocalOutput> {
        assert_eq!(
            thread::current().id(),
            self.home,
            "polled off its home thread"
        );
        self.polls += 1;
        if self.polls == 1 {
            Poll::Pending
        } else {
            self.outputs.made.fetch_add(1, SeqCst);
            Poll::Ready(LocalOutput(self.outputs.clone()))
        }
    }
}

impl Drop for LocalFuture {
    fn drop(&mut self) {
        assert_eq!(
            thread::current().id(),
            self.home,
            "a spawn_local future was dropped off its home thread"
        );
        self.drops.fetch_add(1, SeqCst);
    }
}

type Queue = StdArc<Mutex<VecDeque<Runnable>>>;

struct Local {
    runnable: Runnable,
    task: rawtask::Task<LocalOutput>,
    queue: Queue,
    drops: StdArc<AtomicUsize>,
    outputs: StdArc<Outputs>,
}

fn spawn_local() -> Local {
    quiet_test_panics();
    let drops = StdArc::new(AtomicUsize::new(0));
    let outputs = StdArc::new(Outputs::default());
    let queue: Queue = StdArc::new(Mutex::new(VecDeque::new()));
    let q = queue.clone();
    let future = LocalFuture {
        home: thread::current().id(),
        drops: drops.clone(),
        outputs: outputs.clone(),
        polls: 0,
        _not_send: Rc::new(()),
    };
    let (runnable, task) = rawtask::spawn_local(future, move |r| q.lock().unwrap().push_back(r));
    Local {
        runnable,
        task,
        queue,
        drops,
        outputs,
    }
}

/// Runs what is queued, on the calling (home) thread.
fn drain(queue: &Queue) {
    loop {
        let next = queue.lock().unwrap().pop_front();
        match next {
            Some(r) => {
                r.run();
            }
            None => break,
        }
    }
}

/// The last waker of a detached local task is dropped on a foreign thread while the home
/// thread detaches the `Task`: the final run is scheduled (from whichever thread is last) and
/// the future is dropped on the home thread when the executor runs it.
#[test]
fn local_last_waker_drop_on_foreign_thread_vs_detach() {
    model(
        "local_last_waker_drop_on_foreign_thread_vs_detach",
        deep(),
        || {
            let Local {
                runnable: r,
                task: t,
                queue,
                drops,
                outputs,
            } = spawn_local();
            let w = r.waker();
            assert!(!r.run());
            let a = thread::spawn(move || drop(w));
            t.detach();
            a.join().unwrap();
            assert_eq!(drops.load(SeqCst), 0);
            drain(&queue);
            assert_eq!(drops.load(SeqCst), 1);
            outputs.check(0);
        },
    );
}

/// The `Task` of an idle local task is dropped on a foreign thread while the home thread wakes
/// it: the cancellation's final run happens at home, which drops the future there.
#[test]
fn local_task_drop_on_foreign_thread_vs_wake() {
    model("local_task_drop_on_foreign_thread_vs_wake", deep(), || {
        let Local {
            runnable: r,
            task: t,
            queue,
            drops,
            outputs,
        } = spawn_local();
        let w = r.waker();
        assert!(!r.run());
        let a = thread::spawn(move || drop(t));
        w.wake();
        a.join().unwrap();
        assert_eq!(drops.load(SeqCst), 0);
        drain(&queue);
        assert_eq!(drops.load(SeqCst), 1);
        outputs.check(0);
    });
}

/// A local task's `Runnable` run on a foreign thread panics after closing the task, while the
/// home thread drops the `Task`: the future is leaked, never dropped off its home thread, and
/// the allocation is still freed (loom's leak check) by whichever side is last.
#[test]
fn local_run_on_foreign_thread_vs_task_drop() {
    model("local_run_on_foreign_thread_vs_task_drop", deep(), || {
        let Local {
            runnable: r,
            task: t,
            queue,
            drops,
            outputs,
        } = spawn_local();
        let a = thread::spawn(move || {
            let res = catch_unwind(AssertUnwindSafe(|| r.run()));
            assert!(res.is_err(), "a local task ran on a foreign thread");
        });
        drop(t);
        a.join().unwrap();
        drain(&queue);
        assert_eq!(
            drops.load(SeqCst),
            0,
            "the future must be leaked, not dropped"
        );
        outputs.check(0);
    });
}

/// A local task's waker is woken on a foreign thread while the home thread runs its queue and
/// then awaits the `Task`: the wake schedules the task (it is idle after its first poll), the
/// home thread polls it to completion, and the output reaches the `Task` exactly once; the
/// future is dropped once, at home.
#[test]
fn local_foreign_wake_vs_home_task_poll() {
    model("local_foreign_wake_vs_home_task_poll", deep(), || {
        let Local {
            runnable: r,
            task: t,
            queue,
            drops,
            outputs,
        } = spawn_local();
        let w = r.waker();
        assert!(!r.run());
        let a = thread::spawn(move || w.wake());
        while !t.is_finished() {
            drain(&queue);
            thread::yield_now();
        }
        let out = loom::future::block_on(t);
        outputs.received.fetch_add(1, SeqCst);
        drop(out);
        a.join().unwrap();
        drain(&queue);
        assert_eq!(drops.load(SeqCst), 1);
        outputs.check(1);
    });
}
