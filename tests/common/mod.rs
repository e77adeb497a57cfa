//! Shared support for the integration tests.
//!
//! * A **leak-checking global allocator.** It forwards to `System` and remembers, in a side
//!   table, which live allocations were made by a *tracked* thread. [`check_leaks`] returns
//!   a guard that serialises the tests of one binary, marks the current thread as tracked,
//!   and, when dropped (unless the test is already failing), asserts that every tracked
//!   allocation made since it was created has been freed. Threads spawned by a test are tracked when spawned
//!   with [`spawn_tracked`] (or when their body runs inside [`tracked`]). Allocations made by
//!   libtest or by other untracked threads are ignored, so the check is exact even though the
//!   harness allocates on its own threads.
//! * [`count_allocations`] counts the allocations made by the current thread inside a
//!   closure (used to prove that a task is one allocation).
//! * Counters ([`Counter`], [`DropProbe`]), a controllable future ([`Probe`]), a queue that
//!   serves as schedule function ([`Queue`]), a tiny [`block_on`], polling helpers and a
//!   counting waker.
//! * [`scope`]: an ordered event log and spawning helpers for the `rawtask::scope` tests.
//! * [`wait_until`] and [`wait_for`]: the one way a test waits for another thread by polling,
//!   with a [`DEADLINE`] that fails the test instead of hanging it.
//!
//! Rules for leak-checked tests: join every thread the test spawns (also scoped threads:
//! `thread::scope` can return before its threads have exited and freed their handles), and
//! do not block on `std::sync::mpsc` on the test thread (std caches a per-thread context
//! that lives until the thread exits); use flume or [`Queue`] instead.
//!
//! The panic hook is wrapped so that whatever the default hook allocates (captured output,
//! backtraces) is untracked, and so that panics the test expects (see [`expect_panic`]) are
//! not printed.

// Tests and examples may use newer Rust than the library's MSRV (1.70); see the README.
#![allow(clippy::incompatible_msrv)]
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::any::Any;
use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use rawtask::{Runnable, ScheduleInfo};

/// Helpers for the `rawtask::scope` tests (compiled into every test binary, like the rest of
/// this module; unused there, hence the module-wide `allow(dead_code)`).
pub mod scope;

/// Iteration count for loops: small under Miri, larger natively.
pub const N: usize = if cfg!(miri) { 10 } else { 1000 };

/// How long [`wait_until`] and [`wait_for`] wait before failing the test. What they wait for
/// takes microseconds natively, so only a bug (a lost wake-up, a job that never ends) reaches
/// it; it is generous because valgrind runs the tests 50-100x slower on a loaded machine.
/// Under Miri it is longer still: with isolation Miri's clock is virtual (it advances with
/// the instructions interpreted, roughly as fast as native code would run, but only within
/// an order of magnitude), and with `-Zmiri-disable-isolation` it is the host's wall clock.
pub const DEADLINE: Duration = if cfg!(miri) {
    Duration::from_secs(600)
} else {
    Duration::from_secs(30)
};

/// Polls `done` until it returns true, yielding the thread in between; panics with "timed
/// out after {DEADLINE:?} waiting for {what}" once [`DEADLINE`] has passed.
#[track_caller]
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    wait_for(what, || done().then_some(()))
}

/// Polls `attempt` until it returns `Some`, yielding the thread in between, and returns that
/// value; panics with "timed out after {DEADLINE:?} waiting for {what}" once [`DEADLINE`]
/// has passed.
#[track_caller]
pub fn wait_for<T>(what: &str, attempt: impl FnMut() -> Option<T>) -> T {
    wait_for_within(what, DEADLINE, attempt)
}

/// [`wait_for`] with a deadline of the caller's choosing.
#[track_caller]
pub fn wait_for_within<T>(
    what: &str,
    deadline: Duration,
    mut attempt: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = attempt() {
            return value;
        }
        // Checked after an attempt, so that a slow attempt still gets its last look.
        if start.elapsed() >= deadline {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        thread::yield_now();
    }
}

// ---------------------------------------------------------------------------------------
// The leak-checking allocator
// ---------------------------------------------------------------------------------------

