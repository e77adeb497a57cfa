//! Coverage-guided fuzzing of the C API: random sequences of `rawtask_*` calls with live,
//! freed (stale), forged and null handles, every status asserted against a model.
//!
//! Tasks are spawned with `Builder::spawn_c` and a C schedule callback that queues the runnable
//! (or, when the input says so, drops it on the spot, as a C executor that is shutting down
//! does: then a `rawtask_task_cancel` drops the future while the handle is checked out). Their
//! outputs are a `u32`, a `String` (a `RawtaskBuffer`, freed with `rawtask_buffer_free`), a
//! `Result<u32, String>` that fails (`FAILED`) and `()`. Completion callbacks
//! (`rawtask_task_on_complete`) poll or free their own handle from inside the callback (which
//! can meet `BUSY`); token callbacks (`rawtask_token_on_cancel`) own a boxed context that they
//! free, so a second call is a double free (AddressSanitizer) and a missing one a leak (the
//! counting allocator).
//!
//! Runnables and wakers are raw pointers whose misuse is documented undefined behaviour: they
//! are only used validly (or null). Everything that is checked is fuzzed: handles (null,
//! stale, forged, double frees), null out-parameters, wrong output sizes, inconsistent buffers,
//! the last-error functions with any buffer length.

#![no_main]

mod common;

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::future::Future;
use std::pin::Pin;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use rawtask::capi::*;
use rawtask::Builder;

use common::catch_quietly;

#[global_allocator]
static ALLOC: common::Counting = common::Counting;

const MAX_TASKS: usize = 8;
const MAX_TOKENS: usize = 12;
const MAX_OPS: usize = 256;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Action {
    Pending,
    Ready,
    Yield,
    KeepWaker,
    Panic,
}

fn action(v: u8) -> Action {
    [
        Action::Pending,
        Action::Ready,
        Action::Yield,
        Action::KeepWaker,
        Action::Panic,
    ][usize::from(v) % 5]
}

/// Which handle an operation uses.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Pick {
    Live(u8),
    Stale(u8),
    Forged(u64),
    Null,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum OutSize {
    Exact,
    Wrong(u8),
    NullOut,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Nested {
    Nothing,
    Poll,
    Free,
    Detach,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Spawn {
        kind: u8,
        propagate: bool,
        first: Action,
    },
    SetAction {
        task: u8,
        action: Action,
    },
    DropOnSchedule(bool),
    Poll(Pick, OutSize),
    Cancel(Pick),
    Detach(Pick),
    Free(Pick),
    OutputSize(Pick, bool),
    Data(Pick, bool),
    OnComplete(Pick, bool, Nested),
    Run(u8),
    RunNull,
    Schedule(u8),
    DropRunnable(u8),
    RunnableWaker(u8),
    RunnableData(u8),
    TakeKept,
    WakerWake(u8),
    WakerWakeByRef(u8),
    WakerClone(u8),
    WakerDrop(u8),
    WakerNull(u8),
    TokenNew(bool),
    TokenChild(Pick, bool),
    TokenCancel(Pick),
    TokenIsCancelled(Pick, bool),
    TokenOnCancel(Pick, bool),
    TokenFree(Pick),
    BufferFree(u8, usize, usize),
    LastError(i16, bool),
    ClearLastError,
}

/// The output kinds: `u32`, `String`, a failing `Result<u32, String>`, `()`.
const KINDS: usize = 4;

fn output_size(kind: usize) -> usize {
    [4, std::mem::size_of::<RawtaskBuffer>(), 4, 0][kind]
}

#[derive(Default)]
struct Counts {
    action: AtomicU8,
    finish_now: AtomicBool,
    completions: AtomicUsize,
    panics: AtomicUsize,
    future_drops: AtomicUsize,
    /// Completion callbacks called.
    completed: AtomicUsize,
    kept: Mutex<Vec<Waker>>,
}

struct DropCount(Arc<Counts>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.future_drops.fetch_add(1, SeqCst);
    }
}

struct Script<T> {
    counts: Arc<Counts>,
    make: fn(u32) -> T,
    index: u32,
    _drop: DropCount,
}

impl<T> Future for Script<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let c = &self.counts;
        let a = if c.finish_now.load(SeqCst) {
            Action::Ready
        } else {
            action(c.action.load(SeqCst))
        };
        match a {
            Action::Ready => {
                c.completions.fetch_add(1, SeqCst);
                Poll::Ready((self.make)(self.index))
            }
            Action::Panic => {
                c.panics.fetch_add(1, SeqCst);
                panic!("scripted panic")
            }
            Action::Yield => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Action::KeepWaker => {
                c.kept.lock().unwrap().push(cx.waker().clone());
                Poll::Pending
            }
            Action::Pending => Poll::Pending,
        }
    }
}

// ----- the C side: a queue, and callbacks -----

thread_local! {
    static QUEUE: RefCell<Vec<NonNull<RawtaskRunnable>>> = const { RefCell::new(Vec::new()) };
    static DROP_ON_SCHEDULE: Cell<bool> = const { Cell::new(false) };
    /// What completion callbacks did: (task, nested op, its status).
    static COMPLETIONS: RefCell<Vec<(usize, Nested, RawtaskStatus)>> = const { RefCell::new(Vec::new()) };
    /// Token callbacks: (registration, cancelled).
    static TOKEN_CALLS: RefCell<Vec<(usize, bool)>> = const { RefCell::new(Vec::new()) };
}

