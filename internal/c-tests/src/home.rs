//! Fixtures for `c/home.c`: Rust tasks spawned onto a C loop's home-thread scheduler
//! (`rawtask_home_new`), each waiting for permits that Rust waker threads hand out.

use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, Waker};
use std::thread::JoinHandle;

use rawtask::capi::{guard, home_schedule, Failure, RawtaskHome, RawtaskStatus, RawtaskTask};

use crate::Tracked;

/// Permits for one task's steps.
#[derive(Default)]
struct Gate {
    permits: AtomicUsize,
    waker: Mutex<Option<Waker>>,
}

impl Gate {
    /// Adds a permit and wakes the task, if it is waiting (left a waker). Returns whether.
    fn release(&self) -> bool {
        let waker = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(waker) = waker else { return false };
        self.permits.fetch_add(1, Ordering::SeqCst);
        waker.wake();
        true
    }
}

/// The gates of the spawned tasks, in spawn order, and the steps each task takes.
static GATES: Mutex<Vec<Arc<Gate>>> = Mutex::new(Vec::new());
static STEPS: AtomicUsize = AtomicUsize::new(0);
static WAKERS: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());
static COMPLETED: AtomicUsize = AtomicUsize::new(0);

/// Spawns a task onto `home` that waits `steps` times for a permit from a waker thread, then
/// returns `index * 2` (a `uint64_t`). The task is scheduled at once (on the calling thread:
/// the home's, so it is queued locally). Writes its handle to `out_task`.
///
/// # Safety
/// `out_task` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn fixture_home_spawn(
    home: *const RawtaskHome,
    index: u64,
    steps: u32,
    out_task: *mut RawtaskTask,
) -> RawtaskStatus {
    guard(|| {
        if out_task.is_null() {
            return Err(Failure::invalid_argument(
                "fixture_home_spawn: `out_task` is null",
            ));
        }
        let schedule = home_schedule(home)?;
        let gate = Arc::new(Gate::default());
        let g = gate.clone();
        let (runnable, task) = rawtask::spawn(
            Tracked::new(async move {
                for _ in 0..steps {
                    poll_fn(|cx| {
                        *g.waker.lock().unwrap_or_else(PoisonError::into_inner) =
                            Some(cx.waker().clone());
                        match g
                            .permits
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |p| p.checked_sub(1))
                        {
                            Ok(_) => Poll::Ready(()),
                            Err(_) => Poll::Pending,
                        }
                    })
                    .await;
                }
                COMPLETED.fetch_add(1, Ordering::SeqCst);
                index * 2
            }),
            schedule,
        );
        GATES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(gate);
        STEPS.fetch_max(steps as usize, Ordering::SeqCst);
        runnable.schedule();
        // SAFETY: checked for null; the caller passes a writable handle.
        unsafe { out_task.write(RawtaskTask::new(task)) };
        Ok(RawtaskStatus::Ok)
    })
}

/// How many fixture tasks have finished.
#[no_mangle]
pub extern "C" fn fixture_home_completed() -> usize {
    COMPLETED.load(Ordering::SeqCst)
}

/// Starts `threads` waker threads that share the gates spawned so far between them and
/// release each one as many times as its task takes steps (each time it is waiting), then exit.
#[no_mangle]
pub extern "C" fn fixture_home_start_wakers(threads: u32) {
    let gates: Arc<Vec<Arc<Gate>>> = Arc::new(
        GATES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect(),
    );
    let steps = STEPS.load(Ordering::SeqCst);
    let threads = threads.max(1) as usize;
    let mut wakers = WAKERS.lock().unwrap_or_else(PoisonError::into_inner);
    for t in 0..threads {
        let gates = gates.clone();
        wakers.push(std::thread::spawn(move || {
            let mine: Vec<usize> = (t..gates.len()).step_by(threads).collect();
            let mut released = vec![0; gates.len()];
            while mine.iter().any(|&i| released[i] < steps) {
                for &i in &mine {
                    if released[i] < steps && gates[i].release() {
                        released[i] += 1;
                    }
                }
                std::thread::yield_now();
            }
        }));
    }
}

/// Joins the waker threads.
#[no_mangle]
pub extern "C" fn fixture_home_join_wakers() {
    let wakers: Vec<_> = WAKERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain(..)
        .collect();
    for waker in wakers {
        waker.join().expect("a waker thread panicked");
    }
}
