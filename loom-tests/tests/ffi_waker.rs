//! The FFI waker bridge of `rawtask::ffi` under loom: a task's FFI waker (the task pointer,
//! whose `TaskVTable` starts with the FFI waker vtable) cloned inside a poll and then woken,
//! woken by reference, or dropped on another thread while the task runs, is cancelled or loses
//! its `Task`; and a foreign Rust waker lent as an FFI waker, cloned into a box and woken from
//! another thread.
//!
//! Each model checks, besides its own assertions, loom's leak and double-free detection of the
//! task allocation (see the harness docs in `src/lib.rs`).
#![cfg(loom)]

use std::collections::VecDeque;
use std::ffi::c_void;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use rawtask::ffi::abi::{
    RawtaskFfiFutureU64, RawtaskFfiPollU64, RAWTASK_FFI_POLL_PENDING, RAWTASK_FFI_POLL_READY,
};
use rawtask::ffi::{ContextExt, FfiContext, FfiFuture, FfiWakerBase};
use rawtask::{Runnable, Task};

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
    stash: Stash,
    fired: Arc<AtomicBool>,
    polls: usize,
    drops: Arc<AtomicUsize>,
}

impl Future for StashFfi {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
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
            Poll::Ready(42)
        } else {
            Poll::Pending
        }
    }
}

impl Drop for StashFfi {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

type Queue = Arc<Mutex<VecDeque<Runnable>>>;

struct Setup {
    queue: Queue,
    stash: Stash,
    fired: Arc<AtomicBool>,
    drops: Arc<AtomicUsize>,
    task: Task<usize>,
}

/// Spawns a `StashFfi` task and runs its first poll (which stashes an FFI clone).
fn setup() -> Setup {
    let queue: Queue = Arc::new(Mutex::new(VecDeque::new()));
    let stash: Stash = Arc::new(Mutex::new(None));
    let fired = Arc::new(AtomicBool::new(false));
    let drops = Arc::new(AtomicUsize::new(0));
    let q = queue.clone();
    let (runnable, task) = rawtask::spawn(
        StashFfi {
            stash: stash.clone(),
            fired: fired.clone(),
            polls: 0,
            drops: drops.clone(),
        },
        move |r| q.lock().unwrap().push_back(r),
    );
    runnable.run();
    Setup {
        queue,
        stash,
        fired,
        drops,
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

/// Runs queued runnables until the queue is empty.
fn drain(queue: &Queue) {
    loop {
        let next = queue.lock().unwrap().pop_front();
        match next {
            Some(r) => {
                r.run();
            }
            None => return,
        }
    }
}

/// An FFI wake by value on another thread races the executor running the task: the task
/// completes exactly once, and the clone's reference is released (no leak).
#[test]
fn ffi_wake_vs_run() {
    loom::model(|| {
        let s = setup();
        let waker = take(&s.stash);
        let fired = s.fired.clone();
        let t = thread::spawn(move || {
            fired.store(true, Ordering::Release);
            waker.wake();
        });
        // The executor: runs until the task finishes (the wake always schedules it, or marks
        // it while it runs).
        while !s.task.is_finished() {
            drain(&s.queue);
            thread::yield_now();
        }
        t.join().unwrap();
        drain(&s.queue);
        assert_eq!(loom::future::block_on(s.task), 42);
        assert_eq!(s.drops.load(Ordering::SeqCst), 1);
    });
}

/// An FFI wake by reference, then the clone's drop, on another thread, racing a run.
#[test]
fn ffi_wake_by_ref_and_drop_vs_run() {
    loom::model(|| {
        let s = setup();
        let waker = take(&s.stash);
        let fired = s.fired.clone();
        let t = thread::spawn(move || {
            fired.store(true, Ordering::Release);
            waker.wake_by_ref();
            waker.drop_waker();
        });
        while !s.task.is_finished() {
            drain(&s.queue);
            thread::yield_now();
        }
        t.join().unwrap();
        drain(&s.queue);
        assert_eq!(loom::future::block_on(s.task), 42);
        assert_eq!(s.drops.load(Ordering::SeqCst), 1);
    });
}

/// The `Task` is dropped (cancelling the idle task, which schedules it once to drop the
/// future) while another thread drops the FFI clone: the future is dropped once, on the
/// executor's side, and the task freed once.
#[test]
fn ffi_drop_vs_task_drop() {
    loom::model(|| {
        let s = setup();
        let waker = take(&s.stash);
        let t = thread::spawn(move || waker.drop_waker());
        drop(s.task);
        drain(&s.queue);
        t.join().unwrap();
        drain(&s.queue);
        assert_eq!(s.drops.load(Ordering::SeqCst), 1);
    });
}

/// An FFI wake by value races the `Task` being dropped: whoever is last frees the task, and
/// the future is dropped exactly once.
#[test]
fn ffi_wake_vs_task_drop() {
    loom::model(|| {
        let s = setup();
        let waker = take(&s.stash);
        let fired = s.fired.clone();
        let t = thread::spawn(move || {
            fired.store(true, Ordering::Release);
            waker.wake();
        });
        drop(s.task);
        drain(&s.queue);
        t.join().unwrap();
        drain(&s.queue);
        assert_eq!(s.drops.load(Ordering::SeqCst), 1);
    });
}

/// FFI clones made on two threads from one clone race each other's drops and a run.
#[test]
fn ffi_clone_vs_drop_vs_run() {
    loom::model(|| {
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
        while !s.task.is_finished() {
            drain(&s.queue);
            thread::yield_now();
        }
        t1.join().unwrap();
        t2.join().unwrap();
        drain(&s.queue);
        assert_eq!(loom::future::block_on(s.task), 42);
        assert_eq!(s.drops.load(Ordering::SeqCst), 1);
    });
}

// ----- a foreign Rust waker lent as an FFI waker -----

/// The state of a future written "in C": its poll function clones the context's waker (for a
/// Rust waker that is not rawtask's, one box) and hands the clone to a thread that wakes it.
struct Foreign {
    started: bool,
    fired: Arc<AtomicBool>,
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
/// wake is lost and the box is freed by the wake.
#[test]
fn foreign_rust_waker_clone_wake_vs_poll() {
    loom::model(|| {
        let state = Box::new(Foreign {
            started: false,
            fired: Arc::new(AtomicBool::new(false)),
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
    });
}
