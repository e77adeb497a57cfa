#![cfg_attr(
    not(feature = "std"),
    doc = "
[`TaskPool`]: https://docs.rs/rawtask/latest/rawtask/storage/struct.TaskPool.html"
)]
//! Where a task's one allocation lives.
//!
//! By default a task is allocated on the global heap ([`Heap`]). A spawner can choose another
//! allocator with [`Builder::allocator`](crate::Builder::allocator): anything that implements
//! [`allocator_api2`](https://docs.rs/allocator-api2/0.2)'s `Allocator` trait (re-exported
//! here as [`Allocator`]) — a bump or arena allocator, or the [`TaskPool`] below, which
//! recycles task memory. The allocator is stored in the task, so the memory goes back to the
//! allocator it came from, whichever handle frees the task.
//!
//! ```
//! use rawtask::storage::TaskPool;
//!
//! static POOL: TaskPool = TaskPool::new(1024);
//!
//! for round in 0..3 {
//!     let (runnable, task) = rawtask::Builder::new()
//!         .allocator(&POOL)
//!         .spawn(move |()| async move { round * 2 }, |_| {});
//!     runnable.run();
//!     assert_eq!(futures_lite::future::block_on(task), round * 2);
//! }
//! // The first task's memory was reused by the next two.
//! assert_eq!(POOL.stats().reused, 2);
//! ```
//!
//! Without a heap at all (`default-features = false`, no `alloc`: a `no_std` target with no
//! `#[global_allocator]`), tasks live in a [`StaticPool`], `N` fixed-size slots in a `static`,
//! spawned with [`Builder::try_spawn`](crate::Builder::try_spawn), which fails when the pool is
//! full or the task does not fit. `examples/embedded` is such an executor for Cortex-M. Where
//! one thread spawns, an [`OwnedPool`] takes slots without a compare-and-swap.
//!
//! The default path is unchanged by this: [`spawn`](crate::spawn) and a `Builder` without an
//! allocator use [`Heap`], a zero-sized type that compiles to the same global-allocator calls.

#[cfg(feature = "alloc")]
use core::alloc::Layout;
#[cfg(feature = "alloc")]
use core::ptr::NonNull;

pub use allocator_api2::alloc::{AllocError, Allocator};

pub use self::owned_pool::{OwnedPool, PoolSlot, PoolSpawner};
pub use self::static_pool::{StaticPool, TaskSlot};

mod owned_pool;
mod slots;
mod static_pool;

/// The global heap: the default allocator of tasks. Zero-sized, so it adds nothing to a task.
///
/// Without the `alloc` feature it is only `Builder::new()`'s placeholder, not an allocator:
/// give the builder one with [`Builder::allocator`](crate::Builder::allocator).
///
/// It allocates through the global allocator (under `cfg(loom)`, loom's, so that the models
/// check task memory).
#[derive(Clone, Copy, Debug, Default)]
pub struct Heap;

#[cfg(feature = "alloc")]
// SAFETY: memory comes from the global allocator, which satisfies `Allocator`'s contract; a
// zero-sized request gets a dangling, well-aligned pointer and is never passed to `dealloc`.
unsafe impl Allocator for Heap {
    #[inline(always)]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.size() == 0 {
            let dangling = layout.align() as *mut u8;
            // SAFETY: an alignment is never zero.
            let ptr = unsafe { NonNull::new_unchecked(dangling) };
            return Ok(NonNull::slice_from_raw_parts(ptr, 0));
        }
        // SAFETY: the layout is not zero-sized.
        let ptr = unsafe { crate::sync::alloc::alloc(layout) };
        match NonNull::new(ptr) {
            Some(ptr) => Ok(NonNull::slice_from_raw_parts(ptr, layout.size())),
            None => Err(AllocError),
        }
    }

    #[inline(always)]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() != 0 {
            // SAFETY: the caller passes memory from `allocate` with the same layout.
            unsafe { crate::sync::alloc::dealloc(ptr.as_ptr(), layout) }
        }
    }
}

#[cfg(feature = "std")]
pub use self::pool::{PoolStats, TaskPool};