unsafe extern "C" fn schedule(_: *mut c_void, runnable: *mut RawtaskRunnable, _flags: u32) {
    if DROP_ON_SCHEDULE.with(Cell::get) {
        // SAFETY: the callback owns the runnable and drops it once.
        let status = unsafe { rawtask_runnable_drop(runnable) };
        assert_eq!(status, RawtaskStatus::Ok);
    } else {
        QUEUE.with(|q| {
            q.borrow_mut()
                .push(NonNull::new(runnable).expect("a null runnable"))
        });
    }
}

struct CompleteCtx {
    task: usize,
    nested: Nested,
    kind: usize,
    counts: Arc<Counts>,
}

unsafe extern "C" fn complete(context: *mut c_void, handle: RawtaskTask) {
    // SAFETY: the context is the box `OnComplete` leaked; it is called once, so freed once.
    let ctx = unsafe { Box::from_raw(context.cast::<CompleteCtx>()) };
    assert_eq!(
        ctx.counts.future_drops.load(SeqCst),
        1,
        "completion callback before the future was dropped"
    );
    ctx.counts.completed.fetch_add(1, SeqCst);
    let status = match ctx.nested {
        Nested::Nothing => RawtaskStatus::Ok,
        Nested::Poll => {
            let mut out = [0u8; 64];
            // SAFETY: `out` holds 64 writable bytes, more than any output here.
            let status = unsafe {
                rawtask_task_poll(handle, out.as_mut_ptr().cast(), output_size(ctx.kind))
            };
            if status == RawtaskStatus::Ready && ctx.kind == 1 {
                let mut buffer = RawtaskBuffer::EMPTY;
                // SAFETY: the output is a `RawtaskBuffer`, read unaligned from the bytes.
                unsafe {
                    ptr::copy_nonoverlapping(out.as_ptr(), (&raw mut buffer).cast(), output_size(1))
                };
                // SAFETY: a buffer rawtask made, freed once.
                assert_eq!(
                    unsafe { rawtask_buffer_free(&mut buffer) },
                    RawtaskStatus::Ok
                );
            }
            status
        }
        Nested::Free => rawtask_task_free(handle),
        Nested::Detach => rawtask_task_detach(handle),
    };
    COMPLETIONS.with(|c| c.borrow_mut().push((ctx.task, ctx.nested, status)));
}

unsafe extern "C" fn token_called(context: *mut c_void, cancelled: bool) {
    // SAFETY: the context is the boxed registration number `TokenOnCancel` leaked, freed once.
    let registration = unsafe { Box::from_raw(context.cast::<usize>()) };
    TOKEN_CALLS.with(|c| c.borrow_mut().push((*registration, cancelled)));
}

// ----- the model -----

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Finished {
    Taken,
    Cancelled,
}

struct TaskSlot {
    counts: Arc<Counts>,
    kind: usize,
    propagate: bool,
    handle: RawtaskTask,
    live: bool,
    finished: Option<Finished>,
    on_complete: bool,
    /// A C waker kept until the end (see raw_ops: a detached watched task that nothing can
    /// wake leaks, a known bug; this keeps every task wakeable).
    guard: *mut RawtaskWaker,
    delivered: usize,
}

struct TokenSlot {
    handle: RawtaskToken,
    live: bool,
    parent: Option<usize>,
    cancelled: bool,
    /// Registrations through this handle not called yet.
    pending: Vec<usize>,
}

#[derive(Default)]
struct World {
    tasks: Vec<TaskSlot>,
    tokens: Vec<TokenSlot>,
    wakers: Vec<*mut RawtaskWaker>,
    /// Registration numbers handed out; each must be called exactly once.
    registrations: usize,
    called: Vec<bool>,
}

fn pick_live<T>(v: &[T], i: u8, live: impl Fn(&T) -> bool) -> Option<usize> {
    let idx: Vec<usize> = (0..v.len()).filter(|&k| live(&v[k])).collect();
    (!idx.is_empty()).then(|| idx[usize::from(i) % idx.len()])
}

/// A resolved handle choice: the id, and the slot if it is live.
struct Chosen {
    id: u64,
    slot: Option<usize>,
    expect: Option<RawtaskStatus>,
}

fn choose(ids: &[(u64, bool)], pick: Pick) -> Chosen {
    let live = |i: u8| {
        let idx: Vec<usize> = (0..ids.len()).filter(|&k| ids[k].1).collect();
        (!idx.is_empty()).then(|| idx[usize::from(i) % idx.len()])
    };
    let stale = |i: u8| {
        let idx: Vec<usize> = (0..ids.len()).filter(|&k| !ids[k].1).collect();
        (!idx.is_empty()).then(|| idx[usize::from(i) % idx.len()])
    };
    match pick {
        Pick::Live(i) => match live(i) {
            Some(k) => Chosen {
                id: ids[k].0,
                slot: Some(k),
                expect: None,
            },
            None => Chosen {
                id: 0,
                slot: None,
                expect: Some(RawtaskStatus::InvalidArgument),
            },
        },
        Pick::Stale(i) => match stale(i) {
            Some(k) => Chosen {
                id: ids[k].0,
                slot: None,
                expect: Some(RawtaskStatus::InvalidHandle),
            },
            None => Chosen {
                id: 0,
                slot: None,
                expect: Some(RawtaskStatus::InvalidArgument),
            },
        },
        Pick::Forged(id) => {
            if id == 0 {
                Chosen {
                    id,
                    slot: None,
                    expect: Some(RawtaskStatus::InvalidArgument),
                }
            } else if let Some(k) = ids.iter().position(|&(i, l)| l && i == id) {
                // The forger guessed a live handle: it is that handle.
                Chosen {
                    id,
                    slot: Some(k),
                    expect: None,
                }
            } else {
                Chosen {
                    id,
                    slot: None,
                    expect: Some(RawtaskStatus::InvalidHandle),
                }
            }
        }
        Pick::Null => Chosen {
            id: 0,
            slot: None,
            expect: Some(RawtaskStatus::InvalidArgument),
        },
    }
}

