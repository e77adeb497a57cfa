//! The one place rawtask gets its atomics, cells, allocator, locks and threads from.
//!
//! Under `cfg(loom)` everything here is loom's model-checked stand-in, so that every access the
//! protocol makes is visible to the loom models in `internal/loom-tests/`. A value that bypasses
//! this module is a value loom cannot check: do not import `core::sync::atomic` (or
//! `portable_atomic`) elsewhere. The one exception is the core's thread-local word
//! (`raw::current`), which declares itself with std's macro or loom's: std's is
//! `const`-initialised, which loom's macro cannot express.

/// The protocol's atomics: the state word, reference counts, flags.
///
/// They come from `core`, or from the `portable-atomic` crate when that feature is on (targets
/// without compare-and-swap, such as `thumbv6m-none-eabi`), or from loom under `cfg(loom)` —
/// loom wins over `portable-atomic`, so the models always see every access.
#[cfg(not(loom))]
pub(crate) mod atomic {
    pub(crate) use super::atomic_static::*;
}

#[cfg(loom)]
pub(crate) mod atomic {
    #[cfg(all(feature = "std", target_has_atomic = "64"))]
    pub(crate) use loom::sync::atomic::AtomicU64;
    #[cfg(feature = "std")]
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr};
    pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};
}

/// Atomics that are never loom's, for process-wide `static`s (a loom atomic cannot be built in a
/// `const` context, and a static outlives every model execution) and for code that no loom model
/// drives (the background thread pool). Still `core`'s or `portable-atomic`'s, like [`atomic`].
#[allow(unused_imports)] // each layer uses a different subset
pub(crate) mod atomic_static {
    #[cfg(not(feature = "portable-atomic"))]
    pub(crate) use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
    #[cfg(feature = "portable-atomic")]
    pub(crate) use portable_atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};

    // 64-bit atomics only where the target has them natively: nothing requires them.
    // (`portable-atomic` emulates them only with its `fallback` feature, which rawtask leaves
    // off, like async-task.)
    #[cfg(all(not(feature = "portable-atomic"), target_has_atomic = "64"))]
    pub(crate) use core::sync::atomic::AtomicU64;
    #[cfg(all(feature = "portable-atomic", target_has_atomic = "64"))]
    pub(crate) use portable_atomic::AtomicU64;
}

/// Reference counting and locks for the std-only layers (`cancel`, `background`, `scope`).
#[cfg(all(feature = "std", not(loom)))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

#[cfg(all(feature = "std", loom))]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning: the std-only layers never leave a guarded value
/// half-updated across a call that could panic.
#[cfg(feature = "std")]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Locks a std mutex that is never loom's (a `static`, which outlives every model execution,
/// or state no loom model drives: the task pool, the background thread pool), ignoring
/// poisoning as [`lock`] does.
#[cfg(feature = "std")]
pub(crate) fn lock_static<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A waker that unparks the current thread, for the blocking waits of the std-only layers
/// (`CancellationToken::block`, a background `TaskHandle`'s wait).
#[cfg(feature = "std")]
pub(crate) fn waker_for_current_thread() -> core::task::Waker {
    /// Unparks the thread it was made on.
    struct Unparker(thread::Thread);

    impl std::task::Wake for Unparker {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }

        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }

    core::task::Waker::from(std::sync::Arc::new(Unparker(thread::current())))
}

/// Parking and identity of threads, for the blocking waits of the std-only layers.
#[cfg(all(feature = "std", not(loom)))]
pub(crate) mod thread {
    pub(crate) use std::thread::{current, park, yield_now, Thread};
}

#[cfg(all(feature = "std", loom))]
pub(crate) mod thread {
    pub(crate) use loom::thread::{current, park, yield_now, Thread};
}

/// An `UnsafeCell` with loom's closure-based access API, so that the same code compiles with
/// and without loom.
#[cfg(not(loom))]
#[derive(Debug)]
#[repr(transparent)]
pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    #[inline(always)]
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(core::cell::UnsafeCell::new(value))
    }

    /// Gives `f` a pointer for reading. The caller's protocol must rule out concurrent writers.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Gives `f` a pointer for writing. The caller's protocol must rule out any concurrent access.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// Allocation of task memory. loom's allocator reports any allocation still live at the end of
/// a model execution, which is how the models prove that every task is freed.
pub(crate) mod alloc {
    #[cfg(all(not(loom), feature = "alloc"))]
    pub(crate) use alloc::alloc::{alloc, dealloc, handle_alloc_error};

    /// Without a global heap there is no allocation-error handler either: a failed infallible
    /// spawn (into a full `StaticPool`, say) panics, as a failed `Box::new` would abort.
    #[cfg(all(not(loom), not(feature = "alloc")))]
    #[cold]
    pub(crate) fn handle_alloc_error(layout: core::alloc::Layout) -> ! {
        panic!(
            "rawtask: could not allocate a task of {} bytes (alignment {})",
            layout.size(),
            layout.align()
        )
    }
    #[cfg(loom)]
    pub(crate) use loom::alloc::{alloc, dealloc};

    #[cfg(loom)]
    pub(crate) fn handle_alloc_error(layout: core::alloc::Layout) -> ! {
        panic!("allocation of {layout:?} failed")
    }
}

/// Identity of the current thread: `spawn_local` tasks ask it on every run and drop to stay on
/// their home thread, home schedulers on every wake.
///
/// `thread::current()` clones and drops an `Arc` (two atomic read-modify-writes), so the id is
/// cached per thread. The cache is a const-initialised `Cell` with no destructor: reading it is a
/// plain thread-local load with no lazy-initialisation or destroyed-state check, and it stays
/// valid while the thread's other locals are being destroyed. A `ThreadId` is never reused, so
/// comparing cached ids is exact.
#[cfg(all(feature = "std", not(loom)))]
#[inline]
pub(crate) fn current_thread_id() -> std::thread::ThreadId {
    use core::cell::Cell;
    use std::thread::ThreadId;
    std::thread_local! {
        static ID: Cell<Option<ThreadId>> = const { Cell::new(None) };
    }
    /// The first ask on this thread.
    #[cold]
    fn fill(id: &Cell<Option<ThreadId>>) -> ThreadId {
        let current = std::thread::current().id();
        id.set(Some(current));
        current
    }
    ID.with(|id| id.get().unwrap_or_else(|| fill(id)))
}

#[cfg(all(feature = "std", loom))]
pub(crate) fn current_thread_id() -> loom::thread::ThreadId {
    loom::thread::current().id()
}

#[cfg(all(feature = "std", not(loom)))]
pub(crate) type ThreadId = std::thread::ThreadId;

#[cfg(all(feature = "std", loom))]
pub(crate) type ThreadId = loom::thread::ThreadId;
