//! [`Runnable`]: the executor's handle to a scheduled task.

use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::task::Waker;

use crate::raw::header::{prefix, Header};
use crate::raw::waker::waker_from_ref;
use crate::schedule_info::ScheduleInfo;

/// A handle to a scheduled task, owned by the executor.
///
/// A `Runnable` exists exactly while the task is scheduled. [`run`](Runnable::run) polls the
/// future once and consumes the handle; it comes back through the schedule function when a
/// waker wakes the task. Dropping a `Runnable` without running it cancels the task: the
/// future is dropped and the [`Task`](crate::Task) resolves as cancelled.
///
/// ```
/// let (s, r) = flume::unbounded();
/// let (runnable, task) = rawtask::spawn(async { 7 }, move |r| s.send(r).unwrap());
/// runnable.schedule();
/// for runnable in r.try_iter() {
///     runnable.run();
/// }
/// assert_eq!(futures_lite::future::block_on(task), 7);
/// ```
pub struct Runnable<M = ()> {
    /// The task pointer, with [`SPARE_HOLD`] set in its lowest bit while the `Runnable` carries
    /// the schedule hold its spawn paid for (see [`Runnable::spawned`]). The task's alignment
    /// leaves that bit free; [`task`](Runnable::task) gives the pointer without it.
    ptr: NonNull<()>,
    _marker: PhantomData<M>,
}

/// The tag bit of a `Runnable` that carries a spare schedule hold: a reference its spawn added
/// (with no atomic operation: the state word was being written anyway) for the call of the
/// schedule function that usually comes next, `Runnable::schedule` (raw rule 6). That call
/// uses it instead of adding one; whatever else ends the `Runnable` first (a run, a drop,
/// `into_raw`) releases it.
const SPARE_HOLD: usize = 1;

// SAFETY: a `Runnable` hands out `&M` (so `M: Sync`) and may free the task, dropping `M`, on
// the thread it was sent to (so `M: Send`). The future and output are confined by the spawn
// functions' bounds (`spawn_local` checks the thread at run time).
unsafe impl<M: Send + Sync> Send for Runnable<M> {}
// SAFETY: `&Runnable` only reads the data slot and makes wakers, which are thread-safe.
unsafe impl<M: Send + Sync> Sync for Runnable<M> {}

#[cfg(feature = "std")]
impl<M> std::panic::UnwindSafe for Runnable<M> {}
#[cfg(feature = "std")]
impl<M> std::panic::RefUnwindSafe for Runnable<M> {}

impl<M> Runnable<M> {
    /// The `Runnable` of a task just spawned; `spare_hold`: its state counts one reference more,
    /// the spare schedule hold (see [`SPARE_HOLD`]), which the `Runnable` now owns.
    ///
    /// # Safety
    /// As [`from_raw`](Self::from_raw); with `spare_hold`, the caller gives up that reference
    /// too, and the task's schedule function needs a hold for its calls (`SCHEDULE_HOLDS`).
    #[inline(always)]
    pub(crate) unsafe fn spawned(ptr: NonNull<()>, spare_hold: bool) -> Self {
        let ptr = if spare_hold {
            // SAFETY: the address plus one is within the allocation (a task is larger than a
            // byte), so it is not null; it is never dereferenced, only untagged again.
            unsafe { NonNull::new_unchecked(ptr.as_ptr().cast::<u8>().add(SPARE_HOLD).cast()) }
        } else {
            ptr
        };
        Runnable {
            ptr,
            _marker: PhantomData,
        }
    }

    /// Whether this `Runnable` still carries its spawn's spare schedule hold.
    #[inline(always)]
    fn has_spare_hold(&self) -> bool {
        split_tag(self.ptr).1
    }

    /// The task pointer, without the spare-hold tag.
    #[inline(always)]
    fn task(&self) -> NonNull<()> {
        split_tag(self.ptr).0
    }

    /// Gives up the `Runnable` as its untagged task pointer, keeping its reference and
    /// SCHEDULED bit, and (when it has one) its spare hold, which the caller now owns.
    #[inline(always)]
    fn into_task(self) -> NonNull<()> {
        let ptr = self.task();
        core::mem::forget(self);
        ptr
    }

    /// Releases the spare schedule hold, if this `Runnable` still carries one: it is ending
    /// some other way than through its schedule function.
    #[inline(always)]
    fn drop_spare_hold(&mut self) {
        let (ptr, spare) = split_tag(self.ptr);
        if spare {
            // SAFETY: we carry the spare hold, and our own reference keeps the task alive.
            unsafe { release_spare_hold(ptr) };
            self.ptr = ptr;
        }
    }

