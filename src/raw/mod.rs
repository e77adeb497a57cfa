//! The raw task: one allocation per task, and the protocol that governs it.
//!
//! # Layout
//!
//! ```text
//! offset 0                      vtable: &'static TaskVTable   (per future/schedule/data type)
//! offset 1 word                 state: AtomicUsize            (flags + reference count)
//! offset 2 words                awaiter: Option<Waker>        (2 words)
//! data_offset::<M>()            data slot M                   (4 words on 64-bit when align_of::<M>() <= 8)
//! then                          schedule function S, home thread (spawn_local only)
//! then                          stage: union { future F, output T, panic payload (1 word) }
//! ```
//!
//! The `vtable` pointer points to a `repr(C)` `TaskVTable` whose first four words are an
//! [`FfiWakerVTable`](crate::ffi::FfiWakerVTable) (clone, wake, wake_by_ref, drop as C
//! functions), the same for every task. So the task pointer is, besides the data pointer of the
//! task's Rust wakers, an async-ffi FFI waker ([`FfiWakerBase`](crate::ffi::FfiWakerBase): a
//! struct whose first field points to its vtable): [`crate::ffi`] hands it to foreign futures
//! as their waker, and cloning it there is one reference count increment, as for a Rust
//! waker. The allocation is unchanged by this; only the per-type static `TaskVTable` is four
//! words longer, and its other entries sit four words further in (the same single load on the
//! hot paths).
//!
//! The data slot comes right after the fixed-size part of the header, so its offset depends on
//! `M` alone and C code can find it from the task pointer ([`crate::DATA_OFFSET`]). The future
//! and its output share one union, and a propagated panic is stored as one thin pointer in the
//! same union, so a trivial `async {}` task spawned with [`crate::spawn`] takes 40 bytes.
//! Futures of any size live inline: there is never a second allocation.
//!
//! # The state word
//!
//! | bit | name | set by | cleared by | meaning |
//! |---|---|---|---|---|
//! | 0 | SCHEDULED | spawn, a wake of an idle task, `Task` cancel of an idle task, last-reference drop | `run` (when it starts, or when it drops a closed future), completion | a `Runnable` exists that has not started this poll |
//! | 1 | RUNNING | `run` | `run` (completion, pending without a wake), or the next `run` or drop of a `Runnable` scheduled again after a wake while running | a `Runnable` is polling the future, or (with SCHEDULED) is queued again after a wake while running |
//! | 2 | COMPLETED | `run` | never | the stage holds the output (or a panic payload) |
//! | 3 | CLOSED | `Task` cancel/drop, `Runnable` drop, panic, output taken | never | nobody may poll the future or read the output any more |
//! | 4 | TASK | spawn | `Task` detach/drop | the `Task` handle is alive |
//! | 5 | AWAITER | awaiter registration | notification | a waker sits in the awaiter slot |
//! | 6 | REGISTERING | `Task` poll | `Task` poll | the `Task` holder is writing the awaiter slot |
//! | 7 | NOTIFYING | a notifier | that notifier, or the registrar | someone is taking the awaiter out |
//! | 8 | PANICKED | `run` | never | the stored output is a panic payload |
//! | 9 | PROPAGATE_PANIC | spawn | never | panics in `poll` become the output |
//! | 10.. | reference count | | | one per `Runnable` and per `Waker` |
//!
//! # Who may touch what
//!
//! | field | actor | when |
//! |---|---|---|
//! | future (stage) | the `Runnable` holder | while it holds RUNNING; or, to drop it, while it holds SCHEDULED on a CLOSED task; or the last owner of an unreferenced task |
//! | output (stage) | the `Runnable` holder | writes it before setting COMPLETED; drops it if the task was closed or detached by then |
//! | output (stage) | the `Task` holder | moves it out after COMPLETED, by setting CLOSED |
//! | awaiter | the `Task` holder, or the `Watcher` of a task whose `Task` is never polled (rule 13) | under REGISTERING |
//! | awaiter | anyone notifying | under NOTIFYING without REGISTERING |
//! | data slot | everyone holding a handle | shared reads only; `Runnable::data_mut` once TASK is clear |
//! | schedule fn | whoever holds a reference | reads only; a reference is held across every call (a plain-data one, the C API's, is copied out before the call instead) |
//! | the allocation | whoever sees zero references and no TASK, or a handle that is alone (rule 12) | frees it |
//!
//! # Rules
//!
//! 1. A task is freed exactly once, by whoever observes the reference count at zero with TASK
//!    clear, and only when the future and the output are gone. A completing `Runnable` that has
//!    nothing left to do releases its reference in the completion transition itself
//!    (`State::releases_at_completion`), and never touches the task afterwards unless that
//!    made it the owner (`loom-tests`: every model's leak
//!    check, proven to fire by `leak_check_fires_on_forgotten_*`; `last_waker_drop_vs_last_waker_drop`,
//!    `task_drop_vs_last_waker_drop`; `tests/drop_semantics.rs`, `tests/random_ops.rs`).
//! 2. The future is dropped exactly once, on the executor's side: by `run`, by a dropped
//!    `Runnable`, or by the last owner of an unreachable task. The `Task` holder never drops
//!    it; cancelling an idle task schedules it one last time instead (`cancel_idle_vs_wake`,
//!    `cancel_vs_run_vs_wake`; `tests/cancel_detach.rs`, `tests/random_ops.rs`). A `Runnable`
//!    whose poll returned `Pending` releases its reference in the same transition that clears
//!    RUNNING: with two steps, another runner could complete the task in between and the last
//!    release would drop the future a second time (`pending_release_vs_wake_and_complete`).
//! 3. The output is written only under RUNNING, read only by the `Task` holder after COMPLETED
//!    and before CLOSED, and dropped by `run` if no `Task` can take it
//!    (`output_dropped_once_run_vs_task_detach`, `run_vs_wake_vs_task_poll`).
//! 4. `Task::cancel` resolves only after the future was dropped: a closed task with SCHEDULED
//!    or RUNNING still set keeps its awaiter registered until the `Runnable` clears them
//!    (`cancel_vs_run_vs_wake`, `awaiter_reregistration_vs_run`; `tests/cancel_detach.rs`).
//! 5. A wake while RUNNING only sets SCHEDULED; `run` then schedules the task again with
//!    `woken_while_running` and returns `true`, without a state transition: RUNNING stays set
//!    beside SCHEDULED until the new `Runnable` runs (which clears SCHEDULED and keeps
//!    RUNNING) or is dropped (which clears both). Every other actor treats SCHEDULED and
//!    SCHEDULED | RUNNING alike. A wake of a scheduled task changes nothing but publishes the
//!    waker's memory to the runner (`yield_vs_wake_by_ref_with_info`,
//!    `wake_publishes_memory_to_next_poll`, `yield_then_cancel_while_queued`,
//!    `yield_then_runnable_dropped_vs_task_await`; `tests/schedule_info.rs`).
//! 6. Every call of the schedule function holds a reference for its whole duration when the
//!    function has captured state, so the function is never freed while it runs
//!    (`schedule_fn_outlives_its_call`); a schedule
//!    function that is plain data (the C API's `RawtaskSchedule`) is instead copied onto the
//!    stack and the copy called (`c-tests`: `misuse.c` and `event_loop.c` under valgrind).
//! 7. A waker that drops the last reference of a task whose future still lives schedules it one
//!    last time (closed), so the executor drops the future on its own thread
//!    (`task_detach_vs_last_waker_drop`, `dropping_scheduler_wake_vs_wake_by_ref`).
//! 8. `spawn_local` tasks never drop their future, output or data slot on another thread: a
//!    poll there panics (after closing the task), and drops there leak instead. A leaked future
//!    stays pinned: its allocation is never freed (`local_run_on_foreign_thread_vs_task_drop`,
//!    `local_task_drop_on_foreign_thread_vs_wake`; `tests/local.rs`).
//! 9. User code that runs mid-transition (destructors, wakers) aborts the process if it
//!    panics; a panic in `poll` closes the task (or becomes its output with propagation)
//!    (`propagated_panic_reaches_task_poll`, `panic_cancels_task_poll`; `tests/panic.rs`).
//! 10. The task pointer is an FFI waker (see Layout): its FFI `clone`, `wake`, `wake_by_ref`
//!     and `drop` do exactly what the Rust waker's functions do on the same reference count,
//!     and abort with a message instead of unwinding into foreign code if the schedule function
//!     panics (`loom-tests/tests/ffi_waker.rs`; `ffi-tests/tests/panics.rs`,
//!     `ffi-tests/tests/allocations.rs`).
//! 11. Only the spawning thread, before any pointer to the task has left it, may change the
//!     state word without an atomic read-modify-write: nothing else can read or write it yet.
//!     Scoped leaves use this to give their done receiver a reference
//!     (`StateCell::add_ref_unshared`) and to detach the `Task` of a child spawned without
//!     signals (`StateCell::detach_unshared`) (`loom-tests/tests/scope.rs`:
//!     `leaf_cancel_vs_completion_after_yield`, `leaf_cancel_vs_pending` and
//!     `leaf_receiver_vs_sender_forget`, which race those handles against the leaf's run;
//!     `spawn_future_vs_parent_completion` for the detached child).
//! 12. A handle that sees, with an acquire load, that it is the only way left to reach the task
//!     owns the state word: the `Task` handle when no reference exists (`State::task_alone`),
//!     a `Runnable` outside a poll when its reference is the only one and neither a `Task`
//!     handle nor an awaiter exists (`State::runnable_alone`). Nobody can make a new reference
//!     or handle without holding one, so until the owner hands a pointer over (a waker clone
//!     given to the future, a `Runnable` given to the schedule function, both of which
//!     synchronise), no other thread reads or writes the word. The owner changes it with
//!     plain stores, or not at all when it frees the task: a detached task run to completion,
//!     a `Runnable` dropped after its `Task`, and a joined output taken and freed cost no
//!     atomic read-modify-write (`loom-tests/tests/alone.rs`: the last other reference or
//!     handle released on another thread just before, or just after, the owner looks).
//! 13. A [`Watcher`](watcher::Watcher) (a scoped leaf's done receiver) holds a reference and
//!     waits for the task to finish (complete, or be cancelled with its future dropped)
//!     without taking the output. It registers the awaiter in place of the `Task` holder,
//!     whose handle (the leaf's cancel sender) is only ever woken through, detached or
//!     dropped, never polled: the awaiter slot keeps a single registrar
//!     (`loom-tests/tests/scope.rs`: the `leaf_*` models).

