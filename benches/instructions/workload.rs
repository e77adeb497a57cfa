//! The spawn + run + join path whose instructions `benches/instructions.sh` counts with
//! callgrind. Uses only API that exists before and after task hooks, so that the same program
//! measures both revisions.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// Returns `Pending` once after waking itself: one reschedule and two polls per task.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = u64;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        if self.0 {
            Poll::Ready(7)
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn noop_waker() -> Waker {
    fn clone(_: *const ()) -> RawWaker {
        RawWaker::new(std::ptr::null(), &VTABLE)
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    // SAFETY: every function of the vtable ignores the data pointer.
    unsafe { Waker::from_raw(clone(std::ptr::null())) }
}

static QUEUE: Mutex<Vec<rawtask::Runnable>> = Mutex::new(Vec::new());

fn schedule(runnable: rawtask::Runnable) {
    QUEUE.lock().unwrap().push(runnable);
}

/// Runs every queued runnable until the queue is empty.
fn drain() {
    loop {
        let next = QUEUE.lock().unwrap().pop();
        match next {
            Some(runnable) => {
                runnable.run();
            }
            None => break,
        }
    }
}

fn join(mut task: rawtask::Task<u64>, cx: &mut Context<'_>) -> u64 {
    match Pin::new(&mut task).poll(cx) {
        Poll::Ready(value) => value,
        Poll::Pending => unreachable!("the task was run to completion"),
    }
}

/// What callgrind counts (`--toggle-collect`): spawn, run and join `n` tasks through the free
/// `spawn` function and `n` through `Builder::spawn`.
#[inline(never)]
fn rawtask_workload(n: u64) -> u64 {
    let waker = noop_waker();
    let cx = &mut Context::from_waker(&waker);
    let mut sum = 0;
    for _ in 0..n {
        let (runnable, task) = rawtask::spawn(YieldOnce(false), schedule);
        runnable.schedule();
        drain();
        sum += join(task, cx);

        let (runnable, task) =
            rawtask::Builder::new().spawn(|()| YieldOnce(false), schedule);
        runnable.schedule();
        drain();
        sum += join(task, cx);
    }
    sum
}

fn main() {
    let n = std::env::args()
        .nth(1)
        .map_or(1000, |arg| arg.parse().expect("a task count"));
    QUEUE.lock().unwrap().reserve(4);
    let sum = rawtask_workload(black_box(n));
    assert_eq!(sum, 14 * n);
}