    #[inline(always)]
    fn header(&self) -> &Header<M> {
        // SAFETY: the `Runnable` holds a reference, so the task (whose data slot has type `M`,
        // as the spawn functions guarantee) is alive.
        unsafe { self.task().cast::<Header<M>>().as_ref() }
    }

    /// Returns the task's data slot (async-task's "metadata").
    ///
    /// ```
    /// let (runnable, _task) = rawtask::Builder::new()
    ///     .metadata(5u32)
    ///     .spawn(|m| { let m = *m; async move { m } }, |_| {});
    /// assert_eq!(*runnable.metadata(), 5);
    /// ```
    #[inline]
    pub fn metadata(&self) -> &M {
        &self.header().metadata
    }

    /// The task's [`Identity`](crate::identity::Identity), if it was spawned with one
    /// ([`Builder::name`](crate::Builder::name), [`track_location`](crate::Builder::track_location)
    /// or [`assign_id`](crate::Builder::assign_id)).
    ///
    /// ```
    /// let (runnable, _task) = rawtask::Builder::new().name("io").spawn(|()| async {}, |_| {});
    /// assert_eq!(runnable.identity().unwrap().name(), Some("io"));
    /// let (plain, _task) = rawtask::spawn(async {}, |_| {});
    /// assert!(plain.identity().is_none());
    /// ```
    pub fn identity(&self) -> Option<&crate::identity::Identity> {
        // SAFETY: the `Runnable`'s reference keeps the task alive for the borrow.
        unsafe { (self.header().vtable.identity)(self.task()) }
    }

    /// Returns the task's data slot (async-task-ffi's name for [`metadata`](Self::metadata)).
    ///
    /// ```
    /// let (runnable, _task) = rawtask::spawn_with(async {}, |_| {}, 3u8);
    /// assert_eq!(*runnable.data(), 3);
    /// ```
    #[inline]
    pub fn data(&self) -> &M {
        &self.header().metadata
    }

    /// Returns the data slot mutably, if no [`Task`](crate::Task) handle can read it at the same
    /// time: `Some` once the `Task` was detached or dropped, `None` while it is alive.
    ///
    /// async-task-ffi returns `&mut D` unconditionally, which races with a `Task` reading the
    /// slot on another thread. To change the slot while a `Task` is alive, put interior
    /// mutability in it (an atomic, or a mutex).
    ///
    /// ```
    /// let (mut runnable, task) = rawtask::spawn_with(async {}, |_| {}, 1u64);
    /// assert!(runnable.data_mut().is_none()); // the Task could read the slot meanwhile
    /// task.detach();
    /// *runnable.data_mut().unwrap() += 1;
    /// assert_eq!(*runnable.data(), 2);
    /// ```
    #[inline]
    pub fn data_mut(&mut self) -> Option<&mut M> {
        if self.header().state.load().has_task() {
            return None;
        }
        // SAFETY: the `Task` handle is gone for good (TASK never comes back), and the acquire
        // load above synchronised with its last use. The only other handles, wakers, never
        // touch the slot.
        Some(unsafe { self.data_mut_unchecked() })
    }

    /// The data slot, mutably, with no check that a `Task` handle could read it.
    ///
    /// # Safety
    /// Nothing but this `Runnable` reads or writes the slot while the borrow lives: no `Task`
    /// handle that can read it exists, or it cannot run concurrently (a `Task` whose slot type
    /// was erased with [`Task::erase_metadata`](crate::Task::erase_metadata) never reads it).
    /// Wakers never touch the slot, and `&mut self` excludes the `Runnable`'s own borrows.
    #[inline]
    pub(crate) unsafe fn data_mut_unchecked(&mut self) -> &mut M {
        // SAFETY: the `Runnable`'s reference keeps the task alive; exclusive access to the
        // slot is the caller's promise. The place is reached through the raw pointer, not
        // through a shared `&Header`.
        unsafe { &mut (*self.task().cast::<Header<M>>().as_ptr()).metadata }
    }

