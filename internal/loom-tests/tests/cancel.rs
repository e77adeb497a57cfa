//! Loom models of `CancellationToken` (cancel racing child creation, child drop, waiter
//! registration, `on_cancel` callbacks and drop guards) and of `TaskHandle` (poll racing completion, cancel and
//! drop).
//!
//! Every token node is a loom `Arc` and every lock a loom `Mutex` under `cfg(loom)`, so loom
//! reports a node that is never freed ("Arc leaked": a child that failed to leave its parent's
//! list) and a waiter that is never woken (a deadlock in `block_on`).
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc as StdArc;

use loom::future::block_on;
use loom::sync::{Arc, Mutex};
use loom::thread;
use loom_tests::Flag;
use rawtask::background::{AlreadyTaken, Cancelled, Error, Task, TaskHandle};
use rawtask::{CancellationToken, Runnable};

/// Runs `f` under loom with a preemption bound of at least 3 (more if `LOOM_MAX_PREEMPTIONS`
/// says so): these models are small enough to afford it, and a bound of 2 leaves out
/// interleavings of the three-thread models.
fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.map_or(3, |bound| bound.max(3)));
    builder.check(f);
}

/// `loom::thread::spawn`, then a yield: a branch point at which loom also lets the new thread
/// run first. Without it, loom 0.7 misses the interleavings in which a thread that takes a
/// token's lock before its store runs entirely before the spawner's next lock-free load (the
/// store is not found to race with that load), and models whose assertions depend on that
/// load would check only one order.
fn spawn<F, T>(f: F) -> thread::JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let handle = thread::spawn(f);
    thread::yield_now();
    handle
}

// ---------------------------------------------------------------------------------------
// CancellationToken
// ---------------------------------------------------------------------------------------

/// A child created while its parent is cancelled ends up cancelled either way: born cancelled,
/// or reached by the walk.
#[test]
fn cancel_vs_child_creation() {
    model(|| {
        let root = CancellationToken::new();
        let creator = {
            let root = root.clone();
            spawn(move || root.child_token())
        };
        root.cancel();
        let child = creator.join().unwrap();
        assert!(child.cancelled());
        assert!(child.child_token().cancelled());
    });
}

/// A grandchild created while the root is cancelled.
#[test]
fn cancel_vs_grandchild_creation() {
    model(|| {
        let root = CancellationToken::new();
        let child = root.child_token();
        let creator = spawn(move || child.child_token());
        root.cancel();
        let grandchild = creator.join().unwrap();
        assert!(grandchild.cancelled());
    });
}

/// Dropping a child while its parent is cancelled frees everything once.
#[test]
fn cancel_vs_child_drop() {
    model(|| {
        let root = CancellationToken::new();
        let child = root.child_token();
        let keep = root.child_token();
        let dropper = spawn(move || drop(child));
        root.cancel();
        dropper.join().unwrap();
        assert!(keep.cancelled());
    });
}

/// Two siblings leaving the parent's list at once (swap-remove fixes the moved one's slot);
/// the third is still reached by a later cancel.
#[test]
fn sibling_drops_race() {
    model(|| {
        let root = CancellationToken::new();
        let a = root.child_token();
        let b = root.child_token();
        let c = root.child_token();
        let t = spawn(move || drop(a));
        drop(b);
        t.join().unwrap();
        root.cancel();
        assert!(c.cancelled());
    });
}

/// The middle of a chain and the leaf dropped concurrently: the cascade up the tree happens
/// exactly once, whoever comes last.
#[test]
fn middle_and_leaf_drop_race() {
    model(|| {
        let root = CancellationToken::new();
        let middle = root.child_token();
        let leaf = middle.child_token();
        let t = spawn(move || drop(leaf));
        drop(middle);
        t.join().unwrap();
        // Nothing of the chain is left in the root (loom would report the leaked nodes).
    });
}

/// The last handle of a child dropped while a clone of it creates a grandchild.
#[test]
fn child_drop_vs_grandchild_creation() {
    model(|| {
        let root = CancellationToken::new();
        let child = root.child_token();
        let clone = child.clone();
        let t = spawn(move || clone.child_token());
        drop(child);
        let grandchild = t.join().unwrap();
        root.cancel();
        assert!(grandchild.cancelled());
    });
}

