//! [`StaticPool`]: task memory in a `static`, for targets without a heap.

use core::alloc::Layout;
use core::fmt;
use core::mem::{align_of, size_of, MaybeUninit};
use core::ptr::NonNull;

use super::slots::Slots;
use super::{AllocError, Allocator};

/// A task slot of `SIZE` bytes, aligned to 16: the usual slot type of a [`StaticPool`].
///
/// 16 covers every future whose fields are at most 16-aligned (`u128` on x86-64 included). A
/// task that needs more alignment does not fit; give the pool a slot type of your own for it,
/// such as `#[repr(align(64))] struct Slot([u8; 512]);`.
///
/// ```
/// use rawtask::storage::TaskSlot;
/// assert_eq!(core::mem::size_of::<TaskSlot<256>>(), 256);
/// assert_eq!(core::mem::align_of::<TaskSlot<256>>(), 16);
/// ```
#[repr(C, align(16))]
pub struct TaskSlot<const SIZE: usize>([MaybeUninit<u8>; SIZE]);

impl<const SIZE: usize> fmt::Debug for TaskSlot<SIZE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskSlot<{SIZE}>")
    }
}

/// `N` task slots of type `S` in one block of memory that needs no heap: a `static`, usually.
///
/// `&StaticPool` is an [`Allocator`]: spawn into it with
/// [`Builder::allocator`](crate::Builder::allocator)`(&POOL)` and
/// [`try_spawn`](crate::Builder::try_spawn), which fails — dropping what it was given — when
/// every slot is taken or when the task does not fit a slot (bigger than `size_of::<S>()`, or
/// aligned to more than `align_of::<S>()`). The task keeps the reference and gives its slot
/// back when it is freed (its last handle or waker dropped), so the slot is reused by a later
/// spawn. The infallible `spawn` panics instead, where the heap path would abort.
///
/// ```
/// use rawtask::storage::{StaticPool, TaskSlot};
///
/// static POOL: StaticPool<TaskSlot<256>, 2> = StaticPool::new();
///
/// let spawn = |n: u32| {
///     rawtask::Builder::new()
///         .allocator(&POOL)
///         .try_spawn(move |()| async move { n * 10 }, |_| {})
/// };
/// let (r1, t1) = spawn(1).unwrap();
/// let (r2, t2) = spawn(2).unwrap();
/// assert!(spawn(3).is_err()); // both slots are taken
///
/// r1.run();
/// assert_eq!(futures_lite::future::block_on(t1), 10); // the task is freed: its slot is free
/// assert_eq!(POOL.in_use(), 1);
/// let (r3, t3) = spawn(3).unwrap();
/// # drop((r2, t2, r3, t3));
/// ```
///
/// # The free list
///
/// Each slot has a flag: taking a slot is a compare-and-swap of its flag from free to taken
/// (acquire: the previous task's writes to the slot happen before the new task's); giving it
/// back is a release store. A spawn starts looking at the slot freed or taken last, so a
/// spawn–run–free loop keeps reusing one warm slot, and gives up after looking at every slot
/// once. There is no lock and no ABA problem (a flag has no "next" link to go stale). On
/// targets without compare-and-swap (`thumbv6m`) the `portable-atomic` feature provides it.
/// Where one thread spawns, an [`OwnedPool`](super::OwnedPool) takes a slot with a load and a
/// store instead.
///
/// # Why not `StaticPool` by value
///
/// Only `&StaticPool` is an allocator: an allocator's memory must stay valid when the
/// allocator value is moved, and a pool's memory is inside it.
///
/// # Cost per task
///
/// A slot holds the whole task: rawtask's header (four words: vtable, state, awaiter waker),
/// the data slot, the schedule function, one word for the `&StaticPool`, and the future — or
/// its output, whichever is larger. [`TrySpawnError::layout`](crate::TrySpawnError::layout)
/// says how big a task that did not fit was. Besides the slots the pool keeps one flag byte
/// per slot and one word.
///
/// # Compared with embassy-executor
///
/// embassy's `TaskStorage<F>` (one slot) and `TaskPool<F, N>` (N slots, what `#[task(pool_size
/// = N)]` declares) are sized for one future type `F`, so they waste nothing, but a pool serves
/// only the task function it was declared for, and spawning yields a `SpawnToken` for
/// embassy's own executor: there is no handle to the output, and the task cannot be awaited,
/// cancelled or given data. A `StaticPool` is shared by any futures that fit its slots (the
/// price: each slot is as big as the largest task it must hold), and it gives rawtask's whole
/// API: async-task's `Runnable`/`Task` pair with the output, `Task::cancel`/`abort`/`join`,
/// wakers usable from any thread or interrupt, a data slot for the executor's own queue links,
/// and any schedule function, so it serves any executor. The cost per task is rawtask's
/// header, the schedule function and the pool reference on top of the future, in a slot
/// rounded up to `size_of::<S>()`.
pub struct StaticPool<S, const N: usize> {
    /// The slots and their flags (shared with [`OwnedPool`](super::OwnedPool)).
    slots: Slots<S, N>,
}

