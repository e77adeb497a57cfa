//! The C-facing spawn paths when the global heap fails: `Builder::spawn_c`, background jobs
//! (`TaskHandle::try_spawn`, `try_spawn_on`) and `export_task!`'s `spawn` and `try_spawn`
//! report `NO_MEMORY` (or null plus the last error) instead of aborting, and `try_spawn_many`
//! stops at the failure.
//!
//! The binary's `#[global_allocator]` can be armed, per thread, to refuse allocations of one
//! alignment, `TASK_ALIGN`, after letting a number of them through. Every future here holds
//! an [`Aligned`] marker, so the task cell is the only allocation with that alignment: the
//! task's allocation fails and nothing else does. Live allocations of that alignment are
//! counted, so a task that is never freed fails the test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::c_char;
use std::ptr::{null, null_mut, NonNull};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rawtask::background::{CancellationToken, Error, Task, TaskHandle};
use rawtask::capi::{
    guard, rawtask_clear_last_error, rawtask_last_error_message, rawtask_runnable_run,
    rawtask_task_free, rawtask_task_poll, RawtaskRunnable, RawtaskSchedule, RawtaskStatus,
    RawtaskTask,
};
use rawtask::{Builder, TrySpawnError};

/// The alignment of every task in this binary, and of nothing else it allocates.
const TASK_ALIGN: usize = 512;

/// Put into a future (or a job) to give its task `TASK_ALIGN`.
#[derive(Clone, Copy, Default)]
#[repr(align(512))]
struct Aligned(u8);

const _: () = assert!(std::mem::align_of::<Aligned>() == TASK_ALIGN);

// ---------------------------------------------------------------------------------------
// The armable global allocator
// ---------------------------------------------------------------------------------------

thread_local! {
    /// Allocations of `TASK_ALIGN` this thread still lets through before it refuses them;
    /// `usize::MAX` when not armed.
    static LET_THROUGH: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Live allocations of `TASK_ALIGN`, all threads.
static LIVE_TASKS: AtomicIsize = AtomicIsize::new(0);
/// Refused allocations, all threads.
static REFUSED: AtomicUsize = AtomicUsize::new(0);

struct Armable;

#[global_allocator]
static ALLOCATOR: Armable = Armable;

impl Armable {
    /// Whether to refuse an allocation of `layout` on this thread.
    fn refuse(layout: Layout) -> bool {
        if layout.align() != TASK_ALIGN {
            return false;
        }
        LET_THROUGH
            .try_with(|left| match left.get() {
                usize::MAX => false,
                0 => true,
                n => {
                    left.set(n - 1);
                    false
                }
            })
            .unwrap_or(false)
    }
}

// SAFETY: forwards to `System`, or returns null (an allowed failure) without allocating.
unsafe impl GlobalAlloc for Armable {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Armable::refuse(layout) {
            REFUSED.fetch_add(1, SeqCst);
            return null_mut();
        }
        // SAFETY: forwarded contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() && layout.align() == TASK_ALIGN {
            LIVE_TASKS.fetch_add(1, SeqCst);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.align() == TASK_ALIGN {
            LIVE_TASKS.fetch_sub(1, SeqCst);
        }
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Serialises the tests (they read the process-wide counters) and checks, when dropped, that
/// no task is left allocated. Arms this thread to let `let_through` task allocations through
/// and refuse the next; disarms when dropped.
struct Armed<'a> {
    _serial: MutexGuard<'a, ()>,
}

fn arm(let_through: usize) -> Armed<'static> {
    static SERIAL: Mutex<()> = Mutex::new(());
    let serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    assert_eq!(
        LIVE_TASKS.load(SeqCst),
        0,
        "a task from an earlier test is alive"
    );
    LET_THROUGH.with(|left| left.set(let_through));
    Armed { _serial: serial }
}

