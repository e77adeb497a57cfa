//! A heapless executor on rawtask: tasks in a `static` [`OwnedPool`], a fixed-size run queue,
//! and no `#[global_allocator]` anywhere. Only `main` spawns, so it holds the pool's one
//! spawner, whose spawns take a slot without a compare-and-swap (a `StaticPool` would let
//! interrupt handlers spawn too). Builds for `thumbv7m-none-eabi`; on real hardware the
//! reset handler (cortex-m-rt's, say) would call `main`.

#![no_std]
#![no_main]

use core::cell::UnsafeCell;
use core::future::Future;
use core::panic::PanicInfo;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use rawtask::storage::{OwnedPool, PoolSpawner, TaskSlot};
use rawtask::{Builder, Runnable, Task};

/// Room for four tasks of up to 128 bytes each (the header, the schedule function, the claimed
/// slot and the future).
static POOL: OwnedPool<TaskSlot<128>, 4> = OwnedPool::new();

/// The pool's spawner type: only its holder spawns.
type Spawner = PoolSpawner<'static, TaskSlot<128>, 4>;

/// The run queue. A task is queued at most once at a time (rawtask schedules a task only when
/// it is not already scheduled), so it never holds more runnables than the pool has tasks.
static QUEUE: RunQueue<4> = RunQueue::new();

/// A fixed-size ring of runnables behind a spin lock (an interrupt handler that wakes a task
/// would take a critical section here instead).
struct RunQueue<const N: usize> {
    locked: AtomicBool,
    ring: UnsafeCell<Ring<N>>,
}

struct Ring<const N: usize> {
    slots: [Option<Runnable>; N],
    head: usize,
    len: usize,
}

// SAFETY: `ring` is touched only while `locked` is held; runnables are `Send`.
unsafe impl<const N: usize> Sync for RunQueue<N> {}

impl<const N: usize> RunQueue<N> {
    const EMPTY: Option<Runnable> = None;

    const fn new() -> Self {
        RunQueue {
            locked: AtomicBool::new(false),
            ring: UnsafeCell::new(Ring {
                slots: [Self::EMPTY; N],
                head: 0,
                len: 0,
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Ring<N>) -> R) -> R {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        // SAFETY: the lock is held, so this is the only reference to the ring.
        let result = f(unsafe { &mut *self.ring.get() });
        self.locked.store(false, Ordering::Release);
        result
    }

    fn push(&self, runnable: Runnable) {
        self.with(|ring| {
            assert!(ring.len < N, "more runnables than tasks");
            let tail = (ring.head + ring.len) % N;
            ring.slots[tail] = Some(runnable);
            ring.len += 1;
        })
    }

    fn pop(&self) -> Option<Runnable> {
        self.with(|ring| {
            if ring.len == 0 {
                return None;
            }
            let runnable = ring.slots[ring.head].take();
            ring.head = (ring.head + 1) % N;
            ring.len -= 1;
            runnable
        })
    }
}

/// Spawns `future` into the pool; `None` when the pool is full or the task does not fit.
fn spawn<F>(spawner: &Spawner, future: F) -> Option<Task<F::Output>>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (runnable, task) = Builder::new()
        .allocator(spawner.claim()?)
        .try_spawn(move |()| future, |runnable| QUEUE.push(runnable))
        .ok()?;
    runnable.schedule();
    Some(task)
}

/// Runs queued tasks until the queue is empty.
fn run_until_idle() {
    while let Some(runnable) = QUEUE.pop() {
        runnable.run();
    }
}

/// Returns `Pending` once, waking itself: a task that goes round the queue twice.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A waker that does nothing, to poll finished `Task`s.
fn noop_waker() -> Waker {
    const VTABLE: RawWakerVTable = RawWakerVTable::new(|_| RAW, |_| {}, |_| {}, |_| {});
    const RAW: RawWaker = RawWaker::new(core::ptr::null(), &VTABLE);
    // SAFETY: every function of the vtable ignores the (null) data pointer.
    unsafe { Waker::from_raw(RAW) }
}

/// The output of a finished task.
fn take<T>(mut task: Task<T>) -> Option<T> {
    let waker = noop_waker();
    match Pin::new(&mut task).poll(&mut Context::from_waker(&waker)) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

static TICKS: AtomicU32 = AtomicU32::new(0);

fn main() -> u32 {
    let Some(spawner) = POOL.spawner() else {
        return 0;
    };
    let first = spawn(&spawner, async {
        YieldNow(false).await;
        TICKS.fetch_add(1, Ordering::Relaxed);
        20u32
    });
    let second = spawn(&spawner, async { 22u32 });
    // Too big for a 128-byte slot: refused, nothing allocated.
    let big = [7u8; 256];
    let refused = spawn(&spawner, async move { big.iter().map(|&b| b as u32).sum::<u32>() });
    run_until_idle();
    let sum = first.and_then(take).unwrap_or(0) + second.and_then(take).unwrap_or(0);
    // Both tasks are freed; their slots serve the next spawns.
    sum + refused.map_or(0, |_| 1000) + POOL.in_use() as u32
}

/// The entry point: the linker's default entry symbol. (With cortex-m-rt this would be its
/// `#[entry]` function, called from the reset vector.)
#[no_mangle]
pub extern "C" fn _start() -> ! {
    let result = main();
    TICKS.store(result, Ordering::Relaxed);
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