/// A waiter registering while the token is cancelled is woken (or sees the cancel at once).
#[test]
fn cancel_vs_waiter_registration() {
    model(|| {
        let token = CancellationToken::new();
        let waiter = {
            let token = token.clone();
            spawn(move || block_on(token.wait_cancelled()))
        };
        token.cancel();
        waiter.join().unwrap();
    });
}

/// A waiter on a child, cancelled through its parent.
#[test]
fn parent_cancel_vs_child_waiter() {
    model(|| {
        let root = CancellationToken::new();
        let child = root.child_token();
        let waiter = spawn(move || block_on(child.wait_cancelled_owned()));
        root.cancel();
        waiter.join().unwrap();
    });
}

/// A waiter dropping its future (unregistering) while the token is cancelled.
#[test]
fn cancel_vs_waiter_drop() {
    model(|| {
        let token = CancellationToken::new();
        let remote = token.clone();
        let t = spawn(move || {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            let mut future = remote.wait_cancelled();
            let _ = std::future::Future::poll(std::pin::Pin::new(&mut future), &mut cx);
            drop(future);
        });
        token.cancel();
        t.join().unwrap();
    });
}

/// Two threads cancel at once: one does the work, both return with the tree cancelled.
#[test]
fn cancel_vs_cancel() {
    model(|| {
        let root = CancellationToken::new();
        let child = root.child_token();
        let t = {
            let root = root.clone();
            spawn(move || root.cancel())
        };
        root.cancel();
        assert!(child.cancelled());
        t.join().unwrap();
    });
}

/// A drop guard going away on one thread wakes a waiter on a child on another.
#[test]
fn drop_guard_vs_waiter() {
    model(|| {
        let token = CancellationToken::new();
        let child = token.child_token();
        let guard = token.drop_guard();
        let waiter = spawn(move || block_on(child.wait_cancelled_owned()));
        drop(guard);
        waiter.join().unwrap();
    });
}

/// A disarmed guard racing a cancel of the parent: the token ends cancelled, no leak.
#[test]
fn disarm_vs_parent_cancel() {
    model(|| {
        let root = CancellationToken::new();
        let guard = root.child_token().drop_guard();
        let t = {
            let root = root.clone();
            spawn(move || root.cancel())
        };
        let token = guard.disarm();
        t.join().unwrap();
        assert!(token.cancelled());
    });
}

/// What a thread wrote before `cancel` is visible to one that saw `cancelled() == true`.
#[test]
fn cancel_publishes_prior_writes() {
    model(|| {
        let token = CancellationToken::new();
        let flag = StdArc::new(Flag::new());
        let t = {
            let (token, flag) = (token.clone(), flag.clone());
            spawn(move || {
                flag.set();
                token.cancel();
            })
        };
        if token.cancelled() {
            assert!(flag.get());
        }
        t.join().unwrap();
    });
}

/// Counts the calls and the drops of an `on_cancel` callback, so that the models can check that
/// it runs at most (or exactly) once and is dropped exactly once: never lost, never twice.
#[derive(Default)]
struct CallbackCounts {
    calls: AtomicUsize,
    drops: AtomicUsize,
}

/// What an `on_cancel` callback captures: dropping it counts a drop.
struct Tracked(StdArc<CallbackCounts>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.drops.fetch_add(1, SeqCst);
    }
}

/// An `on_cancel` callback that counts its call, then drops its capture.
fn counting_callback(counts: &StdArc<CallbackCounts>) -> impl FnOnce() + Send + 'static {
    let tracked = Tracked(counts.clone());
    move || {
        tracked.0.calls.fetch_add(1, SeqCst);
        drop(tracked);
    }
}

/// A callback registered while the token is cancelled runs exactly once: by the cancel (it
/// was in the list) or at registration (the token was already cancelled), never both, never
/// neither; and it is dropped exactly once.
#[test]
fn cancel_vs_on_cancel_registration() {
    model(|| {
        let token = CancellationToken::new();
        let counts = StdArc::new(CallbackCounts::default());
        let registrar = {
            let (token, counts) = (token.clone(), counts.clone());
            spawn(move || token.on_cancel(counting_callback(&counts)))
        };
        token.cancel();
        let registration = registrar.join().unwrap();
        assert_eq!(counts.calls.load(SeqCst), 1);
        drop(registration);
        assert_eq!(counts.calls.load(SeqCst), 1);
        assert_eq!(counts.drops.load(SeqCst), 1);
    });
}

