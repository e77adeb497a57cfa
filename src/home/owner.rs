//! [`Home`]: the loop thread's side of a home — drain, length, shutdown.

use alloc::boxed::Box;
use core::fmt;
use core::marker::PhantomData;

use super::notify::{CNotifyFn, Notify};
use super::schedule::HomeSchedule;
use super::shared::Shared;
use super::shared_ref::{self, SharedRef};
use crate::sync::Arc;

/// What one [`Home::drain`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drained {
    /// How many runnables ran.
    pub ran: usize,
    /// Whether runnables are still queued (`max` was reached, or tasks woke during the drain):
    /// the loop should drain again soon (re-arm itself) rather than wait for a notify, which
    /// only covers wakes from other threads.
    pub more: bool,
}

/// [`Home::drain`] was called while a drain of the same home was running further up the
/// stack (from inside a task): the call did nothing.
///
/// ```
/// let e = rawtask::home::Reentered;
/// assert!(e.to_string().contains("re-entered"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reentered;

impl fmt::Display for Reentered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Home::drain re-entered from inside a task it is running: refused")
    }
}

impl std::error::Error for Reentered {}

/// The loop thread's handle to a home-thread scheduler. The thread that calls [`new`](Self::new)
/// is the home thread; `Home` is not `Send`, so it stays there.
///
/// Dropping it shuts the home down: the runnables still queued (locally and in the inbox) are
/// dropped, on this thread, which cancels their tasks; the notify function is dropped and never
/// called again. See the [module docs](super) for wakes that arrive afterwards.
///
/// ```
/// let home = rawtask::home::Home::new(|| { /* wake the loop */ });
/// let (runnable, task) = rawtask::spawn_local(async { "local" }, home.schedule());
/// runnable.schedule(); // on the home thread, between drains: queued locally, one notify
/// assert_eq!(home.len(), 1);
/// let drained = home.drain(64).unwrap();
/// assert_eq!((drained.ran, drained.more), (1, false));
/// assert_eq!(futures_lite::future::block_on(task), "local");
/// ```
pub struct Home<M = ()> {
    shared: Arc<Shared<M>>,
    /// `!Send` and `!Sync`: the local queue belongs to this thread.
    _home_thread: PhantomData<*const ()>,
}

impl<M> fmt::Debug for Home<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Home")
            .field("len", &self.len())
            .field("notify_pending", &self.notify_pending())
            .field("draining", &self.is_draining())
            .finish()
    }
}

impl<M: Send + Sync> Home<M> {
    /// A home on the current thread. `notify` is called (on the waking thread) when a task is
    /// woken on another thread, or on this one while no drain runs, and no notify is pending
    /// (counted apart for this thread and the others: see the [module docs](super));
    /// it must wake the loop so that it calls
    /// [`drain`](Self::drain) — write to a pipe or an eventfd, `uv_async_send`,
    /// `loop.call_soon_threadsafe`, `g_main_context_wakeup` — and must neither block nor call
    /// into the home.
    ///
    /// ```
    /// let home = rawtask::home::Home::<()>::new(|| {});
    /// assert!(home.is_empty());
    /// ```
    pub fn new(notify: impl Fn() + Send + Sync + 'static) -> Home<M> {
        Self::with_notify(Notify::Rust(Box::new(notify)))
    }

    /// A home on the current thread whose notify is the C function `notify`, called with
    /// `context` (for `rawtask_home_new`: one direct call per notify, no closure around it).
    ///
    /// # Safety
    /// `notify(context)` may be called from any thread until the home is dropped.
    pub(crate) unsafe fn from_c(notify: CNotifyFn, context: *mut core::ffi::c_void) -> Home<M> {
        Self::with_notify(Notify::C { notify, context })
    }

    fn with_notify(notify: Notify) -> Home<M> {
        let shared = Arc::new(Shared::new(notify));
        // The group count of the local references, released by `shared_ref::merge`.
        // SAFETY: `shared` is alive.
        unsafe { Arc::increment_strong_count(Arc::as_ptr(&shared)) };
        Home {
            shared,
            _home_thread: PhantomData,
        }
    }
}

impl<M> Home<M> {
    /// The schedule function to spawn this home's tasks with.
    ///
    /// ```
    /// let home = rawtask::home::Home::new(|| {});
    /// let (runnable, _task) = rawtask::spawn(async {}, home.schedule());
    /// runnable.schedule();
    /// assert_eq!(home.len(), 1);
    /// ```
    pub fn schedule(&self) -> HomeSchedule<M> {
        HomeSchedule {
            shared: SharedRef::new(&self.shared),
        }
    }

