//! A minimal timer service for the fixtures: one background thread that wakes [`Sleep`]
//! futures at their deadlines, so that C event loops get woken from a thread of their own.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a sleeping future and the timer thread share.
#[derive(Default, Debug)]
struct Shared {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

struct Timer {
    deadline: Instant,
    seq: u64,
    shared: Arc<Shared>,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

#[derive(Default)]
struct Queue {
    timers: BinaryHeap<Reverse<Timer>>,
    next_seq: u64,
    shutdown: bool,
}

struct Service {
    queue: Mutex<Queue>,
    changed: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

static SERVICE: Service = Service {
    queue: Mutex::new(Queue {
        timers: BinaryHeap::new(),
        next_seq: 0,
        shutdown: false,
    }),
    changed: Condvar::new(),
    thread: Mutex::new(None),
};

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The timer thread: fires every due timer (waking outside the lock), then sleeps until the
/// next deadline or a change.
fn timer_thread() {
    let mut queue = lock(&SERVICE.queue);
    loop {
        let now = Instant::now();
        let mut due = Vec::new();
        while let Some(Reverse(timer)) = queue.timers.peek() {
            if timer.deadline > now {
                break;
            }
            due.push(queue.timers.pop().unwrap().0);
        }
        if !due.is_empty() {
            drop(queue);
            for timer in due {
                timer.shared.fired.store(true, Ordering::Release);
                let waker = lock(&timer.shared.waker).take();
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            queue = lock(&SERVICE.queue);
            continue;
        }
        if queue.shutdown {
            // Timers still queued are dropped with their wakers.
            queue.timers.clear();
            return;
        }
        queue = match queue.timers.peek() {
            Some(Reverse(next)) => {
                let wait = next.deadline.saturating_duration_since(now);
                SERVICE
                    .changed
                    .wait_timeout(queue, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => SERVICE
                .changed
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

fn register(deadline: Instant, shared: Arc<Shared>) {
    let mut thread = lock(&SERVICE.thread);
    if thread.is_none() {
        lock(&SERVICE.queue).shutdown = false;
        *thread = Some(
            std::thread::Builder::new()
                .name("fixture-timers".into())
                .spawn(timer_thread)
                .expect("spawning the timer thread"),
        );
    }
    let mut queue = lock(&SERVICE.queue);
    let seq = queue.next_seq;
    queue.next_seq += 1;
    queue.timers.push(Reverse(Timer {
        deadline,
        seq,
        shared,
    }));
    drop(queue);
    drop(thread);
    SERVICE.changed.notify_one();
}

/// Stops the timer thread and waits for it to exit (timers still pending are dropped). The
/// next [`sleep`] starts it again.
pub fn shutdown() {
    let mut thread = lock(&SERVICE.thread);
    if let Some(handle) = thread.take() {
        lock(&SERVICE.queue).shutdown = true;
        SERVICE.changed.notify_all();
        handle.join().expect("the timer thread panicked");
    }
}

/// A future that is ready once `duration` has passed, woken by the timer thread.
pub fn sleep(duration: Duration) -> Sleep {
    Sleep {
        deadline: Instant::now() + duration,
        shared: None,
    }
}

/// See [`sleep`].
#[derive(Debug)]
pub struct Sleep {
    deadline: Instant,
    shared: Option<Arc<Shared>>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let deadline = self.deadline;
        let shared = self.shared.get_or_insert_with(|| {
            let shared = Arc::<Shared>::default();
            *lock(&shared.waker) = Some(cx.waker().clone());
            register(deadline, shared.clone());
            shared
        });
        if shared.fired.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        *lock(&shared.waker) = Some(cx.waker().clone());
        // The timer may have fired between the check and the store.
        if shared.fired.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// Yields once: wakes itself and returns `Pending` the first time it is polled.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
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

/// Sleeps for a number of milliseconds.
pub fn sleep_ms(ms: u64) -> Sleep {
    sleep(Duration::from_millis(ms))
}