impl Armed<'_> {
    fn disarm(&self) {
        LET_THROUGH.with(|left| left.set(usize::MAX));
    }
}

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        self.disarm();
        if !std::thread::panicking() {
            wait_until_no_task_is_live();
        }
    }
}

/// Background jobs free their task on the thread that runs them: wait (with a deadline) for
/// the last one.
fn wait_until_no_task_is_live() {
    let start = std::time::Instant::now();
    let deadline = std::time::Duration::from_secs(if cfg!(miri) { 600 } else { 30 });
    while LIVE_TASKS.load(SeqCst) != 0 {
        assert!(start.elapsed() < deadline, "a task was never freed");
        std::thread::yield_now();
    }
}

/// Counts drops.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl Counter {
    fn get(&self) -> usize {
        self.0.load(SeqCst)
    }
}

struct DropProbe(Counter);

impl Drop for DropProbe {
    fn drop(&mut self) {
        self.0 .0.fetch_add(1, SeqCst);
    }
}

/// The last error as a C caller reads it.
fn last_error_message() -> String {
    let mut buf = [0 as c_char; 256];
    // SAFETY: the buffer is writable for its length.
    let written = unsafe { rawtask_last_error_message(buf.as_mut_ptr(), buf.len() as i32) };
    assert!(written > 0, "no last error");
    // SAFETY: the function wrote a NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .unwrap()
        .to_owned()
}

// ---------------------------------------------------------------------------------------
// spawn_c, and a C-style caller of it
// ---------------------------------------------------------------------------------------

unsafe extern "C" fn run_now(_: *mut std::ffi::c_void, runnable: *mut RawtaskRunnable, _: u32) {
    // SAFETY: the callback owns the runnable and runs it once.
    unsafe { rawtask_runnable_run(runnable) };
}

fn c_schedule() -> RawtaskSchedule {
    // SAFETY: `run_now` is thread-safe and ignores its context.
    unsafe { RawtaskSchedule::new(run_now, null_mut()) }
}

#[test]
fn spawn_c_returns_no_memory_for_the_tasks_layout() {
    let armed = arm(0);
    let (closures, slots) = (Counter::default(), Counter::default());
    let captured = DropProbe(closures.clone());
    let marker = Aligned(7);
    let failure = Builder::new()
        .metadata(DropProbe(slots.clone()))
        .spawn_c(
            move |_| {
                drop(captured);
                async move {
                    let whole = marker; // the whole marker, not just its field
                    u64::from(whole.0)
                }
            },
            c_schedule(),
        )
        .unwrap_err();
    assert_eq!(failure.status(), RawtaskStatus::NoMemory);
    assert!(failure.to_string().contains("(alignment 512)"), "{failure}");
    assert_eq!((closures.get(), slots.get()), (1, 1));
    assert!(REFUSED.load(SeqCst) > 0);

    // Once memory is back, the same call succeeds.
    armed.disarm();
    let (runnable, task) = Builder::new()
        .spawn_c(
            move |()| async move {
                let whole = marker; // the whole marker, not just its field
                u64::from(whole.0)
            },
            c_schedule(),
        )
        .unwrap();
    let mut out = 0u64;
    // SAFETY: fresh handles from `spawn_c`, each used once; `out` is a writable u64.
    unsafe {
        assert_eq!(rawtask_runnable_run(runnable.as_ptr()), RawtaskStatus::Ok);
        let status = rawtask_task_poll(task, (&raw mut out).cast(), 8);
        assert_eq!((status, out), (RawtaskStatus::Ready, 7));
        assert_eq!(rawtask_task_free(task), RawtaskStatus::Ok);
    }
}

