//! [`RawtaskBuffer`]: bytes that Rust hands over to C without copying them, and the function
//! that gives them back.

use alloc::format;
use alloc::vec::Vec;
use core::ptr;

use super::status::{guard, Failure, RawtaskStatus};

/// A heap buffer of bytes that Rust gave to C: a task's `String` or `Vec<u8>` output (see
/// [`IntoC`](super::IntoC)), moved without a copy. C reads `len` bytes at `data` and must free
/// the buffer exactly once with [`rawtask_buffer_free`]. `data` is null only for an empty
/// buffer without an allocation.
///
/// In C: `RawtaskBuffer buf; rawtask_task_poll(task, &buf, sizeof buf); ...
/// rawtask_buffer_free(&buf);`
///
/// ```
/// use rawtask::capi::*;
/// let (runnable, task) = rawtask::spawn(async { String::from("hi") }, |_| {});
/// let handle = RawtaskTask::new(task);
/// runnable.run();
/// let mut buffer = RawtaskBuffer::EMPTY;
/// unsafe {
///     let size = size_of::<RawtaskBuffer>();
///     assert_eq!(rawtask_task_poll(handle, (&raw mut buffer).cast(), size), RawtaskStatus::Ready);
///     assert_eq!(std::slice::from_raw_parts(buffer.data, buffer.len), b"hi");
///     assert_eq!(*buffer.data.add(buffer.len), 0); // text is followed by a NUL
///     assert_eq!(rawtask_buffer_free(&mut buffer), RawtaskStatus::Ok);
/// }
/// assert!(buffer.data.is_null()); // freeing empties it: a second free does nothing
/// assert_eq!(rawtask_task_free(handle), RawtaskStatus::Ok);
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawtaskBuffer {
    /// The bytes.
    pub data: *mut u8,
    /// How many bytes `data` holds.
    pub len: usize,
    /// The allocation's capacity, which `rawtask_buffer_free` needs; C must not change it.
    pub capacity: usize,
}

impl RawtaskBuffer {
    /// An empty buffer with no allocation (what a freed buffer becomes).
    pub const EMPTY: RawtaskBuffer = RawtaskBuffer {
        data: ptr::null_mut(),
        len: 0,
        capacity: 0,
    };

    /// Hands a vector's allocation over.
    pub(super) fn from_vec(bytes: Vec<u8>) -> RawtaskBuffer {
        if bytes.capacity() == 0 {
            return RawtaskBuffer::EMPTY;
        }
        let mut bytes = core::mem::ManuallyDrop::new(bytes);
        RawtaskBuffer {
            data: bytes.as_mut_ptr(),
            len: bytes.len(),
            capacity: bytes.capacity(),
        }
    }

    /// Hands text over with a NUL after it that `len` does not count.
    pub(super) fn nul_terminated(mut bytes: Vec<u8>) -> RawtaskBuffer {
        bytes.reserve_exact(1);
        bytes.push(0);
        let mut buffer = RawtaskBuffer::from_vec(bytes);
        buffer.len -= 1;
        buffer
    }
}

/// Frees a buffer that rawtask gave to C and empties it (`data` null, `len` and `capacity`
/// 0), so that freeing the same variable again is a no-op.
///
/// Returns `OK`, or `INVALID_ARGUMENT` if `buffer` is null or its fields are inconsistent
/// (`len` above `capacity`, or a null `data` with a capacity): nothing is freed then.
///
/// # Safety
/// `buffer` must be null or point to a `RawtaskBuffer` that rawtask made and that was not
/// freed through another copy of it.
///
/// ```
/// use rawtask::capi::*;
/// let mut empty = RawtaskBuffer::EMPTY;
/// unsafe {
///     assert_eq!(rawtask_buffer_free(&mut empty), RawtaskStatus::Ok);
///     assert_eq!(rawtask_buffer_free(std::ptr::null_mut()), RawtaskStatus::InvalidArgument);
/// }
/// ```
#[no_mangle]
pub unsafe extern "C" fn rawtask_buffer_free(buffer: *mut RawtaskBuffer) -> RawtaskStatus {
    const F: &str = "rawtask_buffer_free";
    guard(|| {
        if buffer.is_null() {
            return Err(Failure::null(F, "buffer"));
        }
        // SAFETY: checked for null; the caller passes a buffer rawtask made.
        let RawtaskBuffer {
            data,
            len,
            capacity,
        } = unsafe { buffer.read() };
        if data.is_null() {
            if len != 0 || capacity != 0 {
                return Err(Failure::invalid_argument(format!(
                    "{F}: a buffer with null `data` must have `len` and `capacity` 0 \
                     (got {len} and {capacity})"
                )));
            }
            return Ok(RawtaskStatus::Ok);
        }
        if len > capacity {
            return Err(Failure::invalid_argument(format!(
                "{F}: `len` ({len}) is above `capacity` ({capacity}): not a buffer rawtask made"
            )));
        }
        // SAFETY: the caller passes a buffer made by `RawtaskBuffer::from_vec` from a
        // `Vec<u8>` with this pointer and capacity, freed once; `len <= capacity` and the
        // bytes are plain `u8`s, initialised up to `len`.
        drop(unsafe { Vec::from_raw_parts(data, len, capacity) });
        // SAFETY: as above; emptying it makes a second free through the same variable a no-op.
        unsafe { buffer.write(RawtaskBuffer::EMPTY) };
        Ok(RawtaskStatus::Ok)
    })
}