/// A callback on a child, registered while the root is cancelled: still exactly once.
#[test]
fn parent_cancel_vs_child_on_cancel_registration() {
    model(|| {
        let root = CancellationToken::new();
        let child = root.child_token();
        let counts = StdArc::new(CallbackCounts::default());
        let registrar = {
            let counts = counts.clone();
            spawn(move || child.on_cancel(counting_callback(&counts)))
        };
        root.cancel();
        drop(registrar.join().unwrap());
        assert_eq!(counts.calls.load(SeqCst), 1);
        assert_eq!(counts.drops.load(SeqCst), 1);
    });
}

/// Unregistering (dropping the `OnCancel`) while the token is cancelled: the callback runs at
/// most once, is dropped exactly once, and once both calls returned it is settled (a call
/// that did not happen never happens later).
#[test]
fn cancel_vs_on_cancel_unregistration() {
    model(|| {
        let token = CancellationToken::new();
        let counts = StdArc::new(CallbackCounts::default());
        let registration = token.on_cancel(counting_callback(&counts));
        let t = spawn(move || drop(registration));
        token.cancel();
        t.join().unwrap();
        let calls = counts.calls.load(SeqCst);
        assert!(calls <= 1);
        assert_eq!(counts.drops.load(SeqCst), 1);
        token.cancel();
        assert_eq!(counts.calls.load(SeqCst), calls);
    });
}

/// A callback that registers another callback on its own token from inside the cancel: the
/// inner one runs at once (the token is already cancelled), no lock is held, both once.
#[test]
fn on_cancel_registering_from_a_callback_vs_cancel() {
    model(|| {
        let token = CancellationToken::new();
        let counts = StdArc::new(CallbackCounts::default());
        let registrations = StdArc::new(std::sync::Mutex::new(Vec::new()));
        let registration = {
            let (inner_token, counts, registrations) =
                (token.clone(), counts.clone(), registrations.clone());
            token.on_cancel(move || {
                let inner = inner_token.on_cancel(counting_callback(&counts));
                registrations.lock().unwrap().push(inner);
            })
        };
        let t = {
            let token = token.clone();
            spawn(move || token.cancel())
        };
        token.cancel();
        t.join().unwrap();
        assert_eq!(counts.calls.load(SeqCst), 1);
        drop(registration);
        registrations.lock().unwrap().clear();
        assert_eq!(counts.drops.load(SeqCst), 1);
    });
}

// ---------------------------------------------------------------------------------------
// TaskHandle
// ---------------------------------------------------------------------------------------

/// Returns 7 unless cancelled first; counts output drops.
#[derive(Clone)]
struct Job(StdArc<AtomicUsize>);

#[derive(Debug)]
struct Output(u32, StdArc<AtomicUsize>);

impl Drop for Output {
    fn drop(&mut self) {
        self.1.fetch_add(1, SeqCst);
    }
}

impl Task for Job {
    type Output = Output;
    fn run(&self, token: &CancellationToken) -> Result<Output, Error> {
        token.is_done()?;
        Ok(Output(7, self.0.clone()))
    }
}

/// Spawns a `Job` whose `Runnable` is left in the returned slot.
fn spawn_job(drops: &StdArc<AtomicUsize>) -> (TaskHandle<Output>, Runnable) {
    let slot = Arc::new(Mutex::new(None));
    let handle = {
        let slot = slot.clone();
        TaskHandle::spawn_on(Job(drops.clone()), move |runnable| {
            *slot.lock().unwrap() = Some(runnable);
        })
    };
    let runnable = slot.lock().unwrap().take().unwrap();
    (handle, runnable)
}