/// A failing status (an error, or an outcome with a message) left a last error behind.
fn check_last_error(status: RawtaskStatus) {
    if status.is_error()
        || matches!(
            status,
            RawtaskStatus::Cancelled | RawtaskStatus::Panicked | RawtaskStatus::Failed
        )
    {
        assert!(
            rawtask_last_error_length() > 0,
            "{status} without a last error"
        );
    }
}

fn pop_runnable(i: u8) -> Option<NonNull<RawtaskRunnable>> {
    QUEUE.with(|q| {
        let mut q = q.borrow_mut();
        (!q.is_empty()).then(|| {
            let k = usize::from(i) % q.len();
            q.swap_remove(k)
        })
    })
}

fn peek_runnable(i: u8) -> Option<NonNull<RawtaskRunnable>> {
    QUEUE.with(|q| {
        let q = q.borrow();
        (!q.is_empty()).then(|| q[usize::from(i) % q.len()])
    })
}

/// The task index a runnable's data slot holds.
fn task_of(r: NonNull<RawtaskRunnable>) -> usize {
    // SAFETY: a live runnable of a task spawned with a `u32` data slot.
    unsafe {
        assert_eq!(rawtask_runnable_data_size(r.as_ptr()), 4);
        *rawtask_runnable_data(r.as_ptr()).cast::<u32>() as usize
    }
}

impl World {
    fn task_ids(&self) -> Vec<(u64, bool)> {
        self.tasks.iter().map(|t| (t.handle.id, t.live)).collect()
    }

    fn token_ids(&self) -> Vec<(u64, bool)> {
        self.tokens.iter().map(|t| (t.handle.id, t.live)).collect()
    }

    fn spawn(&mut self, kind: u8, propagate: bool, first: Action) {
        if self.tasks.len() >= MAX_TASKS {
            return;
        }
        let kind = usize::from(kind) % KINDS;
        let index = self.tasks.len() as u32;
        let counts = Arc::new(Counts::default());
        counts.action.store(first as u8, SeqCst);
        // SAFETY: `schedule` may be called from any thread; it needs no context.
        let sched = unsafe { RawtaskSchedule::new(schedule, ptr::null_mut()) };
        let builder = Builder::new().metadata(index).propagate_panic(propagate);
        fn script<T>(c: &Arc<Counts>, index: u32, make: fn(u32) -> T) -> Script<T> {
            Script {
                counts: c.clone(),
                make,
                index,
                _drop: DropCount(c.clone()),
            }
        }
        let c = &counts;
        let spawned = match kind {
            0 => builder.spawn_c(|_| script(c, index, |i| i * 3), sched),
            1 => builder.spawn_c(|_| script(c, index, |i| format!("task {i}")), sched),
            2 => builder.spawn_c(
                |_| {
                    script(c, index, |i| {
                        Err::<u32, std::io::Error>(std::io::Error::other(format!("failed {i}")))
                    })
                },
                sched,
            ),
            _ => builder.spawn_c(|_| script(c, index, |_| ()), sched),
        };
        let (runnable, handle) = spawned.expect("spawn_c failed");
        // SAFETY: a live runnable.
        let guard = unsafe { rawtask_runnable_waker(runnable.as_ptr()) };
        // SAFETY: the runnable is handed to its schedule function once.
        assert_eq!(
            unsafe { rawtask_runnable_schedule(runnable.as_ptr()) },
            RawtaskStatus::Ok
        );
        self.tasks.push(TaskSlot {
            counts,
            kind,
            propagate,
            handle,
            live: true,
            finished: None,
            on_complete: false,
            guard,
            delivered: 0,
        });
    }

