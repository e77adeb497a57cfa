//! A tour of rawtask: a small multi-threaded executor that runs a million tasks.
//!
//! ```text
//! cargo run --release --example tour
//! ```
//!
//! The shape is the one most executors share:
//!
//! * `spawn_with` puts the future, the schedule fn and a data slot (here a `u8`
//!   priority) in one heap allocation and returns a `(Runnable, Task)` pair;
//! * the schedule fn pushes a `Runnable` onto a queue whenever the task is woken;
//!   it picks the queue by reading the priority from the data slot;
//! * worker threads, one per core, pop runnables (high priority first) and run them;
//! * whoever wants the output awaits the `Task`.
//!
//! Every task yields once, waking itself, so each one is scheduled twice and polled
//! twice. The example checks the sum of all outputs and the number of polls, and prints
//! the throughput and the bytes allocated per task (a counting global allocator below).

// Tests and examples may use newer Rust than the library's MSRV (1.70); see the README.
#![allow(clippy::incompatible_msrv)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use rawtask::{Runnable, Task};

const TASKS: u64 = 1_000_000;

/// Priorities, stored in each task's data slot.
const LOW: u8 = 0;
const HIGH: u8 = 1;

/// The sending half of the executor: what each task's schedule fn holds (one `Arc`).
struct Queues {
    high: flume::Sender<Runnable<u8>>,
    low: flume::Sender<Runnable<u8>>,
    /// Rung once per queued runnable. Workers sleep on it, so one blocking `recv`
    /// serves both queues.
    bell: flume::Sender<()>,
}

impl Queues {
    /// The schedule fn: called by rawtask when a task must be run (first schedule,
    /// and every wake-up after that).
    fn push(&self, runnable: Runnable<u8>) {
        let queue = if *runnable.data() == HIGH {
            &self.high
        } else {
            &self.low
        };
        // Sending fails only once the workers are gone, i.e. after shutdown.
        let _ = queue.send(runnable);
        let _ = self.bell.send(());
    }
}

/// The receiving half, one clone per worker.
#[derive(Clone)]
struct Worker {
    high: flume::Receiver<Runnable<u8>>,
    low: flume::Receiver<Runnable<u8>>,
    bell: flume::Receiver<()>,
}

impl Worker {
    /// Runs runnables until every sender (ours and those inside the tasks' schedule
    /// fns) is dropped. Returns how many polls it made at each priority.
    fn run(self) -> [u64; 2] {
        let mut polls = [0; 2];
        while self.bell.recv().is_ok() {
            // A ring promises one queued runnable: take it, high priority first. (The
            // two queues are not read atomically, so on a rare race we look again.)
            let runnable = loop {
                if let Ok(runnable) = self.high.try_recv() {
                    break runnable;
                }
                if let Ok(runnable) = self.low.try_recv() {
                    break runnable;
                }
                std::hint::spin_loop();
            };
            polls[usize::from(*runnable.data())] += 1;
            // Polls the future once. If it wakes itself meanwhile, rawtask calls the
            // schedule fn again when the poll returns.
            runnable.run();
        }
        polls
    }
}

/// Creates an executor: the queues to spawn onto, and the workers' end of them.
fn executor() -> (Arc<Queues>, Worker) {
    let (high_tx, high) = flume::unbounded();
    let (low_tx, low) = flume::unbounded();
    let (bell_tx, bell) = flume::unbounded();
    let queues = Queues {
        high: high_tx,
        low: low_tx,
        bell: bell_tx,
    };
    (Arc::new(queues), Worker { high, low, bell })
}

/// The schedule fn of every task: an `Arc` of the queues, one pointer in the task.
fn schedule_fn(queues: &Arc<Queues>) -> impl Fn(Runnable<u8>) + Send + Sync + 'static {
    let queues = queues.clone();
    move |runnable| queues.push(runnable)
}

/// Spawns `future` with `priority` in its data slot and schedules it.
fn spawn<F>(queues: &Arc<Queues>, priority: u8, future: F) -> Task<F::Output, u8>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    // One allocation: state word, future (later its output), schedule fn, priority.
    // `rawtask::Builder::new().metadata(priority).spawn(|_| future, schedule)` is the
    // async-task spelling of the same thing.
    let (runnable, task) = rawtask::spawn_with(future, schedule_fn(queues), priority);
    runnable.schedule();
    task
}