// SAFETY: the pool never reads or drops an `S`; a slot's memory is used by the one task that
// took its flag (taken with acquire, given back with release), and what a task stores there is
// checked by the spawn functions (`Send` bounds, or `spawn_local`'s rules).
unsafe impl<S, const N: usize> Sync for StaticPool<S, N> {}
// SAFETY: as above.
unsafe impl<S, const N: usize> Send for StaticPool<S, N> {}

impl<S, const N: usize> StaticPool<S, N> {
    /// An empty pool. `const`, so it can initialise a `static`.
    ///
    /// # Panics
    /// If `S` is zero-sized (at compile time, in a `static`'s initialiser).
    #[cfg(not(loom))]
    pub const fn new() -> StaticPool<S, N> {
        StaticPool {
            slots: Slots::new(),
        }
    }

    /// An empty pool (under loom, whose atomics cannot be built in a `const`).
    #[cfg(loom)]
    pub fn new() -> StaticPool<S, N> {
        StaticPool {
            slots: Slots::new(),
        }
    }

    /// The number of slots, `N`.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Whether an allocation of `layout` fits a slot (it may still fail if the pool is full).
    ///
    /// ```
    /// use core::alloc::Layout;
    /// use rawtask::storage::{StaticPool, TaskSlot};
    /// assert!(StaticPool::<TaskSlot<64>, 1>::fits(Layout::new::<[u64; 8]>()));
    /// assert!(!StaticPool::<TaskSlot<64>, 1>::fits(Layout::new::<[u64; 9]>()));
    /// ```
    pub const fn fits(layout: Layout) -> bool {
        Slots::<S, N>::fits(layout)
    }

    /// How many slots belong to tasks now (a snapshot: other threads may take or give back
    /// slots meanwhile). A pool whose tasks are all freed has none in use.
    pub fn in_use(&self) -> usize {
        self.slots.in_use()
    }
}

impl<S, const N: usize> Default for StaticPool<S, N> {
    fn default() -> StaticPool<S, N> {
        StaticPool::new()
    }
}

// SAFETY: a slot is handed out only after its flag went from free to taken, so no two live
// allocations share a slot; it is big and aligned enough for `layout` (`fits`); it stays valid
// as long as the pool, which the `&` borrow outlives; `deallocate` gives back exactly the slot
// of `ptr`.
unsafe impl<S, const N: usize> Allocator for &StaticPool<S, N> {
    #[inline]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if !StaticPool::<S, N>::fits(layout) {
            return Err(AllocError);
        }
        match self.slots.take_shared() {
            Some(index) => Ok(self.slots.block(index)),
            None => Err(AllocError),
        }
    }

    #[inline]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, _layout: Layout) {
        // SAFETY: the caller gives back a block of this pool, which it no longer uses.
        unsafe { self.slots.free_block(ptr) }
    }
}

impl<S, const N: usize> fmt::Debug for StaticPool<S, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticPool")
            .field("slot_size", &size_of::<S>())
            .field("slot_align", &align_of::<S>())
            .field("capacity", &N)
            .field("in_use", &self.in_use())
            .finish()
    }
}