pub(crate) mod header;
pub(crate) mod state;
#[cfg(feature = "std")]
pub(crate) mod watcher;

use core::alloc::Layout;
use core::future::Future;
use core::marker::PhantomData;
use core::mem::{self, ManuallyDrop};
use core::pin::Pin;
use core::ptr::{self, addr_of, addr_of_mut, NonNull};
use core::task::{Context, Poll};

use self::header::{prefix, release_waker_ref, waker_from_ref, Header, TaskVTable};
use self::state::StateCell;
use crate::abort::abort_on_panic;
use crate::sync::UnsafeCell;
use crate::{Runnable, Schedule, ScheduleInfo};

/// A panic payload stored as the task's output, boxed once more so that it takes one word.
#[cfg(feature = "std")]
pub(crate) struct PanicPayload(
    pub(crate) std::boxed::Box<std::boxed::Box<dyn core::any::Any + Send>>,
);

/// Without `std` panics cannot be caught, so no panic is ever stored.
#[cfg(not(feature = "std"))]
pub(crate) enum PanicPayload {}

/// Where a task may drop its future, output and data slot.
pub(crate) trait Locality {
    /// Whether the current thread may poll or drop the task's contents.
    fn is_home(&self) -> bool;

    /// Records that the future was leaked (not dropped) on a foreign thread. A pinned future
    /// whose destructor never ran must keep its memory forever (`Pin`'s drop guarantee), so the
    /// allocation is then never freed.
    fn leak_future(&self);