/// Live tracked allocations made during the current generation.
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// Bytes currently allocated by every thread, tracked or not.
static HEAP_BYTES: AtomicIsize = AtomicIsize::new(0);

/// Bytes currently allocated on the heap by the whole process (all threads, tracked or not).
/// Meaningful in a test binary with a single test.
#[allow(dead_code)]
pub fn heap_bytes() -> isize {
    HEAP_BYTES.load(SeqCst)
}

/// The generation: bumped by every outermost [`check_leaks`] guard. A tracked allocation
/// freed during a later generation (for instance the panic payload of a failed test, which
/// libtest frees while the next test runs) does not disturb the count of the current one.
static GENERATION: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// Whether allocations made by this thread are tracked.
    static TRACKED: Cell<bool> = const { Cell::new(false) };
    /// Number of allocations this thread has made (tracked or not).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    /// Whether a panic on this thread is expected (the panic hook stays silent).
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// [`refusing_kth_allocation`]: (requests so far, the 1-based request to refuse); the
    /// second is 0 when not armed.
    static REFUSE: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// [`pause_refusing`]: the `REFUSE` state to restore.
    static PAUSED: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

/// Within [`refusing_kth_allocation`]: serves and does not count this thread's requests until
/// [`resume_refusing`] — for what the test cannot make fallible, such as the allocations of
/// unwinding a panic (std's exception object), which span a whole `Runnable::run`.
pub fn pause_refusing() {
    let state = REFUSE.with(|refuse| refuse.replace((0, 0)));
    PAUSED.with(|paused| {
        if paused.get().is_none() {
            paused.set(Some(state));
        }
    });
}

/// Undoes [`pause_refusing`] (nothing if not paused).
pub fn resume_refusing() {
    if let Some(state) = PAUSED.with(Cell::take) {
        REFUSE.with(|refuse| refuse.set(state));
    }
}

/// Whether to refuse this allocation request of the current thread (see
/// [`refusing_kth_allocation`]).
fn refuse_this_request() -> bool {
    REFUSE
        .try_with(|refuse| {
            let (requests, kth) = refuse.get();
            if kth == 0 {
                return false;
            }
            refuse.set((requests + 1, kth));
            requests + 1 == kth
        })
        .unwrap_or(false)
}

/// Runs `f` with the current thread's `k`-th allocation request (1-based: `alloc`,
/// `alloc_zeroed` and `realloc` each count) refused — the global allocator returns null for
/// it — and every other one served. Returns `f`'s result and the number of requests `f`
/// made. With `k == usize::MAX`, nothing is refused (to count a scenario's requests).
pub fn refusing_kth_allocation<R>(k: usize, f: impl FnOnce() -> R) -> (R, usize) {
    struct Disarm;
    impl Drop for Disarm {
        fn drop(&mut self) {
            REFUSE.with(|refuse| refuse.set((0, 0)));
            PAUSED.with(|paused| paused.set(None));
        }
    }
    REFUSE.with(|refuse| refuse.set((0, k)));
    let disarm = Disarm;
    let result = f();
    resume_refusing();
    let requests = REFUSE.with(|refuse| refuse.get().0);
    drop(disarm);
    (result, requests)
}

struct LeakCheckingAllocator;

#[global_allocator]
static ALLOCATOR: LeakCheckingAllocator = LeakCheckingAllocator;

fn is_tracked() -> bool {
    TRACKED.try_with(Cell::get).unwrap_or(false)
}

/// Sets the tracked flag of the current thread, returning the previous value.
fn set_tracked(on: bool) -> bool {
    TRACKED.try_with(|t| t.replace(on)).unwrap_or(false)
}

/// The addresses of the live tracked allocations: a lock-free hash set.
///
/// The set lives beside the blocks rather than in a hidden header in front of them: Miri's
/// Stacked Borrows forbids touching such a header through the pointer handed to `dealloc`,
/// whose tag only covers the block itself.
///
/// An address hashes to a bucket of `WAYS` slots and takes any empty one; there is no
/// probing into other buckets, so removal simply empties the slot again. An address is
/// inserted after `System` returned it and removed before it is given back to `System`, so
/// it is never in the set twice. The table is small under Miri, where a large static is
/// slow to set up.
mod tracked_set {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    const BUCKET_BITS: u32 = if cfg!(miri) { 8 } else { 13 };
    const BUCKETS: usize = 1 << BUCKET_BITS;
    const WAYS: usize = 16;
    const EMPTY: usize = 0;