    /// Whether the task was cancelled: its `Task` dropped or aborted (or cancelled through an
    /// [`AbortHandle`](crate::AbortHandle)), or the task closed by its own earlier panic. An
    /// executor may drop a cancelled `Runnable` instead of running it: either way the future
    /// is dropped, not polled.
    ///
    /// This is one load of the state word. `true` is final (a task never reopens); `false` can
    /// be out of date as soon as it is returned, because another thread may cancel the task
    /// concurrently. That is harmless: [`run`](Self::run) checks again atomically and drops the
    /// future of a task cancelled meanwhile instead of polling it.
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    /// assert!(!runnable.is_cancelled());
    /// drop(task);
    /// assert!(runnable.is_cancelled());
    /// drop(runnable); // what an executor does with a cancelled runnable
    /// ```
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        // A `Runnable` never exists for a completed task, so CLOSED means cancelled.
        self.header().state.load().is_closed()
    }

    /// A pointer to the data slot of the task at `ptr`, a pointer made by
    /// [`into_raw`](Self::into_raw) (async-task PR #97's `metadata_raw`), for executors that
    /// keep an intrusive queue link in the slot and hold their tasks as raw pointers.
    ///
    /// Making the pointer is safe and reads nothing (it is `ptr` plus
    /// [`data_offset::<M>()`](crate::data_offset)); dereferencing it is valid only while the
    /// task is alive, that is while the raw pointer still owns the `Runnable` (between
    /// `into_raw` and the matching `from_raw`) or another handle (the `Task`, a `Runnable`)
    /// keeps it alive, and only with `M` the task's slot type. The slot is shared: it aliases
    /// [`metadata`](Self::metadata) and [`Task::metadata`](crate::Task::metadata), so write
    /// through it only to fields with interior mutability (a `Cell` or an atomic), or while no
    /// other reference to the slot is in use.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicPtr, Ordering};
    /// type Slot = AtomicPtr<()>; // an intrusive "next" link
    /// let (runnable, task) = rawtask::spawn_with(async { 5 }, |_| {}, Slot::default());
    /// let ptr = runnable.into_raw();
    /// let slot = rawtask::Runnable::<Slot>::metadata_raw(ptr);
    /// // SAFETY: the raw pointer owns the `Runnable`, so the task is alive; the slot type matches.
    /// unsafe { slot.as_ref() }.store(ptr.as_ptr(), Ordering::Relaxed);
    /// assert_eq!(task.metadata().load(Ordering::Relaxed), ptr.as_ptr());
    /// // SAFETY: `ptr` came from `into_raw` of this `Runnable` type and is converted back once.
    /// unsafe { rawtask::Runnable::<Slot>::from_raw(ptr) }.run();
    /// assert_eq!(futures_lite::future::block_on(task), 5);
    /// ```
    #[inline]
    pub fn metadata_raw(ptr: NonNull<()>) -> NonNull<M> {
        // Offset arithmetic only, so no reference to the header or slot is made; `wrapping_add`
        // keeps this safe even for a dangling `ptr`.
        let slot = ptr
            .as_ptr()
            .cast::<u8>()
            .wrapping_add(crate::data_offset::<M>())
            .cast::<M>();
        // Never null for a pointer `into_raw` made (the slot lies inside the allocation); only
        // a forged pointer just below the top of the address space could wrap to null.
        NonNull::new(slot).expect("rawtask: metadata_raw of a pointer that is not a task")
    }

    /// Hands the task to its schedule function.
    ///
    /// ```
    /// let (s, r) = flume::unbounded();
    /// let (runnable, _task) = rawtask::spawn(async {}, move |r| s.send(r).unwrap());
    /// runnable.schedule();
    /// assert_eq!(r.len(), 1);
    /// // The queued Runnable holds the schedule fn, which holds the Sender: break the cycle.
    /// drop(r.try_recv());
    /// ```
    #[inline]
    pub fn schedule(self) {
        let held = self.has_spare_hold();
        let ptr = self.into_task();
        // SAFETY: our reference and SCHEDULED bit pass to the schedule function's `Runnable`;
        // with `held`, the spare hold we carried becomes the call's hold (rule 6).
        unsafe { (prefix(ptr).vtable.schedule)(ptr, ScheduleInfo::new(false), held) }
    }

    /// Polls the task's future once.
    ///
    /// Returns `true` if the task was woken while it was running: it has then already been
    /// handed to the schedule function again (with
    /// [`ScheduleInfo::woken_while_running`](crate::ScheduleInfo)). If the task was cancelled,
    /// its future is dropped instead of polled.
    ///
    /// If the future panics, the panic is propagated to the caller after the task is closed,
    /// unless the task was built with [`Builder::propagate_panic`](crate::Builder), in which
    /// case the panic is re-raised by whoever awaits the `Task`.
    ///
    /// # Panics
    /// Besides the future's own panics: a task from [`spawn_local`] run on a
    /// thread other than the one that spawned it panics (the task is cancelled and its future
    /// leaked, never dropped on the wrong thread).
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async { 1 }, |_| {});
    /// assert!(!runnable.run());
    /// assert!(task.is_finished());
    /// ```
    #[cfg_attr(
        feature = "std",
        doc = "
