//! `storage::OwnedPool`: the one `PoolSpawner` takes a slot with an acquire load and a plain
//! store of its flag; a freed slot is given back with a release store from any thread; the
//! spawner is handed over with a release store (drop) and a compare-and-swap with acquire
//! (`spawner`). The models check that no slot is handed out twice and that each slot's owner
//! uses it after its previous owner (each slot has a loom cell that its owner writes and
//! reads: two owners at once, or an owner whose writes are not ordered after the previous
//! owner's, is a race loom reports), across frees on other threads and across a handover.
#![cfg(loom)]

use core::alloc::Layout;
use core::ptr::NonNull;

use loom::cell::UnsafeCell;
use loom::thread;
use loom_tests::{deep, model};
use rawtask::storage::{Allocator, OwnedPool, PoolSlot, PoolSpawner, TaskSlot};

type Slot = [usize; 8];
const LAYOUT: Layout = Layout::new::<Slot>();

/// A pool and one checking cell per slot, leaked: a `PoolSlot` borrows its pool, and one that
/// moves to another loom thread needs a `'static` pool (a loom atomic belongs to one
/// execution, so no `static` can hold one).
struct Checked<const N: usize> {
    pool: OwnedPool<Slot, N>,
    owners: [UnsafeCell<usize>; N],
}

/// A slot taken and used by `who`.
struct Held<const N: usize> {
    slot: PoolSlot<'static, Slot, N>,
    memory: NonNull<u8>,
    who: usize,
}

// SAFETY: the memory is the slot's, which moves with its `PoolSlot` (a `Send` value).
unsafe impl<const N: usize> Send for Held<N> {}

impl<const N: usize> Checked<N> {
    fn leak() -> &'static Self {
        Box::leak(Box::new(Checked {
            pool: OwnedPool::new(),
            owners: core::array::from_fn(|_| UnsafeCell::new(0)),
        }))
    }

    /// Waits for the spawner (loom explores the other threads meanwhile).
    fn spawner(&'static self) -> PoolSpawner<'static, Slot, N> {
        loop {
            match self.pool.spawner() {
                Some(spawner) => return spawner,
                None => thread::yield_now(),
            }
        }
    }

    fn index(&self, memory: NonNull<u8>) -> usize {
        let base = &self.pool as *const OwnedPool<Slot, N> as usize;
        let offset = memory.as_ptr() as usize - base;
        assert_eq!(offset % core::mem::size_of::<Slot>(), 0);
        offset / core::mem::size_of::<Slot>()
    }

    /// Claims a slot, allocates it and uses it as `who` (a race if someone else holds it).
    fn take(&self, spawner: &PoolSpawner<'static, Slot, N>, who: usize) -> Option<Held<N>> {
        let slot = spawner.claim()?;
        let memory = slot.allocate(LAYOUT).expect("a claimed slot").cast::<u8>();
        let index = self.index(memory);
        assert!(index < N);
        self.owners[index].with_mut(|owner| {
            // SAFETY: loom checks that no other access to the cell is concurrent.
            unsafe { *owner = who }
        });
        // SAFETY: the slot is ours, big and aligned enough for a `Slot`.
        unsafe {
            memory.cast::<Slot>().as_ptr().write([who; 8]);
            assert_eq!(*memory.cast::<Slot>().as_ptr(), [who; 8]);
        }
        Some(Held { slot, memory, who })
    }

    /// Checks the slot is still its holder's, and frees it.
    fn give_back(&self, held: Held<N>) {
        let index = self.index(held.memory);
        self.owners[index].with(|owner| {
            // SAFETY: as in `take`.
            let owner = unsafe { *owner };
            assert_eq!(owner, held.who, "slot {index} was handed out twice")
        });
        // SAFETY: the memory came from this slot's `allocate` and is given back once.
        unsafe { held.slot.deallocate(held.memory, LAYOUT) }
    }
}

/// A one-slot pool: the owner's task is freed on another thread while the owner claims again:
/// the claim fails, or gets the slot after every access of the freeing thread.
#[test]
fn owner_claims_while_another_thread_frees_the_same_slot() {
    model("owned_pool_claim_races_free", deep(), || {
        let checked = Checked::<1>::leak();
        let spawner = checked.spawner();
        let held = checked.take(&spawner, 1).expect("an empty pool has a slot");
        let freer = thread::spawn(move || checked.give_back(held));
        let again = checked.take(&spawner, 2);
        let reused = again.is_some();
        if let Some(held) = again {
            checked.give_back(held);
        }
        freer.join().unwrap();
        assert_eq!(checked.pool.in_use(), 0, "a slot stayed taken");
        // Now the slot is free, whatever happened before.
        let last = checked.take(&spawner, 3).expect("the freed slot");
        checked.give_back(last);
        let _ = reused;
    });
}

/// A two-slot pool, both slots taken by the first owner (one freed on another thread, one
/// still held by the first owner after it dropped the spawner); a third thread takes the
/// spawner over and claims: it never gets a slot that is still held, and uses a freed one
/// only after its previous holder.
#[test]
fn spawner_handed_over_while_a_task_frees() {
    model("owned_pool_handover_while_freeing", None, || {
        let checked = Checked::<2>::leak();
        let spawner = checked.spawner();
        // Started before the first owner's claims, so that only the handover orders them
        // before the next owner's (a thread's start would order everything before it).
        let next = thread::spawn(move || {
            let spawner = checked.spawner();
            let got = checked.take(&spawner, 3);
            let took = got.is_some();
            if let Some(held) = got {
                checked.give_back(held);
            }
            took
        });
        let freed = checked.take(&spawner, 1).expect("a free slot");
        let kept = checked.take(&spawner, 2).expect("the other free slot");
        let freer = thread::spawn(move || checked.give_back(freed));
        drop(spawner);
        checked.give_back(kept);
        freer.join().unwrap();
        let _took = next.join().unwrap();
        assert_eq!(checked.pool.in_use(), 0, "a slot stayed taken");
    });
}

/// A real task in a one-slot pool runs and is freed on another thread while the owner tries a
/// second spawn: refused until the first task's last handle is gone, reused after.
#[test]
fn task_freed_on_another_thread_while_the_owner_spawns() {
    model("owned_pool_task_freed_on_another_thread", None, || {
        let pool: &'static OwnedPool<TaskSlot<512>, 1> = Box::leak(Box::new(OwnedPool::new()));
        let spawner = pool.spawner().expect("a new pool has its spawner");
        let spawn = |n: usize| {
            let slot = spawner.claim()?;
            Some(
                rawtask::Builder::new()
                    .allocator(slot)
                    .try_spawn(move |()| async move { n }, |_| {})
                    .expect("the task fits"),
            )
        };
        let (runnable, task) = spawn(7).expect("an empty pool has a slot");
        task.detach();
        let runner = thread::spawn(move || runnable.run());
        let second = spawn(8);
        let ran = runner.join().unwrap();
        assert!(!ran);
        drop(second);
        assert_eq!(pool.in_use(), 0, "the slot came back");
        let (runnable, task) = spawn(9).expect("the freed slot is reused");
        drop((runnable, task));
        assert_eq!(pool.in_use(), 0);
    });
}
