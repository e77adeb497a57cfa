//! What the three fuzz targets share: a global allocator that counts live allocations (the
//! leak check of every input), a panic hook that keeps expected panics quiet, and the warm-up
//! that makes the count exact.
//!
//! The leak check: the live allocation count after an input must equal the count before it.
//! Things the standard library allocates once per process (the current thread's handle, the
//! panic machinery, thread-local destructor lists) and tables that keep their capacity (the C
//! API's handle tables) would make the first inputs look leaky, so each target runs a warm-up
//! input of its own that touches all of them before the first real input is measured.

#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicIsize, Ordering::SeqCst};
use std::sync::Once;

/// Live allocations of the whole process.
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// `System`, counting live allocations.
pub struct Counting;

// SAFETY: forwards every call to `System` unchanged; the counter has no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(1, SeqCst);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(1, SeqCst);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(1, SeqCst);
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded from the caller; a reallocation keeps the count.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Live allocations now.
pub fn live() -> isize {
    LIVE.load(SeqCst)
}

thread_local! {
    /// Panics on this thread are expected (a scripted future's) and not printed.
    static QUIET: Cell<usize> = const { Cell::new(0) };
}

/// Runs `f`, catching a panic the input asked for, without printing it.
pub fn catch_quietly<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    QUIET.with(|q| q.set(q.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(q.get() - 1));
    result
}

/// Installs the quiet hook (once): panics inside [`catch_quietly`] print nothing; any other
/// panic goes to the previous hook (libfuzzer-sys's, which reports it as a crash).
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.with(|q| q.get()) == 0 {
                previous(info);
            }
        }));
    });
}

/// Runs one input with the leak check: `warm_up` once before the first measured input (see
/// the module docs), then `input`, after which every allocation it made must be freed.
pub fn leak_checked(warm_up: impl FnOnce(), input: impl FnOnce()) {
    static WARM: Once = Once::new();
    init();
    WARM.call_once(warm_up);
    let before = live();
    input();
    let after = live();
    assert_eq!(
        after,
        before,
        "the input leaked {} allocations (or freed ones it did not make)",
        after - before
    );
}
