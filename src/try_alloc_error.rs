//! [`TryAllocError`]: an allocation of a token, a scope or a task failed.

use core::alloc::Layout;
use core::fmt;

use crate::storage::AllocError;
use crate::try_spawn_error::TrySpawnError;

/// The error of the fallible constructors of the std-only layers
/// (`CancellationToken::try_new`, the `try_spawn*` functions of `scope::ScopedSpawner`, …):
/// the heap refused an allocation. It says [what](Self::what) was being allocated and its [layout](Self::layout).
///
/// Nothing is leaked: by the time the error is returned, whatever the call was given has been
/// dropped (not run) and whatever it had allocated before the failure has been freed.
///
/// ```
/// use core::alloc::Layout;
/// use rawtask::TryAllocError;
///
/// let error = TryAllocError::new("a cancellation token", Layout::new::<[u64; 8]>());
/// assert_eq!(error.what(), "a cancellation token");
/// assert_eq!(error.layout().size(), 64);
/// assert_eq!(
///     error.to_string(),
///     "rawtask: could not allocate a cancellation token (64 bytes, alignment 8)"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TryAllocError {
    what: &'static str,
    layout: Layout,
}

impl TryAllocError {
    /// An error for the allocation of `what` (a phrase such as "a cancellation token"), of
    /// `layout`.
    ///
    /// ```
    /// let error = rawtask::TryAllocError::new("a buffer", core::alloc::Layout::new::<u8>());
    /// assert_eq!(error.layout().size(), 1);
    /// ```
    pub const fn new(what: &'static str, layout: Layout) -> TryAllocError {
        TryAllocError { what, layout }
    }

    /// What was being allocated.
    ///
    /// ```
    /// let error = rawtask::TryAllocError::new("a scope", core::alloc::Layout::new::<u8>());
    /// assert_eq!(error.what(), "a scope");
    /// ```
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// The layout the heap refused.
    ///
    /// ```
    /// let error = rawtask::TryAllocError::new("a scope", core::alloc::Layout::new::<u32>());
    /// assert_eq!(error.layout().align(), 4);
    /// ```
    pub fn layout(&self) -> Layout {
        self.layout
    }
}

impl fmt::Display for TryAllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rawtask: could not allocate {} ({} bytes, alignment {})",
            self.what,
            self.layout.size(),
            self.layout.align()
        )
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TryAllocError {}

/// A failed task allocation, as the allocation of "a task".
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
/// let error = rawtask::Builder::new().allocator(Empty).try_spawn(|()| async {}, |_| {}).unwrap_err();
/// let error = rawtask::TryAllocError::from(error);
/// assert_eq!(error.what(), "a task");
/// ```
impl From<TrySpawnError> for TryAllocError {
    fn from(error: TrySpawnError) -> TryAllocError {
        TryAllocError::new("a task", error.layout())
    }
}

/// For code that reports allocation failures as the allocator API's error.
///
/// ```
/// let error = rawtask::TryAllocError::new("a scope", core::alloc::Layout::new::<u8>());
/// assert_eq!(rawtask::storage::AllocError::from(error), rawtask::storage::AllocError);
/// ```
impl From<TryAllocError> for AllocError {
    fn from(_: TryAllocError) -> AllocError {
        AllocError
    }
}
