//! One task through rawtask's C callback path, built twice: into a shared library (`cdylib`,
//! the way a Python extension or a C program's plugin gets rawtask) and into the benchmark
//! program itself (`rlib`). `benches/benches/ab.rs`, group `cdylib`, times one against the
//! other.
//!
//! The code is the same; what differs is how it reaches a thread-local. Linked into a program,
//! a thread-local is an offset from the thread pointer. In a shared library it is found through
//! a call to `__tls_get_addr`, and rawtask's core reads one on every run and on every wake by
//! reference (`src/raw/current.rs`, raw rule 17).

use std::cell::Cell;
use std::ffi::c_void;
use std::future::Future;
use std::hint::black_box;
use std::pin::{pin, Pin};
use std::ptr::null_mut;
use std::task::{Context, Poll, Waker};

use rawtask::capi::{
    rawtask_runnable_run, rawtask_runnable_schedule, RawtaskRunnable, RawtaskSchedule,
};

/// Where the schedule function puts the runnable: a slot on [`spawn_run_join`]'s stack (its
/// task is woken at most once per run), so that the only thread-local either build reads is
/// rawtask's own.
type Slot = Cell<*mut RawtaskRunnable>;

/// The C schedule function: `context` is the caller's [`Slot`].
unsafe extern "C" fn to_slot(context: *mut c_void, runnable: *mut RawtaskRunnable, _: u32) {
    // SAFETY: `spawn_run_join` passes its slot, which outlives the task; the task never
    // leaves the thread.
    let slot = unsafe { &*context.cast::<Slot>() };
    slot.set(runnable);
}

/// Pending `n` times, waking itself each time, then ready.
struct Yields(u64);

impl Future for Yields {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 == 0 {
            return Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Spawns a task that yields `yields` times with a C schedule function, runs it to completion
/// with `rawtask_runnable_run` (`yields + 1` runs) and takes its output.
#[inline(never)]
pub fn spawn_run_join(yields: u64) {
    let slot: Slot = Cell::new(null_mut());
    let context = (&slot as *const Slot).cast_mut().cast();
    // SAFETY: `to_slot` with a slot that outlives the task (it completes below), on this
    // thread only (the task never leaves it).
    let schedule = unsafe { RawtaskSchedule::new(to_slot, context) };
    let (runnable, task) = rawtask::spawn(Yields(yields), schedule);
    let runnable = RawtaskRunnable::from_runnable(runnable).as_ptr();
    // SAFETY: a fresh runnable, consumed once; then each one the schedule function left in
    // the slot, each taken out and consumed once.
    unsafe {
        black_box(rawtask_runnable_schedule(runnable));
        loop {
            let next = slot.replace(null_mut());
            if next.is_null() {
                break;
            }
            black_box(rawtask_runnable_run(next));
        }
    }
    let mut task = pin!(task);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        task.as_mut().poll(&mut cx).is_ready(),
        "the task ran to completion"
    );
}

/// [`spawn_run_join`], exported for the benchmark to call in the shared library.
#[no_mangle]
pub extern "C" fn rawtask_bench_spawn_run_join(yields: u64) {
    spawn_run_join(yields);
}