/// A library's `extern "C"` spawn function, written as `capi::guard`'s docs suggest.
///
/// # Safety
/// `runnable` and `task` must be writable.
unsafe extern "C" fn my_lib_spawn(
    seed: u32,
    runnable: *mut *mut RawtaskRunnable,
    task: *mut RawtaskTask,
) -> RawtaskStatus {
    guard(|| {
        let marker = Aligned(1);
        let (r, t) = Builder::new().spawn_c(
            move |()| async move {
                let whole = marker;
                seed + u32::from(whole.0)
            },
            c_schedule(),
        )?;
        // SAFETY: writable by the caller's contract.
        unsafe {
            runnable.write(r.as_ptr());
            task.write(t);
        }
        Ok(RawtaskStatus::Ok)
    })
}

#[test]
fn a_c_caller_sees_no_memory_and_the_message() {
    let armed = arm(0);
    let mut runnable = null_mut();
    let mut task = RawtaskTask::NULL;
    rawtask_clear_last_error();
    // SAFETY: both out-parameters are writable.
    let status = unsafe { my_lib_spawn(41, &mut runnable, &mut task) };
    assert_eq!(status, RawtaskStatus::NoMemory);
    assert_eq!(status as i32, -6);
    assert!(runnable.is_null() && task.is_null());
    let message = last_error_message();
    assert!(
        message.starts_with("rawtask: could not allocate a task of"),
        "{message}"
    );

    armed.disarm();
    // SAFETY: as above.
    let status = unsafe { my_lib_spawn(41, &mut runnable, &mut task) };
    assert_eq!(status, RawtaskStatus::Ok);
    let mut out = 0u32;
    // SAFETY: fresh handles, each used once.
    unsafe {
        rawtask_runnable_run(runnable);
        assert_eq!(
            rawtask_task_poll(task, (&raw mut out).cast(), 4),
            RawtaskStatus::Ready
        );
        assert_eq!(rawtask_task_free(task), RawtaskStatus::Ok);
    }
    assert_eq!(out, 42);
}

// ---------------------------------------------------------------------------------------
// Background jobs and export_task!
// ---------------------------------------------------------------------------------------

/// A job whose task gets `TASK_ALIGN`; counts its clones and drops.
struct Job {
    _marker: Aligned,
    answer: u32,
    clones: Counter,
    drops: Counter,
}

impl Clone for Job {
    fn clone(&self) -> Job {
        self.clones.0.fetch_add(1, SeqCst);
        Job {
            _marker: self._marker,
            answer: self.answer,
            clones: self.clones.clone(),
            drops: self.drops.clone(),
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        self.drops.0.fetch_add(1, SeqCst);
    }
}

impl Task for Job {
    type Output = u32;

