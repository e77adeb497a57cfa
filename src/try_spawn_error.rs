//! [`TrySpawnError`]: a task's allocation failed.

use core::alloc::Layout;
use core::fmt;

use crate::storage::AllocError;

/// The error of the `try_spawn*` functions ([`Builder::try_spawn`](crate::Builder::try_spawn)
/// and its siblings): the allocator could not provide the task's one allocation.
///
/// Nothing is leaked and nothing is handed back: by the time the error is returned, the
/// future-building closure (never called), the data slot, the schedule function, the
/// allocator and the identity have each been dropped exactly once. The error only says which
/// [`layout`](Self::layout) was refused — enough to report it, or to hand it to
/// [`handle_alloc_error`](alloc::alloc::handle_alloc_error) as the infallible `spawn`
/// functions do.
///
/// ```
/// use core::alloc::Layout;
/// use core::ptr::NonNull;
/// use rawtask::storage::{AllocError, Allocator};
///
/// /// An allocator with no memory at all.
/// struct Empty;
/// // SAFETY: it never hands out memory, so there is nothing to free.
/// unsafe impl Allocator for Empty {
///     fn allocate(&self, _: Layout) -> Result<NonNull<[u8]>, AllocError> { Err(AllocError) }
///     unsafe fn deallocate(&self, _: NonNull<u8>, _: Layout) { unreachable!() }
/// }
///
/// let error = rawtask::Builder::new()
///     .allocator(Empty)
///     .try_spawn(|()| async { 1 }, |_| {})
///     .unwrap_err();
/// assert!(error.layout().size() > 0);
/// assert!(error.to_string().starts_with("rawtask: could not allocate a task of"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrySpawnError {
    layout: Layout,
}

impl TrySpawnError {
    pub(crate) fn new(layout: Layout) -> TrySpawnError {
        TrySpawnError { layout }
    }

    /// The layout of the task allocation that failed (the whole task: header, data slot,
    /// schedule function, allocator, identity, and the future or its output).
    ///
    /// ```
    /// # use core::{alloc::Layout, ptr::NonNull};
    /// # use rawtask::storage::{AllocError, Allocator};
    /// # struct Empty;
    /// # // SAFETY: it never hands out memory.
    /// # unsafe impl Allocator for Empty {
    /// #     fn allocate(&self, _: Layout) -> Result<NonNull<[u8]>, AllocError> { Err(AllocError) }
    /// #     unsafe fn deallocate(&self, _: NonNull<u8>, _: Layout) {}
    /// # }
    /// #[repr(align(64))]
    /// struct Aligned([u8; 64]);
    /// let big = Aligned([0; 64]);
    /// let error = rawtask::Builder::new()
    ///     .allocator(Empty)
    ///     .try_spawn(move |()| async move { let whole = big; whole.0[0] }, |_| {})
    ///     .unwrap_err();
    /// assert_eq!(error.layout().align(), 64);
    /// assert!(error.layout().size() >= 64 + rawtask::DATA_OFFSET);
    /// ```
    pub fn layout(&self) -> Layout {
        self.layout
    }
}

impl fmt::Display for TrySpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rawtask: could not allocate a task of {} bytes (alignment {})",
            self.layout.size(),
            self.layout.align()
        )
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TrySpawnError {}

/// For code that reports allocation failures as the allocator API's error.
///
/// ```
/// # use core::{alloc::Layout, ptr::NonNull};
/// # use rawtask::storage::{AllocError, Allocator};
/// # struct Empty;
/// # // SAFETY: it never hands out memory.
/// # unsafe impl Allocator for Empty {
/// #     fn allocate(&self, _: Layout) -> Result<NonNull<[u8]>, AllocError> { Err(AllocError) }
/// #     unsafe fn deallocate(&self, _: NonNull<u8>, _: Layout) {}
/// # }
/// fn spawn_on_empty() -> Result<(), AllocError> {
///     let (_runnable, _task) = rawtask::Builder::new()
///         .allocator(Empty)
///         .try_spawn(|()| async {}, |_| {})?;
///     Ok(())
/// }
/// assert_eq!(spawn_on_empty(), Err(AllocError));
/// ```
impl From<TrySpawnError> for AllocError {
    fn from(_: TrySpawnError) -> AllocError {
        AllocError
    }
}
