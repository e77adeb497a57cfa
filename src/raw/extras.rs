//! What a task carries besides its future, output, schedule function and data slot.

use core::alloc::Layout;
use core::ptr::{self, addr_of, addr_of_mut, NonNull};
use core::task::Poll;

use super::locality::Locality;
use crate::hooks::sealed::Slot;
use crate::identity::task_identity::Identity;
use crate::schedule_info::ScheduleInfo;
use crate::storage::Allocator;

/// What a task carries besides its future, output, schedule function and data slot: where its
/// contents may be dropped, where its memory comes from, its identity and its hooks. Implemented only by
/// [`TaskExtras`], which every spawn function uses.
pub(crate) trait Extras: Locality {
    /// Allocates the task's memory (null on failure).
    fn allocate(&self, layout: Layout) -> *mut u8;

    /// Drops the value stored in the task at `this`, then frees the task's `memory`.
    ///
    /// # Safety
    /// `this` points to a live value that is dropped only here, inside `memory`, which came
    /// from `allocate` (on this value) with `layout` and is not used again.
    unsafe fn free(this: *mut Self, memory: *mut u8, layout: Layout);

    /// The task's identity, if it was spawned with one.
    fn identity(&self) -> Option<&Identity>;

    /// Tells the hooks the task was built.
    ///
    /// # Safety
    /// Called once, before the task is reachable from anywhere else.
    unsafe fn spawned(&self);

    /// Polls with `poll` between the hooks' `before_poll` and `after_poll`.
    fn around_poll<R>(&self, poll: impl FnOnce() -> Poll<R>) -> Poll<R>;

    /// Tells the hooks the task goes to its schedule function.
    fn scheduled(&self, info: ScheduleInfo);

    /// Tells the hooks the task is being freed.
    ///
    /// # Safety
    /// Called once, by the task's only owner.
    unsafe fn freed(&self);
}

/// The [`Extras`] of every task: its locality (which threads may drop its contents), the
/// allocator its memory came from, its identity slot and its hook slot (`()` for none). With
/// [`AnyThread`](super::locality::AnyThread), [`Heap`], `()` and `()`, all zero-sized, it adds
/// nothing to the task (the default spawn path), and the hook calls compile to nothing.
///
/// [`Heap`]: crate::storage::Heap
pub(crate) struct TaskExtras<Loc, Alloc, IdSlot, Hooks> {
    pub(crate) locality: Loc,
    pub(crate) allocator: Alloc,
    pub(crate) identity: IdSlot,
    pub(crate) hooks: Hooks,
}

/// The identity a task carries: `()` for none, or an [`Identity`].
pub(crate) trait IdentitySlot {
    fn get(&self) -> Option<&Identity>;
}

impl IdentitySlot for () {
    #[inline(always)]
    fn get(&self) -> Option<&Identity> {
        None
    }
}

impl IdentitySlot for Identity {
    #[inline(always)]
    fn get(&self) -> Option<&Identity> {
        Some(self)
    }
}

impl<Loc: Locality, Alloc, IdSlot, Hooks> Locality for TaskExtras<Loc, Alloc, IdSlot, Hooks> {
    #[inline(always)]
    fn is_home(&self) -> bool {
        self.locality.is_home()
    }

    #[inline(always)]
    fn leak_future(&self) {
        self.locality.leak_future();
    }

    #[inline(always)]
    fn future_leaked(&self) -> bool {
        self.locality.future_leaked()
    }
}

impl<Loc, Alloc, IdSlot, Hooks> Extras for TaskExtras<Loc, Alloc, IdSlot, Hooks>
where
    Loc: Locality,
    Alloc: Allocator,
    IdSlot: IdentitySlot,
    Hooks: Slot,
{
    #[inline(always)]
    fn allocate(&self, layout: Layout) -> *mut u8 {
        match self.allocator.allocate(layout) {
            Ok(block) => block.cast::<u8>().as_ptr(),
            Err(_) => ptr::null_mut(),
        }
    }

    #[inline(always)]
    unsafe fn free(this: *mut Self, memory: *mut u8, layout: Layout) {
        // SAFETY: the caller gives us the stored value: move the allocator out (it must
        // outlive its own memory), drop the rest in place, then free with the allocator.
        unsafe {
            let allocator = ptr::read(addr_of!((*this).allocator));
            ptr::drop_in_place(addr_of_mut!((*this).locality));
            ptr::drop_in_place(addr_of_mut!((*this).identity));
            ptr::drop_in_place(addr_of_mut!((*this).hooks));
            allocator.deallocate(NonNull::new_unchecked(memory), layout);
        }
    }

    #[inline(always)]
    fn identity(&self) -> Option<&Identity> {
        self.identity.get()
    }

    #[inline(always)]
    unsafe fn spawned(&self) {
        // SAFETY: forwarded from the caller.
        unsafe { self.hooks.spawned(self.identity.get()) }
    }

    #[inline(always)]
    fn around_poll<R>(&self, poll: impl FnOnce() -> Poll<R>) -> Poll<R> {
        self.hooks.around_poll(self.identity.get(), poll)
    }

    #[inline(always)]
    fn scheduled(&self, info: ScheduleInfo) {
        self.hooks.scheduled(self.identity.get(), info)
    }

    #[inline(always)]
    unsafe fn freed(&self) {
        // SAFETY: forwarded from the caller.
        unsafe { self.hooks.freed(self.identity.get()) }
    }
}
