//! The start of every task allocation: vtable pointer, state word, awaiter slot and data slot,
//! and the offset of the data slot that C relies on.

use core::ptr::NonNull;
use core::task::Waker;

use super::state::StateCell;
use super::vtable::TaskVTable;
use crate::sync::UnsafeCell;

/// The start of every task allocation. `repr(C)` so that the data slot sits at an offset that
/// depends only on `M` (see [`crate::data_offset`]), and so that the task pointer, which points
/// to `vtable`, is an [`FfiWakerBase`](super::ffi_waker::FfiWakerBase).
#[repr(C)]
pub(crate) struct Header<M> {
    pub(crate) vtable: &'static TaskVTable,
    pub(crate) state: StateCell,
    /// The waker of whoever awaits the `Task`; guarded by the AWAITER/REGISTERING/NOTIFYING bits.
    pub(crate) awaiter: UnsafeCell<Option<Waker>>,
    /// The user's data slot (async-task's metadata).
    pub(crate) metadata: M,
}

/// The offset of `Header<M>::metadata`, computed as `repr(C)` lays fields out (each at the end
/// of the previous one, rounded up to its alignment), so that it is exact, `const`, and needs
/// no `offset_of!` (Rust 1.77). A test checks it against `offset_of!`.
pub(crate) const fn metadata_offset<M>() -> usize {
    use core::mem::{align_of, size_of};
    const fn align_up(offset: usize, align: usize) -> usize {
        (offset + align - 1) / align * align
    }
    let vtable_end = size_of::<&'static TaskVTable>();
    let state_end = align_up(vtable_end, align_of::<StateCell>()) + size_of::<StateCell>();
    let awaiter_end = align_up(state_end, align_of::<UnsafeCell<Option<Waker>>>())
        + size_of::<UnsafeCell<Option<Waker>>>();
    align_up(awaiter_end, align_of::<M>())
}

/// The header without its data slot: the part whose layout is the same for every task.
#[repr(C)]
pub(crate) struct HeaderPrefix {
    pub(crate) vtable: &'static TaskVTable,
    pub(crate) state: StateCell,
    pub(crate) awaiter: UnsafeCell<Option<Waker>>,
}

/// Reinterprets a task pointer as its type-erased header prefix.
///
/// # Safety
/// `ptr` must point to a live task allocation.
#[inline(always)]
pub(crate) unsafe fn prefix<'a>(ptr: NonNull<()>) -> &'a HeaderPrefix {
    // SAFETY: every task allocation starts with a `Header<M>`, whose `repr(C)` layout begins
    // with exactly the fields of `HeaderPrefix`; the caller guarantees the task is alive.
    unsafe { ptr.cast::<HeaderPrefix>().as_ref() }
}

// `metadata_offset` is `offset_of!`, checked at compile time wherever the compiler has it.
#[cfg(rawtask_offset_of)]
const _: () = {
    assert!(metadata_offset::<()>() == core::mem::offset_of!(Header<()>, metadata));
    assert!(metadata_offset::<u8>() == core::mem::offset_of!(Header<u8>, metadata));
    assert!(metadata_offset::<u64>() == core::mem::offset_of!(Header<u64>, metadata));
    assert!(metadata_offset::<u128>() == core::mem::offset_of!(Header<u128>, metadata));
};

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(align(64))]
    struct Align64(#[allow(dead_code)] u8);

    #[repr(align(16))]
    struct Align16(#[allow(dead_code)] [u8; 40]);

    #[test]
    fn metadata_offset_matches_offset_of() {
        macro_rules! check {
            ($($m:ty),*) => {$(
                assert_eq!(
                    metadata_offset::<$m>(),
                    core::mem::offset_of!(Header<$m>, metadata),
                    "{}",
                    stringify!($m),
                );
            )*};
        }
        check!(
            (),
            u8,
            u16,
            u32,
            u64,
            u128,
            usize,
            [u8; 3],
            [u64; 5],
            Align16,
            Align64
        );
    }
}