    static SLOTS: [AtomicUsize; WAYS * BUCKETS] =
        [const { AtomicUsize::new(EMPTY) }; WAYS * BUCKETS];
    /// The generation each slot's allocation was made in.
    static GENERATIONS: [AtomicUsize; WAYS * BUCKETS] =
        [const { AtomicUsize::new(0) }; WAYS * BUCKETS];
    /// Addresses per bucket: lets the (frequent) removal of an untracked address skip the
    /// scan of an empty bucket, which matters under Miri.
    static COUNTS: [AtomicUsize; BUCKETS] = [const { AtomicUsize::new(0) }; BUCKETS];

    fn bucket(addr: usize) -> usize {
        let h = (addr as u64 >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> (64 - BUCKET_BITS)) as usize
    }

    fn range(bucket: usize) -> std::ops::Range<usize> {
        bucket * WAYS..(bucket + 1) * WAYS
    }

    pub(super) fn insert(addr: usize, generation: usize) {
        let b = bucket(addr);
        COUNTS[b].fetch_add(1, SeqCst);
        for i in range(b) {
            if SLOTS[i]
                .compare_exchange(EMPTY, addr, SeqCst, SeqCst)
                .is_ok()
            {
                GENERATIONS[i].store(generation, SeqCst);
                return;
            }
        }
        // A full bucket: far more live tracked allocations than the table is sized for.
        std::process::abort();
    }

    /// Removes `addr` if present; returns the generation it was inserted with.
    pub(super) fn remove(addr: usize) -> Option<usize> {
        let b = bucket(addr);
        if COUNTS[b].load(SeqCst) == 0 {
            return None;
        }
        for i in range(b) {
            if SLOTS[i].load(SeqCst) == addr {
                let generation = GENERATIONS[i].load(SeqCst);
                // Only the owner of the block removes its address: this cannot fail.
                if SLOTS[i]
                    .compare_exchange(addr, EMPTY, SeqCst, SeqCst)
                    .is_ok()
                {
                    COUNTS[b].fetch_sub(1, SeqCst);
                    return Some(generation);
                }
            }
        }
        None
    }
}

impl LeakCheckingAllocator {
    /// # Safety
    /// As `GlobalAlloc::alloc`.
    unsafe fn allocate(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        if refuse_this_request() {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded contract.
        let ptr = unsafe {
            if zeroed {
                System.alloc_zeroed(layout)
            } else {
                System.alloc(layout)
            }
        };
        if ptr.is_null() {
            return ptr;
        }
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        HEAP_BYTES.fetch_add(layout.size() as isize, SeqCst);
        if is_tracked() {
            let generation = GENERATION.load(SeqCst);
            LIVE.fetch_add(1, SeqCst);
            tracked_set::insert(ptr.addr(), generation);
        }
        ptr
    }
}

// SAFETY: every call is forwarded to `System` unchanged; the bookkeeping only stores
// addresses in a side table.
unsafe impl GlobalAlloc for LeakCheckingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { self.allocate(layout, false) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { self.allocate(layout, true) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if tracked_set::remove(ptr.addr()) == Some(GENERATION.load(SeqCst)) {
            LIVE.fetch_sub(1, SeqCst);
        }
        HEAP_BYTES.fetch_sub(layout.size() as isize, SeqCst);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if refuse_this_request() {
            // The old block stays live, as on any failed `realloc`.
            return std::ptr::null_mut();
        }
        // A reallocated block stays tracked or untracked: it is the same logical allocation.
        let generation = tracked_set::remove(ptr.addr());
        // SAFETY: forwarded contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            HEAP_BYTES.fetch_add(new_size as isize - layout.size() as isize, SeqCst);
        }
        if let Some(generation) = generation {
            // On failure the old block is still live.
            let addr = if new.is_null() {
                ptr.addr()
            } else {
                new.addr()
            };
            tracked_set::insert(addr, generation);
        }
        new
    }
}