#[cfg(feature = "std")]
mod pool {
    use alloc::vec::Vec;
    use core::alloc::Layout;
    use core::fmt;
    use core::ptr::NonNull;
    use std::sync::{Mutex, PoisonError};

    use crate::sync::lock_static;

    use super::{AllocError, Allocator};

    /// An allocator that keeps the memory of freed tasks and hands it to the next task of the
    /// same layout, instead of returning it to the heap.
    ///
    /// It caches at most `capacity` blocks in all; beyond that, freed memory goes back to the
    /// heap. Share it by reference (`&TaskPool` is an allocator too): a `static`, or a leaked
    /// or long-lived value that outlives every task allocated from it.
    ///
    /// One lock guards the cache; a pool pays off when the global allocator is slow or
    /// contended for task-sized blocks, or when task memory should stay in one place.
    pub struct TaskPool {
        capacity: usize,
        state: Mutex<State>,
    }

    struct State {
        /// Free blocks, grouped by layout (a program has few task layouts).
        free: Vec<(Layout, Vec<NonNull<u8>>)>,
        /// Blocks in `free`, all layouts together.
        cached: usize,
        reused: u64,
        fresh: u64,
    }

    /// What a [`TaskPool`] has done so far.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    #[non_exhaustive]
    pub struct PoolStats {
        /// Allocations served from the cache.
        pub reused: u64,
        /// Allocations that went to the heap.
        pub fresh: u64,
        /// Blocks now in the cache.
        pub cached: usize,
    }

    // SAFETY: the cached pointers are owned blocks of heap memory that no one else uses; the
    // pool only hands each to one caller at a time, under its lock.
    unsafe impl Send for TaskPool {}
    // SAFETY: as above; every access to the cache goes through the mutex.
    unsafe impl Sync for TaskPool {}

    impl TaskPool {
        /// A pool that caches up to `capacity` freed blocks.
        pub const fn new(capacity: usize) -> TaskPool {
            TaskPool {
                capacity,
                state: Mutex::new(State {
                    free: Vec::new(),
                    cached: 0,
                    reused: 0,
                    fresh: 0,
                }),
            }
        }

        /// Counters of reuse.
        pub fn stats(&self) -> PoolStats {
            let state = self.lock();
            PoolStats {
                reused: state.reused,
                fresh: state.fresh,
                cached: state.cached,
            }
        }

        fn lock(&self) -> std::sync::MutexGuard<'_, State> {
            lock_static(&self.state)
        }
    }

    // SAFETY: blocks come from `super::Heap` with the requested layout (fresh, or cached
    // from an earlier block of exactly that layout), and a block is in the cache only while
    // no allocation owns it.
    unsafe impl Allocator for TaskPool {
        fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
            {
                let mut state = self.lock();
                let state = &mut *state;
                if let Some((_, blocks)) = state.free.iter_mut().find(|(l, _)| *l == layout) {
                    if let Some(block) = blocks.pop() {
                        state.cached -= 1;
                        state.reused += 1;
                        return Ok(NonNull::slice_from_raw_parts(block, layout.size()));
                    }
                }
                state.fresh += 1;
            }
            super::Heap.allocate(layout)
        }

        unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
            if layout.size() != 0 {
                let mut state = self.lock();
                if state.cached < self.capacity {
                    state.cached += 1;
                    match state.free.iter_mut().find(|(l, _)| *l == layout) {
                        Some((_, blocks)) => blocks.push(ptr),
                        None => state.free.push((layout, alloc::vec![ptr])),
                    }
                    return;
                }
            }
            // SAFETY: the caller passes a block of this pool, which came from `Heap`.
            unsafe { super::Heap.deallocate(ptr, layout) }
        }
    }

    impl Drop for TaskPool {
        fn drop(&mut self) {
            let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
            for (layout, blocks) in state.free.drain(..) {
                for block in blocks {
                    // SAFETY: cached blocks came from `Heap` with this layout and are unused.
                    unsafe { super::Heap.deallocate(block, layout) }
                }
            }
        }
    }

    impl fmt::Debug for TaskPool {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("TaskPool")
                .field("capacity", &self.capacity)
                .field("stats", &self.stats())
                .finish()
        }
    }
}
