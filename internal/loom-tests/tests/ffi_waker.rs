//! The FFI waker bridge of `rawtask::ffi` under loom: a task's FFI waker (the task pointer,
//! whose `TaskVTable` starts with the FFI waker vtable) cloned inside a poll and then woken,
//! woken by reference, or dropped on another thread while the task runs, is cancelled or loses
//! its `Task`; and a foreign Rust waker lent as an FFI waker, cloned into a box and woken from
//! another thread.
//!
//! The task models run on the harness (`src/lib.rs`): the task is spawned with the harness's
//! data slot and counting `WithInfo` schedule function, its future holds a `FutureGuard` and
//! completes with the harness's `Output`, and `Harness::finish` checks that the future, the data slot,
//! the output and the schedule function are each dropped exactly once, that the output reaches
//! the `Task` exactly once (or never, where the `Task` is dropped), and `woken_while_running`;
//! loom's allocation tracker checks that the task is freed (no leak, no double free). Every
//! model runs at the suite's deeper bound (`deep()`).
#![cfg(loom)]

use std::ffi::c_void;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering::SeqCst};
use std::sync::Arc as StdArc;
use std::task::{Context, Poll};

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use loom_tests::Delivery::{Never, Once};
use loom_tests::{deep, loom, model, FutureGuard, Harness, Kind, ModelTask, Output, Spawn, VALUE};
use rawtask::ffi::abi::{
    RawtaskFfiFutureU64, RawtaskFfiPollU64, RAWTASK_FFI_POLL_PENDING, RAWTASK_FFI_POLL_READY,
};
use rawtask::ffi::{ContextExt, FfiContext, FfiFuture, FfiWakerBase};

/// An owned FFI waker handed to another thread.
struct SendWaker(*const FfiWakerBase);
// SAFETY: FFI wakers are thread-safe by contract.
unsafe impl Send for SendWaker {}

impl SendWaker {
    fn wake(self) {
        // SAFETY: an owned waker, consumed once.
        unsafe { ((*(*self.0).vtable).wake)(self.0) }
    }
    fn wake_by_ref(&self) {
        // SAFETY: a live waker.
        unsafe { ((*(*self.0).vtable).wake_by_ref)(self.0) }
    }
    fn drop_waker(self) {
        // SAFETY: an owned waker, consumed once.
        unsafe { ((*(*self.0).vtable).drop)(self.0) }
    }
}

type Stash = Arc<Mutex<Option<SendWaker>>>;

/// First poll: clones the task's waker through the FFI vtable (the task pointer, borrowed by
/// `with_ffi_context`) and stashes the clone; later polls: ready once `fired` is set.
struct StashFfi {
    h: Harness,
    stash: Stash,
    fired: Arc<AtomicBool>,
    polls: usize,
    _guard: FutureGuard,
}

impl Future for StashFfi {
    type Output = Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Output> {
        self.polls += 1;
        if self.polls == 1 {
            let clone = cx.with_ffi_context(|cx| {
                let waker = cx.raw_waker();
                // SAFETY: the context lends a live FFI waker; `clone` returns an owned one.
                unsafe { ((*(*waker).vtable).clone)(waker) }
            });
            *self.stash.lock().unwrap() = Some(SendWaker(clone));
            return Poll::Pending;
        }
        if self.fired.load(Ordering::Acquire) {
            Poll::Ready(self.h.output())
        } else {
            Poll::Pending
        }
    }
}

struct Setup {
    h: Harness,
    stash: Stash,
    fired: Arc<AtomicBool>,
    task: ModelTask,
}

/// Spawns a `StashFfi` task and runs its first poll (which stashes an FFI clone).
fn setup() -> Setup {
    let mut h = Harness::new();
    let stash: Stash = Arc::new(Mutex::new(None));
    let fired = Arc::new(AtomicBool::new(false));
    let future = StashFfi {
        h: h.clone(),
        stash: stash.clone(),
        fired: fired.clone(),
        polls: 0,
        _guard: h.future_guard(),
    };
    // `Stash1` describes it: pending once, leaving a waker outside, then ready.
    let (runnable, task) = h.spawn_with(Spawn::new(Kind::Stash1), future);
    h.run(runnable);
    Setup {
        h,
        stash,
        fired,
        task,
    }
}

fn take(stash: &Stash) -> SendWaker {
    stash
        .lock()
        .unwrap()
        .take()
        .expect("the first poll stashed a clone")
}

/// The executor: runs the queue until the task finishes (every wake schedules the task, or
/// marks it while it runs).
fn run_until_finished(h: &Harness, task: &ModelTask) {
    while !task.is_finished() {
        h.drain();
        thread::yield_now();
    }
}

/// An FFI wake by value on another thread races the executor running the task: the task
/// completes exactly once, and the clone's reference is released (no leak).
#[test]
fn ffi_wake_vs_run() {
    model("ffi_wake_vs_run", deep(), || {
        let s = setup();
        let waker = take(&s.stash);
        let fired = s.fired.clone();
        let t = thread::spawn(move || {
            fired.store(true, Ordering::Release);
            waker.wake();
        });
        run_until_finished(&s.h, &s.task);
        t.join().unwrap();
        assert_eq!(s.h.finish(Some(s.task), Once), Some(VALUE));
    });
}