/// Serialises the leak-checked tests of one test binary.
static SERIAL: Mutex<()> = Mutex::new(());

/// Guard returned by [`check_leaks`].
#[must_use = "the leak check happens when the guard is dropped"]
pub struct LeakCheck {
    was_tracked: bool,
    baseline: isize,
    /// `None` for a guard nested in another guard of the same thread.
    serial: Option<MutexGuard<'static, ()>>,
}

thread_local! {
    /// Whether this thread holds `SERIAL` (guards may nest).
    static HOLDS_SERIAL: Cell<bool> = const { Cell::new(false) };
}

/// Starts a leak-checked section; see the module documentation.
///
/// Create it first thing in a test (`let _g = common::check_leaks();`) so that everything
/// the test allocates is dropped before the guard. Guards may nest on one thread (the inner
/// one checks only what happened during its own lifetime).
pub fn check_leaks() -> LeakCheck {
    install_panic_hook();
    let serial = if HOLDS_SERIAL.with(|h| h.replace(true)) {
        None
    } else {
        let serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        // A new test: whatever earlier tests left behind no longer counts.
        GENERATION.fetch_add(1, SeqCst);
        LIVE.store(0, SeqCst);
        Some(serial)
    };
    let baseline = LIVE.load(SeqCst);
    let was_tracked = set_tracked(true);
    LeakCheck {
        was_tracked,
        baseline,
        serial,
    }
}

impl Drop for LeakCheck {
    fn drop(&mut self) {
        set_tracked(self.was_tracked);
        let leaked = LIVE.load(SeqCst) - self.baseline;
        if let Some(serial) = self.serial.take() {
            HOLDS_SERIAL.with(|h| h.set(false));
            // Release the lock before a possible panic so that it is not poisoned.
            drop(serial);
        }
        if leaked != 0 && !thread::panicking() {
            panic!("leak check: {leaked} heap allocation(s) made during this test were not freed");
        }
    }
}

/// Runs `f` with the current thread tracked (for threads spawned by a test, e.g. in a
/// `thread::scope`).
pub fn tracked<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            set_tracked(self.0);
        }
    }
    let _restore = Restore(set_tracked(true));
    f()
}

/// Runs `f` with the current thread untracked.
pub fn untracked<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            set_tracked(self.0);
        }
    }
    let _restore = Restore(set_tracked(false));
    f()
}

/// `thread::spawn`, with the new thread's allocations tracked. Join it before the test ends.
pub fn spawn_tracked<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    thread::spawn(move || tracked(f))
}

/// Runs `f` on a tracked thread with a 64 MiB stack and returns its result (re-raising its
/// panic). For tests that move very large futures around by value: unoptimised builds and
/// sanitizers keep several copies on the stack.
pub fn on_big_stack<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let handle = thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || tracked(f))
        .expect("spawning a thread");
    match handle.join() {
        Ok(value) => value,
        Err(payload) => panic::resume_unwind(payload),
    }
}

/// Returns `f()` and the number of heap allocations the current thread made while running it.
pub fn count_allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let result = f();
    let after = ALLOCATIONS.with(Cell::get);
    (result, after - before)
}

fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        untracked(|| {
            let previous = panic::take_hook();
            panic::set_hook(Box::new(move |info| {
                let quiet = QUIET.try_with(Cell::get).unwrap_or(false);
                if !quiet {
                    untracked(|| previous(info));
                }
            }));
        });
    });
}

/// Runs `f`, which must panic, without printing the panic; returns the payload.
#[track_caller]
pub fn expect_panic<R>(f: impl FnOnce() -> R) -> Box<dyn Any + Send> {
    install_panic_hook();
    let was_quiet = QUIET.with(|q| q.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was_quiet));
    match result {
        Ok(_) => panic!("expected a panic, but the closure returned normally"),
        Err(payload) => payload,
    }
}

/// Runs `f` with the panics it raises and catches itself (or that rawtask catches, as with
/// `propagate_panic`) not printed.
pub fn quietly<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            QUIET.with(|q| q.set(self.0));
        }
    }
    install_panic_hook();
    let _restore = Restore(QUIET.with(|q| q.replace(true)));
    f()
}

