//! `storage::StaticPool`'s free list: a slot is taken by a compare-and-swap of its flag
//! (acquire) and given back by a release store. The models check that no slot is handed out
//! twice (each slot has a loom cell that its owner writes and reads: two owners at once, or an
//! owner whose writes do not happen after the previous owner's, is a race loom reports), that a
//! full pool refuses, that freed slots are reused, and that nothing stays taken at the end.
#![cfg(loom)]

use core::alloc::Layout;
use core::ptr::NonNull;

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use loom_tests::{deep, model};
use rawtask::storage::{AllocError, Allocator, StaticPool};

type Slot = [usize; 8];
const LAYOUT: Layout = Layout::new::<Slot>();

/// A pool and one checking cell per slot.
struct Checked<const N: usize> {
    pool: StaticPool<Slot, N>,
    owners: [UnsafeCell<usize>; N],
}

impl<const N: usize> Checked<N> {
    fn new() -> Arc<Self> {
        Arc::new(Checked {
            pool: StaticPool::new(),
            owners: core::array::from_fn(|_| UnsafeCell::new(0)),
        })
    }

    fn index(&self, slot: NonNull<u8>) -> usize {
        let base = &self.pool as *const StaticPool<Slot, N> as usize;
        let offset = slot.as_ptr() as usize - base;
        assert_eq!(offset % core::mem::size_of::<Slot>(), 0);
        offset / core::mem::size_of::<Slot>()
    }

    /// Takes a slot and claims it for `who` (a race if someone else holds it).
    fn take(&self, who: usize) -> Option<NonNull<u8>> {
        let slot = (&self.pool).allocate(LAYOUT).ok()?.cast::<u8>();
        let index = self.index(slot);
        assert!(index < N);
        self.owners[index].with_mut(|owner| {
            // SAFETY: loom checks that no other access to the cell is concurrent.
            unsafe { *owner = who }
        });
        // The task's own use of the memory: write then read it.
        // SAFETY: the slot is ours, big and aligned enough for a `Slot`.
        unsafe {
            slot.cast::<Slot>().as_ptr().write([who; 8]);
            assert_eq!(*slot.cast::<Slot>().as_ptr(), [who; 8]);
        }
        Some(slot)
    }

    /// Checks the slot is still `who`'s, and gives it back.
    fn give_back(&self, slot: NonNull<u8>, who: usize) {
        let index = self.index(slot);
        self.owners[index].with(|owner| {
            // SAFETY: as in `take`.
            assert_eq!(unsafe { *owner }, who, "slot {index} was handed out twice")
        });
        // SAFETY: the slot came from this pool's `allocate` and is given back once.
        unsafe { (&self.pool).deallocate(slot, LAYOUT) }
    }
}

/// Two threads take and give back a slot of a two-slot pool while the main thread does the
/// same: at most two are ever out, every slot comes back, and both are reused.
#[test]
fn two_threads_take_and_free() {
    model("static_pool_two_threads_take_and_free", None, || {
        let checked = Checked::<2>::new();
        let workers: Vec<_> = (1..=2)
            .map(|who| {
                let checked = checked.clone();
                thread::spawn(move || {
                    let slot = checked.take(who);
                    if let Some(slot) = slot {
                        checked.give_back(slot, who);
                    }
                    usize::from(slot.is_some())
                })
            })
            .collect();
        let mine = checked.take(3);
        if let Some(slot) = mine {
            checked.give_back(slot, 3);
        }
        let done: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
        // Three takers, two slots, each holding at most one: a take is refused only while the
        // two others hold both, so the first two takes of the execution always succeed.
        assert!(done + usize::from(mine.is_some()) >= 2);
        assert_eq!(checked.pool.in_use(), 0, "a slot stayed taken");
        // Both slots serve again.
        let a = checked.take(4).expect("a free slot");
        let b = checked.take(5).expect("the other free slot");
        assert!(checked.take(6).is_none(), "a full pool refuses");
        checked.give_back(a, 4);
        checked.give_back(b, 5);
    });
}

/// A one-slot pool, full: a thread's take fails or, if the holder's release came first,
/// succeeds — and then every write of the holder happens before the taker's.
#[test]
fn full_pool_and_release_race() {
    model("static_pool_full_pool_and_release_race", deep(), || {
        let checked = Checked::<1>::new();
        let held = checked.take(1).expect("an empty pool has a slot");
        let other = checked.clone();
        let taker = thread::spawn(move || {
            let got = other.take(2);
            if let Some(slot) = got {
                other.give_back(slot, 2);
            }
            got.is_some()
        });
        checked.give_back(held, 1);
        let _took = taker.join().unwrap();
        assert_eq!(checked.pool.in_use(), 0);
    });
}

/// The pool shared through a loom `Arc`, as an allocator a task can keep (`&'static` is not
/// available in a model: the pool's loom atomics belong to one execution).
#[derive(Clone)]
struct Shared(Arc<StaticPool<rawtask::storage::TaskSlot<512>, 1>>);

// SAFETY: forwards to `&StaticPool`; the `Arc` keeps the pool (and its memory) in place while
// any clone, such as the one inside a task, is alive.
unsafe impl Allocator for Shared {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        (&*self.0).allocate(layout)
    }
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { (&*self.0).deallocate(ptr, layout) }
    }
}

/// A task in a one-slot pool runs and is freed on another thread while the spawner tries a
/// second spawn: it is refused until the first task's last handle is gone, and succeeds after.
#[test]
fn task_freed_on_another_thread_frees_its_slot() {
    model("static_pool_task_freed_on_another_thread", None, || {
        let pool = Shared(Arc::new(StaticPool::new()));
        let (runnable, task) = rawtask::Builder::new()
            .allocator(pool.clone())
            .try_spawn(|()| async { 7usize }, |_| {})
            .expect("an empty pool has a slot");
        task.detach();
        let runner = thread::spawn(move || runnable.run());
        let second = rawtask::Builder::new()
            .allocator(pool.clone())
            .try_spawn(|()| async { 8usize }, |_| {});
        let ran = runner.join().unwrap();
        assert!(!ran);
        drop(second);
        assert_eq!(pool.0.in_use(), 0, "the slot came back");
        let (runnable, task) = rawtask::Builder::new()
            .allocator(pool.clone())
            .try_spawn(|()| async { 9usize }, |_| {})
            .expect("the freed slot is reused");
        drop((runnable, task));
        assert_eq!(pool.0.in_use(), 0);
    });
}
