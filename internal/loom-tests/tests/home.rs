//! The home-thread scheduler (`rawtask::home`): its lock-free inbox and its notify flag.
//!
//! Every model keeps the `Home` on the main loom thread (its home) and wakes tasks from
//! spawned loom threads, checking:
//!
//! - no lost runnable and no lost notify: once every thread is joined, each task either has
//!   finished or the home has a notify pending (so the loop will drain it), and a last drain
//!   finishes it;
//! - at most one notify pending at a time: notifies never exceed drains + 1;
//! - shutdown racing a wake: the future is dropped exactly once, never inside the wake before
//!   shutdown began, and notify is never called after `drop(home)` returned; loom's allocation
//!   and `Arc` tracking reports a leaked task or shared part and a use after free.
//!
//! Counters are `std` atomics (loom runs every model thread on one OS thread, so they read
//! the true program order and add no happens-before edges).
#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Waker};

use loom::sync::{Arc, Mutex};
use loom::thread;
use loom_tests::{loom, model};
use rawtask::home::Home;
use rawtask::Task;

/// Pending until its slot's flag is set; hands its waker to the slot on every poll.
struct Gated {
    slot: Arc<Slot>,
    drops: StdArc<AtomicUsize>,
}

#[derive(Default)]
struct Slot {
    open: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Slot {
    /// Opens the gate and wakes the task through the waker it left, if any.
    fn release(&self) {
        self.open.store(true, SeqCst);
        let waker = self.waker.lock().unwrap().clone();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Future for Gated {
    type Output = usize;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        *self.slot.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.slot.open.load(SeqCst) {
            Poll::Ready(7)
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Gated {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

/// What a model's notify function saw.
#[derive(Default)]
struct Notes {
    notifies: AtomicUsize,
    /// Set once `drop(home)` returned: a notify afterwards is a bug.
    freed: AtomicBool,
}

fn home(notes: &StdArc<Notes>) -> Home {
    let notes = notes.clone();
    Home::new(move || {
        assert!(
            !notes.freed.load(SeqCst),
            "notify called after the home was freed"
        );
        notes.notifies.fetch_add(1, SeqCst);
    })
}

/// Spawns a gated task on `home`, runs it once (pending, its waker in the slot).
fn spawn_pending(home: &Home, drops: &StdArc<AtomicUsize>) -> (Arc<Slot>, Task<usize>) {
    let slot = Arc::new(Slot::default());
    let (runnable, task) = rawtask::spawn(
        Gated {
            slot: slot.clone(),
            drops: drops.clone(),
        },
        home.schedule(),
    );
    runnable.schedule();
    assert_eq!(home.drain(1).unwrap().ran, 1);
    (slot, task)
}

/// A foreign wake races one drain: nothing lost, at most one notify.
#[test]
fn home_foreign_wake_vs_drain() {
    model("home_foreign_wake_vs_drain", None, || {
        let notes = StdArc::new(Notes::default());
        let drops = StdArc::new(AtomicUsize::new(0));
        let home = home(&notes);
        let (slot, task) = spawn_pending(&home, &drops);
        // Spawning on the home thread outside a drain notified once: count from here.
        let base = notes.notifies.load(SeqCst);
        let s = slot.clone();
        let waker = thread::spawn(move || s.release());
        // A yield point before the drain: without one, loom ran this model once (the drain's
        // relaxed loads made no branch), never letting the wake land before or inside it.
        thread::yield_now();
        home.drain(4).unwrap();
        waker.join().unwrap();
        assert!(
            task.is_finished() || home.notify_pending(),
            "a wake was lost: not run and no notify pending"
        );
        assert!(
            notes.notifies.load(SeqCst) - base <= 1,
            "one wake, one notify at most"
        );
        home.drain(4).unwrap();
        assert!(task.is_finished());
        assert_eq!(drops.load(SeqCst), 1);
        assert_eq!(loom::future::block_on(task), 7);
        drop(home);
        drop(slot);
    });
}

/// A wake on the home thread between drains (it notifies without an atomic read-modify-write,
/// coalesced in the home's local state) races a foreign wake (coalesced in the shared flag) and
/// the drain: both tasks run, and the two sides together notify at most twice.
#[test]
fn home_local_wake_and_foreign_wake_vs_drain() {
    model("home_local_wake_and_foreign_wake_vs_drain", None, || {
        let notes = StdArc::new(Notes::default());
        let drops = StdArc::new(AtomicUsize::new(0));
        let home = home(&notes);
        let (slot_local, task_local) = spawn_pending(&home, &drops);
        let (slot_foreign, task_foreign) = spawn_pending(&home, &drops);
        let base = notes.notifies.load(SeqCst);
        let s = slot_foreign.clone();
        let waker = thread::spawn(move || s.release());
        // A yield point, so that loom also runs the foreign wake before the local one (as in
        // `home_foreign_wake_vs_drain`).
        thread::yield_now();
        slot_local.release();
        assert!(home.notify_pending(), "a wake between drains notifies");
        home.drain(4).unwrap();
        waker.join().unwrap();
        assert!(
            task_foreign.is_finished() || home.notify_pending(),
            "a foreign wake was lost: not run and no notify pending"
        );
        assert!(task_local.is_finished(), "the drain ran the local wake");
        assert!(
            notes.notifies.load(SeqCst) - base <= 2,
            "one notify per side at most"
        );
        home.drain(4).unwrap();
        assert!(task_foreign.is_finished());
        assert_eq!(drops.load(SeqCst), 2);
        assert_eq!(loom::future::block_on(task_local), 7);
        assert_eq!(loom::future::block_on(task_foreign), 7);
        drop(home);
        drop((slot_local, slot_foreign));
    });
}

/// Two tasks woken from two threads while the loop drains: both run, notifies coalesce.
#[test]
fn home_two_foreign_wakes_vs_drain() {
    model("home_two_foreign_wakes_vs_drain", None, || {
        let notes = StdArc::new(Notes::default());
        let drops = StdArc::new(AtomicUsize::new(0));
        let home = home(&notes);
        let (slot_a, task_a) = spawn_pending(&home, &drops);
        let (slot_b, task_b) = spawn_pending(&home, &drops);
        // Each spawn notified once (a home-thread wake outside a drain): count from here.
        let base = notes.notifies.load(SeqCst);
        let (a, b) = (slot_a.clone(), slot_b.clone());
        let t1 = thread::spawn(move || a.release());
        let t2 = thread::spawn(move || b.release());
        home.drain(4).unwrap();
        t1.join().unwrap();
        t2.join().unwrap();
        for task in [&task_a, &task_b] {
            assert!(
                task.is_finished() || home.notify_pending(),
                "a wake was lost"
            );
        }
        // The model drained once: at most one notify before its clear and one after.
        assert!(
            notes.notifies.load(SeqCst) - base <= 2,
            "notify not coalesced"
        );
        home.drain(4).unwrap();
        assert!(task_a.is_finished() && task_b.is_finished());
        drop((task_a, task_b, home, slot_a, slot_b));
        assert_eq!(drops.load(SeqCst), 2);
    });
}

/// One task woken from two threads at once: scheduled once, run, one notify at most.
#[test]
fn home_one_task_woken_from_two_threads() {
    model("home_one_task_woken_from_two_threads", None, || {
        let notes = StdArc::new(Notes::default());
        let drops = StdArc::new(AtomicUsize::new(0));
        let home = home(&notes);
        let (slot, task) = spawn_pending(&home, &drops);
        let base = notes.notifies.load(SeqCst);
        let (a, b) = (slot.clone(), slot.clone());
        let t1 = thread::spawn(move || a.release());
        let t2 = thread::spawn(move || b.release());
        t1.join().unwrap();
        t2.join().unwrap();
        assert!(home.notify_pending());
        assert_eq!(notes.notifies.load(SeqCst) - base, 1);
        assert_eq!(home.drain(4).unwrap().ran, 1, "queued once");
        assert_eq!(loom::future::block_on(task), 7);
        drop((home, slot));
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// A foreign wake races shutdown: the runnable is dropped exactly once (by shutdown if it
/// made the inbox first, by the wake otherwise), notify never runs after the free, nothing
/// leaks.
#[test]
fn home_foreign_wake_vs_shutdown() {
    model("home_foreign_wake_vs_shutdown", None, || {
        let notes = StdArc::new(Notes::default());
        let drops = StdArc::new(AtomicUsize::new(0));
        let home = home(&notes);
        let (slot, task) = spawn_pending(&home, &drops);
        let s = slot.clone();
        let d = drops.clone();
        let waker = thread::spawn(move || {
            let before = d.load(SeqCst);
            s.release();
            before
        });
        drop(home);
        notes.freed.store(true, SeqCst);
        let dropped_before_wake = waker.join().unwrap();
        assert_eq!(dropped_before_wake, 0);
        assert_eq!(drops.load(SeqCst), 1, "dropped exactly once");
        assert_eq!(loom::future::block_on(task.fallible()), None);
        drop(slot);
    });
}

/// A foreign wake pushes while the loop is shutting down and the queue still holds a
/// home-thread wake: both runnables are dropped once, on the home thread or in the late wake.
#[test]
fn home_queued_local_and_foreign_wake_vs_shutdown() {
    model(
        "home_queued_local_and_foreign_wake_vs_shutdown",
        None,
        || {
            let notes = StdArc::new(Notes::default());
            let drops = StdArc::new(AtomicUsize::new(0));
            let home = home(&notes);
            let (slot_a, task_a) = spawn_pending(&home, &drops);
            let (slot_b, task_b) = spawn_pending(&home, &drops);
            slot_a.release(); // a home-thread wake: queued locally
            assert_eq!(drops.load(SeqCst), 0);
            let b = slot_b.clone();
            let waker = thread::spawn(move || b.release());
            drop(home);
            notes.freed.store(true, SeqCst);
            waker.join().unwrap();
            assert_eq!(drops.load(SeqCst), 2);
            assert_eq!(loom::future::block_on(task_a.fallible()), None);
            assert_eq!(loom::future::block_on(task_b.fallible()), None);
            drop((slot_a, slot_b));
        },
    );
}

/// The schedule functions' biased counts (`home/shared_ref.rs`): a reference made on the home
/// thread (no atomic) is dropped on another thread while the home shuts down and merges its
/// count. The shared part is freed exactly once, after both (loom reports a leaked or doubly
/// released `Arc`), whichever comes first.
#[test]
fn home_local_ref_dropped_remotely_vs_shutdown() {
    model("home_local_ref_dropped_remotely_vs_shutdown", None, || {
        let notes = StdArc::new(Notes::default());
        let home = home(&notes);
        let local = home.schedule(); // made on the home thread: a local reference
        let kept = home.schedule(); // another, dropped on the home thread after shutdown
        let other = thread::spawn(move || drop(local));
        drop(home);
        notes.freed.store(true, SeqCst);
        drop(kept);
        other.join().unwrap();
    });
}

/// A task spawned on the home thread (its schedule function a local reference) finishes on
/// another thread's drop of its last handle while the home shuts down: the task and the
/// shared part are freed exactly once, and a reference cloned on that other thread (an `Arc`
/// count) keeps the part alive past the merge.
#[test]
fn home_task_freed_remotely_vs_shutdown() {
    model("home_task_freed_remotely_vs_shutdown", None, || {
        let notes = StdArc::new(Notes::default());
        let drops = StdArc::new(AtomicUsize::new(0));
        let home = home(&notes);
        let (slot, task) = spawn_pending(&home, &drops);
        let schedule = home.schedule();
        let other = thread::spawn(move || {
            let clone = schedule.clone(); // made off the home thread: an `Arc` count
            drop(schedule);
            drop(task); // the task is pending: dropping its handle leaves it to its waker
            clone
        });
        drop(home);
        notes.freed.store(true, SeqCst);
        let clone = other.join().unwrap();
        drop(slot); // the waker goes: the task is freed, on this thread
        assert_eq!(drops.load(SeqCst), 1, "dropped exactly once");
        drop(clone);
    });
}
