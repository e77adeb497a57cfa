//! Loom models of bugs found after the first protocol suite, each the smallest execution that
//! showed it.
#![cfg(loom)]

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Waker};

use loom::sync::{Arc, Mutex};
use loom::thread;
use rawtask::Runnable;

/// Pending on its first poll (leaving its waker in `slot`), ready on the second; counts drops.
struct WakeOnce {
    polls: usize,
    slot: Arc<Mutex<Option<Waker>>>,
    drops: StdArc<AtomicUsize>,
}

impl Future for WakeOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls += 1;
        if self.polls == 1 {
            *self.slot.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

impl Drop for WakeOnce {
    fn drop(&mut self) {
        assert_eq!(self.drops.fetch_add(1, SeqCst), 0, "future dropped twice");
    }
}

type Queue = Arc<Mutex<VecDeque<Runnable>>>;

fn run_queue(queue: &Queue) {
    loop {
        let next = queue.lock().unwrap().pop_front();
        match next {
            Some(runnable) => {
                runnable.run();
            }
            None => break,
        }
    }
}

/// Rule 2. A detached task's poll returns `Pending` on one thread; between clearing SCHEDULED
/// and releasing its reference, the main thread wakes the task, runs it to completion (which
/// drops the future) and releases the waker's reference. The first runner's release then
/// brings the count to zero: it must see the task done and not drop the future again.
/// (Found by the scope models: `release_runnable` trusted its caller's "future alive".)
#[test]
fn pending_release_vs_wake_and_complete() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.map_or(3, |bound| bound.max(3)));
    builder.check(|| {
        let queue: Queue = Arc::new(Mutex::new(VecDeque::new()));
        let slot = Arc::new(Mutex::new(None));
        let drops = StdArc::new(AtomicUsize::new(0));
        let schedule = {
            let queue = queue.clone();
            move |runnable| queue.lock().unwrap().push_back(runnable)
        };
        let future = WakeOnce {
            polls: 0,
            slot: slot.clone(),
            drops: drops.clone(),
        };
        let (runnable, task) = rawtask::spawn(future, schedule);
        task.detach();
        let runner = thread::spawn(move || {
            runnable.run();
        });
        thread::yield_now();
        let waker = slot.lock().unwrap().take();
        if let Some(waker) = waker {
            waker.wake();
        }
        run_queue(&queue);
        runner.join().unwrap();
        drop(slot.lock().unwrap().take());
        run_queue(&queue);
        assert_eq!(drops.load(SeqCst), 1);
    });
}