[`spawn_local`]: crate::spawn_local"
    )]
    #[cfg_attr(
        not(feature = "std"),
        doc = "
[`spawn_local`]: https://docs.rs/rawtask/latest/rawtask/fn.spawn_local.html"
    )]
    #[inline]
    pub fn run(self) -> bool {
        let ptr = self.into_raw();
        // SAFETY: our reference and SCHEDULED bit pass to `run`.
        unsafe { (prefix(ptr).vtable.run)(ptr) }
    }

    /// Returns a waker that wakes this task. It costs one reference count increment.
    ///
    /// ```
    /// let (s, r) = flume::unbounded();
    /// let (runnable, _task) = rawtask::spawn(std::future::pending::<()>(), move |r| s.send(r).unwrap());
    /// let waker = runnable.waker();
    /// runnable.run();
    /// waker.wake();
    /// assert_eq!(r.len(), 1);
    /// // The queued Runnable holds the schedule fn, which holds the Sender: break the cycle.
    /// drop(r.try_recv());
    /// ```
    #[inline]
    pub fn waker(&self) -> Waker {
        self.header().state.add_ref();
        // SAFETY: the reference just added belongs to the new waker.
        unsafe { waker_from_ref(self.task()) }
    }

    /// A [`Watcher`](crate::raw::watcher::Watcher) of a task that was just spawned (its
    /// reference is added without an atomic read-modify-write, raw rule 11).
    ///
    /// # Safety
    /// No pointer to the task (its `Task`, a waker or a raw pointer) has left the current
    /// thread yet, so nothing can touch its state concurrently; and the task's `Task` handle is
    /// never polled (the watcher registers the awaiter in its place, raw rule 13).
    #[cfg(feature = "std")]
    pub(crate) unsafe fn watcher_unshared(&self) -> crate::raw::watcher::Watcher {
        // SAFETY: forwarded from the caller; the reference just added belongs to the watcher.
        unsafe {
            self.header().state.add_ref_unshared();
            crate::raw::watcher::Watcher::from_ref(self.task())
        }
    }

    /// Converts the `Runnable` into a raw pointer to the task, for an executor that stores
    /// tasks as pointers (or passes them through C). The data slot sits at
    /// [`data_offset::<M>()`](crate::data_offset) bytes from this pointer.
    ///
    /// Convert it back with [`from_raw`](Self::from_raw) exactly once, or the task leaks.
    ///
    /// ```
    /// let (runnable, _task) = rawtask::spawn_with(async {}, |_| {}, 42u64);
    /// let ptr = runnable.into_raw();
    /// // SAFETY: the slot of a `u64` task lives at DATA_OFFSET.
    /// let slot = unsafe { *ptr.as_ptr().cast::<u8>().add(rawtask::DATA_OFFSET).cast::<u64>() };
    /// assert_eq!(slot, 42);
    /// // SAFETY: `ptr` came from `into_raw` of a `Runnable<u64>` and is converted back once.
    /// let runnable = unsafe { rawtask::Runnable::<u64>::from_raw(ptr) };
    /// runnable.run();
    /// ```
    #[inline]
    pub fn into_raw(mut self) -> NonNull<()> {
        // A raw pointer carries no tag: give the spare hold back first.
        self.drop_spare_hold();
        let ptr = self.ptr;
        core::mem::forget(self);
        ptr
    }

    /// Converts a pointer made by [`into_raw`](Self::into_raw) back into a `Runnable`.
    ///
    /// # Safety
    /// `ptr` must come from `Runnable::<M>::into_raw` with the same `M`, and be converted back
    /// only once.
    ///
    /// ```
    /// let (runnable, task) = rawtask::spawn(async { 2 }, |_| {});
    /// let ptr = runnable.into_raw();
    /// // SAFETY: `ptr` came from `into_raw` of a `Runnable<()>` and is converted back once.
    /// let runnable = unsafe { rawtask::Runnable::<()>::from_raw(ptr) };
    /// runnable.run();
    /// assert_eq!(futures_lite::future::block_on(task), 2);
    /// ```
    #[inline]
    pub unsafe fn from_raw(ptr: NonNull<()>) -> Self {
        Runnable {
            ptr,
            _marker: PhantomData,
        }
    }
}