    /// Whether `leak_future` was called: the allocation must be leaked too.
    fn future_leaked(&self) -> bool;
}

/// What a task carries besides its future, output, schedule function and data slot: where its
/// contents may be dropped, where its memory comes from, and its identity. Implemented only by
/// [`Custom`], which every spawn function uses.
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
    fn identity(&self) -> Option<&crate::identity::Identity>;
}

/// The [`Extras`] of every task: its locality, the allocator its memory came from, and its
/// identity (`()` for none). With [`AnyThread`], [`Heap`] and `()`, all zero-sized, it adds
/// nothing to the task (the default spawn path).
///
/// [`Heap`]: crate::storage::Heap
pub(crate) struct Custom<L, A, I> {
    pub(crate) locality: L,
    pub(crate) allocator: A,
    pub(crate) identity: I,
}

/// The identity a [`Custom`] task carries: `()` or an [`Identity`](crate::identity::Identity).
pub(crate) trait IdentitySlot {
    fn get(&self) -> Option<&crate::identity::Identity>;
}

impl IdentitySlot for () {
    #[inline(always)]
    fn get(&self) -> Option<&crate::identity::Identity> {
        None
    }
}

impl IdentitySlot for crate::identity::Identity {
    #[inline(always)]
    fn get(&self) -> Option<&crate::identity::Identity> {
        Some(self)
    }
}

impl<L: Locality, A, I> Locality for Custom<L, A, I> {
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

impl<L, A, I> Extras for Custom<L, A, I>
where
    L: Locality,
    A: crate::storage::Allocator,
    I: IdentitySlot,
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
            allocator.deallocate(NonNull::new_unchecked(memory), layout);
        }
    }

    #[inline(always)]
    fn identity(&self) -> Option<&crate::identity::Identity> {
        self.identity.get()
    }
}

/// Tasks made by `spawn`/`spawn_unchecked`: any thread will do.
pub(crate) struct AnyThread;

impl Locality for AnyThread {
    #[inline(always)]
    fn is_home(&self) -> bool {
        true
    }

    #[inline(always)]
    fn leak_future(&self) {}

    #[inline(always)]
    fn future_leaked(&self) -> bool {
        false
    }
}

/// Tasks made by `spawn_local`: bound to the thread that spawned them.
#[cfg(feature = "std")]
pub(crate) struct HomeThread {
    id: crate::sync::ThreadId,
    /// Set by whoever had the right to drop the future but was on a foreign thread; read by the
    /// task's last owner, after the reference count or state word synchronised the two.
    leaked: crate::sync::atomic::AtomicBool,
}

