//! [`try_box`]: `Box::new` that returns the value instead of aborting when the heap refuses
//! (stable Rust has no `Box::try_new`).

use alloc::alloc::alloc;
use alloc::boxed::Box;
use core::alloc::Layout;

/// Boxes `value`, or hands it back if the global allocator refuses.
///
/// The block comes from the global allocator, as `Box::new`'s does, so the `Box` frees it
/// as usual (also under loom: boxes are not loom-tracked anyway).
#[inline]
pub(crate) fn try_box<T>(value: T) -> Result<Box<T>, T> {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        // No allocation for a zero-sized value.
        return Ok(Box::new(value));
    }
    // SAFETY: the layout has a non-zero size.
    let raw = unsafe { alloc(layout) }.cast::<T>();
    if raw.is_null() {
        return Err(value);
    }
    // SAFETY: freshly allocated by the global allocator with `T`'s layout, so it is aligned
    // and writable, and `Box` may own and free it.
    unsafe {
        raw.write(value);
        Ok(Box::from_raw(raw))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn boxes_sized_and_zero_sized_values() {
        assert_eq!(*try_box(5u64).ok().unwrap(), 5);
        let unit: Box<()> = try_box(()).ok().unwrap();
        assert_eq!(*unit, ());
        let closure: Box<dyn FnOnce() -> u8> = try_box(move || 3u8).ok().unwrap();
        assert_eq!(closure(), 3);
    }
}
