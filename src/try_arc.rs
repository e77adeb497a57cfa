//! [`TryArc`]: a reference-counted box whose allocation can fail without aborting.
//!
//! Stable Rust has no `Arc::try_new`, so the std-only layers (tokens, scopes) that must report
//! an allocation failure share their state through this instead: one allocation holding an
//! atomic count and the value, freed by the last release. The infallible
//! [`new`](TryArc::new) costs what `Arc::new` does; [`try_new`](TryArc::try_new) returns the
//! value back with a [`TryAllocError`] when the heap refuses.
//!
//! Under `cfg(loom)` the count is loom's atomic and the memory comes from loom's allocator,
//! which reports a block still live at the end of a model execution.

use core::alloc::Layout;
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::NonNull;

use crate::sync::alloc::{alloc, dealloc, handle_alloc_error};
use crate::sync::atomic::{AtomicUsize, Ordering};
use crate::try_alloc_error::TryAllocError;

/// The one allocation: the value and the count of `TryArc` handles.
struct Inner<T> {
    value: T,
    count: AtomicUsize,
}

/// A shared, reference-counted `T` (like `Arc<T>`, without weak references) whose
/// allocation may be [tried](Self::try_new).
pub(crate) struct TryArc<T> {
    ptr: NonNull<Inner<T>>,
    /// Owns a `T` for the drop checker.
    _owns: PhantomData<Inner<T>>,
}

// SAFETY: as `Arc<T>`: the value is shared between threads (`Sync`) and dropped by whichever
// thread releases last (`Send`).
unsafe impl<T: Send + Sync> Send for TryArc<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for TryArc<T> {}

/// As `Arc<T>`: the handle is a pointer, moving it never moves the value.
impl<T> Unpin for TryArc<T> {}

impl<T> TryArc<T> {
    /// Shares `value`; on allocation failure, aborts as `Arc::new` does.
    #[inline]
    pub(crate) fn new(value: T) -> TryArc<T> {
        match TryArc::try_new_or_give_back(value) {
            Ok(arc) => arc,
            Err(_) => handle_alloc_error(Layout::new::<Inner<T>>()),
        }
    }

    /// Shares `value`, or drops it and returns an error naming `what` was being allocated.
    #[inline]
    pub(crate) fn try_new(value: T, what: &'static str) -> Result<TryArc<T>, TryAllocError> {
        TryArc::try_new_or_give_back(value)
            .map_err(|_| TryAllocError::new(what, Layout::new::<Inner<T>>()))
    }

    /// Shares `value`, or hands it back if the heap refuses.
    #[inline]
    fn try_new_or_give_back(value: T) -> Result<TryArc<T>, T> {
        let layout = Layout::new::<Inner<T>>();
        // `Inner` holds an atomic, so the layout is never zero-sized.
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc(layout) }.cast::<Inner<T>>();
        let Some(ptr) = NonNull::new(raw) else {
            return Err(value);
        };
        // SAFETY: freshly allocated for an `Inner<T>`, properly aligned, not yet initialised.
        unsafe {
            ptr.as_ptr().write(Inner {
                value,
                count: AtomicUsize::new(1),
            })
        };
        Ok(TryArc {
            ptr,
            _owns: PhantomData,
        })
    }

    #[inline(always)]
    fn inner(&self) -> &Inner<T> {
        // SAFETY: this handle keeps the allocation alive and initialised.
        unsafe { self.ptr.as_ref() }
    }

    /// The number of handles (like `Arc::strong_count`).
    #[inline]
    pub(crate) fn strong_count(this: &TryArc<T>) -> usize {
        this.inner().count.load(Ordering::Acquire)
    }

    /// The value, if `this` is the only handle; `this` back otherwise.
    pub(crate) fn try_unwrap(this: TryArc<T>) -> Result<T, TryArc<T>> {
        // Acquire: every other handle's uses of the value happen-before taking it.
        if this
            .inner()
            .count
            .compare_exchange(1, 0, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(this);
        }
        let this = core::mem::ManuallyDrop::new(this);
        // SAFETY: the count went from 1 to 0: no other handle exists, nobody reads the value
        // again, and it is moved out once before the block is freed.
        unsafe {
            let value = core::ptr::addr_of!((*this.ptr.as_ptr()).value).read();
            dealloc(this.ptr.as_ptr().cast(), Layout::new::<Inner<T>>());
            Ok(value)
        }
    }
}

impl<T> Clone for TryArc<T> {
    #[inline]
    fn clone(&self) -> TryArc<T> {
        // Relaxed, as `Arc`: a handle exists, so the block cannot be freed meanwhile.
        let previous = self.inner().count.fetch_add(1, Ordering::Relaxed);
        if previous > usize::MAX / 2 {
            // As `Arc`: an overflowing count would free the block early.
            std::process::abort();
        }
        TryArc {
            ptr: self.ptr,
            _owns: PhantomData,
        }
    }
}

impl<T> Drop for TryArc<T> {
    #[inline]
    fn drop(&mut self) {
        // Release: this handle's uses happen-before the free; Acquire: the freeing thread
        // sees every other handle's uses.
        if self.inner().count.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        // SAFETY: the last handle.
        unsafe { self.drop_last() }
    }
}

impl<T> TryArc<T> {
    /// Drops the value and frees the block. Out of line, so that releasing a handle that is
    /// not the last needs no stack frame where it is inlined.
    ///
    /// # Safety
    /// This is the last handle, after its count was released.
    #[inline(never)]
    unsafe fn drop_last(&mut self) {
        // SAFETY: the last handle: nobody else can reach the block. The value is dropped in
        // place once, then the block freed with the layout it was allocated with.
        unsafe {
            core::ptr::drop_in_place(self.ptr.as_ptr());
            dealloc(self.ptr.as_ptr().cast(), Layout::new::<Inner<T>>());
        }
    }
}

impl<T> Deref for TryArc<T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        &self.inner().value
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::atomic::AtomicUsize as Count;

    struct Probe<'a>(&'a Count);

    impl Drop for Probe<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_last_handle_drops_the_value_once() {
        let drops = Count::new(0);
        let a = TryArc::try_new(Probe(&drops), "probe").unwrap();
        let b = a.clone();
        assert_eq!(TryArc::strong_count(&a), 2);
        drop(a);
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(b);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn try_unwrap_takes_the_value_of_the_only_handle() {
        let drops = Count::new(0);
        let a = TryArc::new(Probe(&drops));
        let b = a.clone();
        let Err(a) = TryArc::try_unwrap(a) else {
            panic!("two handles: not unwrapped");
        };
        drop(b);
        let value = TryArc::try_unwrap(a).ok().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(value);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn zero_sized_values_still_get_a_block() {
        let a = TryArc::new(());
        let b = a.clone();
        drop(a);
        assert_eq!(TryArc::strong_count(&b), 1);
    }
}
