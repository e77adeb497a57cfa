//! Coverage-guided fuzzing of the FFI future layer (`rawtask::ffi`), in both directions.
//!
//! - **Foreign futures awaited by rawtask.** A future "from C" (the C view
//!   `RawtaskFfiFutureU64`, as a C plugin builds it) whose poll function returns, at each poll,
//!   the tag and payload the input chose (any `u8` tag), after doing what the input chose with
//!   the context's waker and the clones it keeps: clone, wake, wake by reference, drop, in any
//!   order. rawtask awaits it with `try_poll` or as a `Future` (catching the panic), lending a
//!   counting Rust waker, or from inside a rawtask task (the task pointer is the FFI waker).
//!   Checked: tags 0/1 give `Ready(payload)`/`Pending`, 2 gives `PollPanicked` without a
//!   message, any other tag the documented "invalid tag N" error; after an error the poll
//!   function is never called again ("polled again"); every foreign wake reaches the Rust waker
//!   exactly once; the future is dropped exactly once; no waker clone leaks.
//! - **rawtask futures polled by a foreign host.** A Rust future (`into_ffi`) that clones,
//!   keeps, wakes and drops its waker and may panic, polled through its raw poll function with a
//!   reference-counted foreign waker. Checked: every Rust wake reaches the host exactly once,
//!   every clone is released, a panic comes back as tag 2 with a panic note whose message the
//!   host reads and releases.
//! - `RawtaskFfiPoll::into_ffi_poll` and `FfiPoll::try_into_poll` with any tag.
//!
//! Plus the counting allocator's leak check over each input.

#![no_main]

mod common;

use std::ffi::c_void;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use rawtask::ffi::abi::{
    RawtaskFfiFutureU64, RawtaskFfiPanicNote, RawtaskFfiPoll, RawtaskFfiPollU64,
    RAWTASK_FFI_PANIC_NOTE_MAGIC,
};
use rawtask::ffi::{FfiContext, FfiFuture, FfiPoll, FfiWakerBase, FfiWakerVTable, FutureExt};

use common::catch_quietly;

#[global_allocator]
static ALLOC: common::Counting = common::Counting;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum WakerOp {
    CloneContext,
    WakeByRefContext,
    Wake(u8),
    WakeByRef(u8),
    Drop(u8),
    Clone(u8),
}

