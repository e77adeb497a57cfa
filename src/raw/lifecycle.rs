//! A task from allocation to free: building the cell, dropping its future and output, moving
//! the output out, and destroying it (the [`RawTask`] functions that touch the cell's fields).

use core::alloc::Layout;
use core::future::Future;
use core::mem::{self, ManuallyDrop};
use core::ptr::{self, addr_of, addr_of_mut, NonNull};

use super::cell::{Stage, StoredPanic, TaskCell};
use super::extras::Extras;
use super::harness::RawTask;
use super::header::Header;
use super::locality::keep_pinned_forever;
use super::state::StateCell;
use crate::abort::abort_on_panic;
use crate::identity::task_identity::Identity;
use crate::schedule::Schedule;
use crate::sync::UnsafeCell;
use crate::try_spawn_error::TrySpawnError;

/// The failure path of `allocate`, out of line so that spawning pays nothing for it: drops
/// what was not stored (in declaration order; if one destructor panics, the rest are still
/// dropped while unwinding) and names the layout.
#[cold]
#[inline(never)]
fn allocation_failed<Unstored>(layout: Layout, unstored: Unstored) -> TrySpawnError {
    drop(unstored);
    TrySpawnError::new(layout)
}

impl<F, T, S, M, E> RawTask<F, T, S, M, E>
where
    F: Future<Output = T>,
    S: Schedule<M>,
    E: Extras,
{
    /// Allocates a task, builds its future from a reference to the data slot, and returns the
    /// task pointer. The new state holds SCHEDULED, TASK and the reference of the `Runnable`,
    /// and with `SCHEDULE_HOLDS` the spare schedule hold the `Runnable` carries (its spawn
    /// makes it with [`Runnable::spawned`](crate::Runnable)).
    ///
    /// If the allocator fails: with `ABORT`, the process is aborted (`handle_alloc_error`, as
    /// `Box::new` does; the infallible spawns, whose code then has no failure path at all);
    /// without it, everything given is dropped here (`make_future` unbuilt, the schedule
    /// function, the data slot, the extras with their allocator and identity), each once, and
    /// the error names the cell's layout.
    ///
    /// # Safety
    /// The data slot must outlive every use `make_future`'s future makes of the reference
    /// (`'a` is chosen by the caller); the usual `spawn_unchecked` contract applies to the rest.
    pub(crate) unsafe fn allocate<'a, G, const ABORT: bool>(
        make_future: G,
        schedule: S,
        metadata: M,
        extras: E,
        propagate_panic: bool,
    ) -> Result<NonNull<()>, TrySpawnError>
    where
        G: FnOnce(&'a M) -> F,
        M: 'a,
    {
        let layout = Layout::new::<TaskCell<F, T, S, M, E>>();
        let raw = extras.allocate(layout).cast::<TaskCell<F, T, S, M, E>>();
        if raw.is_null() {
            if ABORT {
                crate::sync::alloc::handle_alloc_error(layout);
            }
            return Err(allocation_failed(
                layout,
                (make_future, schedule, metadata, extras),
            ));
        }

        // SAFETY: `raw` is a fresh allocation with the layout of `TaskCell`; each field is
        // written exactly once before the pointer escapes.
        unsafe {
            addr_of_mut!((*raw).header).write(Header {
                vtable: &Self::VTABLE,
                state: StateCell::new(propagate_panic, Self::SCHEDULE_HOLDS),
                awaiter: UnsafeCell::new(None),
                metadata,
            });
            addr_of_mut!((*raw).schedule).write(schedule);
            addr_of_mut!((*raw).extras).write(extras);
        }

        /// Frees the half-built task if building the future panics.
        struct Unwind<F, T, S, M, E: Extras>(*mut TaskCell<F, T, S, M, E>, Layout);
        impl<F, T, S, M, E: Extras> Drop for Unwind<F, T, S, M, E> {
            fn drop(&mut self) {
                // SAFETY: everything but the stage was initialised and nothing escaped yet;
                // the memory came from the extras' `allocate` with this layout.
                unsafe {
                    ptr::drop_in_place(addr_of_mut!((*self.0).header));
                    ptr::drop_in_place(addr_of_mut!((*self.0).schedule));
                    E::free(addr_of_mut!((*self.0).extras), self.0.cast(), self.1);
                }
            }
        }
        let unwind = Unwind(raw, layout);
        // SAFETY: the data slot was just initialised and lives as long as the task, which the
        // caller guarantees covers `'a`.
        let future = make_future(unsafe { &*addr_of!((*raw).header.metadata) });
        mem::forget(unwind);

        // SAFETY: the stage field is still uninitialised and ours alone; the task is complete
        // but not yet reachable from anywhere else when its hooks hear of it.
        unsafe {
            addr_of_mut!((*raw).stage).write(UnsafeCell::new(Stage {
                future: ManuallyDrop::new(future),
            }));
            (*raw).extras.spawned();
            Ok(NonNull::new_unchecked(raw.cast()))
        }
    }

    /// Drops the future in place, or leaks it when a local task is on a foreign thread.
    ///
    /// # Safety
    /// The caller has the right to drop the future (rule 2) and it was not dropped before.
    pub(super) unsafe fn drop_future(ptr: NonNull<()>) {
        let cell = Self::cell(ptr);
        // SAFETY: the task is alive while the caller holds its reference.
        let extras = unsafe { &(*cell).extras };
        if !extras.is_home() {
            extras.leak_future();
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
    pub(super) unsafe fn drop_output(ptr: NonNull<()>, panicked: bool) {
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

    /// Moves the output out into `dst`, a `*mut Result<T, StoredPanic>`.
    ///
    /// # Safety
    /// The caller just marked the output taken (`take_output`) and `dst` is valid for writes.
    pub(super) unsafe fn read_output(ptr: NonNull<()>, panicked: bool, dst: *mut ()) {
        let cell = Self::cell(ptr);
        let dst = dst.cast::<Result<T, StoredPanic>>();
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
    pub(super) unsafe fn destroy(ptr: NonNull<()>) {
        let cell = Self::cell(ptr);
        // SAFETY: we own the allocation; the acquire on the reference count or state word that
        // made us its owner orders this read after any `leak_future`.
        let keep_memory = unsafe { &(*cell).extras }.future_leaked();
        abort_on_panic(
            "rawtask: a destructor panicked while freeing a task",
            || {
                // SAFETY: we own every field; each is dropped once and the stage is empty (or
                // holds a leaked future that is never touched again).
                unsafe {
                    (*cell).extras.freed();
                    ptr::drop_in_place(addr_of_mut!((*cell).header.state));
                    ptr::drop_in_place(addr_of_mut!((*cell).header.awaiter));
                    if (*cell).extras.is_home() {
                        ptr::drop_in_place(addr_of_mut!((*cell).header.metadata));
                    }
                    ptr::drop_in_place(addr_of_mut!((*cell).schedule));
                    if keep_memory && !cfg!(loom) {
                        ptr::drop_in_place(addr_of_mut!((*cell).extras));
                    } else {
                        // Under loom, which fails any execution that ends with an allocation
                        // live, a pinned-forever allocation is handed back anyway: the models
                        // check the protocol, and none touches a leaked future's memory
                        // afterwards.
                        // The allocation was made in `allocate` with this very layout, by
                        // these extras.
                        E::free(
                            addr_of_mut!((*cell).extras),
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
    pub(super) unsafe fn identity(ptr: NonNull<()>) -> Option<&'static Identity> {
        // SAFETY: the caller keeps the task, and so its extras, alive; the identity is
        // owned data (`'static` name and location), so only the task's life bounds it.
        unsafe {
            let extras: *const E = addr_of!((*Self::cell(ptr)).extras);
            (*extras)
                .identity()
                .map(|identity| &*(identity as *const Identity))
        }
    }
}