#[cfg(feature = "std")]
impl HomeThread {
    pub(crate) fn current() -> HomeThread {
        HomeThread {
            id: crate::sync::current_thread_id(),
            leaked: crate::sync::atomic::AtomicBool::new(false),
        }
    }
}

#[cfg(feature = "std")]
impl Locality for HomeThread {
    #[inline]
    fn is_home(&self) -> bool {
        crate::sync::current_thread_id() == self.id
    }

    fn leak_future(&self) {
        self.leaked
            .store(true, crate::sync::atomic::Ordering::Relaxed);
    }

    fn future_leaked(&self) -> bool {
        self.leaked.load(crate::sync::atomic::Ordering::Relaxed)
    }
}

/// Allocations that are never freed because a leaked future is pinned in them (rule 8). Keeping
/// them in a static keeps them reachable, so that leak checkers (valgrind, LeakSanitizer, miri)
/// see the deliberate leak of a misused `spawn_local` task rather than a lost block.
#[cfg(feature = "std")]
static PINNED_FOREVER: std::sync::Mutex<alloc::vec::Vec<PinnedForever>> =
    std::sync::Mutex::new(alloc::vec::Vec::new());

/// A task allocation kept alive forever.
#[cfg(feature = "std")]
struct PinnedForever(#[allow(dead_code)] NonNull<()>);

// SAFETY: the pointer is never dereferenced again; it only keeps the allocation reachable.
#[cfg(feature = "std")]
unsafe impl Send for PinnedForever {}

#[cold]
fn keep_pinned_forever(ptr: NonNull<()>) {
    #[cfg(feature = "std")]
    PINNED_FOREVER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(PinnedForever(ptr));
    #[cfg(not(feature = "std"))]
    let _ = ptr;
}

/// The future, then its output.
union Stage<F, T> {
    future: ManuallyDrop<F>,
    output: ManuallyDrop<T>,
    #[cfg(feature = "std")]
    panic: ManuallyDrop<PanicPayload>,
}

/// The whole allocation of one task.
#[repr(C)]
struct TaskCell<F, T, S, M, L> {
    header: Header<M>,
    schedule: S,
    locality: L,
    stage: UnsafeCell<Stage<F, T>>,
}

/// The per-type operations of a task, as associated functions on a marker type.
pub(crate) struct RawTask<F, T, S, M, L>(PhantomData<TaskCell<F, T, S, M, L>>);

impl<F, T, S, M, L> RawTask<F, T, S, M, L>
where
    F: Future<Output = T>,
    S: Schedule<M>,
    L: Extras,
{
    const VTABLE: TaskVTable = TaskVTable {
        ffi_waker: header::FFI_WAKER_VTABLE,
        schedule: Self::schedule,
        run: Self::run,
        drop_future: Self::drop_future,
        read_output: Self::read_output,
        destroy: Self::destroy,
        layout: Layout::new::<TaskCell<F, T, S, M, L>>(),
        data_offset: crate::data_offset::<M>(),
        data_size: mem::size_of::<M>(),
        identity: Self::identity,
    };

    #[inline(always)]
    fn cell(ptr: NonNull<()>) -> *mut TaskCell<F, T, S, M, L> {
        ptr.cast::<TaskCell<F, T, S, M, L>>().as_ptr()
    }

    /// Allocates a task, builds its future from a reference to the data slot, and returns the
    /// task pointer. The new state holds SCHEDULED, TASK and the reference of the `Runnable`.
    ///
    /// # Safety
    /// The data slot must outlive every use `make_future`'s future makes of the reference
    /// (`'a` is chosen by the caller); the usual `spawn_unchecked` contract applies to the rest.
    pub(crate) unsafe fn allocate<'a, G>(
        make_future: G,
        schedule: S,
        metadata: M,
        locality: L,
        propagate_panic: bool,
    ) -> NonNull<()>
    where
        G: FnOnce(&'a M) -> F,
        M: 'a,
    {
        let layout = Layout::new::<TaskCell<F, T, S, M, L>>();
        let raw = locality.allocate(layout).cast::<TaskCell<F, T, S, M, L>>();
        if raw.is_null() {
            crate::sync::alloc::handle_alloc_error(layout);
        }

        // SAFETY: `raw` is a fresh allocation with the layout of `TaskCell`; each field is
        // written exactly once before the pointer escapes.
        unsafe {
            addr_of_mut!((*raw).header).write(Header {
                vtable: &Self::VTABLE,
                state: StateCell::new(propagate_panic),
                awaiter: UnsafeCell::new(None),
                metadata,
            });
            addr_of_mut!((*raw).schedule).write(schedule);
            addr_of_mut!((*raw).locality).write(locality);
        }

        /// Frees the half-built task if building the future panics.
        struct Unwind<F, T, S, M, L: Extras>(*mut TaskCell<F, T, S, M, L>, Layout);
        impl<F, T, S, M, L: Extras> Drop for Unwind<F, T, S, M, L> {
            fn drop(&mut self) {
                // SAFETY: everything but the stage was initialised and nothing escaped yet;
                // the memory came from the locality's `allocate` with this layout.
                unsafe {
                    ptr::drop_in_place(addr_of_mut!((*self.0).header));
                    ptr::drop_in_place(addr_of_mut!((*self.0).schedule));
                    L::free(addr_of_mut!((*self.0).locality), self.0.cast(), self.1);
                }
            }
        }
        let unwind = Unwind(raw, layout);
        // SAFETY: the data slot was just initialised and lives as long as the task, which the
        // caller guarantees covers `'a`.
        let future = make_future(unsafe { &*addr_of!((*raw).header.metadata) });
        mem::forget(unwind);

        // SAFETY: the stage field is still uninitialised and ours alone.
        unsafe {
            addr_of_mut!((*raw).stage).write(UnsafeCell::new(Stage {
                future: ManuallyDrop::new(future),
            }));
            NonNull::new_unchecked(raw.cast())
        }
    }

    /// Passes a `Runnable` to the schedule function. The caller gives up one reference (and the
    /// SCHEDULED bit), which the `Runnable` takes over.
    unsafe fn schedule(ptr: NonNull<()>, info: ScheduleInfo) {
        let cell = Self::cell(ptr);

        if <S as crate::schedule::sealed::Sealed<M>>::PLAIN_DATA {
            // A schedule function that is plain data (the C API's callback and context) is
            // copied out before the call, so nothing needs the allocation during it (rule 6).
            // SAFETY: the caller's reference keeps the task alive for the read; `PLAIN_DATA`
            // says a bitwise copy is an equivalent value that owns nothing, and `ManuallyDrop`
            // keeps the copy from being dropped.
            let schedule = ManuallyDrop::new(unsafe { ptr::read(addr_of!((*cell).schedule)) });
            // SAFETY: the caller's reference and SCHEDULED bit become the `Runnable`'s.
            let runnable = unsafe { Runnable::<M>::from_raw(ptr) };
            schedule.schedule(runnable, info);
            return;
        }

        /// Keeps the task, and so the schedule function, alive during the call (rule 6).
        struct Hold(NonNull<()>);
        impl Drop for Hold {
            fn drop(&mut self) {
                // SAFETY: `Hold` owns the reference added below.
                unsafe { release_waker_ref(self.0) }
            }
        }
        let _hold = if mem::size_of::<S>() > 0 {
            // SAFETY: the caller's reference keeps the task alive while we add ours.
            unsafe { prefix(ptr) }.state.add_ref();
            Some(Hold(ptr))
        } else {
            None
        };

        // SAFETY: the caller's reference and SCHEDULED bit become the `Runnable`'s; `_hold`
        // (or the schedule function being zero-sized) keeps `schedule` valid during the call.
        unsafe {
            let runnable = Runnable::<M>::from_raw(ptr);
            (*addr_of!((*cell).schedule)).schedule(runnable, info);
        }
    }

    /// Drops the future in place, or leaks it when a local task is on a foreign thread.
    ///
    /// # Safety
    /// The caller has the right to drop the future (rule 2) and it was not dropped before.
    unsafe fn drop_future(ptr: NonNull<()>) {
        let cell = Self::cell(ptr);
        // SAFETY: the task is alive while the caller holds its reference.
        let locality = unsafe { &(*cell).locality };
        if !locality.is_home() {
            locality.leak_future();
            return;
        }
        abort_on_panic("rawtask: a future's destructor panicked", || {
            // SAFETY: the caller has exclusive rights to the stage, which holds the future.
            unsafe {
                (*cell)
                    .stage
                    .with_mut(|stage| ManuallyDrop::drop(&mut (*stage).future))
            }
        });
    }

    /// Drops the stored output (or panic payload) in place. Only called by `run`, on the
    /// task's home thread.
    ///
    /// # Safety
    /// The output is stored and nobody else may take it.
    unsafe fn drop_output(ptr: NonNull<()>, panicked: bool) {
        let cell = Self::cell(ptr);
        abort_on_panic("rawtask: an output's destructor panicked", || {
            // SAFETY: the caller owns the stored output.
            unsafe {
                (*cell).stage.with_mut(|stage| {
                    if panicked {
                        #[cfg(feature = "std")]
                        ManuallyDrop::drop(&mut (*stage).panic);
                    } else {
                        ManuallyDrop::drop(&mut (*stage).output);
                    }
                })
            }
        });
    }

    /// Moves the output out into `dst`, a `*mut Result<T, PanicPayload>`.
    ///
    /// # Safety
    /// The caller just marked the output taken (`take_output`) and `dst` is valid for writes.
    unsafe fn read_output(ptr: NonNull<()>, panicked: bool, dst: *mut ()) {
        let cell = Self::cell(ptr);
        let dst = dst.cast::<Result<T, PanicPayload>>();
        // SAFETY: the stage holds the output (or the payload, per `panicked`) and the caller
        // owns it now; it is moved out exactly once.
        unsafe {
            (*cell).stage.with(|stage| {
                if panicked {
                    #[cfg(feature = "std")]
                    dst.write(Err(ptr::read(&*(*stage).panic)));
                } else {
                    dst.write(Ok(ptr::read(&*(*stage).output)));
                }
            })
        }
    }

    /// Drops the header, the data slot (leaked on a foreign thread for local tasks) and the
    /// schedule function, then frees the allocation — unless a local task's future was leaked,
    /// in which case the memory it is pinned in is never freed (rule 8).
    ///
    /// # Safety
    /// The caller owns the allocation (rule 1), and the future and output are already gone.
    unsafe fn destroy(ptr: NonNull<()>) {
        let cell = Self::cell(ptr);
        // SAFETY: we own the allocation; the acquire on the reference count or state word that
        // made us its owner orders this read after any `leak_future`.
        let keep_memory = unsafe { &(*cell).locality }.future_leaked();
        abort_on_panic(
            "rawtask: a destructor panicked while freeing a task",
            || {
                // SAFETY: we own every field; each is dropped once and the stage is empty (or
                // holds a leaked future that is never touched again).
                unsafe {
                    ptr::drop_in_place(addr_of_mut!((*cell).header.state));
                    ptr::drop_in_place(addr_of_mut!((*cell).header.awaiter));
                    if (*cell).locality.is_home() {
                        ptr::drop_in_place(addr_of_mut!((*cell).header.metadata));
                    }
                    ptr::drop_in_place(addr_of_mut!((*cell).schedule));
                    if keep_memory && !cfg!(loom) {
                        ptr::drop_in_place(addr_of_mut!((*cell).locality));
                    } else {
                        // Under loom, which fails any execution that ends with an allocation
                        // live, a pinned-forever allocation is handed back anyway: the models
                        // check the protocol, and none touches a leaked future's memory
                        // afterwards.
                        // The allocation was made in `allocate` with this very layout, by
                        // this locality.
                        L::free(
                            addr_of_mut!((*cell).locality),
                            ptr.as_ptr().cast(),
                            Self::VTABLE.layout,
                        );
                    }
                }
            },
        );
        if keep_memory && !cfg!(loom) {
            keep_pinned_forever(ptr);
        }
    }

    /// The identity of the task, if it has one.
    ///
    /// # Safety
    /// The task is alive for as long as the caller uses the result.
    unsafe fn identity(ptr: NonNull<()>) -> Option<&'static crate::identity::Identity> {
        // SAFETY: the caller keeps the task, and so its locality, alive; the identity is
        // owned data (`'static` name and location), so only the task's life bounds it.
        unsafe {
            let locality: *const L = addr_of!((*Self::cell(ptr)).locality);
            (*locality)
                .identity()
                .map(|identity| &*(identity as *const crate::identity::Identity))
        }
    }

    /// Releases the `Runnable`'s reference after it is done with the task, freeing the task if
    /// that was the last owner. Whether the future still has to be dropped is read from the
    /// state, as `release_last` does: a task that is neither completed nor closed still holds
    /// its future, which can never be woken again once the task is unreferenced, so it is
    /// dropped here (rule 2). (The caller cannot know: once it cleared RUNNING, a waker may have
    /// scheduled and run the task to completion on another thread.)
    ///
    /// # Safety
    /// The caller owns the `Runnable`'s reference and gives it up.
    #[inline(always)]
    unsafe fn release_runnable(ptr: NonNull<()>) {
        // SAFETY: our reference keeps the task alive until `release_ref`.
        let new = unsafe { prefix(ptr) }.state.release_ref();
        if new.is_unreferenced() {
            // SAFETY: no reference and no `Task` remain: we own the task; a task that is not
            // done has not had its future dropped.
            unsafe {
                if !new.is_done() {
                    Self::drop_future(ptr);
                }
                Self::destroy(ptr);
            }
        }
    }

    /// Runs a task that was closed before this poll: drops the future and lets the `Task`
    /// holder know.
    ///
    /// # Safety
    /// Called by `run` with the `Runnable`'s reference and SCHEDULED bit.
    #[cold]
    unsafe fn run_closed(ptr: NonNull<()>) {
        // SAFETY: a closed task's future is dropped by the `Runnable` that holds SCHEDULED
        // (rule 2); the task was never completed, since completion clears SCHEDULED.
        unsafe { Self::drop_future(ptr) };
        // SAFETY: our reference keeps the task alive.
        unsafe { release_closed_runnable(ptr) };
    }

    /// Polls the future once. Returns `true` if the task was woken while running and has been
    /// scheduled again.
    ///
    /// # Safety
    /// The caller gives up a `Runnable` (its reference and SCHEDULED bit).
    unsafe fn run(ptr: NonNull<()>) -> bool {
        let cell = Self::cell(ptr);
        // SAFETY: the `Runnable`'s reference keeps the task alive throughout.
        let header = unsafe { prefix(ptr) };

        // SAFETY: as above.
        if !unsafe { &(*cell).locality }.is_home() {
            // Close the task as a dropped `Runnable` would (the future is leaked, not dropped,
            // on this thread), then report the misuse.
            // SAFETY: we own the `Runnable`.
            drop(unsafe { Runnable::<M>::from_raw(ptr) });
            panic!(
                "rawtask: a task created by spawn_local was run on a thread other than the one \
                 that spawned it; the task was cancelled and its future leaked"
            );
        }

        let state = match header.state.start_running() {
            Ok(state) => state,
            Err(_) => {
                // SAFETY: we hold the `Runnable`'s reference and SCHEDULED.
                unsafe { Self::run_closed(ptr) };
                return false;
            }
        };

        // The waker borrows the `Runnable`'s reference: building it costs nothing.
        // SAFETY: `ManuallyDrop` makes sure the borrowed reference is not released.
        let waker = ManuallyDrop::new(unsafe { waker_from_ref(ptr) });
        let cx = &mut Context::from_waker(&waker);

        // SAFETY: we hold RUNNING, which gives us the future; it is pinned inside the
        // allocation and never moved.
        let poll = |cx: &mut Context<'_>| unsafe {
            (*cell).stage.with_mut(|stage| {
                let future = Pin::new_unchecked(&mut *(*stage).future);
                future.poll(cx)
            })
        };

        let result: Result<Poll<T>, PanicPayload> = if state.propagates_panic() {
            Self::poll_catching(poll, cx)
        } else {
            /// Closes the task if `poll` unwinds.
            struct Unwind(NonNull<()>, unsafe fn(NonNull<()>));
            impl Drop for Unwind {
                fn drop(&mut self) {
                    // SAFETY: only armed while we hold RUNNING and the `Runnable`'s reference.
                    unsafe { (self.1)(self.0) }
                }
            }
            let unwind = Unwind(ptr, Self::close_after_panic);
            let poll = poll(cx);
            mem::forget(unwind);
            Ok(poll)
        };

        match result {
            Ok(Poll::Ready(output)) => {
                // SAFETY: we hold RUNNING.
                unsafe { Self::complete(ptr, Ok(output)) };
                false
            }
            #[cfg_attr(not(feature = "std"), allow(unreachable_patterns))]
            Err(panic) => {
                // SAFETY: we hold RUNNING.
                unsafe { Self::complete(ptr, Err(panic)) };
                false
            }
            // SAFETY: we hold RUNNING.
            Ok(Poll::Pending) => unsafe { Self::pending(ptr) },
        }
    }

    #[cfg(feature = "std")]
    #[inline(never)]
    fn poll_catching(
        poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
        cx: &mut Context<'_>,
    ) -> Result<Poll<T>, PanicPayload> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll(cx)))
            .map_err(|payload| PanicPayload(std::boxed::Box::new(payload)))
    }

    #[cfg(not(feature = "std"))]
    #[inline(always)]
    fn poll_catching(
        poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
        cx: &mut Context<'_>,
    ) -> Result<Poll<T>, PanicPayload> {
        Ok(poll(cx))
    }

    /// The future finished: store the output (or the propagated panic) and tell the awaiter.
    ///
    /// # Safety
    /// Called by `run` while holding RUNNING and the `Runnable`'s reference.
    unsafe fn complete(ptr: NonNull<()>, output: Result<T, PanicPayload>) {
        let cell = Self::cell(ptr);
        // SAFETY: we hold RUNNING: the future is ours to drop.
        unsafe { Self::drop_future(ptr) };
        let panicked = output.is_err();
        // SAFETY: we hold RUNNING and the stage is now empty; the output is written before
        // COMPLETED is published.
        unsafe {
            (*cell).stage.with_mut(|stage| match output {
                Ok(value) => (*stage).output = ManuallyDrop::new(value),
                #[cfg(feature = "std")]
                Err(payload) => (*stage).panic = ManuallyDrop::new(payload),
                #[cfg(not(feature = "std"))]
                Err(never) => match never {},
            })
        };
        // SAFETY: our reference keeps the task alive.
        let header = unsafe { prefix(ptr) };
        let prev = header.state.complete(panicked);
        if prev.runnable_alone() {
            // Nothing else can reach the task (rules 1 and 12): drop the output nobody can
            // take, and free the task.
            // SAFETY: we own the task; the future is gone and the output stored.
            unsafe {
                Self::drop_output(ptr, panicked);
                Self::destroy(ptr);
            }
            return;
        }
        if prev.releases_at_completion() {
            // Our reference went with the transition: the `Task` handle takes the output and
            // frees the task; we must not touch it again.
            return;
        }
        if !prev.has_task() || prev.is_closed() {
            // Nobody can take the output any more (rule 3).
            // SAFETY: the output is stored and nobody else may read it.
            unsafe { Self::drop_output(ptr, panicked) };
        }
        let awaiter = if prev.has_awaiter() {
            header.take_awaiter(None)
        } else {
            None
        };
        // SAFETY: we give up the `Runnable`'s reference; the future is gone.
        unsafe { Self::release_runnable(ptr) };
        wake_awaiter(awaiter);
    }

    /// The future is pending: give up RUNNING, and either reschedule (woken while running),
    /// finish a cancellation that came in meanwhile, or release the `Runnable`'s reference.
    ///
    /// # Safety
    /// Called by `run` while holding RUNNING and the `Runnable`'s reference.
    unsafe fn pending(ptr: NonNull<()>) -> bool {
        // SAFETY: our reference keeps the task alive.
        let header = unsafe { prefix(ptr) };
        let mut future_dropped = false;
        let prev = header.state.finish_pending(|| {
            if !future_dropped {
                // Closed while running: drop the future before clearing RUNNING, so that a
                // waiting `cancel` resolves only afterwards (rule 4).
                // SAFETY: we still hold RUNNING.
                unsafe { Self::drop_future(ptr) };
                future_dropped = true;
            }
        });
        if prev.is_closed() {
            let awaiter = if prev.has_awaiter() {
                header.take_awaiter(None)
            } else {
                None
            };
            // SAFETY: we give up the `Runnable`'s reference; the future is gone.
            unsafe { Self::release_runnable(ptr) };
            wake_awaiter(awaiter);
            false
        } else if prev.is_scheduled() {
            // Woken while running (rule 5): the `Runnable`'s reference goes to the new one.
            // SAFETY: we hold the reference and SCHEDULED is set.
            unsafe { Self::schedule(ptr, ScheduleInfo::new(true)) };
            true
        } else {
            // `finish_pending` released our reference along with RUNNING. If that was the last
            // owner, the future can never be woken again and is ours to drop (rule 2); it is
            // still there, as nobody could run the task between the two.
            if prev.last_reference_without_task() {
                // SAFETY: we own the task, whose future is alive and not running.
                unsafe {
                    Self::drop_future(ptr);
                    Self::destroy(ptr);
                }
            }
            false
        }
    }

    /// `poll` unwound without panic propagation: drop the future, close the task, tell the
    /// awaiter, and release the `Runnable`'s reference, while the panic keeps unwinding.
    ///
    /// # Safety
    /// Called while holding RUNNING and the `Runnable`'s reference.
    #[cold]
    unsafe fn close_after_panic(ptr: NonNull<()>) {
        // SAFETY: we hold RUNNING.
        unsafe { Self::drop_future(ptr) };
        // SAFETY: our reference keeps the task alive.
        let header = unsafe { prefix(ptr) };
        let prev = header.state.close_after_panic();
        let awaiter = if prev.has_awaiter() {
            header.take_awaiter(None)
        } else {
            None
        };
        // SAFETY: we give up the `Runnable`'s reference; the future is gone.
        unsafe { Self::release_runnable(ptr) };
        wake_awaiter(awaiter);
    }
}