    /// Polls a live handle as `rawtask_task_poll` does, checking the status against the task.
    fn poll(&mut self, k: usize, size: OutSize) -> RawtaskStatus {
        let t = &mut self.tasks[k];
        let expected_size = output_size(t.kind);
        let mut out = [0u8; 64];
        let (ptr, len) = match size {
            OutSize::Exact => (out.as_mut_ptr(), expected_size),
            OutSize::Wrong(n) => (out.as_mut_ptr(), usize::from(n) % 64),
            OutSize::NullOut => (ptr::null_mut(), expected_size),
        };
        // SAFETY: `ptr` is null or holds 64 writable bytes, at least `len`.
        let status = unsafe { rawtask_task_poll(t.handle, ptr.cast(), len) };
        let c = &t.counts;
        match t.finished {
            Some(Finished::Taken) => assert_eq!(status, RawtaskStatus::OutputTaken),
            Some(Finished::Cancelled) => assert_eq!(status, RawtaskStatus::Cancelled),
            None if len != expected_size => assert_eq!(status, RawtaskStatus::InvalidArgument),
            None if ptr.is_null() && expected_size != 0 => {
                assert_eq!(status, RawtaskStatus::InvalidArgument)
            }
            None => match status {
                RawtaskStatus::Pending => {
                    assert_eq!(
                        c.future_drops.load(SeqCst),
                        0,
                        "pending after the future was dropped"
                    )
                }
                RawtaskStatus::Ready => {
                    assert!(
                        t.kind != 2 && c.completions.load(SeqCst) == 1,
                        "READY without an output"
                    );
                    t.finished = Some(Finished::Taken);
                    t.delivered += 1;
                    match t.kind {
                        0 => assert_eq!(
                            u32::from_ne_bytes(out[..4].try_into().unwrap()),
                            k as u32 * 3
                        ),
                        1 => {
                            let mut buffer = RawtaskBuffer::EMPTY;
                            // SAFETY: the output is a `RawtaskBuffer`, copied out unaligned.
                            unsafe {
                                ptr::copy_nonoverlapping(
                                    out.as_ptr(),
                                    (&raw mut buffer).cast(),
                                    expected_size,
                                )
                            };
                            // SAFETY: rawtask made the buffer: `len` readable bytes.
                            let text =
                                unsafe { std::slice::from_raw_parts(buffer.data, buffer.len) };
                            assert_eq!(text, format!("task {k}").as_bytes());
                            // SAFETY: a buffer rawtask made, freed once; the second free of the
                            // emptied variable is a no-op.
                            unsafe {
                                assert_eq!(rawtask_buffer_free(&mut buffer), RawtaskStatus::Ok);
                                assert_eq!(rawtask_buffer_free(&mut buffer), RawtaskStatus::Ok);
                            }
                        }
                        _ => {}
                    }
                }
                RawtaskStatus::Failed => {
                    assert!(
                        t.kind == 2 && c.completions.load(SeqCst) == 1,
                        "FAILED without an Err"
                    );
                    t.finished = Some(Finished::Taken);
                    t.delivered += 1;
                }
                RawtaskStatus::Panicked => {
                    assert!(
                        t.propagate && c.panics.load(SeqCst) == 1,
                        "PANICKED without a propagated panic"
                    );
                    t.finished = Some(Finished::Taken);
                    t.delivered += 1;
                }
                RawtaskStatus::Cancelled => {
                    assert_eq!(
                        c.future_drops.load(SeqCst),
                        1,
                        "CANCELLED before the future was dropped"
                    );
                    t.finished = Some(Finished::Cancelled);
                }
                other => panic!("rawtask_task_poll returned {other}"),
            },
        }
        status
    }

    /// Books what the completion callbacks did during the last call.
    fn process_completions(&mut self) {
        let log = COMPLETIONS.with(|c| std::mem::take(&mut *c.borrow_mut()));
        for (k, nested, status) in log {
            let t = &mut self.tasks[k];
            match nested {
                Nested::Nothing => {}
                Nested::Poll => match status {
                    // Stale (freed first), or in use by the call that finished the task.
                    RawtaskStatus::InvalidHandle
                    | RawtaskStatus::Busy
                    | RawtaskStatus::OutputTaken => {}
                    RawtaskStatus::Cancelled => {
                        assert_ne!(t.finished, Some(Finished::Taken));
                        t.finished = Some(Finished::Cancelled);
                    }
                    RawtaskStatus::Ready | RawtaskStatus::Failed | RawtaskStatus::Panicked => {
                        assert_eq!(t.finished, None, "the output was taken twice");
                        t.finished = Some(Finished::Taken);
                        t.delivered += 1;
                    }
                    other => panic!("a completion callback's poll returned {other}"),
                },
                Nested::Free | Nested::Detach => match status {
                    RawtaskStatus::Ok => {
                        assert!(t.live, "freed a handle twice");
                        t.live = false;
                    }
                    RawtaskStatus::InvalidHandle => assert!(!t.live, "a live handle was stale"),
                    other => panic!("a completion callback's free returned {other}"),
                },
            }
        }
    }

    fn process_token_calls(&mut self) {
        let log = TOKEN_CALLS.with(|c| std::mem::take(&mut *c.borrow_mut()));
        for (registration, cancelled) in log {
            assert!(
                !self.called[registration],
                "a token callback was called twice"
            );
            self.called[registration] = true;
            let slot = self
                .tokens
                .iter_mut()
                .find(|t| t.pending.contains(&registration))
                .expect("a token callback for a registration nobody made");
            slot.pending.retain(|&r| r != registration);
            assert_eq!(
                cancelled, slot.cancelled,
                "a token callback with the wrong `cancelled`"
            );
        }
    }

