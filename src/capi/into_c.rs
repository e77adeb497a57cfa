//! [`IntoC`]: how a task's output crosses to C when the C caller polls its handle.
//!
//! A `RawtaskTask` writes its output into the caller's buffer, so what crosses must be plain
//! bytes that need no destructor on the C side. `IntoC` says how an output becomes such a value
//! (`IntoC::C`, written once into the caller's memory): numbers and `repr(C)` structs cross as
//! they are; `String`, `Vec<u8>` and the other owned byte buffers cross as a [`RawtaskBuffer`]
//! that hands their heap allocation over without copying it (C frees it with
//! [`rawtask_buffer_free`](super::rawtask_buffer_free)); a `Result` crosses as its `Ok` value,
//! or as the status `RAWTASK_STATUS_FAILED` with the error as the last error.

use alloc::boxed::Box;
use alloc::ffi::CString;
use alloc::string::String;
use alloc::vec::Vec;

use super::buffer::RawtaskBuffer;
use super::Error;

/// An output that a C caller can receive from a task handle ([`RawtaskTask`](super::RawtaskTask)):
/// [`into_c`](IntoC::into_c) turns it into the plain value [`C`](IntoC::C) that
/// `rawtask_task_poll` writes into the caller's buffer (whose size must be `size_of::<C>()`).
///
/// Implemented for the primitive types, `()` and arrays of them (crossing as they are), for `String`, `Box<str>`,
/// `CString`, `Vec<u8>` and `Box<[u8]>` (crossing as a [`RawtaskBuffer`]), and for
/// `Result<T, E>` (the `Ok` value crosses as `T` does; an `Err` makes the poll return
/// `RAWTASK_STATUS_FAILED` and stores the error as the thread's last error). For a `repr(C)`
/// struct of your own, return it as it is:
///
/// ```
/// use rawtask::capi::{Error, IntoC};
///
/// #[repr(C)]
/// #[derive(Clone, Copy)]
/// struct Point { x: f64, y: f64 }
///
/// impl IntoC for Point {
///     type C = Point;
///     fn into_c(self) -> Result<Point, Error> {
///         Ok(self)
///     }
/// }
/// # let _ = Point { x: 0.0, y: 1.0 }.into_c();
/// ```
///
/// `into_c` runs on the thread that polls the handle, once, when the poll takes the output; a
/// panic in it is caught and reported as `RAWTASK_STATUS_PANICKED`.
pub trait IntoC: Send + 'static {
    /// What C receives: plain data, written with a bitwise copy, that C owns afterwards.
    type C: Copy;

    /// Converts the output for C, or fails with the error C reads as the last error.
    fn into_c(self) -> Result<Self::C, Error>;
}

/// The types that cross to C as they are.
macro_rules! plain {
    ($($t:ty),* $(,)?) => {$(
        impl IntoC for $t {
            type C = $t;
            #[inline]
            fn into_c(self) -> Result<$t, Error> {
                Ok(self)
            }
        }
    )*};
}

plain!(
    (),
    bool,
    u8,
    u16,
    u32,
    u64,
    usize,
    i8,
    i16,
    i32,
    i64,
    isize,
    f32,
    f64,
);

/// Arrays of values that cross as they are cross as they are.
impl<T, const N: usize> IntoC for [T; N]
where
    T: IntoC<C = T> + Copy,
{
    type C = [T; N];
    #[inline]
    fn into_c(self) -> Result<[T; N], Error> {
        Ok(self)
    }
}

/// UTF-8 bytes, followed by a NUL that `len` does not count, so that C may use `data` as a C
/// string (if the text has no NUL of its own). Adding the NUL reallocates only if the string
/// has no spare capacity.
impl IntoC for String {
    type C = RawtaskBuffer;
    fn into_c(self) -> Result<RawtaskBuffer, Error> {
        Ok(RawtaskBuffer::nul_terminated(self.into_bytes()))
    }
}

/// As `String`.
impl IntoC for Box<str> {
    type C = RawtaskBuffer;
    fn into_c(self) -> Result<RawtaskBuffer, Error> {
        String::from(self).into_c()
    }
}

/// The bytes without the NUL, which follows them (as for `String`).
impl IntoC for CString {
    type C = RawtaskBuffer;
    fn into_c(self) -> Result<RawtaskBuffer, Error> {
        let mut bytes = self.into_bytes_with_nul();
        bytes.pop();
        Ok(RawtaskBuffer::nul_terminated(bytes))
    }
}

/// The bytes as they are (no NUL added).
impl IntoC for Vec<u8> {
    type C = RawtaskBuffer;
    fn into_c(self) -> Result<RawtaskBuffer, Error> {
        Ok(RawtaskBuffer::from_vec(self))
    }
}

/// As `Vec<u8>`.
impl IntoC for Box<[u8]> {
    type C = RawtaskBuffer;
    fn into_c(self) -> Result<RawtaskBuffer, Error> {
        Ok(RawtaskBuffer::from_vec(self.into_vec()))
    }
}

/// `Ok` crosses as `T`; `Err` becomes the status `RAWTASK_STATUS_FAILED` and the thread's last
/// error (any standard error, or an `anyhow::Error`, which keeps its chain of causes).
impl<T, E> IntoC for Result<T, E>
where
    T: IntoC,
    E: Into<Error> + Send + 'static,
{
    type C = T::C;
    fn into_c(self) -> Result<T::C, Error> {
        self.map_err(Into::into)?.into_c()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn strings_cross_with_a_nul_after_their_bytes() {
        for buffer in [
            String::from("héllo").into_c().unwrap(),
            Box::<str>::from("héllo").into_c().unwrap(),
            CString::new("héllo").unwrap().into_c().unwrap(),
        ] {
            // SAFETY: a buffer made from text holds `len` bytes and a NUL after them.
            let (bytes, nul) = unsafe {
                (
                    core::slice::from_raw_parts(buffer.data, buffer.len),
                    *buffer.data.add(buffer.len),
                )
            };
            assert_eq!((bytes, nul), ("héllo".as_bytes(), 0));
            let mut buffer = buffer;
            // SAFETY: the buffer came from `into_c` and is freed once.
            let status = unsafe { super::super::rawtask_buffer_free(&mut buffer) };
            assert_eq!(status, super::super::RawtaskStatus::Ok);
        }
    }

    #[test]
    fn bytes_cross_without_a_copy() {
        let bytes = alloc::vec![1u8, 2, 3];
        let address = bytes.as_ptr();
        let mut buffer = bytes.into_c().unwrap();
        assert_eq!((buffer.data.cast_const(), buffer.len), (address, 3));
        // SAFETY: the buffer came from `into_c` and is freed once.
        unsafe { super::super::rawtask_buffer_free(&mut buffer) };
    }

    #[test]
    fn an_err_becomes_the_error() {
        let result: Result<u32, std::io::Error> = Err(std::io::Error::other("disk on fire"));
        let error = result.into_c().unwrap_err();
        assert!(error.is::<std::io::Error>());
        assert_eq!(error.to_string(), "disk on fire");
        let ok: Result<u32, Error> = Ok(3);
        assert_eq!(ok.into_c().unwrap(), 3);
    }
}