/// Runs `f` and returns `Err(payload)` if it panicked, without printing the panic.
pub fn catch_quietly<R>(f: impl FnOnce() -> R) -> Result<R, Box<dyn Any + Send>> {
    install_panic_hook();
    let was_quiet = QUIET.with(|q| q.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was_quiet));
    result
}

/// The message of a panic payload (`&str` or `String`), or `""`.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::new()
    }
}

// ---------------------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------------------

/// A shared event counter.
#[derive(Clone, Debug, Default)]
pub struct Counter(Arc<AtomicUsize>);

impl Counter {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn get(&self) -> usize {
        self.0.load(SeqCst)
    }
    pub fn inc(&self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A value that increments a counter when dropped (use it as a future, output, metadata
/// or capture of a schedule closure).
#[derive(Debug)]
pub struct DropProbe {
    drops: Counter,
    pub value: usize,
}

impl DropProbe {
    pub fn new(drops: &Counter) -> Self {
        Self::with_value(drops, 0)
    }
    pub fn with_value(drops: &Counter, value: usize) -> Self {
        DropProbe {
            drops: drops.clone(),
            value,
        }
    }
}

impl Drop for DropProbe {
    fn drop(&mut self) {
        self.drops.inc();
    }
}

// ---------------------------------------------------------------------------------------
// A controllable future
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct ProbeShared {
    polls: AtomicUsize,
    drops: AtomicUsize,
    ready: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

/// Observes and controls the futures made by [`Probe::future`]: counts polls and drops,
/// remembers the last waker, and decides when they complete.
#[derive(Clone, Default)]
pub struct Probe(Arc<ProbeShared>);

impl Probe {
    pub fn new() -> Self {
        Self::default()
    }

    /// A future that is pending until [`Probe::complete`] is called, then yields `output`.
    /// Each poll stores the waker; dropping the future drops the stored waker (as a real
    /// future that unregisters itself would).
    pub fn future<T>(&self, output: T) -> ProbeFuture<T> {
        ProbeFuture {
            shared: self.0.clone(),
            output: Some(output),
        }
    }

    /// A future that completes on its first poll.
    pub fn ready<T>(&self, output: T) -> ProbeFuture<T> {
        self.complete();
        self.future(output)
    }

    pub fn polls(&self) -> usize {
        self.0.polls.load(SeqCst)
    }
    pub fn drops(&self) -> usize {
        self.0.drops.load(SeqCst)
    }
    /// Lets the future complete at its next poll (does not wake it).
    pub fn complete(&self) {
        self.0.ready.store(true, SeqCst);
    }
    /// Takes the waker stored by the last poll.
    pub fn take_waker(&self) -> Option<Waker> {
        self.0.waker.lock().unwrap().take()
    }
    /// A clone of the waker stored by the last poll.
    pub fn waker(&self) -> Waker {
        self.0
            .waker
            .lock()
            .unwrap()
            .clone()
            .expect("the future has not been polled")
    }
}

/// See [`Probe::future`].
pub struct ProbeFuture<T> {
    shared: Arc<ProbeShared>,
    output: Option<T>,
}

impl<T> Unpin for ProbeFuture<T> {}

impl<T> Future for ProbeFuture<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.shared.polls.fetch_add(1, SeqCst);
        if self.shared.ready.load(SeqCst) {
            Poll::Ready(
                self.output
                    .take()
                    .expect("ProbeFuture polled after completion"),
            )
        } else {
            *self.shared.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

impl<T> Drop for ProbeFuture<T> {
    fn drop(&mut self) {
        self.shared.drops.fetch_add(1, SeqCst);
        let waker = self.shared.waker.lock().unwrap().take();
        drop(waker);
    }
}

// ---------------------------------------------------------------------------------------
// A queue used as schedule function
// ---------------------------------------------------------------------------------------

struct QueueShared<M> {
    items: Mutex<VecDeque<(Runnable<M>, Option<ScheduleInfo>)>>,
    ready: Condvar,
    scheduled: AtomicUsize,
}

/// A FIFO of scheduled runnables that counts schedule calls.
///
/// Runnables left in the queue keep their tasks alive (and the tasks keep the queue alive
/// through their schedule closure), so tests drain it before ending.
pub struct Queue<M = ()>(Arc<QueueShared<M>>);

impl<M> Clone for Queue<M> {
    fn clone(&self) -> Self {
        Queue(self.0.clone())
    }
}

impl<M: Send + Sync + 'static> Default for Queue<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Send + Sync + 'static> Queue<M> {
    pub fn new() -> Self {
        Queue(Arc::new(QueueShared {
            items: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            scheduled: AtomicUsize::new(0),
        }))
    }

    /// A schedule function `Fn(Runnable<M>)` that pushes into this queue.
    pub fn schedule(&self) -> impl Fn(Runnable<M>) + Clone + Send + Sync + 'static {
        let q = self.clone();
        move |runnable| q.push(runnable, None)
    }

    /// A schedule function for `WithInfo` that pushes into this queue with the info.
    pub fn schedule_with_info(
        &self,
    ) -> impl Fn(Runnable<M>, ScheduleInfo) + Clone + Send + Sync + 'static {
        let q = self.clone();
        move |runnable, info| q.push(runnable, Some(info))
    }

    fn push(&self, runnable: Runnable<M>, info: Option<ScheduleInfo>) {
        self.0.scheduled.fetch_add(1, SeqCst);
        self.0.items.lock().unwrap().push_back((runnable, info));
        self.0.ready.notify_all();
    }

    /// How many times the schedule function was called.
    pub fn scheduled(&self) -> usize {
        self.0.scheduled.load(SeqCst)
    }
    pub fn len(&self) -> usize {
        self.0.items.lock().unwrap().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn pop(&self) -> Option<Runnable<M>> {
        self.0.items.lock().unwrap().pop_front().map(|(r, _)| r)
    }
    /// Pops a runnable and the info its schedule call received (only for runnables
    /// scheduled through [`Queue::schedule_with_info`]).
    pub fn pop_with_info(&self) -> Option<(Runnable<M>, ScheduleInfo)> {
        let (runnable, info) = self.0.items.lock().unwrap().pop_front()?;
        Some((
            runnable,
            info.expect("this runnable was scheduled without WithInfo"),
        ))
    }
    /// Blocks until a runnable is available.
    pub fn recv(&self) -> Runnable<M> {
        let mut items = self.0.items.lock().unwrap();
        loop {
            if let Some((r, _)) = items.pop_front() {
                return r;
            }
            items = self.0.ready.wait(items).unwrap();
        }
    }
    /// Runs queued runnables until the queue is empty; returns how many ran.
    pub fn run_all(&self) -> usize {
        let mut ran = 0;
        while let Some(r) = self.pop() {
            r.run();
            ran += 1;
        }
        ran
    }
}

// ---------------------------------------------------------------------------------------
// Executing futures
// ---------------------------------------------------------------------------------------

struct ThreadWaker {
    thread: Thread,
    notified: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.notified.store(true, SeqCst);
        self.thread.unpark();
    }
}

/// Polls `future` on the current thread until it completes, parking in between.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let parker = Arc::new(ThreadWaker {
        thread: thread::current(),
        notified: AtomicBool::new(false),
    });
    let waker = Waker::from(parker.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        while !parker.notified.swap(false, SeqCst) {
            thread::park();
        }
    }
}

/// A waker that does nothing.
pub fn noop_waker() -> &'static Waker {
    Waker::noop()
}

/// Polls `future` once with a no-op waker.
pub fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    poll_with(future, noop_waker())
}

/// Polls `future` once with `waker`.
pub fn poll_with<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

struct CountingWake(Counter);

impl Wake for CountingWake {
    fn wake(self: Arc<Self>) {
        self.0.inc();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.inc();
    }
}

/// A waker that counts how many times it was woken.
pub fn counting_waker() -> (Waker, Counter) {
    let wakes = Counter::new();
    (Waker::from(Arc::new(CountingWake(wakes.clone()))), wakes)
}

/// A future that is pending once (waking itself) and then ready.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// A raw pointer that may be sent to another thread (for raw round-trip tests).
#[derive(Debug)]
pub struct SendPtr<T: ?Sized>(pub *mut T);

// SAFETY: only used to move task pointers whose owners are Send between threads.
unsafe impl<T: ?Sized> Send for SendPtr<T> {}
