//! The ABI version and the layout facts the C header relies on, checked on both sides: by
//! `const` assertions here, by `_Static_assert`s in `include/rawtask.h` at C compile time, and
//! by [`rawtask_check_abi`] at run time (header against library).

#[cfg_attr(loom, allow(unused_imports))]
use core::mem::size_of;

use super::{RawtaskSchedule, RawtaskStatus, RawtaskTask};
use crate::capi::status::{guard, Failure};

/// The version of rawtask's C ABI. It changes whenever a function signature, a type's layout
/// or the meaning of a status code changes incompatibly.
///
/// ```
/// assert_eq!(rawtask::capi::rawtask_abi_version(), rawtask::capi::RAWTASK_ABI_VERSION);
/// ```
pub const RAWTASK_ABI_VERSION: u32 = 1;

/// The data slot's offset from a task pointer, in pointer-sized words: the header before it is
/// a vtable pointer, the state word and a two-word waker. The C header defines
/// `RAWTASK_DATA_OFFSET` as `RAWTASK_DATA_OFFSET_WORDS * sizeof(void *)`; it holds for every
/// slot type aligned to at most a pointer (see [`crate::data_offset`] for the others).
///
/// ```
/// assert_eq!(rawtask::capi::RAWTASK_DATA_OFFSET_WORDS * size_of::<usize>(), rawtask::DATA_OFFSET);
/// ```
pub const RAWTASK_DATA_OFFSET_WORDS: usize = 4;

// The facts the header's `_Static_assert`s state, asserted on the Rust side too. (Not under
// loom, whose atomics are larger than the real ones.)
#[cfg(not(loom))]
const _: () = {
    assert!(crate::DATA_OFFSET == RAWTASK_DATA_OFFSET_WORDS * size_of::<usize>());
    assert!(size_of::<RawtaskSchedule>() == 2 * size_of::<usize>());
    assert!(size_of::<RawtaskTask>() == 8);
    assert!(size_of::<RawtaskStatus>() == 4);
    assert!(size_of::<usize>() == size_of::<*const ()>());
};

// On compilers that have `offset_of!` (the layout is the same on all).
#[cfg(all(not(loom), rawtask_offset_of))]
const _: () = assert!(core::mem::offset_of!(RawtaskSchedule, context) == size_of::<usize>());

/// Returns [`RAWTASK_ABI_VERSION`] as compiled into the library, for a C program to compare
/// with the header's `RAWTASK_ABI_VERSION` at run time.
///
/// ```
/// assert_eq!(rawtask::capi::rawtask_abi_version(), 1);
/// ```
#[no_mangle]
pub extern "C" fn rawtask_abi_version() -> u32 {
    RAWTASK_ABI_VERSION
}

/// Returns [`DATA_OFFSET`](crate::DATA_OFFSET): the byte offset of the data slot from a task
/// (runnable) pointer, for slot types aligned to at most a pointer.
///
/// ```
/// assert_eq!(rawtask::capi::rawtask_data_offset(), rawtask::DATA_OFFSET);
/// ```
#[no_mangle]
pub extern "C" fn rawtask_data_offset() -> usize {
    crate::DATA_OFFSET
}

/// Checks that the header a C program was compiled with matches this library: the ABI version,
/// the data slot offset and the sizes of `RawtaskSchedule` and `RawtaskTask`. The header's
/// `RAWTASK_CHECK_ABI()` macro passes its own values.
///
/// Returns `OK`, or `ABI_MISMATCH` with a message naming the first difference.
///
/// ```
/// use rawtask::capi::*;
/// let ok = rawtask_check_abi(RAWTASK_ABI_VERSION, rawtask::DATA_OFFSET, 16, 8);
/// assert_eq!(ok, RawtaskStatus::Ok);
/// let bad = rawtask_check_abi(RAWTASK_ABI_VERSION + 1, rawtask::DATA_OFFSET, 16, 8);
/// assert_eq!(bad, RawtaskStatus::AbiMismatch);
/// ```
#[no_mangle]
pub extern "C" fn rawtask_check_abi(
    abi_version: u32,
    data_offset: usize,
    schedule_size: usize,
    task_size: usize,
) -> RawtaskStatus {
    guard(|| {
        let checks = [
            (
                "RAWTASK_ABI_VERSION",
                abi_version as usize,
                RAWTASK_ABI_VERSION as usize,
            ),
            ("RAWTASK_DATA_OFFSET", data_offset, crate::DATA_OFFSET),
            (
                "sizeof(RawtaskSchedule)",
                schedule_size,
                size_of::<RawtaskSchedule>(),
            ),
            ("sizeof(RawtaskTask)", task_size, size_of::<RawtaskTask>()),
        ];
        for (what, header, library) in checks {
            if header != library {
                return Err(Failure::new(
                    RawtaskStatus::AbiMismatch,
                    alloc::format!(
                        "rawtask_check_abi: {what} is {header} in the header but {library} in \
                         the library; rebuild against the matching include/rawtask.h"
                    ),
                ));
            }
        }
        Ok(RawtaskStatus::Ok)
    })
}