#[derive(Arbitrary, Debug, Clone)]
struct Step {
    tag: u8,
    payload: u64,
    ops: Vec<WakerOp>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Awaiter {
    TryPoll,
    AsFuture,
    InTask,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum RustOp {
    Ready(u64),
    Pending,
    WakeByRef,
    Keep,
    WakeKept(u8),
    WakeKeptByRef(u8),
    DropKept(u8),
    Panic,
}

#[derive(Arbitrary, Debug, Clone)]
enum Case {
    Foreign {
        steps: Vec<Step>,
        awaiter: Awaiter,
        polls: u8,
    },
    Host {
        ops: Vec<RustOp>,
        polls: u8,
    },
    Convert {
        tag: u8,
        payload: u64,
    },
}

// ----- a future "from C" -----

/// The state behind a foreign future's `fut_ptr`.
struct Foreign {
    steps: Vec<Step>,
    polls: usize,
    kept: Vec<*const FfiWakerBase>,
    /// Wakes (by value or by reference) the foreign side performed.
    wakes: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

/// Calls an FFI waker's function, as C does.
///
/// # Safety
/// `waker` is a live FFI waker; `f` picks the function the caller may call on it.
unsafe fn vt(waker: *const FfiWakerBase) -> &'static FfiWakerVTable {
    // SAFETY: forwarded from the caller; vtables are static.
    unsafe { &*(*waker).vtable }
}

unsafe extern "C" fn foreign_poll(fut: *mut c_void, cx: *mut FfiContext<'_>) -> RawtaskFfiPollU64 {
    // SAFETY: `fut` is the `Foreign` box `foreign` made; calls never overlap.
    let state = unsafe { &mut *fut.cast::<Foreign>() };
    state.calls.fetch_add(1, SeqCst);
    if state.steps.is_empty() {
        return RawtaskFfiPollU64 { tag: 1, ready: 0 };
    }
    let step = &state.steps[state.polls % state.steps.len()];
    state.polls += 1;
    // SAFETY: the context and its waker are lent for this call.
    let cxw = unsafe { (*cx).raw_waker() };
    for op in &step.ops {
        let pick = |i: u8, n: usize| usize::from(i) % n;
        // SAFETY: every waker used is the context's (borrowed: clone and wake_by_ref only)
        // or an owned clone in `kept`, consumed at most once.
        unsafe {
            match *op {
                WakerOp::CloneContext => state.kept.push((vt(cxw).clone)(cxw)),
                WakerOp::WakeByRefContext => {
                    (vt(cxw).wake_by_ref)(cxw);
                    state.wakes.fetch_add(1, SeqCst);
                }
                WakerOp::Wake(i) if !state.kept.is_empty() => {
                    let w = state.kept.swap_remove(pick(i, state.kept.len()));
                    (vt(w).wake)(w);
                    state.wakes.fetch_add(1, SeqCst);
                }
                WakerOp::WakeByRef(i) if !state.kept.is_empty() => {
                    let w = state.kept[pick(i, state.kept.len())];
                    (vt(w).wake_by_ref)(w);
                    state.wakes.fetch_add(1, SeqCst);
                }
                WakerOp::Drop(i) if !state.kept.is_empty() => {
                    let w = state.kept.swap_remove(pick(i, state.kept.len()));
                    (vt(w).drop)(w);
                }
                WakerOp::Clone(i) if !state.kept.is_empty() => {
                    let w = state.kept[pick(i, state.kept.len())];
                    state.kept.push((vt(w).clone)(w));
                }
                _ => {}
            }
        }
    }
    RawtaskFfiPollU64 {
        tag: step.tag,
        ready: step.payload,
    }
}

unsafe extern "C" fn foreign_drop(fut: *mut c_void) {
    // SAFETY: the box `foreign` made, dropped once.
    let state = unsafe { Box::from_raw(fut.cast::<Foreign>()) };
    for w in &state.kept {
        // SAFETY: an owned clone, released once.
        unsafe { (vt(*w).drop)(*w) };
    }
    state.drops.fetch_add(1, SeqCst);
}

struct Probes {
    wakes: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

fn foreign(steps: Vec<Step>) -> (FfiFuture<u64>, Probes) {
    let probes = Probes {
        wakes: Arc::default(),
        drops: Arc::default(),
        calls: Arc::default(),
    };
    let state = Box::new(Foreign {
        steps,
        polls: 0,
        kept: Vec::new(),
        wakes: probes.wakes.clone(),
        drops: probes.drops.clone(),
        calls: probes.calls.clone(),
    });
    let raw = RawtaskFfiFutureU64 {
        fut_ptr: Box::into_raw(state).cast(),
        poll_fn: foreign_poll,
        drop_fn: foreign_drop,
    };
    // SAFETY: the C view has the layout of `FfiFuture<u64>` (asserted by rawtask); the
    // functions keep the ABI's ownership rules, whatever tag they return.
    (
        unsafe { std::mem::transmute::<RawtaskFfiFutureU64, FfiFuture<u64>>(raw) },
        probes,
    )
}

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// What one poll of a foreign future must give, from the tag it returned.
fn check_result(result: &Result<Poll<u64>, rawtask::ffi::PollPanicked>, tag: u8, payload: u64) {
    match (tag, result) {
        (0, Ok(Poll::Ready(v))) => assert_eq!(*v, payload),
        (1, Ok(Poll::Pending)) => {}
        (2, Err(e)) => assert_eq!(e.message(), None, "a foreign panic has no note"),
        (t, Err(e)) if t > 2 => {
            let m = e.message().expect("an invalid tag's error has a message");
            assert!(m.contains(&format!("invalid tag {t}")), "{m}");
        }
        (t, r) => panic!("tag {t} gave {r:?}"),
    }
}

fn foreign_case(steps: Vec<Step>, awaiter: Awaiter, polls: u8) {
    let script: Vec<(u8, u64)> = steps.iter().map(|s| (s.tag, s.payload)).collect();
    let expected = |n: usize| {
        if script.is_empty() {
            (1, 0)
        } else {
            script[n % script.len()]
        }
    };
    let (mut future, probes) = foreign(steps);
    let counting = Arc::new(CountingWaker(AtomicUsize::new(0)));
    match awaiter {
        Awaiter::TryPoll | Awaiter::AsFuture => {
            let waker = Waker::from(counting.clone());
            let mut cx = Context::from_waker(&waker);
            let mut failed = false;
            for _ in 0..polls {
                let calls = probes.calls.load(SeqCst);
                let result = if let Awaiter::TryPoll = awaiter {
                    future.try_poll(&mut cx)
                } else {
                    match catch_quietly(|| Pin::new(&mut future).poll(&mut cx)) {
                        Ok(p) => Ok(p),
                        Err(payload) => {
                            let m = payload
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                                .expect("a panic without a message");
                            assert!(m.starts_with("FFI future panicked"), "{m}");
                            let inner = m.strip_prefix("FFI future panicked: ").map(str::to_string);
                            // Rebuild the error the way `try_poll` reports it, for the checks.
                            Err(rawtask_error(inner))
                        }
                    }
                };
                if failed {
                    assert_eq!(
                        probes.calls.load(SeqCst),
                        calls,
                        "polled again after an error"
                    );
                    let m = result
                        .expect_err("a poll after an error succeeded")
                        .message()
                        .map(str::to_string);
                    assert!(m.unwrap().contains("polled again"));
                    continue;
                }
                let (tag, payload) = expected(calls);
                check_result(&result, tag, payload);
                failed = result.is_err();
            }
        }
        Awaiter::InTask => {
            let queue: Arc<Mutex<Vec<rawtask::Runnable>>> = Arc::default();
            let q = queue.clone();
            let (runnable, task) = rawtask::spawn(
                async move {
                    let mut n = 0;
                    std::future::poll_fn(|cx| {
                        n += 1;
                        match future.try_poll(cx) {
                            Ok(Poll::Pending) if n < usize::from(polls) => Poll::Pending,
                            Ok(p) => Poll::Ready(Some(p)),
                            Err(_) => Poll::Ready(None),
                        }
                    })
                    .await
                },
                move |r| q.lock().unwrap().push(r),
            );
            runnable.schedule();
            // Each run polls once; a foreign wake reschedules. Run what is queued, a bounded
            // number of times, then drop the rest (cancelling the task if it is unfinished).
            for _ in 0..usize::from(polls) + 1 {
                let next = queue.lock().unwrap().pop();
                match next {
                    Some(r) => {
                        r.run();
                    }
                    None => break,
                }
            }
            drop(task);
            loop {
                let rest: Vec<_> = std::mem::take(&mut *queue.lock().unwrap());
                if rest.is_empty() {
                    break;
                }
                drop(rest);
            }
            assert_eq!(
                probes.drops.load(SeqCst),
                1,
                "the foreign future was not dropped once"
            );
            return;
        }
    }
    drop(future);
    assert_eq!(
        probes.drops.load(SeqCst),
        1,
        "the foreign future was not dropped once"
    );
    assert_eq!(
        counting.0.load(SeqCst),
        probes.wakes.load(SeqCst),
        "foreign wakes and Rust wakes differ"
    );
    assert_eq!(Arc::strong_count(&counting), 1, "a waker clone leaked");
}

/// A `PollPanicked` with `message`, made the way rawtask makes them (through a panicking FFI
/// future's note), so that `Future::poll`'s panic can be checked like `try_poll`'s error.
fn rawtask_error(message: Option<String>) -> rawtask::ffi::PollPanicked {
    match message {
        None => FfiPoll::<()>::Panicked.try_into_poll().unwrap_err(),
        Some(m) => {
            let mut f = async move { std::panic::panic_any(m) }.into_ffi();
            let waker = Waker::noop();
            catch_quietly(|| f.try_poll(&mut Context::from_waker(waker)))
                .expect("try_poll unwound")
                .unwrap_err()
        }
    }
}

// ----- a rawtask future polled by a foreign host -----

/// The host's waker: reference-counted, counting wakes.
#[repr(C)]
struct HostWaker {
    base: FfiWakerBase,
    refs: AtomicUsize,
    wakes: AtomicUsize,
}

static HOST_VTABLE: FfiWakerVTable = FfiWakerVTable {
    clone: host_clone,
    wake: host_wake,
    wake_by_ref: host_wake_by_ref,
    drop: host_drop,
};

unsafe extern "C" fn host_clone(w: *const FfiWakerBase) -> *const FfiWakerBase {
    // SAFETY: the host waker outlives every clone (checked: refs back to 1 at the end).
    unsafe { &*w.cast::<HostWaker>() }.refs.fetch_add(1, SeqCst);
    w
}

unsafe extern "C" fn host_wake(w: *const FfiWakerBase) {
    // SAFETY: as in `host_clone`.
    let h = unsafe { &*w.cast::<HostWaker>() };
    h.wakes.fetch_add(1, SeqCst);
    assert!(
        h.refs.fetch_sub(1, SeqCst) > 1,
        "the host's own reference was consumed"
    );
}

unsafe extern "C" fn host_wake_by_ref(w: *const FfiWakerBase) {
    // SAFETY: as in `host_clone`.
    unsafe { &*w.cast::<HostWaker>() }
        .wakes
        .fetch_add(1, SeqCst);
}

unsafe extern "C" fn host_drop(w: *const FfiWakerBase) {
    // SAFETY: as in `host_clone`.
    let h = unsafe { &*w.cast::<HostWaker>() };
    assert!(
        h.refs.fetch_sub(1, SeqCst) > 1,
        "the host's own reference was consumed"
    );
}

struct Scripted {
    ops: Vec<RustOp>,
    at: usize,
    kept: Vec<Waker>,
    wakes: Arc<AtomicUsize>,
}

impl Future for Scripted {
    type Output = u64;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        let this = &mut *self;
        while this.at < this.ops.len() {
            let op = this.ops[this.at];
            this.at += 1;
            let n = this.kept.len();
            match op {
                RustOp::Ready(v) => return Poll::Ready(v),
                RustOp::Pending => return Poll::Pending,
                RustOp::WakeByRef => {
                    cx.waker().wake_by_ref();
                    this.wakes.fetch_add(1, SeqCst);
                }
                RustOp::Keep => this.kept.push(cx.waker().clone()),
                RustOp::WakeKept(i) if n > 0 => {
                    this.kept.swap_remove(usize::from(i) % n).wake();
                    this.wakes.fetch_add(1, SeqCst);
                }
                RustOp::WakeKeptByRef(i) if n > 0 => {
                    this.kept[usize::from(i) % n].wake_by_ref();
                    this.wakes.fetch_add(1, SeqCst);
                }
                RustOp::DropKept(i) if n > 0 => drop(this.kept.swap_remove(usize::from(i) % n)),
                RustOp::Panic => panic!("scripted panic"),
                _ => {}
            }
        }
        Poll::Pending
    }
}

fn host_case(ops: Vec<RustOp>, polls: u8) {
    let wakes = Arc::new(AtomicUsize::new(0));
    let future = Scripted {
        ops,
        at: 0,
        kept: Vec::new(),
        wakes: wakes.clone(),
    }
    .into_ffi();
    // SAFETY: `FfiFuture<u64>` has the C view's layout; the host owns it from here and calls
    // its functions by the ABI.
    let raw: RawtaskFfiFutureU64 = unsafe { std::mem::transmute(future) };
    let host = HostWaker {
        base: FfiWakerBase {
            vtable: &HOST_VTABLE,
        },
        refs: AtomicUsize::new(1),
        wakes: AtomicUsize::new(0),
    };
    let lent: *const FfiWakerBase = &host.base;
    for _ in 0..polls {
        // SAFETY: the host lends its waker for the call.
        let mut cx = unsafe { FfiContext::from_raw(lent) };
        // SAFETY: the future's own poll function, never concurrently, before its drop.
        let result = catch_quietly(|| unsafe { (raw.poll_fn)(raw.fut_ptr, &mut cx) })
            .expect("an FFI poll function unwound");
        match result.tag {
            0 | 1 => assert_eq!(cx.raw_waker(), lent, "the context's waker changed"),
            2 => {
                let now = cx.raw_waker();
                assert_ne!(now, lent, "a rawtask panic left no note");
                let note = now.cast::<RawtaskFfiPanicNote>().cast_mut();
                // SAFETY: a note rawtask left: checked by its magic, read and released once.
                unsafe {
                    assert_eq!((*note).magic, RAWTASK_FFI_PANIC_NOTE_MAGIC);
                    assert_eq!((*note).original, lent);
                    let text = std::slice::from_raw_parts(
                        (*note).message.cast::<u8>(),
                        (*note).message_len,
                    );
                    let text = std::str::from_utf8(text).expect("a note that is not UTF-8");
                    assert!(!text.is_empty());
                    ((*note).release)(note);
                }
            }
            t => panic!("a rawtask poll function returned tag {t}"),
        }
    }
    // SAFETY: dropped once, by the owner.
    unsafe { (raw.drop_fn)(raw.fut_ptr) };
    assert_eq!(
        host.refs.load(SeqCst),
        1,
        "a clone of the host's waker was not released"
    );
    assert_eq!(
        host.wakes.load(SeqCst),
        wakes.load(SeqCst),
        "Rust wakes and host wakes differ"
    );
}

fn convert_case(tag: u8, payload: u64) {
    let raw = RawtaskFfiPoll::<u64>::from(FfiPoll::Ready(payload));
    let raw = RawtaskFfiPoll {
        tag,
        payload: raw.payload,
    };
    match (tag, raw.into_ffi_poll()) {
        (0, Ok(FfiPoll::Ready(v))) => assert_eq!(v, payload),
        (1, Ok(FfiPoll::Pending)) => {}
        (2, Ok(p @ FfiPoll::Panicked)) => assert!(p.try_into_poll().is_err()),
        (t, Err(e)) if t > 2 => assert_eq!(e, t),
        (t, r) => panic!("tag {t}: {r:?}"),
    }
}

/// Takes the cases by reference: the input was decoded before the leak check started, so
/// freeing it inside would count as freeing allocations the input did not make.
fn run_input(cases: &[Case]) {
    for case in cases.iter().take(16).cloned() {
        match case {
            Case::Foreign {
                steps,
                awaiter,
                polls,
            } => foreign_case(steps, awaiter, polls % 32),
            Case::Host { ops, polls } => host_case(ops, polls % 32),
            Case::Convert { tag, payload } => convert_case(tag, payload),
        }
    }
}

fn warm_up() {
    let step = |tag| Step {
        tag,
        payload: 1,
        ops: vec![WakerOp::CloneContext, WakerOp::Wake(0)],
    };
    run_input(&[
        Case::Foreign {
            steps: vec![step(1), step(9)],
            awaiter: Awaiter::AsFuture,
            polls: 3,
        },
        Case::Foreign {
            steps: vec![step(1), step(2)],
            awaiter: Awaiter::InTask,
            polls: 3,
        },
        Case::Host {
            ops: vec![RustOp::Keep, RustOp::Pending, RustOp::Panic],
            polls: 3,
        },
    ]);
}

fuzz_target!(|cases: Vec<Case>| {
    common::leak_checked(warm_up, || run_input(&cases));
});
