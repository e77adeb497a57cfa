//! Fixtures of `c/event_loop.c`: pairs of tasks that talk over a channel, wait on timers
//! and yield, each with a priority in its data slot that only the Rust side chooses.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use rawtask::capi::{guard, Failure, RawtaskRunnable, RawtaskSchedule, RawtaskStatus, RawtaskTask};
use rawtask::Builder;

use crate::timer::{sleep_ms, yield_now};
use crate::{spawn_for_c, Tracked};

/// The data slot of an event-loop task, read by C at `RAWTASK_DATA_OFFSET`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct EventTaskData {
    /// Higher runs first.
    pub priority: u32,
    /// The task's index, `0..count`.
    pub index: u32,
}

/// The output of an event-loop task.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct EventTaskOutput {
    /// Even index `i`: `3 * i + 1`. Odd index `i`: `7 * (i - 1) + i` (what its partner sent,
    /// plus its own index).
    pub value: u64,
    /// The task's index.
    pub index: u32,
    /// The priority the Rust side put in the data slot.
    pub priority: u32,
    /// The rank of this task's first poll among all first polls of the process.
    pub first_poll_seq: u32,
    /// How many times the future was polled.
    pub polls: u32,
}

// A `repr(C)` struct crosses to C as it is.
impl rawtask::capi::IntoC for EventTaskOutput {
    type C = EventTaskOutput;
    fn into_c(self) -> Result<EventTaskOutput, rawtask::capi::Error> {
        Ok(self)
    }
}

/// The priority of task `index`: a scramble of the index into `0..16`, which C cannot guess
/// and must read from the data slot.
pub fn priority_of(index: u32) -> u32 {
    index.wrapping_mul(2_654_435_761) >> 28
}

static FIRST_POLLS: AtomicU32 = AtomicU32::new(0);

/// Records the first-poll rank and the number of polls of the future it wraps.
struct Recorded<F> {
    inner: Pin<Box<F>>,
    data: EventTaskData,
    first_poll_seq: Option<u32>,
    polls: u32,
}

impl<F: Future<Output = u64>> Future for Recorded<F> {
    type Output = EventTaskOutput;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<EventTaskOutput> {
        let this = &mut *self;
        let seq = *this
            .first_poll_seq
            .get_or_insert_with(|| FIRST_POLLS.fetch_add(1, Ordering::SeqCst));
        this.polls += 1;
        this.inner.as_mut().poll(cx).map(|value| EventTaskOutput {
            value,
            index: this.data.index,
            priority: this.data.priority,
            first_poll_seq: seq,
            polls: this.polls,
        })
    }
}

/// A one-value channel.
#[derive(Default)]
struct Oneshot {
    slot: Mutex<(Option<u64>, Option<Waker>)>,
}

impl Oneshot {
    fn send(&self, value: u64) {
        let waker = {
            let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
            slot.0 = Some(value);
            slot.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    async fn recv(&self) -> u64 {
        std::future::poll_fn(|cx| {
            let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
            match slot.0.take() {
                Some(value) => Poll::Ready(value),
                None => {
                    slot.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

fn spawn_one<Fut>(
    index: u32,
    future: Fut,
    schedule: RawtaskSchedule,
    out_runnable: *mut *mut RawtaskRunnable,
    out_task: *mut RawtaskTask,
) -> Result<RawtaskStatus, Failure>
where
    Fut: Future<Output = u64> + Send + 'static,
{
    let data = EventTaskData {
        priority: priority_of(index),
        index,
    };
    let future = Tracked::new(Recorded {
        inner: Box::pin(future),
        data,
        first_poll_seq: None,
        polls: 0,
    });
    // SAFETY: the caller of the fixture passes writable out-parameters.
    unsafe {
        spawn_for_c(
            Builder::new().metadata(data).propagate_panic(true),
            move |_| future,
            schedule,
            out_runnable,
            out_task,
        )
    }
}

/// Spawns tasks `2 * pair` (a producer) and `2 * pair + 1` (a consumer) and writes their
/// runnables (not scheduled yet) and task handles to `out_runnables[0..2]` and
/// `out_tasks[0..2]`. Each task's data slot is an [`EventTaskData`]; its output an
/// [`EventTaskOutput`].
///
/// The producer sleeps `1 + index % 7` ms on the timer thread, sends `7 * index` to the consumer,
/// yields once and returns `3 * index + 1`. The consumer waits for the value and returns it
/// plus its own index.
///
/// # Safety
/// `out_runnables` and `out_tasks` must be null or point to two writable elements each.
#[no_mangle]
pub unsafe extern "C" fn fixture_event_spawn_pair(
    schedule: RawtaskSchedule,
    pair: u32,
    out_runnables: *mut *mut RawtaskRunnable,
    out_tasks: *mut RawtaskTask,
) -> RawtaskStatus {
    guard(|| {
        if out_runnables.is_null() || out_tasks.is_null() {
            return Err(Failure::invalid_argument(
                "fixture_event_spawn_pair: null out-parameter",
            ));
        }
        let producer = pair
            .checked_mul(2)
            .ok_or_else(|| Failure::invalid_argument("pair index too large"))?;
        let consumer = producer + 1;
        let channel = Arc::new(Oneshot::default());
        let tx = channel.clone();
        let produce = async move {
            sleep_ms(1 + u64::from(producer % 7)).await;
            tx.send(7 * u64::from(producer));
            yield_now().await;
            3 * u64::from(producer) + 1
        };
        let consume = async move { channel.recv().await + u64::from(consumer) };
        // SAFETY: the caller passes two writable elements in each array.
        unsafe {
            spawn_one(producer, produce, schedule, out_runnables, out_tasks)?;
            spawn_one(
                consumer,
                consume,
                schedule,
                out_runnables.add(1),
                out_tasks.add(1),
            )
        }
    })
}

/// Stops the fixtures' timer thread and waits for it, so that the process exits with no
/// thread of its own left (valgrind then reports no possibly-lost thread stacks).
#[no_mangle]
pub extern "C" fn fixture_timers_shutdown() {
    crate::timer::shutdown();
}
