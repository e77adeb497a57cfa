//! [`OwnedPool`]: a static pool with one spawner at a time, whose spawns take a slot without
//! an atomic read-modify-write.

use core::alloc::Layout;
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use super::slots::Slots;
use super::{AllocError, Allocator};
use crate::sync::atomic::{AtomicBool, Ordering};

/// `N` task slots of type `S` in a `static`, like a [`StaticPool`](super::StaticPool), for
/// executors where one thread spawns (any thread may run and free the tasks): taking a slot
/// costs an acquire load and a plain store instead of a compare-and-swap.
///
/// Slots are taken only through the pool's one [`PoolSpawner`], which
/// [`spawner`](Self::spawner) hands out to one caller at a time. The spawner's
/// [`claim`](PoolSpawner::claim) takes a free slot and returns it as a [`PoolSlot`]: an
/// [`Allocator`] that serves exactly one task, for
/// [`Builder::allocator`](crate::Builder::allocator) and
/// [`try_spawn`](crate::Builder::try_spawn). The task keeps the `PoolSlot` and gives the slot
/// back when it is freed, on whatever thread that happens.
///
/// ```
/// use rawtask::storage::{OwnedPool, TaskSlot};
///
/// static POOL: OwnedPool<TaskSlot<256>, 2> = OwnedPool::new();
///
/// let spawner = POOL.spawner().expect("nobody else spawns");
/// assert!(POOL.spawner().is_none(), "one spawner at a time");
/// let spawn = |n: u32| {
///     let slot = spawner.claim()?; // `None`: every slot is taken
///     rawtask::Builder::new()
///         .allocator(slot)
///         .try_spawn(move |()| async move { n * 10 }, |_| {})
///         .ok()
/// };
/// let (r1, t1) = spawn(1).unwrap();
/// let (r2, t2) = spawn(2).unwrap();
/// assert!(spawn(3).is_none()); // both slots are taken
///
/// // Tasks may run and be freed on any thread.
/// std::thread::spawn(move || r1.run()).join().unwrap();
/// assert_eq!(futures_lite::future::block_on(t1), 10); // the task is freed: its slot is free
/// assert_eq!(POOL.in_use(), 1);
/// let (r3, t3) = spawn(3).unwrap();
/// # drop((r2, t2, r3, t3));
/// drop(spawner); // another thread may now take the spawner
/// ```
///
/// # Why a plain store suffices
///
/// A slot's flag is written "taken" only by the holder of the spawner, and "free" only by the
/// holder of that taken slot (the task freeing its memory, or a [`PoolSlot`] dropped unused),
/// with a release store. So when the spawner reads a flag as free (an acquire load, which
/// also orders the previous task's use of the slot before the new one's), nobody else can
/// write the flag until the spawner stores "taken" into it: there is no race for a
/// compare-and-swap to decide. A spawner handed from one thread to another (dropped: a release
/// store of the pool's owner flag; taken: a compare-and-swap with acquire) carries its "taken"
/// stores along, so the next holder never reads a stale "free".
///
/// [`PoolSpawner`] is neither `Send` nor `Sync`: it cannot be moved into or shared with an
/// interrupt handler or another thread, which could then take slots while its owner does. An
/// interrupt handler may call [`spawner`](Self::spawner) itself: it gets `None` while the
/// interrupted code holds the spawner, and otherwise gives the spawner back before the
/// interrupted code runs again. Freeing tasks (from any thread or interrupt) needs no spawner.
///
/// # Cost per task
///
/// As for a [`StaticPool`](super::StaticPool), except that the task keeps a [`PoolSlot`]
/// (two words: the pool and the claimed slot) instead of one pool reference. Besides the
/// slots the pool keeps one flag byte per slot, an owner flag and one word.
///
/// # Compared with `StaticPool` and embassy-executor
///
/// A `StaticPool` may be spawned into from any number of threads and interrupts at once, at the
/// price of a compare-and-swap per spawn (a locked instruction on x86; a load/store-exclusive
/// loop on Arm). An `OwnedPool` drops that to a load and a store for the usual executor, where
/// one thread or one interrupt-free context spawns. embassy-executor's `TaskPool` claims
/// its slots with an atomic read-modify-write of each task's state (or inside a critical
/// section, on targets without atomics) too, and serves one task function; an `OwnedPool`
/// serves any future that fits its slots.
pub struct OwnedPool<S, const N: usize> {
    /// The slots and their flags (shared with `StaticPool`).
    slots: Slots<S, N>,
    /// Whether a [`PoolSpawner`] is alive.
    owned: AtomicBool,
}

