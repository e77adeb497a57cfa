//! [`Slots`]: the fixed block of task slots and their flags that [`StaticPool`] and
//! [`OwnedPool`] share: slot search, layout check and the free path. The pools differ only in
//! how a flag goes from free to taken.
//!
//! [`StaticPool`]: super::StaticPool
//! [`OwnedPool`]: super::OwnedPool

use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::mem::{align_of, size_of, MaybeUninit};
use core::ptr::NonNull;

use crate::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// `N` slots of type `S`, each with a taken flag, and where the next search starts.
pub(crate) struct Slots<S, const N: usize> {
    /// The slots; a slot's memory belongs to whoever took its flag.
    memory: UnsafeCell<MaybeUninit<[S; N]>>,
    /// `taken[i]`: slot `i` belongs to someone.
    taken: [AtomicBool; N],
    /// Where the next search starts (a hint; any value below `N` is correct).
    hint: AtomicUsize,
}

impl<S, const N: usize> Slots<S, N> {
    /// A free flag, for the array initialiser of `new` (a `const` item may be repeated).
    #[cfg(not(loom))]
    #[allow(clippy::declare_interior_mutable_const)] // copied into the array, never shared
    const FREE: AtomicBool = AtomicBool::new(false);

    /// Every slot free. Panics (at compile time in a `static`) if `S` is zero-sized.
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Slots<S, N> {
        assert!(
            size_of::<S>() != 0,
            "rawtask: a pool's slot type is zero-sized"
        );
        Slots {
            memory: UnsafeCell::new(MaybeUninit::uninit()),
            taken: [Self::FREE; N],
            hint: AtomicUsize::new(0),
        }
    }

    /// Every slot free (under loom, whose atomics cannot be built in a `const`).
    #[cfg(loom)]
    pub(crate) fn new() -> Slots<S, N> {
        assert!(
            size_of::<S>() != 0,
            "rawtask: a pool's slot type is zero-sized"
        );
        Slots {
            memory: UnsafeCell::new(MaybeUninit::uninit()),
            taken: core::array::from_fn(|_| AtomicBool::new(false)),
            hint: AtomicUsize::new(0),
        }
    }

    /// Whether an allocation of `layout` fits a slot.
    pub(crate) const fn fits(layout: Layout) -> bool {
        layout.size() <= size_of::<S>() && layout.align() <= align_of::<S>()
    }

    /// How many slots are taken now (a snapshot).
    pub(crate) fn in_use(&self) -> usize {
        self.taken
            .iter()
            .filter(|taken| taken.load(Ordering::Relaxed))
            .count()
    }

    /// Takes a free slot with a compare-and-swap of its flag: any number of threads may call
    /// this at once.
    #[inline(always)]
    pub(crate) fn take_shared(&self) -> Option<usize> {
        self.take::<false>()
    }

    /// Takes a free slot with a load and a store of its flag.
    ///
    /// # Safety
    /// No other call of `take_owned` or `take_shared` on these slots may run at the same time,
    /// and the previous caller's calls happen before this one (the caller holds the pools's
    /// single right to take slots, handed over with release/acquire): then a flag read as free
    /// cannot be taken by anyone else before this call stores "taken" into it, as only takers
    /// write "taken" and only the owner of a taken slot writes "free".
    #[inline(always)]
    pub(crate) unsafe fn take_owned(&self) -> Option<usize> {
        self.take::<true>()
    }

    /// The hint slot first, inline; the others out of line. (A scan unrolled over `N` slots
    /// would make every spawn too big to inline, and cost more than it saves.)
    #[inline(always)]
    fn take<const OWNED: bool>(&self) -> Option<usize> {
        if N == 0 {
            return None;
        }
        let start = self.hint.load(Ordering::Relaxed) % N;
        if self.claim::<OWNED>(start) {
            Some(start)
        } else {
            self.scan::<OWNED>(start)
        }
    }

    /// Takes slot `index` if it is free, and points the hint past it.
    #[inline(always)]
    fn claim<const OWNED: bool>(&self, index: usize) -> bool {
        let flag = &self.taken[index];
        let claimed = if OWNED {
            // Acquire: the previous holder's use of the slot (ended by its release store of
            // "free") happens before ours. A plain store then suffices (see `take_owned`).
            !flag.load(Ordering::Acquire) && {
                flag.store(true, Ordering::Relaxed);
                true
            }
        } else {
            // A plain load first, so that a taken slot is skipped without a write; the
            // compare-and-swap (acquire, as above) decides between racing takers.
            !flag.load(Ordering::Relaxed)
                && flag
                    .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
        };
        if claimed {
            self.hint.store((index + 1) % N, Ordering::Relaxed);
        }
        claimed
    }

    /// The other slots after `start`, in order: out of line, so that the common spawn stays
    /// small.
    #[cold]
    #[inline(never)]
    fn scan<const OWNED: bool>(&self, start: usize) -> Option<usize> {
        (1..N)
            .map(|step| (start + step) % N)
            .find(|&index| self.claim::<OWNED>(index))
    }

    /// Slot `index` as a block of `size_of::<S>()` bytes.
    #[inline(always)]
    pub(crate) fn block(&self, index: usize) -> NonNull<[u8]> {
        NonNull::slice_from_raw_parts(self.slot(index), size_of::<S>())
    }

    fn slot(&self, index: usize) -> NonNull<u8> {
        debug_assert!(index < N);
        // SAFETY: `index < N`, so the slot is inside `memory`, which is never null.
        unsafe { NonNull::new_unchecked(self.memory.get().cast::<S>().add(index).cast::<u8>()) }
    }

    /// Gives back the slot that starts at `ptr`.
    ///
    /// # Safety
    /// `ptr` is the start of a taken slot of these slots, which the caller owns and no longer
    /// uses.
    #[inline(always)]
    pub(crate) unsafe fn free_block(&self, ptr: NonNull<u8>) {
        // SAFETY: the caller gives back a slot inside `memory`.
        let offset = unsafe { ptr.as_ptr().offset_from(self.slot(0).as_ptr()) } as usize;
        debug_assert!(offset % size_of::<S>() == 0);
        // SAFETY: forwarded from the caller.
        unsafe { self.free(offset / size_of::<S>()) }
    }

    /// Gives back slot `index`.
    ///
    /// # Safety
    /// Slot `index` is taken, the caller owns it and no longer uses it.
    #[inline(always)]
    pub(crate) unsafe fn free(&self, index: usize) {
        debug_assert!(index < N);
        debug_assert!(
            self.taken[index].load(Ordering::Relaxed),
            "slot freed twice"
        );
        // The next take starts here: this slot is free and its memory is warm.
        self.hint.store(index, Ordering::Relaxed);
        // Release: everything the holder did to the slot happens before the next taker's
        // acquire.
        self.taken[index].store(false, Ordering::Release);
    }
}
