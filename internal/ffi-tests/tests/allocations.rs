//! Cloning the waker inside an FFI future allocates nothing when the waker belongs to a
//! rawtask task — through rawtask's own FFI futures and through async-ffi's, since the task
//! pointer is the FFI waker — and exactly one allocation per clone for any other waker.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use common::{count_allocations, CountingAlloc};
use rawtask::ffi::{FfiFuture, FutureExt};
use rawtask::Runnable;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const POLLS: usize = 50;

/// Pending `POLLS - 1` times; each poll clones the waker and wakes the clone (by value).
struct CloneEveryPoll(usize);

impl Future for CloneEveryPoll {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        self.0 += 1;
        if self.0 == POLLS {
            return Poll::Ready(self.0);
        }
        let waker = cx.waker().clone();
        waker.wake();
        Poll::Pending
    }
}

thread_local! {
    static SLOT: Cell<Option<Runnable>> = const { Cell::new(None) };
}

/// Spawns `future` (allocating the task), then runs it to completion on this thread through a
/// one-slot queue, counting the allocations made by the runs alone.
fn allocations_while_running(future: impl Future<Output = usize> + Send + 'static) -> usize {
    let (runnable, task) = rawtask::spawn(future, |r| SLOT.set(Some(r)));
    runnable.schedule();
    let ((), allocations) = count_allocations(|| {
        while let Some(runnable) = SLOT.take() {
            runnable.run();
        }
    });
    assert!(task.is_finished());
    assert_eq!(futures_lite::future::block_on(task), POLLS);
    allocations
}

#[test]
fn rawtask_ffi_future_in_a_rawtask_task() {
    let future = CloneEveryPoll(0).into_ffi();
    assert_eq!(allocations_while_running(future), 0);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "calls a function through a pointer to another crate's (layout-identical) type, which Miri rejects by its nominal ABI rules"
)]
fn async_ffi_future_in_a_rawtask_task() {
    // async-ffi's poll function wraps the FFI waker it is given (the task pointer) in a Rust
    // waker whose clone calls the task's FFI `clone`: a reference count increment.
    let future = async_ffi::FutureExt::into_ffi(CloneEveryPoll(0));
    // SAFETY: the layouts are the same (tests/async_ffi_compat.rs).
    let future: FfiFuture<usize> = unsafe { std::mem::transmute(future) };
    assert_eq!(allocations_while_running(future), 0);
}

#[test]
fn two_rawtask_layers_in_a_rawtask_task() {
    let inner = CloneEveryPoll(0).into_ffi();
    #[allow(clippy::redundant_async_block)] // two FFI layers on purpose
    let future = async move { inner.await }.into_ffi();
    assert_eq!(allocations_while_running(future), 0);
}

/// A waker that is not rawtask's: an `Arc` whose clone does not allocate.
struct Flag(AtomicUsize);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Polls `future` to completion with `waker`, counting the polls and the allocations.
fn poll_with(waker: &Waker, mut future: FfiFuture<usize>) -> (usize, usize) {
    let mut cx = Context::from_waker(waker);
    count_allocations(|| {
        let mut polls = 0;
        loop {
            polls += 1;
            if Pin::new(&mut future).poll(&mut cx).is_ready() {
                return polls;
            }
        }
    })
}

#[test]
#[cfg_attr(
    miri,
    ignore = "calls a function through a pointer to another crate's (layout-identical) type, which Miri rejects by its nominal ABI rules"
)]
fn other_wakers_cost_one_allocation_per_clone() {
    // The future is made by another FFI library (async-ffi here; the Rust plugin of
    // tests/boundaries.rs behaves the same): the Rust waker is lent on the stack, and each
    // clone the future makes is one box, freed by its wake.
    let flag = Arc::new(Flag(AtomicUsize::new(0)));
    let waker = Waker::from(flag.clone());
    let future = async_ffi::FutureExt::into_ffi(CloneEveryPoll(0));
    // SAFETY: the layouts are the same.
    let future: FfiFuture<usize> = unsafe { std::mem::transmute(future) };
    let (polls, allocations) = poll_with(&waker, future);
    assert_eq!(polls, POLLS);
    assert_eq!(allocations, POLLS - 1); // the last poll clones nothing
    assert_eq!(flag.0.load(Ordering::SeqCst), POLLS - 1);
}

#[test]
fn other_wakers_lent_to_this_copy_of_rawtask_are_used_as_they_are() {
    // When the future was made by this copy of rawtask, the lent Rust waker is recognised and
    // handed to the future as it is: its own clone (here an `Arc` increment) is the only cost.
    let flag = Arc::new(Flag(AtomicUsize::new(0)));
    let waker = Waker::from(flag.clone());
    let (polls, allocations) = poll_with(&waker, CloneEveryPoll(0).into_ffi());
    assert_eq!(polls, POLLS);
    assert_eq!(allocations, 0);
    assert_eq!(flag.0.load(Ordering::SeqCst), POLLS - 1);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "calls a function through a pointer to another crate's (layout-identical) type, which Miri rejects by its nominal ABI rules"
)]
fn async_ffi_allocates_per_clone_even_for_rawtask_tasks() {
    // The comparison point: async-ffi's awaiting side lends the task's waker through a box
    // per clone.
    let future = CloneEveryPoll(0).into_ffi();
    // SAFETY: the layouts are the same.
    let future: async_ffi::FfiFuture<usize> = unsafe { std::mem::transmute(future) };
    assert_eq!(allocations_while_running(future), POLLS - 1);
}
