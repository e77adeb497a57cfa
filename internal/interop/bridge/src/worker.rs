//! One background thread that runs jobs at deadlines: it fires the timers of [`sleep`] and feeds
//! channels, so the loops' tasks are woken from a thread that is not the loop's.
//!
//! [`shutdown`] stops and joins it (jobs still queued are dropped, which drops their wakers), so
//! a program can end with no thread of ours left (valgrind reports none); the next job starts
//! it again.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce() + Send>;

struct Entry {
    deadline: Instant,
    seq: u64,
    job: Job,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

struct Jobs {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    stop: bool,
}

static JOBS: Mutex<Jobs> = Mutex::new(Jobs {
    heap: BinaryHeap::new(),
    seq: 0,
    stop: false,
});
static CHANGED: Condvar = Condvar::new();
static THREAD: Mutex<Option<JoinHandle<()>>> = Mutex::new(None);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn run() {
    let mut jobs = lock(&JOBS);
    loop {
        let now = Instant::now();
        let mut due = Vec::new();
        while jobs.heap.peek().is_some_and(|e| e.0.deadline <= now) {
            due.push(jobs.heap.pop().expect("peeked").0.job);
        }
        if !due.is_empty() {
            drop(jobs);
            for job in due {
                job();
            }
            jobs = lock(&JOBS);
            continue;
        }
        if jobs.stop {
            let left = std::mem::take(&mut jobs.heap);
            drop(jobs);
            drop(left);
            return;
        }
        jobs = match jobs.heap.peek() {
            Some(next) => {
                let wait = next.0.deadline.saturating_duration_since(now);
                CHANGED
                    .wait_timeout(jobs, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => CHANGED.wait(jobs).unwrap_or_else(PoisonError::into_inner),
        };
    }
}

/// Runs `job` on the worker thread once `delay` has passed.
pub fn after(delay: Duration, job: impl FnOnce() + Send + 'static) {
    let mut thread = lock(&THREAD);
    if thread.is_none() {
        lock(&JOBS).stop = false;
        *thread = Some(
            std::thread::Builder::new()
                .name("interop-worker".into())
                .spawn(run)
                .expect("spawning the interop worker thread"),
        );
    }
    let mut jobs = lock(&JOBS);
    let seq = jobs.seq;
    jobs.seq += 1;
    jobs.heap.push(Reverse(Entry {
        deadline: Instant::now() + delay,
        seq,
        job: Box::new(job),
    }));
    drop(jobs);
    drop(thread);
    CHANGED.notify_one();
}

/// Stops the worker thread and waits for it (jobs not yet due are dropped).
pub fn shutdown() {
    let mut thread = lock(&THREAD);
    if let Some(handle) = thread.take() {
        lock(&JOBS).stop = true;
        CHANGED.notify_all();
        handle.join().expect("the interop worker thread panicked");
    }
}

/// What a [`Sleep`] and its timer job share: fired, and the waker to wake.
#[derive(Default)]
struct Timer {
    state: Mutex<(bool, Option<Waker>)>,
}

/// A future that is ready once its delay has passed, woken by the worker thread.
pub fn sleep(delay: Duration) -> Sleep {
    Sleep { delay, timer: None }
}

/// See [`sleep`].
pub struct Sleep {
    delay: Duration,
    timer: Option<Arc<Timer>>,
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sleep").field("delay", &self.delay).finish()
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let delay = self.delay;
        let timer = self.timer.get_or_insert_with(|| {
            let timer = Arc::new(Timer::default());
            let fire = timer.clone();
            after(delay, move || {
                let waker = {
                    let mut state = lock(&fire.state);
                    state.0 = true;
                    state.1.take()
                };
                if let Some(waker) = waker {
                    waker.wake();
                }
            });
            timer
        });
        let mut state = lock(&timer.state);
        if state.0 {
            return Poll::Ready(());
        }
        match &mut state.1 {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// Yields once: wakes itself and returns `Pending` the first time it is polled.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}