/// `poll` racing the job's completion: `None`, or the result exactly once.
#[test]
fn poll_vs_completion() {
    model(|| {
        let drops = StdArc::new(AtomicUsize::new(0));
        let (handle, runnable) = spawn_job(&drops);
        let runner = spawn(move || {
            runnable.run();
        });
        let first = handle.poll();
        runner.join().unwrap();
        let got = match first {
            Some(result) => {
                assert!(handle.poll().unwrap().unwrap_err().is::<AlreadyTaken>());
                result.unwrap()
            }
            None => handle.poll().unwrap().unwrap(),
        };
        assert_eq!(got.0, 7);
        drop(got);
        drop(handle);
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// Two polls racing each other and the completion: the result comes out exactly once.
#[test]
fn poll_vs_poll_vs_completion() {
    model(|| {
        let drops = StdArc::new(AtomicUsize::new(0));
        let (handle, runnable) = spawn_job(&drops);
        let handle = Arc::new(handle);
        let runner = spawn(move || {
            runnable.run();
        });
        let poller = {
            let handle = handle.clone();
            spawn(move || {
                handle
                    .poll()
                    .map(|r| r.map(|o| o.0).map_err(|e| e.to_string()))
            })
        };
        let mine = handle
            .poll()
            .map(|r| r.map(|o| o.0).map_err(|e| e.to_string()));
        runner.join().unwrap();
        let theirs = poller.join().unwrap();
        let handle = Arc::try_unwrap(handle).ok().unwrap();
        let last = handle.wait().map(|o| o.0).map_err(|e| e.to_string());
        let oks = [mine, theirs, Some(last)]
            .into_iter()
            .flatten()
            .filter(|r| r.is_ok())
            .count();
        assert_eq!(oks, 1);
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// `cancel` racing the run: the job returns 7 or `Cancelled`, and `wait` (parking until the
/// runner finishes) gets it.
#[test]
fn cancel_vs_run_then_wait() {
    model(|| {
        let drops = StdArc::new(AtomicUsize::new(0));
        let (handle, runnable) = spawn_job(&drops);
        let runner = spawn(move || {
            runnable.run();
        });
        handle.cancel();
        let waiter = spawn(move || match handle.wait() {
            Ok(output) => assert_eq!(output.0, 7),
            Err(error) => assert!(error.is::<Cancelled>()),
        });
        runner.join().unwrap();
        waiter.join().unwrap();
        assert!(drops.load(SeqCst) <= 1);
    });
}

/// Dropping the handle while the job runs: the output, if any, is dropped exactly once, and
/// the task is freed.
#[test]
fn drop_vs_run() {
    model(|| {
        let drops = StdArc::new(AtomicUsize::new(0));
        let (handle, runnable) = spawn_job(&drops);
        let runner = spawn(move || {
            runnable.run();
        });
        drop(handle);
        runner.join().unwrap();
        assert!(drops.load(SeqCst) <= 1);
    });
}

/// `wait` parks until another thread's run completes. (The waiting is done on a thread of
/// its own, not on the thread that joins the runner: loom 0.7 aborts a model when a thread
/// blocked in `join` is unparked, tokio-rs/loom#249, which std allows and which the waker of a
/// finished `wait` may do.)
#[test]
fn wait_vs_run() {
    model(|| {
        let drops = StdArc::new(AtomicUsize::new(0));
        let (handle, runnable) = spawn_job(&drops);
        let waiter = spawn(move || handle.wait().unwrap().0);
        let runner = spawn(move || {
            runnable.run();
        });
        runner.join().unwrap();
        assert_eq!(waiter.join().unwrap(), 7);
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// `poll` racing both the run and a `cancel` from a third thread: the result (7 or
/// `Cancelled`) comes out exactly once, through `poll` or the final `wait`.
#[test]
fn poll_vs_cancel_vs_run() {
    model(|| {
        let drops = StdArc::new(AtomicUsize::new(0));
        let (handle, runnable) = spawn_job(&drops);
        let handle = Arc::new(handle);
        let runner = spawn(move || {
            runnable.run();
        });
        let canceller = {
            let handle = handle.clone();
            spawn(move || handle.cancel())
        };
        let first = handle.poll();
        runner.join().unwrap();
        canceller.join().unwrap();
        let handle = Arc::try_unwrap(handle).ok().unwrap();
        assert!(handle.cancelled());
        let result = match first {
            Some(result) => {
                assert!(handle.wait().unwrap_err().is::<AlreadyTaken>());
                result
            }
            None => handle.wait(),
        };
        match result {
            Ok(output) => assert_eq!(output.0, 7),
            Err(error) => assert!(error.is::<Cancelled>()),
        }
        assert!(drops.load(SeqCst) <= 1);
    });
}