/// An FFI wake by reference, then the clone's drop, on another thread, racing a run.
#[test]
fn ffi_wake_by_ref_and_drop_vs_run() {
    model("ffi_wake_by_ref_and_drop_vs_run", deep(), || {
        let s = setup();
        let waker = take(&s.stash);
        let fired = s.fired.clone();
        let t = thread::spawn(move || {
            fired.store(true, Ordering::Release);
            waker.wake_by_ref();
            waker.drop_waker();
        });
        run_until_finished(&s.h, &s.task);
        t.join().unwrap();
        assert_eq!(s.h.finish(Some(s.task), Once), Some(VALUE));
    });
}

/// The `Task` is dropped (cancelling the idle task, which schedules it once to drop the
/// future) while another thread drops the FFI clone: the future is dropped once, on the
/// executor's side, and the task freed once.
#[test]
fn ffi_drop_vs_task_drop() {
    model("ffi_drop_vs_task_drop", deep(), || {
        let s = setup();
        let waker = take(&s.stash);
        let t = thread::spawn(move || waker.drop_waker());
        drop(s.task);
        s.h.drain();
        t.join().unwrap();
        s.h.finish(None, Never);
    });
}

/// An FFI wake by value races the `Task` being dropped: whoever is last frees the task, and
/// the future is dropped exactly once (the output, if the wake's run completed the task
/// before the cancellation, too).
#[test]
fn ffi_wake_vs_task_drop() {
    model("ffi_wake_vs_task_drop", deep(), || {
        let s = setup();
        let waker = take(&s.stash);
        let fired = s.fired.clone();
        let t = thread::spawn(move || {
            fired.store(true, Ordering::Release);
            waker.wake();
        });
        drop(s.task);
        s.h.drain();
        t.join().unwrap();
        s.h.finish(None, Never);
    });
}

/// FFI clones made on two threads from one clone race each other's drops and a run.
#[test]
fn ffi_clone_vs_drop_vs_run() {
    model("ffi_clone_vs_drop_vs_run", deep(), || {
        let s = setup();
        let first = take(&s.stash);
        // SAFETY: `first` is a live owned waker; the clone is owned by the thread.
        let second = SendWaker(unsafe { ((*(*first.0).vtable).clone)(first.0) });
        let fired = s.fired.clone();
        let t1 = thread::spawn(move || first.drop_waker());
        let t2 = thread::spawn(move || {
            fired.store(true, Ordering::Release);
            second.wake();
        });
        run_until_finished(&s.h, &s.task);
        t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(s.h.finish(Some(s.task), Once), Some(VALUE));
    });
}

// ----- a foreign Rust waker lent as an FFI waker -----

/// The state of a future written "in C": its poll function clones the context's waker (for a
/// Rust waker that is not rawtask's, one box) and hands the clone to a thread that wakes it.
struct Foreign {
    started: bool,
    fired: Arc<AtomicBool>,
    /// Counts the state's drops (by `foreign_drop`): exactly one per execution.
    drops: StdArc<StdAtomicUsize>,
}

impl Drop for Foreign {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

unsafe extern "C" fn foreign_poll(
    state: *mut c_void,
    cx: *mut FfiContext<'_>,
) -> RawtaskFfiPollU64 {
    // SAFETY: the state is the `Foreign` box made below; polls never overlap.
    let state = unsafe { &mut *state.cast::<Foreign>() };
    if state.fired.load(Ordering::Acquire) {
        return RawtaskFfiPollU64 {
            tag: RAWTASK_FFI_POLL_READY,
            ready: 7,
        };
    }
    if !state.started {
        state.started = true;
        // SAFETY: the context lends a live waker; the clone is owned by the thread.
        let clone = SendWaker(unsafe {
            let waker = (*cx).raw_waker();
            ((*(*waker).vtable).clone)(waker)
        });
        let fired = state.fired.clone();
        thread::spawn(move || {
            fired.store(true, Ordering::Release);
            clone.wake();
        });
    }
    RawtaskFfiPollU64 {
        tag: RAWTASK_FFI_POLL_PENDING,
        ready: 0,
    }
}

unsafe extern "C" fn foreign_drop(state: *mut c_void) {
    // SAFETY: the box made below, freed once.
    drop(unsafe { Box::from_raw(state.cast::<Foreign>()) });
}

/// loom's `block_on` waker is lent to the foreign future as a stack `BorrowedRustWaker`; its
/// clone (a boxed `OwnedRustWaker`) is woken from another thread, racing the next poll: no
/// wake is lost (a lost one deadlocks `block_on`), the output arrives exactly once, the
/// foreign state is dropped exactly once, and the box is freed by the wake.
#[test]
fn foreign_rust_waker_clone_wake_vs_poll() {
    model("foreign_rust_waker_clone_wake_vs_poll", deep(), || {
        let drops = StdArc::new(StdAtomicUsize::new(0));
        let state = Box::new(Foreign {
            started: false,
            fired: Arc::new(AtomicBool::new(false)),
            drops: drops.clone(),
        });
        let raw = RawtaskFfiFutureU64 {
            fut_ptr: Box::into_raw(state).cast(),
            poll_fn: foreign_poll,
            drop_fn: foreign_drop,
        };
        // SAFETY: the C view has the layout of `FfiFuture<u64>` and the functions keep the
        // ABI's rules.
        let future: FfiFuture<u64> = unsafe { std::mem::transmute(raw) };
        assert_eq!(loom::future::block_on(future), 7);
        assert_eq!(
            drops.load(SeqCst),
            1,
            "the foreign state is dropped exactly once"
        );
    });
}