/// What each task runs: yield once, then return twice its number.
async fn work(i: u64) -> u64 {
    // Wakes the task and returns Pending once: rawtask calls the schedule fn again
    // after this poll, and the task goes back to its queue.
    futures_lite::future::yield_now().await;
    i * 2
}

fn main() {
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    let (queues, worker) = executor();

    // The size of one task's allocation, measured alone before any thread starts.
    let before = ALLOCATED.bytes();
    let (runnable, task) = rawtask::spawn_with(work(0), schedule_fn(&queues), HIGH);
    let task_bytes = ALLOCATED.bytes() - before;
    drop((runnable, task)); // never run: dropping both cancels and frees the task

    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let worker = worker.clone();
            thread::spawn(move || worker.run())
        })
        .collect();
    drop(worker);

    let (bytes, allocs) = (ALLOCATED.bytes(), ALLOCATED.count());
    let start = Instant::now();

    // Spawn: every fourth task is high priority. Workers start on them at once.
    let tasks: Vec<Task<u64, u8>> = (0..TASKS)
        .map(|i| {
            let priority = if i % 4 == 0 { HIGH } else { LOW };
            spawn(&queues, priority, work(i))
        })
        .collect();

    // Join: await every task, in order, from this thread.
    let sum = futures_lite::future::block_on(async {
        let mut sum = 0;
        for task in tasks {
            sum += task.await;
        }
        sum
    });
    let elapsed = start.elapsed();
    let (bytes, allocs) = (ALLOCATED.bytes() - bytes, ALLOCATED.count() - allocs);
    assert_eq!(sum, TASKS * (TASKS - 1), "wrong sum of outputs");

    // Shut down: once our `Arc<Queues>` and every task are gone, all senders are
    // dropped, the bell's `recv` fails, and the workers return.
    drop(queues);
    let polls = workers
        .into_iter()
        .map(|w| w.join().expect("worker panicked"))
        .fold([0, 0], |a, b| [a[0] + b[0], a[1] + b[1]]);
    // Each task is polled twice, and the worker read its priority both times.
    let high_tasks = TASKS.div_ceil(4);
    assert_eq!(
        polls[usize::from(HIGH)],
        2 * high_tasks,
        "high-priority polls"
    );
    assert_eq!(
        polls[usize::from(LOW)],
        2 * (TASKS - high_tasks),
        "low-priority polls"
    );

    println!("{TASKS} tasks on {threads} worker threads in {elapsed:.2?}");
    println!(
        "throughput: {:.0} tasks/s ({:.0} polls/s)",
        TASKS as f64 / elapsed.as_secs_f64(),
        (2 * TASKS) as f64 / elapsed.as_secs_f64()
    );
    println!(
        "polls: {} high-priority, {} low-priority",
        polls[usize::from(HIGH)],
        polls[usize::from(LOW)]
    );
    // More than a trivial task's 40 bytes: this one carries a priority in its data slot, a
    // schedule function holding the queues, and a future with state across an `.await`.
    println!("one task's allocation: {task_bytes} bytes");
    println!(
        "whole run: {:.1} bytes and {:.2} allocations per task (queues and the Vec of tasks included)",
        bytes as f64 / TASKS as f64,
        allocs as f64 / TASKS as f64
    );
    println!("sum of outputs: {sum} (checked)");
}

/// A global allocator that counts allocations and bytes requested, then forwards to
/// the system allocator.
struct Counting {
    count: AtomicUsize,
    bytes: AtomicUsize,
}

impl Counting {
    fn count(&self) -> usize {
        self.count.load(Relaxed)
    }

    fn bytes(&self) -> usize {
        self.bytes.load(Relaxed)
    }
}

#[global_allocator]
static ALLOCATED: Counting = Counting {
    count: AtomicUsize::new(0),
    bytes: AtomicUsize::new(0),
};

// SAFETY: every method forwards to `System` with its caller's arguments unchanged;
// the counters are plain atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.count.fetch_add(1, Relaxed);
        self.bytes.fetch_add(layout.size(), Relaxed);
        // SAFETY: our caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this `layout`, as our caller promises.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.count.fetch_add(1, Relaxed);
        self.bytes.fetch_add(new_size, Relaxed);
        // SAFETY: our caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