    fn cancel_token_tree(&mut self, root: usize) {
        let mut stack = vec![root];
        while let Some(k) = stack.pop() {
            if self.tokens[k].cancelled {
                continue;
            }
            self.tokens[k].cancelled = true;
            stack.extend((0..self.tokens.len()).filter(|&c| self.tokens[c].parent == Some(k)));
        }
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Spawn {
                kind,
                propagate,
                first,
            } => self.spawn(kind, propagate, first),
            Op::SetAction { task, action } => {
                if let Some(k) = pick_live(&self.tasks, task, |_| true) {
                    self.tasks[k].counts.action.store(action as u8, SeqCst);
                }
            }
            Op::DropOnSchedule(on) => DROP_ON_SCHEDULE.with(|d| d.set(on)),
            Op::Poll(pick, size) => {
                let c = choose(&self.task_ids(), pick);
                let status = match (c.expect, c.slot) {
                    (None, Some(k)) => self.poll(k, size),
                    (Some(expect), _) => {
                        let mut out = [0u8; 64];
                        // SAFETY: `out` holds 64 writable bytes.
                        let status = unsafe {
                            rawtask_task_poll(RawtaskTask { id: c.id }, out.as_mut_ptr().cast(), 4)
                        };
                        assert_eq!(status, expect, "poll of {pick:?}");
                        status
                    }
                    (None, None) => unreachable!(),
                };
                check_last_error(status);
            }
            Op::Cancel(pick) => {
                let c = choose(&self.task_ids(), pick);
                let status = rawtask_task_cancel(RawtaskTask { id: c.id });
                assert_eq!(
                    status,
                    c.expect.unwrap_or(RawtaskStatus::Ok),
                    "cancel of {pick:?}"
                );
                check_last_error(status);
            }
            Op::Detach(pick) | Op::Free(pick) => {
                let c = choose(&self.task_ids(), pick);
                let handle = RawtaskTask { id: c.id };
                if let Some(k) = c.slot {
                    // Marked first: a completion callback run by the release sees it stale.
                    self.tasks[k].live = false;
                }
                let status = if matches!(op, Op::Free(_)) {
                    rawtask_task_free(handle)
                } else {
                    rawtask_task_detach(handle)
                };
                assert_eq!(status, c.expect.unwrap_or(RawtaskStatus::Ok), "{op:?}");
                check_last_error(status);
            }
            Op::OutputSize(pick, null) => {
                let c = choose(&self.task_ids(), pick);
                let mut size = usize::MAX;
                let out = if null { ptr::null_mut() } else { &raw mut size };
                // SAFETY: `out` is null or a writable `usize`.
                let status = unsafe { rawtask_task_output_size(RawtaskTask { id: c.id }, out) };
                let expect = if null {
                    RawtaskStatus::InvalidArgument
                } else {
                    c.expect.unwrap_or(RawtaskStatus::Ok)
                };
                assert_eq!(status, expect, "{op:?}");
                if status == RawtaskStatus::Ok {
                    assert_eq!(size, output_size(self.tasks[c.slot.unwrap()].kind));
                }
                check_last_error(status);
            }
            Op::Data(pick, null) => {
                let c = choose(&self.task_ids(), pick);
                let mut data: *mut c_void = ptr::null_mut();
                let out = if null { ptr::null_mut() } else { &raw mut data };
                // SAFETY: `out` is null or a writable pointer.
                let status = unsafe { rawtask_task_data(RawtaskTask { id: c.id }, out) };
                let expect = if null {
                    RawtaskStatus::InvalidArgument
                } else {
                    c.expect.unwrap_or(RawtaskStatus::Ok)
                };
                assert_eq!(status, expect, "{op:?}");
                if status == RawtaskStatus::Ok {
                    // SAFETY: the data slot of a live handle's task, a `u32`.
                    assert_eq!(unsafe { *data.cast::<u32>() } as usize, c.slot.unwrap());
                }
                check_last_error(status);
            }
            Op::OnComplete(pick, null, nested) => {
                let c = choose(&self.task_ids(), pick);
                let expect = if null {
                    RawtaskStatus::InvalidArgument
                } else {
                    match (c.expect, c.slot) {
                        (Some(e), _) => e,
                        (None, Some(k)) if self.tasks[k].on_complete => {
                            RawtaskStatus::AlreadyRegistered
                        }
                        _ => RawtaskStatus::Ok,
                    }
                };
                let context = c.slot.map_or(ptr::null_mut(), |k| {
                    let t = &self.tasks[k];
                    Box::into_raw(Box::new(CompleteCtx {
                        task: k,
                        nested,
                        kind: t.kind,
                        counts: t.counts.clone(),
                    }))
                });
                if expect == RawtaskStatus::Ok {
                    self.tasks[c.slot.unwrap()].on_complete = true;
                }
                let callback = if null {
                    None
                } else {
                    Some(complete as RawtaskCompleteFn)
                };
                // SAFETY: `complete` may be called from any thread; the context is a leaked box
                // that it frees (or null, for a call that must fail).
                let status = unsafe {
                    rawtask_task_on_complete(RawtaskTask { id: c.id }, callback, context.cast())
                };
                assert_eq!(status, expect, "{op:?}");
                if status != RawtaskStatus::Ok && !context.is_null() {
                    // SAFETY: not registered: the box is still ours.
                    drop(unsafe { Box::from_raw(context) });
                }
                check_last_error(status);
            }
            Op::Run(i) => {
                if let Some(r) = pop_runnable(i) {
                    let k = task_of(r);
                    let panics = self.tasks[k].counts.panics.load(SeqCst);
                    // SAFETY: a queued runnable, run once.
                    let status = catch_quietly(|| unsafe { rawtask_runnable_run(r.as_ptr()) })
                        .expect("rawtask_runnable_run unwound");
                    let panicked = self.tasks[k].counts.panics.load(SeqCst) > panics;
                    match status {
                        RawtaskStatus::Ok | RawtaskStatus::Rescheduled => {
                            assert!(!panicked || self.tasks[k].propagate)
                        }
                        RawtaskStatus::Panicked => assert!(panicked && !self.tasks[k].propagate),
                        other => panic!("rawtask_runnable_run returned {other}"),
                    }
                    check_last_error(status);
                }
            }
            Op::RunNull => {
                // SAFETY: null is checked.
                unsafe {
                    assert_eq!(
                        rawtask_runnable_run(ptr::null_mut()),
                        RawtaskStatus::InvalidArgument
                    );
                    assert_eq!(
                        rawtask_runnable_schedule(ptr::null_mut()),
                        RawtaskStatus::InvalidArgument
                    );
                    assert_eq!(
                        rawtask_runnable_drop(ptr::null_mut()),
                        RawtaskStatus::InvalidArgument
                    );
                    assert!(rawtask_runnable_waker(ptr::null()).is_null());
                    assert!(rawtask_runnable_data(ptr::null()).is_null());
                    assert_eq!(rawtask_runnable_data_size(ptr::null()), 0);
                }
                check_last_error(RawtaskStatus::InvalidArgument);
            }
            Op::Schedule(i) => {
                if let Some(r) = pop_runnable(i) {
                    // SAFETY: a queued runnable, given up once.
                    assert_eq!(
                        unsafe { rawtask_runnable_schedule(r.as_ptr()) },
                        RawtaskStatus::Ok
                    );
                }
            }
            Op::DropRunnable(i) => {
                if let Some(r) = pop_runnable(i) {
                    // SAFETY: a queued runnable, given up once.
                    assert_eq!(
                        unsafe { rawtask_runnable_drop(r.as_ptr()) },
                        RawtaskStatus::Ok
                    );
                }
            }
            Op::RunnableWaker(i) => {
                if let Some(r) = peek_runnable(i) {
                    // SAFETY: a live runnable.
                    let w = unsafe { rawtask_runnable_waker(r.as_ptr()) };
                    assert!(!w.is_null());
                    self.wakers.push(w);
                }
            }
            Op::RunnableData(i) => {
                if let Some(r) = peek_runnable(i) {
                    assert!(task_of(r) < self.tasks.len());
                }
            }
            Op::TakeKept => {
                for t in &self.tasks {
                    for w in t.counts.kept.lock().unwrap().drain(..) {
                        // A Rust waker of a rawtask task is the task pointer: as a C waker it
                        // owns the same reference.
                        let w = std::mem::ManuallyDrop::new(w);
                        self.wakers.push(w.data().cast_mut().cast());
                    }
                }
            }
            Op::WakerWake(i) | Op::WakerDrop(i) => {
                if !self.wakers.is_empty() {
                    let w = self.wakers.swap_remove(usize::from(i) % self.wakers.len());
                    // SAFETY: a live waker, consumed once.
                    let status = unsafe {
                        if matches!(op, Op::WakerWake(_)) {
                            rawtask_waker_wake(w)
                        } else {
                            rawtask_waker_drop(w)
                        }
                    };
                    assert_eq!(status, RawtaskStatus::Ok);
                }
            }
            Op::WakerWakeByRef(i) => {
                if !self.wakers.is_empty() {
                    let w = self.wakers[usize::from(i) % self.wakers.len()];
                    // SAFETY: a live waker.
                    assert_eq!(unsafe { rawtask_waker_wake_by_ref(w) }, RawtaskStatus::Ok);
                }
            }
            Op::WakerClone(i) => {
                if !self.wakers.is_empty() {
                    let w = self.wakers[usize::from(i) % self.wakers.len()];
                    // SAFETY: a live waker.
                    let clone = unsafe { rawtask_waker_clone(w) };
                    assert_eq!(clone, w);
                    self.wakers.push(clone);
                }
            }
            Op::WakerNull(which) => {
                // SAFETY: null is checked.
                unsafe {
                    match which % 4 {
                        0 => assert_eq!(
                            rawtask_waker_wake(ptr::null_mut()),
                            RawtaskStatus::InvalidArgument
                        ),
                        1 => assert_eq!(
                            rawtask_waker_wake_by_ref(ptr::null()),
                            RawtaskStatus::InvalidArgument
                        ),
                        2 => assert!(rawtask_waker_clone(ptr::null()).is_null()),
                        _ => assert_eq!(
                            rawtask_waker_drop(ptr::null_mut()),
                            RawtaskStatus::InvalidArgument
                        ),
                    }
                }
                check_last_error(RawtaskStatus::InvalidArgument);
            }
            Op::TokenNew(null) => {
                if self.tokens.len() >= MAX_TOKENS && !null {
                    return;
                }
                let mut out = RawtaskToken::NULL;
                let p = if null { ptr::null_mut() } else { &raw mut out };
                // SAFETY: `p` is null or a writable token.
                let status = unsafe { rawtask_token_new(p) };
                if null {
                    assert_eq!(status, RawtaskStatus::InvalidArgument);
                } else {
                    assert_eq!(status, RawtaskStatus::Ok);
                    self.tokens.push(TokenSlot {
                        handle: out,
                        live: true,
                        parent: None,
                        cancelled: false,
                        pending: Vec::new(),
                    });
                }
                check_last_error(status);
            }
            Op::TokenChild(pick, null) => {
                if self.tokens.len() >= MAX_TOKENS && !null {
                    return;
                }
                let c = choose(&self.token_ids(), pick);
                let mut out = RawtaskToken::NULL;
                let p = if null { ptr::null_mut() } else { &raw mut out };
                // SAFETY: `p` is null or a writable token.
                let status = unsafe { rawtask_token_child(RawtaskToken { id: c.id }, p) };
                let expect = if null {
                    RawtaskStatus::InvalidArgument
                } else {
                    c.expect.unwrap_or(RawtaskStatus::Ok)
                };
                assert_eq!(status, expect, "{op:?}");
                if status == RawtaskStatus::Ok {
                    let parent = c.slot.unwrap();
                    let cancelled = self.tokens[parent].cancelled;
                    self.tokens.push(TokenSlot {
                        handle: out,
                        live: true,
                        parent: Some(parent),
                        cancelled,
                        pending: Vec::new(),
                    });
                }
                check_last_error(status);
            }
            Op::TokenCancel(pick) => {
                let c = choose(&self.token_ids(), pick);
                if let Some(k) = c.slot {
                    self.cancel_token_tree(k);
                }
                let status = rawtask_token_cancel(RawtaskToken { id: c.id });
                assert_eq!(status, c.expect.unwrap_or(RawtaskStatus::Ok), "{op:?}");
                check_last_error(status);
            }
            Op::TokenIsCancelled(pick, null) => {
                let c = choose(&self.token_ids(), pick);
                let mut out = false;
                let p = if null { ptr::null_mut() } else { &raw mut out };
                // SAFETY: `p` is null or a writable bool.
                let status = unsafe { rawtask_token_is_cancelled(RawtaskToken { id: c.id }, p) };
                let expect = if null {
                    RawtaskStatus::InvalidArgument
                } else {
                    c.expect.unwrap_or(RawtaskStatus::Ok)
                };
                assert_eq!(status, expect, "{op:?}");
                if status == RawtaskStatus::Ok {
                    assert_eq!(out, self.tokens[c.slot.unwrap()].cancelled, "is_cancelled");
                }
                check_last_error(status);
            }
            Op::TokenOnCancel(pick, null) => {
                let c = choose(&self.token_ids(), pick);
                let expect = if null {
                    RawtaskStatus::InvalidArgument
                } else {
                    c.expect.unwrap_or(RawtaskStatus::Ok)
                };
                let registration = self.registrations;
                let context = Box::into_raw(Box::new(registration));
                if expect == RawtaskStatus::Ok {
                    self.registrations += 1;
                    self.called.push(false);
                    self.tokens[c.slot.unwrap()].pending.push(registration);
                }
                let callback = if null {
                    None
                } else {
                    Some(token_called as RawtaskCancelFn)
                };
                // SAFETY: `token_called` may be called from any thread and frees the context.
                let status = unsafe {
                    rawtask_token_on_cancel(RawtaskToken { id: c.id }, callback, context.cast())
                };
                assert_eq!(status, expect, "{op:?}");
                if status != RawtaskStatus::Ok {
                    // SAFETY: not registered: the box is still ours.
                    drop(unsafe { Box::from_raw(context) });
                }
                check_last_error(status);
            }
            Op::TokenFree(pick) => {
                let c = choose(&self.token_ids(), pick);
                if let Some(k) = c.slot {
                    self.tokens[k].live = false;
                }
                let status = rawtask_token_free(RawtaskToken { id: c.id });
                assert_eq!(status, c.expect.unwrap_or(RawtaskStatus::Ok), "{op:?}");
                check_last_error(status);
            }
            Op::BufferFree(which, len, capacity) => {
                let mut byte = 0u8;
                let (mut buffer, expect) = match which % 4 {
                    0 => (RawtaskBuffer::EMPTY, RawtaskStatus::Ok),
                    1 => (
                        RawtaskBuffer {
                            data: ptr::null_mut(),
                            len: len | 1,
                            capacity,
                        },
                        RawtaskStatus::InvalidArgument,
                    ),
                    2 => (
                        RawtaskBuffer {
                            data: ptr::null_mut(),
                            len: 0,
                            capacity: capacity | 1,
                        },
                        RawtaskStatus::InvalidArgument,
                    ),
                    // `len` above `capacity`: rejected before the pointer is touched.
                    _ => (
                        RawtaskBuffer {
                            data: &raw mut byte,
                            len: capacity.saturating_add(1).max(len),
                            capacity: capacity.min(len.saturating_sub(1)),
                        },
                        RawtaskStatus::InvalidArgument,
                    ),
                };
                // SAFETY: each buffer is one rawtask rejects before touching its pointer, or empty.
                let status = unsafe { rawtask_buffer_free(&mut buffer) };
                assert_eq!(status, expect, "buffer {buffer:?}");
                // SAFETY: null is checked.
                assert_eq!(
                    unsafe { rawtask_buffer_free(ptr::null_mut()) },
                    RawtaskStatus::InvalidArgument
                );
                check_last_error(RawtaskStatus::InvalidArgument);
            }
            Op::LastError(length, utf16) => {
                let length = i32::from(length) % 300;
                let mut buf8 = [1 as std::ffi::c_char; 300];
                let mut buf16 = [1u16; 300];
                let usable = length > 0;
                let (n, needed) = if utf16 {
                    let p = if usable {
                        buf16.as_mut_ptr()
                    } else {
                        ptr::null_mut()
                    };
                    // SAFETY: `p` is null or holds 300 >= `length` units.
                    (
                        unsafe { rawtask_last_error_message_utf16(p, length) },
                        rawtask_last_error_length_utf16(),
                    )
                } else {
                    let p = if usable {
                        buf8.as_mut_ptr()
                    } else {
                        ptr::null_mut()
                    };
                    // SAFETY: `p` is null or holds 300 >= `length` bytes.
                    (
                        unsafe { rawtask_last_error_message(p, length) },
                        rawtask_last_error_length(),
                    )
                };
                if needed == 0 {
                    assert_eq!(n, 0);
                } else if !usable || length < needed {
                    assert_eq!(n, -1);
                } else {
                    assert_eq!(n, needed);
                }
                if usable {
                    // A usable buffer always ends in a NUL within `length`.
                    let nul = if utf16 {
                        buf16[..length as usize].contains(&0)
                    } else {
                        buf8[..length as usize].contains(&0)
                    };
                    assert!(nul, "no NUL terminator");
                }
            }
            Op::ClearLastError => {
                rawtask_clear_last_error();
                assert_eq!(rawtask_last_error_length(), 0);
                assert_eq!(rawtask_last_error_length_utf16(), 0);
            }
        }
        self.process_completions();
        self.process_token_calls();
    }

    fn drain(&mut self) {
        while let Some(r) = pop_runnable(0) {
            // SAFETY: a queued runnable, run once.
            let status = catch_quietly(|| unsafe { rawtask_runnable_run(r.as_ptr()) })
                .expect("rawtask_runnable_run unwound");
            assert!(matches!(
                status,
                RawtaskStatus::Ok | RawtaskStatus::Rescheduled | RawtaskStatus::Panicked
            ));
            self.process_completions();
        }
    }

    fn finish(mut self) {
        DROP_ON_SCHEDULE.with(|d| d.set(false));
        for t in &self.tasks {
            t.counts.finish_now.store(true, SeqCst);
        }
        let mut all: Vec<*mut RawtaskWaker> = std::mem::take(&mut self.wakers);
        for t in &mut self.tasks {
            all.push(std::mem::replace(&mut t.guard, ptr::null_mut()));
            for w in t.counts.kept.lock().unwrap().drain(..) {
                all.push(std::mem::ManuallyDrop::new(w).data().cast_mut().cast());
            }
        }
        for w in all {
            // SAFETY: every waker held, consumed once.
            assert_eq!(unsafe { rawtask_waker_wake(w) }, RawtaskStatus::Ok);
            self.process_completions();
        }
        self.drain();
        // Every task could be woken (its guard): all have finished.
        for k in 0..self.tasks.len() {
            let t = &self.tasks[k];
            assert_eq!(
                t.counts.future_drops.load(SeqCst),
                1,
                "a woken task did not finish"
            );
            if t.live {
                if t.finished.is_none() {
                    let status = self.poll(k, OutSize::Exact);
                    assert_ne!(status, RawtaskStatus::Pending);
                }
                let status = rawtask_task_free(self.tasks[k].handle);
                assert_eq!(status, RawtaskStatus::Ok);
                self.tasks[k].live = false;
                self.process_completions();
            }
        }
        self.drain();
        for t in &self.tasks {
            t.counts.kept.lock().unwrap().clear();
        }
        for k in 0..self.tokens.len() {
            if self.tokens[k].live {
                self.tokens[k].live = false;
                assert_eq!(rawtask_token_free(self.tokens[k].handle), RawtaskStatus::Ok);
                self.process_token_calls();
            }
        }
        for t in &self.tasks {
            let c = &t.counts;
            assert_eq!(c.future_drops.load(SeqCst), 1, "future drops");
            assert!(c.completions.load(SeqCst) + c.panics.load(SeqCst) <= 1);
            assert!(t.delivered <= 1, "an output delivered twice");
            assert_eq!(
                c.completed.load(SeqCst),
                usize::from(t.on_complete),
                "completion callbacks"
            );
        }
        assert!(
            self.called.iter().all(|&c| c),
            "a token callback was never called"
        );
        rawtask_clear_last_error();
    }
}

fn run_input(ops: &[Op]) {
    let mut world = World::default();
    for op in ops.iter().take(MAX_OPS) {
        world.step(op);
    }
    world.finish();
}

/// Grows the handle tables past what an input can use, and touches the panic machinery and
/// the last error, so that the leak check only sees what an input leaves behind.
fn warm_up() {
    let mut tasks = Vec::new();
    let mut tokens = Vec::new();
    for _ in 0..64 {
        let (runnable, task) = rawtask::spawn(async {}, |_| {});
        drop(runnable);
        tasks.push(RawtaskTask::new(task));
        tokens.push(RawtaskToken::new(rawtask::CancellationToken::new()));
    }
    for (task, token) in tasks.into_iter().zip(tokens) {
        assert_eq!(rawtask_task_free(task), RawtaskStatus::Ok);
        assert_eq!(rawtask_token_free(token), RawtaskStatus::Ok);
    }
    run_input(&[
        Op::Spawn {
            kind: 1,
            propagate: false,
            first: Action::Panic,
        },
        Op::Run(0),
        Op::Poll(Pick::Null, OutSize::Exact),
    ]);
}

fuzz_target!(|ops: Vec<Op>| {
    common::leak_checked(warm_up, || run_input(&ops));
});