    /// Runs up to `max` queued runnables, here on the home thread: first the inbox is moved
    /// to the back of the local queue (oldest wake first), then runnables are taken from the
    /// front. A task woken while it runs goes to the back, behind those already waiting.
    ///
    /// Clears the pending notify first, so any wake from another thread from now on notifies
    /// again. Returns how many ran and whether more remain (then drain again: the loop must
    /// re-arm itself, as no notify comes for them).
    ///
    /// # Errors
    /// [`Reentered`] if called from inside a task that this home is running (a drain further
    /// up the stack): nothing is done. Never call `drain` from a task or a schedule function.
    ///
    /// # Panics
    /// If a task panics (one spawned without [`propagate_panic`](crate::Builder)): the panic
    /// passes through `drain` after the task was closed; the home stays usable and the
    /// runnables not run yet stay queued.
    ///
    /// ```
    /// let home = rawtask::home::Home::new(|| {});
    /// for _ in 0..3 {
    ///     let (runnable, task) = rawtask::spawn(async {}, home.schedule());
    ///     runnable.schedule();
    ///     task.detach();
    /// }
    /// let first = home.drain(2).unwrap();
    /// assert_eq!((first.ran, first.more), (2, true));
    /// let second = home.drain(2).unwrap();
    /// assert_eq!((second.ran, second.more), (1, false));
    /// ```
    #[inline]
    pub fn drain(&self, max: usize) -> Result<Drained, Reentered> {
        let shared = &*self.shared;
        // SAFETY: `Home` lives on the home thread; no user code runs inside.
        let reentered = unsafe {
            shared.with_local(|local| {
                let reentered = core::mem::replace(&mut local.draining, true);
                // The home thread's notify is answered: its next wake between drains notifies.
                local.notified &= reentered;
                reentered
            })
        };
        if reentered {
            return Err(Reentered);
        }
        /// Clears the flag when the drain ends, also when a task panics.
        struct Draining<'a, M>(&'a Shared<M>);
        impl<M> Drop for Draining<'_, M> {
            fn drop(&mut self) {
                // SAFETY: on the home thread; no user code runs inside.
                unsafe { self.0.with_local(|local| local.draining = false) };
            }
        }
        let _draining = Draining(shared);

        // Clear before taking, so a push after the take notifies again (see `signal`).
        shared.signal.clear();
        // SAFETY: `Home` lives on the home thread; moving runs no user code.
        unsafe { shared.with_local(|local| shared.inbox.take_into(&mut local.queue)) };
        // Counted down: one register fewer held across the tasks' `run` calls.
        let mut left = max;
        let more = loop {
            // SAFETY: `Home` lives on the home thread; popping runs no user code.
            let next = unsafe {
                shared.with_local(|local| {
                    if left == 0 {
                        return Err(!local.queue.is_empty());
                    }
                    local.queue.pop_front().ok_or(false)
                })
            };
            match next {
                Ok(runnable) => {
                    left -= 1;
                    runnable.run();
                }
                Err(more) => break more,
            }
        };
        Ok(Drained {
            ran: max - left,
            more,
        })
    }

    /// How many runnables are queued: those woken on this thread plus those in the inbox
    /// (which this moves to the local queue; the pending notify stays pending).
    ///
    /// ```
    /// let home = rawtask::home::Home::new(|| {});
    /// assert_eq!(home.len(), 0);
    /// let (runnable, _task) = rawtask::spawn(async {}, home.schedule());
    /// std::thread::spawn(move || runnable.schedule()).join().unwrap();
    /// assert_eq!(home.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        let shared = &*self.shared;
        // SAFETY: on the home thread; no user code runs inside.
        unsafe {
            shared.with_local(|local| {
                shared.inbox.take_into(&mut local.queue);
                local.queue.len()
            })
        }
    }

    /// Whether nothing is queued.
    ///
    /// ```
    /// assert!(rawtask::home::Home::<()>::new(|| {}).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a notify was issued and no drain has run since.
    ///
    /// ```
    /// let home = rawtask::home::Home::new(|| {});
    /// let (runnable, _task) = rawtask::spawn(async {}, home.schedule());
    /// std::thread::spawn(move || runnable.schedule()).join().unwrap();
    /// assert!(home.notify_pending());
    /// home.drain(0).unwrap();
    /// assert!(!home.notify_pending());
    /// ```
    pub fn notify_pending(&self) -> bool {
        // SAFETY: `Home` lives on the home thread.
        self.shared.signal.is_pending() || unsafe { self.shared.notified_on_home() }
    }

    /// Whether the current thread is the home thread (C calls may come from anywhere).
    pub(crate) fn on_home_thread(&self) -> bool {
        self.shared.on_home()
    }

    /// Whether a drain is running (the caller is a task it runs).
    pub(crate) fn is_draining(&self) -> bool {
        // SAFETY: `Home` lives on the home thread; no user code runs inside.
        unsafe { self.shared.with_local(|local| local.draining) }
    }
}

impl<M> Drop for Home<M> {
    fn drop(&mut self) {
        self.shared.shut_down();
        // SAFETY: on the home thread (`Home` is `!Send`), once; the `Home` took the group
        // count in `new` and makes no reference after this.
        unsafe { shared_ref::merge(&self.shared) };
    }
}