/// Finishes with a closed task whose future the caller's `Runnable` has just dropped: clears
/// SCHEDULED (and RUNNING, which a `Runnable` queued again after a yield carries), wakes the
/// awaiter (so that a `cancel` waiting for the drop resolves, rule 4) and
/// releases the reference, freeing the task if that was the last owner.
///
/// # Safety
/// The caller owns a `Runnable` (reference and SCHEDULED bit) of a closed task whose future is
/// gone, and gives it up.
pub(crate) unsafe fn release_closed_runnable(ptr: NonNull<()>) {
    // SAFETY: our reference keeps the task alive until it is released.
    let header = unsafe { prefix(ptr) };
    let prev = header.state.unschedule_and_release();
    if prev.has_awaiter() {
        let awaiter = header.take_awaiter(None);
        // SAFETY: the reference is still ours (`unschedule_and_release` kept it); the task is
        // closed, so if this is the last owner it is destroyed right away.
        unsafe { release_waker_ref(ptr) };
        wake_awaiter(awaiter);
    } else if prev.last_reference_without_task() {
        // SAFETY: our reference went with the transition and it was the last owner: the task
        // is ours, closed, its future gone.
        unsafe { (header.vtable.destroy)(ptr) };
    }
}

/// Wakes an awaiter taken out of the slot; a panicking waker aborts (rule 9).
#[inline(always)]
fn wake_awaiter(awaiter: Option<core::task::Waker>) {
    if let Some(w) = awaiter {
        abort_on_panic("rawtask: an awaiter's wake panicked", || w.wake());
    }
}
