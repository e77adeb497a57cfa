//! Where a task may drop its future, output and data slot: any thread, or only the thread that
//! spawned it (`spawn_local`, rule 8).

use core::ptr::NonNull;

/// Where a task may drop its future, output and data slot.
pub(crate) trait Locality {
    /// Whether the current thread may poll or drop the task's contents.
    fn is_home(&self) -> bool;

    /// Records that the future was leaked (not dropped) on a foreign thread. A pinned future
    /// whose destructor never ran must keep its memory forever (`Pin`'s drop guarantee), so the
    /// allocation is then never freed.
    fn leak_future(&self);

    /// Whether `leak_future` was called: the allocation must be leaked too.
    fn future_leaked(&self) -> bool;
}

/// Tasks made by `spawn`/`spawn_unchecked`: any thread will do.
pub(crate) struct AnyThread;

impl Locality for AnyThread {
    #[inline(always)]
    fn is_home(&self) -> bool {
        true
    }

    #[inline(always)]
    fn leak_future(&self) {}

    #[inline(always)]
    fn future_leaked(&self) -> bool {
        false
    }
}

/// Tasks made by `spawn_local`: bound to the thread that spawned them.
#[cfg(feature = "std")]
pub(crate) struct HomeThread {
    id: crate::sync::ThreadId,
    /// Set by whoever had the right to drop the future but was on a foreign thread; read by the
    /// task's last owner, after the reference count or state word synchronised the two.
    leaked: crate::sync::atomic::AtomicBool,
}

#[cfg(feature = "std")]
impl HomeThread {
    pub(crate) fn current() -> HomeThread {
        HomeThread {
            id: crate::sync::current_thread_id(),
            leaked: crate::sync::atomic::AtomicBool::new(false),
        }
    }
}

#[cfg(feature = "std")]
impl Locality for HomeThread {
    #[inline]
    fn is_home(&self) -> bool {
        crate::sync::current_thread_id() == self.id
    }

    fn leak_future(&self) {
        self.leaked
            .store(true, crate::sync::atomic::Ordering::Relaxed);
    }

    fn future_leaked(&self) -> bool {
        self.leaked.load(crate::sync::atomic::Ordering::Relaxed)
    }
}

/// Allocations that are never freed because a leaked future is pinned in them (rule 8). Keeping
/// them in a static keeps them reachable, so that leak checkers (valgrind, LeakSanitizer, miri)
/// see the deliberate leak of a misused `spawn_local` task rather than a lost block.
#[cfg(feature = "std")]
static PINNED_FOREVER: std::sync::Mutex<alloc::vec::Vec<PinnedForever>> =
    std::sync::Mutex::new(alloc::vec::Vec::new());

/// A task allocation kept alive forever.
#[cfg(feature = "std")]
struct PinnedForever(#[allow(dead_code)] NonNull<()>);

// SAFETY: the pointer is never dereferenced again; it only keeps the allocation reachable.
#[cfg(feature = "std")]
unsafe impl Send for PinnedForever {}

#[cold]
pub(crate) fn keep_pinned_forever(ptr: NonNull<()>) {
    #[cfg(feature = "std")]
    crate::sync::lock_static(&PINNED_FOREVER).push(PinnedForever(ptr));
    #[cfg(not(feature = "std"))]
    let _ = ptr;
}