    fn run(&self, _: &CancellationToken) -> Result<u32, Error> {
        Ok(self.answer)
    }
}

impl Job {
    fn new(answer: u32) -> Job {
        Job {
            _marker: Aligned::default(),
            answer,
            clones: Counter::default(),
            drops: Counter::default(),
        }
    }
}

rawtask::export_task! {
    Task: Job;
    spawn: job_spawn;
    try_spawn: job_try_spawn;
    wait: job_wait;
    result_destroy: job_result_destroy;
}

#[test]
fn task_handle_try_spawn_drops_the_job() {
    let armed = arm(0);
    let job = Job::new(3);
    let (clones, drops) = (job.clones.clone(), job.drops.clone());
    let error: TrySpawnError = TaskHandle::try_spawn(job).unwrap_err();
    assert_eq!(error.layout().align(), TASK_ALIGN);
    assert_eq!((clones.get(), drops.get()), (0, 1));

    let job = Job::new(4);
    let drops = job.drops.clone();
    let error = TaskHandle::try_spawn_on(job, |runnable: rawtask::Runnable| {
        runnable.run();
    })
    .unwrap_err();
    assert_eq!(error.layout().align(), TASK_ALIGN);
    assert_eq!(drops.get(), 1);

    armed.disarm();
    assert_eq!(
        TaskHandle::try_spawn(Job::new(5)).unwrap().wait().unwrap(),
        5
    );
}

#[test]
fn export_spawn_returns_null_with_the_error() {
    let armed = arm(0);
    let job = Job::new(6);
    rawtask_clear_last_error();
    // SAFETY: `job` is a valid job.
    let handle = unsafe { job_spawn(&job) };
    assert!(handle.is_null());
    assert!(last_error_message().starts_with("rawtask: could not allocate a task of"));
    // The clone made for the job was dropped; the caller's job is untouched.
    assert_eq!((job.clones.get(), job.drops.get()), (1, 1));

    armed.disarm();
    // SAFETY: as above; the handle is waited on (which frees it) and its result freed.
    unsafe {
        let handle = job_spawn(&job);
        assert!(!handle.is_null());
        let result = job_wait(handle);
        assert_eq!(*result, 6);
        job_result_destroy(result);
    }
}

#[test]
fn export_try_spawn_returns_no_memory() {
    let armed = arm(0);
    let job = Job::new(8);
    let mut handle = NonNull::dangling().as_ptr();
    // SAFETY: `job` is valid and `handle` writable.
    let status = unsafe { job_try_spawn(&job, &mut handle) };
    assert_eq!(status, RawtaskStatus::NoMemory);
    assert!(handle.is_null());
    assert!(last_error_message().contains("(alignment 512)"));
    // Rust callers can downcast the last error.
    let error = rawtask::capi::take_last_error().unwrap();
    assert_eq!(
        error
            .downcast_ref::<TrySpawnError>()
            .unwrap()
            .layout()
            .align(),
        TASK_ALIGN
    );
    assert_eq!((job.clones.get(), job.drops.get()), (1, 1));

    // SAFETY: null arguments are reported, not dereferenced.
    unsafe {
        assert_eq!(
            job_try_spawn(null(), &mut handle),
            RawtaskStatus::InvalidArgument
        );
        assert_eq!(
            job_try_spawn(&job, null_mut()),
            RawtaskStatus::InvalidArgument
        );
    }

    armed.disarm();
    // SAFETY: as above; the handle is waited on (which frees it) and its result freed.
    unsafe {
        assert_eq!(job_try_spawn(&job, &mut handle), RawtaskStatus::Ok);
        let result = job_wait(handle);
        assert_eq!(*result, 8);
        job_result_destroy(result);
    }
}

// ---------------------------------------------------------------------------------------
// try_spawn_many
// ---------------------------------------------------------------------------------------

#[test]
fn try_spawn_many_stops_at_the_failure_for_every_k() {
    const FUTURES: usize = 3;
    for k in 0..=FUTURES {
        // Let `k` tasks through, refuse the next (none when k == FUTURES).
        let _armed = arm(k);
        let drops = Counter::default();
        // Made lazily (a `Vec` of them would itself have `TASK_ALIGN`): the futures after
        // the failed one are never made, and the iterator is dropped.
        let made = Counter::default();
        let futures = (0..FUTURES).map(|i| {
            made.0.fetch_add(1, SeqCst);
            let probe = DropProbe(drops.clone());
            let marker = Aligned::default();
            async move {
                let _keep = (&probe, marker);
                i
            }
        });
        let (mut runnables, mut tasks) = (Vec::new(), Vec::new());
        runnables.reserve(FUTURES);
        tasks.reserve(FUTURES);
        let result = rawtask::try_spawn_many(futures, &|_| {}, &mut runnables, &mut tasks);
        assert_eq!(result.is_err(), k < FUTURES, "k = {k}");
        assert_eq!((runnables.len(), tasks.len()), (k, k));
        // The future whose spawn failed was dropped; the spawned ones are intact.
        assert_eq!(made.get(), FUTURES.min(k + 1), "k = {k}");
        assert_eq!(drops.get(), made.get() - k, "k = {k}");
        for runnable in runnables {
            runnable.run();
        }
        let outputs: Vec<usize> = tasks
            .into_iter()
            .map(futures_lite::future::block_on)
            .collect();
        assert_eq!(outputs, (0..k).collect::<Vec<_>>());
        assert_eq!(drops.get(), made.get());
    }
}