impl<M> Drop for Runnable<M> {
    fn drop(&mut self) {
        // SAFETY: we own the `Runnable`'s reference and SCHEDULED bit (and the spare hold its
        // tag says it carries) and give them up here.
        unsafe { drop_runnable(self.ptr) }
    }
}

/// Splits a `Runnable`'s pointer into the task pointer and whether it carries the spare
/// schedule hold ([`SPARE_HOLD`]).
#[inline(always)]
fn split_tag(ptr: NonNull<()>) -> (NonNull<()>, bool) {
    let tag = ptr.as_ptr() as usize & SPARE_HOLD;
    // SAFETY: subtracting the tag gives back the task pointer `Runnable::spawned` was given,
    // which is not null.
    let task =
        unsafe { NonNull::new_unchecked(ptr.as_ptr().cast::<u8>().wrapping_sub(tag).cast()) };
    (task, tag != 0)
}

/// Releases the spare schedule hold of the (untagged) task pointer `ptr`. Out of line:
/// executors schedule a spawned `Runnable` before anything else.
///
/// # Safety
/// The caller owns the spare hold and gives it up, and holds another reference (its
/// `Runnable`'s), which keeps the task alive.
#[cold]
#[inline(never)]
unsafe fn release_spare_hold(ptr: NonNull<()>) {
    // SAFETY: the caller's other reference keeps the task alive.
    unsafe { prefix(ptr) }.state.release_spare_hold();
}

/// Drops a `Runnable` given only its task pointer: closes the task, drops the future, wakes
/// the awaiter and releases the reference. Needs the header prefix alone, so the C API uses it
/// for runnables whose data slot type it does not know.
///
/// `ptr` may carry a `Runnable`'s spare-hold tag, which is given back first: the check lives
/// here, out of line, so that dropping a `Runnable` stays one call.
///
/// # Safety
/// `ptr` is a task pointer whose `Runnable` (reference and SCHEDULED bit, and the spare hold
/// if tagged) the caller owns and gives up.
pub(crate) unsafe fn drop_runnable(ptr: NonNull<()>) {
    let (ptr, spare) = split_tag(ptr);
    if spare {
        // SAFETY: the caller gives up the spare hold; the `Runnable`'s own reference remains.
        unsafe { release_spare_hold(ptr) };
    }
    // SAFETY: the `Runnable`'s reference keeps the task alive until it is released.
    let header = unsafe { prefix(ptr) };
    let vtable = header.vtable;
    if header.state.load().runnable_alone() {
        // Nothing else can reach the task (raw rule 12): drop the future (a `Runnable` never
        // exists for a completed task, so it is still there) and free the task, with no state
        // transition at all.
        // SAFETY: we own the task outright; its future is alive and ours to drop (raw rule 2).
        unsafe {
            (vtable.drop_future)(ptr);
            (vtable.destroy)(ptr);
        }
        return;
    }
    // A `Runnable` never exists for a completed task, so the future is still there; it is
    // ours to drop (raw rule 2).
    header.state.close_from_runnable();
    // SAFETY: we hold SCHEDULED on a closed task: the future is ours to drop.
    unsafe { (vtable.drop_future)(ptr) };
    // SAFETY: we give up the `Runnable` of a closed task whose future is gone.
    unsafe { crate::raw::release::release_closed_runnable(ptr) };
}

impl<M> Runnable<M> {
    /// The `Debug` fields every `Runnable` shows, its slot aside.
    pub(crate) fn debug_state<'a, 'f, 'g>(
        &self,
        s: &'a mut fmt::DebugStruct<'f, 'g>,
    ) -> &'a mut fmt::DebugStruct<'f, 'g> {
        let state = self.header().state.load();
        if let Some(identity) = self.identity() {
            s.field("identity", identity);
        }
        s.field("state", &format_args!("{}", state.stage()))
            .field("references", &state.refs())
            .field("task_handle", &state.has_task())
    }
}

impl<M: fmt::Debug> fmt::Debug for Runnable<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.debug_state(&mut f.debug_struct("Runnable"))
            .field("metadata", &self.header().metadata)
            .finish()
    }
}