// SAFETY: the pool never reads or drops an `S`; a slot's memory is used by the one task that
// took its flag (taken by the one spawner with an acquire load, given back with release), and
// what a task stores there is checked by the spawn functions (`Send` bounds, or
// `spawn_local`'s rules).
unsafe impl<S, const N: usize> Sync for OwnedPool<S, N> {}
// SAFETY: as above.
unsafe impl<S, const N: usize> Send for OwnedPool<S, N> {}

impl<S, const N: usize> OwnedPool<S, N> {
    /// An empty pool with no spawner. `const`, so it can initialise a `static`.
    ///
    /// # Panics
    /// If `S` is zero-sized (at compile time, in a `static`'s initialiser).
    #[cfg(not(loom))]
    pub const fn new() -> OwnedPool<S, N> {
        OwnedPool {
            slots: Slots::new(),
            owned: AtomicBool::new(false),
        }
    }

    /// An empty pool with no spawner (under loom, whose atomics cannot be built in a `const`).
    #[cfg(loom)]
    pub fn new() -> OwnedPool<S, N> {
        OwnedPool {
            slots: Slots::new(),
            owned: AtomicBool::new(false),
        }
    }

    /// The pool's one spawner, or `None` while another is alive. Dropping the spawner gives
    /// it back, to this thread or another.
    ///
    /// ```
    /// use rawtask::storage::{OwnedPool, TaskSlot};
    /// static POOL: OwnedPool<TaskSlot<64>, 1> = OwnedPool::new();
    /// let first = POOL.spawner().unwrap();
    /// assert!(POOL.spawner().is_none());
    /// drop(first);
    /// std::thread::spawn(|| assert!(POOL.spawner().is_some())).join().unwrap();
    /// ```
    pub fn spawner(&self) -> Option<PoolSpawner<'_, S, N>> {
        // Acquire: the previous spawner's "taken" stores happen before this one's loads.
        self.owned
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        Some(PoolSpawner {
            pool: self,
            single: PhantomData,
        })
    }

    /// The number of slots, `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Whether an allocation of `layout` fits a slot.
    ///
    /// ```
    /// use core::alloc::Layout;
    /// use rawtask::storage::{OwnedPool, TaskSlot};
    /// assert!(OwnedPool::<TaskSlot<64>, 1>::fits(Layout::new::<[u64; 8]>()));
    /// assert!(!OwnedPool::<TaskSlot<64>, 1>::fits(Layout::new::<[u64; 9]>()));
    /// ```
    pub const fn fits(layout: Layout) -> bool {
        Slots::<S, N>::fits(layout)
    }

    /// How many slots are taken now (a snapshot: tasks may be freed meanwhile). Slots claimed
    /// by [`PoolSlot`]s not yet used count too.
    pub fn in_use(&self) -> usize {
        self.slots.in_use()
    }
}

impl<S, const N: usize> Default for OwnedPool<S, N> {
    fn default() -> OwnedPool<S, N> {
        OwnedPool::new()
    }
}

impl<S, const N: usize> fmt::Debug for OwnedPool<S, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPool")
            .field("slot_size", &size_of::<S>())
            .field("slot_align", &align_of::<S>())
            .field("capacity", &N)
            .field("in_use", &self.in_use())
            .field("spawner_taken", &self.owned.load(Ordering::Relaxed))
            .finish()
    }
}

/// The right to take slots of an [`OwnedPool`]: at most one is alive per pool, and it stays on
/// the thread that took it (neither `Send` nor `Sync`). Dropping it gives the right back.
///
/// See [`OwnedPool`] for an example.
pub struct PoolSpawner<'a, S, const N: usize> {
    pool: &'a OwnedPool<S, N>,
    /// Neither `Send` nor `Sync`: the one claimer stays where it is.
    single: PhantomData<*const ()>,
}

impl<'a, S, const N: usize> PoolSpawner<'a, S, N> {
    /// Takes a free slot, or returns `None` if every slot is taken. The slot goes back to the
    /// pool when the task spawned into it is freed, or when the [`PoolSlot`] is dropped
    /// unused (a spawn that failed because the task does not fit drops it).
    ///
    /// ```
    /// use rawtask::storage::{OwnedPool, TaskSlot};
    /// static POOL: OwnedPool<TaskSlot<128>, 1> = OwnedPool::new();
    /// let spawner = POOL.spawner().unwrap();
    /// let slot = spawner.claim().unwrap();
    /// assert!(spawner.claim().is_none());
    /// drop(slot);
    /// assert!(spawner.claim().is_some());
    /// ```
    #[inline]
    pub fn claim(&self) -> Option<PoolSlot<'a, S, N>> {
        // SAFETY: this spawner is the pool's only one (`spawner`'s compare-and-swap), it stays
        // on this thread (`!Send`, `!Sync`), and `&self` calls on one thread do not overlap;
        // the previous spawner's claims happen before ours (its drop's release store, read by
        // `spawner`'s acquire).
        let index = unsafe { self.pool.slots.take_owned() }?;
        Some(PoolSlot {
            pool: self.pool,
            index: Cell::new(index),
        })
    }

    /// The pool this spawner claims from.
    pub fn pool(&self) -> &'a OwnedPool<S, N> {
        self.pool
    }
}

impl<S, const N: usize> Drop for PoolSpawner<'_, S, N> {
    fn drop(&mut self) {
        // Release: our "taken" stores happen before the next spawner's loads.
        self.pool.owned.store(false, Ordering::Release);
    }
}

impl<S, const N: usize> fmt::Debug for PoolSpawner<'_, S, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolSpawner")
            .field("pool", self.pool)
            .finish()
    }
}

/// One slot of an [`OwnedPool`], claimed by its [`PoolSpawner`]: an [`Allocator`] that hands
/// out that slot once (to the task given it with
/// [`Builder::allocator`](crate::Builder::allocator)) and takes it back when the task is freed.
/// Dropped unused, it gives the slot back.
///
/// It is `Send` (the task may be freed on any thread) but hands out nothing but its own slot,
/// so no thread but the spawner's ever takes a slot.
pub struct PoolSlot<'a, S, const N: usize> {
    pool: &'a OwnedPool<S, N>,
    /// The claimed slot, or `USED` once `allocate` handed it out.
    index: Cell<usize>,
}

/// `PoolSlot::index` once the slot is handed out: `deallocate` gives it back, not the drop.
const USED: usize = usize::MAX;

// SAFETY: `allocate` hands out the slot this value claimed, once (then `index` is `USED`): no
// two live allocations share a slot; it is big and aligned enough for `layout` (`fits`); it
// stays valid as long as the pool, which the `&` borrow outlives; `deallocate` gives back
// exactly the slot of `ptr`.
unsafe impl<S, const N: usize> Allocator for PoolSlot<'_, S, N> {
    #[inline]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let index = self.index.get();
        if index == USED || !Slots::<S, N>::fits(layout) {
            return Err(AllocError);
        }
        self.index.set(USED);
        Ok(self.pool.slots.block(index))
    }

    #[inline]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, _layout: Layout) {
        // SAFETY: the caller gives back the block `allocate` handed out, which it no longer
        // uses.
        unsafe { self.pool.slots.free_block(ptr) }
    }
}

impl<S, const N: usize> Drop for PoolSlot<'_, S, N> {
    #[inline]
    fn drop(&mut self) {
        let index = self.index.get();
        if index != USED {
            // SAFETY: the slot was claimed for this value and never handed out.
            unsafe { self.pool.slots.free(index) }
        }
    }
}

impl<S, const N: usize> fmt::Debug for PoolSlot<'_, S, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let index = self.index.get();
        f.debug_struct("PoolSlot")
            .field("index", &(index != USED).then_some(index))
            .finish_non_exhaustive()
    }
}
