//! The completion records of a [`JoinSet`](crate::JoinSet)'s tasks and the lock-free list the
//! finished ones are pushed on.
//!
//! Each task in a set gets an [`Entry`], which is pushed on the set's [`ReadyList`] (an
//! intrusive stack that only the set pops, all at once) when the task finishes. A task the set
//! spawned itself reports through its future ([`Reporting`](super::reporting::Reporting)),
//! which moves the output into the entry and pushes it. A task spawned elsewhere is watched:
//! the entry is the waker left in its awaiter slot, holding a [`Watcher`] of the task (rules
//! 13, 14, 16, as a `CallbackTask`'s callback does), and the wake pushes it. The set reads the
//! slot index (and output) from the entry and keeps the entry for the next task: in a steady
//! state a spawn allocates nothing but the task, and a completion takes no lock.
//!
//! The list's head word also says whether the set waits (`WAITING`: its waker is stored and the
//! next push takes and wakes it) and whether it is gone (`CLOSED`: pushes drop their entry).
//! Both live in the one word every push and take goes through, so that a push and a
//! registration are ordered by that word alone.

use core::fmt;
use core::mem::ManuallyDrop;
use core::ptr;
use core::task::{RawWaker, RawWakerVTable, Waker};
use std::sync::Arc;

use crate::raw::watcher::Watcher;
use crate::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use crate::sync::{lock, Mutex, UnsafeCell};

/// One task's completion record, and (as an `Arc`) the waker in its awaiter slot.
pub(crate) struct Entry<T> {
    /// The next entry on the ready list (older), or null.
    next: AtomicPtr<Entry<T>>,
    /// The list to push on; an entry keeps it across reuses.
    list: Arc<ReadyList<T>>,
    /// The current use: written only while the set holds the entry alone (new, or [`Spare`]),
    /// before the registration that publishes it; read by the wakes of that use.
    task: UnsafeCell<Use<T>>,
    /// Set by the one push of this use (a second look at a finished task pushes nothing).
    pushed: AtomicBool,
}

// SAFETY: an entry's fields are `Send + Sync` but for `task`, whose accesses the entry's
// protocol orders: written while the set holds the entry alone, read by the wakes of that use.
// The output is only moved in (by the task's future) and out (by the set), so `T: Send`.
unsafe impl<T: Send> Send for Entry<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Entry<T> {}

/// What an [`Entry`] watches.
struct Use<T> {
    /// The task's slot in the set.
    index: usize,
    /// Waits for a watched task; `None` while the entry is spare or reports.
    watcher: Option<Watcher>,
    /// The output a reporting task moved in.
    output: Option<T>,
}

/// An entry nothing else holds (checked by [`Entry::recycle`]), ready for its next task.
pub(crate) struct Spare<T>(Arc<Entry<T>>);

impl<T> Spare<T> {
    /// The entry, set up for the task in slot `index` (watched when `watcher` is given).
    pub(crate) fn reuse(self, index: usize, watcher: Option<Watcher>) -> Arc<Entry<T>> {
        let entry = self.0;
        // SAFETY: a `Spare` is the entry's only handle and no waker of it exists (`recycle`
        // saw the count at one), so nothing reads the use.
        entry.task.with_mut(|task| unsafe {
            (*task).index = index;
            (*task).watcher = watcher;
        });
        entry.pushed.store(false, Ordering::Relaxed);
        entry
    }
}

impl<T> fmt::Debug for Spare<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spare").finish_non_exhaustive()
    }
}

impl<T> Entry<T> {
    /// A new record for the task in slot `index` (watched when `watcher` is given), pushing
    /// on `list`.
    pub(crate) fn new(
        list: &Arc<ReadyList<T>>,
        index: usize,
        watcher: Option<Watcher>,
    ) -> Arc<Entry<T>> {
        Arc::new(Entry {
            next: AtomicPtr::new(ptr::null_mut()),
            list: list.clone(),
            task: UnsafeCell::new(Use {
                index,
                watcher,
                output: None,
            }),
            pushed: AtomicBool::new(false),
        })
    }

    /// Moves a reporting task's output (`None`: it ended without one) into the entry and
    /// pushes it. The caller holds the entry's only handle.
    pub(crate) fn report(self: Arc<Self>, output: Option<T>) {
        // SAFETY: the reporting future holds the only handle of a reporting entry (no waker
        // of it is ever made), so nothing else touches the use.
        self.task
            .with_mut(|task| unsafe { (*task).output = output });
        ReadyList::push(self);
    }

    /// Takes the output of a reported entry the set has taken off its list.
    ///
    /// # Safety
    /// The entry reports (was never watched), so the set's handle is its only one.
    pub(crate) unsafe fn take_output(&self) -> Option<T> {
        // SAFETY: the caller's promise; the push and the take ordered the report before this.
        self.task.with_mut(|task| unsafe { (*task).output.take() })
    }

    /// Keeps a reported entry for the next task.
    ///
    /// # Safety
    /// As [`take_output`](Self::take_output); the output was taken.
    pub(crate) unsafe fn recycle_reported(entry: Arc<Entry<T>>) -> Spare<T> {
        Spare(entry)
    }

    /// The slot index of the task this record watches.
    pub(crate) fn index(&self) -> usize {
        // SAFETY: the use is written only while nothing else holds the entry.
        self.task.with(|task| unsafe { (*task).index })
    }

    /// Drops the watcher of a reported record and returns the record as a [`Spare`] if
    /// nothing else holds it and it pushes on `list`.
    pub(crate) fn recycle(mut entry: Arc<Entry<T>>, list: &Arc<ReadyList<T>>) -> Option<Spare<T>> {
        let this = Arc::get_mut(&mut entry)?;
        // SAFETY: `get_mut` proved this the only handle (and no waker left).
        let watcher = this.task.with_mut(|task| unsafe { (*task).watcher.take() });
        drop(watcher);
        Arc::ptr_eq(&this.list, list).then_some(Spare(entry))
    }

    /// Starts watching: pushes the entry at once if the task has finished, or leaves it as the
    /// task's awaiter. Called once per use, before any waker of this entry exists.
    pub(crate) fn watch(self: Arc<Self>) {
        self.look();
    }

    /// Pushes the entry if the task has finished; otherwise waits for it with the entry as the
    /// awaiter (pushing at once if it finished meanwhile).
    fn look(self: Arc<Self>) {
        // A waker that borrows our handle: the awaiter slot keeps a clone, which counts.
        // SAFETY: `self` outlives `waker`, which is never dropped (no count to give back).
        let waker = ManuallyDrop::new(unsafe {
            Waker::from_raw(RawWaker::new(Arc::as_ptr(&self).cast(), &Self::WAKER))
        });
        // SAFETY: the use is written only while nothing else holds the entry; registrations
        // of this watcher form one chain (rule 14): the first happens in `watch`, before any
        // waker of the entry exists, and every later one in the wake of the waker the
        // previous one left in the slot, which the wake has taken out.
        let finished = self.task.with(|task| unsafe {
            let watcher = (*task)
                .watcher
                .as_ref()
                .expect("rawtask: a JoinSet entry without a task");
            watcher.register_finished(&waker).is_ready()
        });
        if finished {
            self.push();
        }
    }

    /// Pushes the entry on its list, once per use.
    fn push(self: Arc<Self>) {
        if self.pushed.swap(true, Ordering::AcqRel) {
            return;
        }
        ReadyList::push(self);
    }
}

impl<T> Entry<T> {
    /// The waker functions of an `Arc<Entry>` (the data pointer is `Arc::into_raw`). Only a
    /// watched entry becomes a waker, and a watched entry never holds an output (it stays in
    /// the task), so the waker may be woken or dropped on any thread whatever `T` is.
    const WAKER: RawWakerVTable = RawWakerVTable::new(
        Self::clone_waker,
        Self::wake,
        Self::wake_by_ref,
        Self::drop_waker,
    );

    unsafe fn clone_waker(data: *const ()) -> RawWaker {
        // SAFETY: `data` is a live `Arc<Entry>` of the waker being cloned.
        unsafe { Arc::increment_strong_count(data.cast::<Entry<T>>()) };
        RawWaker::new(data, &Self::WAKER)
    }

    unsafe fn wake(data: *const ()) {
        // SAFETY: the waker's count is consumed with it.
        unsafe { Arc::from_raw(data.cast::<Entry<T>>()) }.look();
    }

    unsafe fn wake_by_ref(data: *const ()) {
        // SAFETY: the waker keeps its count; the clone gets one of its own.
        unsafe {
            Arc::increment_strong_count(data.cast::<Entry<T>>());
            Arc::from_raw(data.cast::<Entry<T>>())
        }
        .look();
    }

    unsafe fn drop_waker(data: *const ()) {
        // SAFETY: the waker's count is given back with it.
        drop(unsafe { Arc::from_raw(data.cast::<Entry<T>>()) });
    }
}

impl<T> fmt::Debug for Entry<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("index", &self.index())
            .finish_non_exhaustive()
    }
}

/// The head word's two marks: addresses of a static, so that neither is an entry.
static MARKS: [u8; 2] = [0; 2];

/// The head's mark for an empty list whose set waits.
fn waiting<T>() -> *mut Entry<T> {
    ptr::addr_of!(MARKS[0]).cast_mut().cast()
}

/// The head's mark for a closed list.
fn closed<T>() -> *mut Entry<T> {
    ptr::addr_of!(MARKS[1]).cast_mut().cast()
}

/// The finished entries of one set, newest first, and the set's waker.
pub(crate) struct ReadyList<T> {
    /// Null (empty), `WAITING` (empty, and the set waits), `CLOSED`, or the newest entry (an
    /// `Arc::into_raw` the list owns), linked to older ones by `next`.
    head: AtomicPtr<Entry<T>>,
    /// The waker of a pending `join_next`, stored before the head becomes `WAITING`.
    waker: Mutex<Option<Waker>>,
}

impl<T> ReadyList<T> {
    /// An empty, open list.
    pub(crate) fn new() -> Arc<ReadyList<T>> {
        Arc::new(ReadyList {
            head: AtomicPtr::new(ptr::null_mut()),
            waker: Mutex::new(None),
        })
    }

    /// Pushes a finished entry on its list, or drops it if the list is closed; wakes the set
    /// if it waits.
    fn push(entry: Arc<Entry<T>>) {
        // Once the entry is on the list the set may pop it at once: a waiting set's list is
        // held by a clone (taken only then), for the wake.
        let mut hold: Option<Arc<ReadyList<T>>> = None;
        let new = Arc::into_raw(entry).cast_mut();
        // SAFETY: `new` is ours until published, and its `list` lives while it does; `this`
        // is not used once the entry is published.
        let this: &ReadyList<T> = unsafe { &(*new).list };
        let mut head = this.head.load(Ordering::Relaxed);
        loop {
            if head == closed() {
                // SAFETY: `new` came from `into_raw` above and was never published.
                drop(unsafe { Arc::from_raw(new) });
                return;
            }
            let next = if head == waiting() {
                if hold.is_none() {
                    // SAFETY: `new` is still unpublished.
                    hold = Some(unsafe { (*new).list.clone() });
                }
                ptr::null_mut()
            } else {
                head
            };
            // SAFETY: `new` is unpublished, so this thread alone touches its `next`.
            unsafe { (*new).next.store(next, Ordering::Relaxed) };
            match this
                .head
                .compare_exchange_weak(head, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => head = actual,
            }
        }
        if head == waiting() {
            // The set stored its waker before it marked the head (acquired by the exchange).
            let list = hold.expect("rawtask: JoinSet list held for the wake");
            let waker = lock(&list.waker).take();
            drop(list);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    /// Takes every finished entry, oldest first. With nothing finished, `waker` (if any) is
    /// stored and the head marked `WAITING`, so that the next push wakes it.
    pub(crate) fn take(&self, waker: Option<&Waker>) -> Batch<T> {
        let mut head = self.head.load(Ordering::Relaxed);
        if !is_entry(head) {
            let Some(waker) = waker else {
                return Batch::default();
            };
            self.store_waker(waker);
            while !is_entry(head) {
                if head == closed() {
                    return Batch::default();
                }
                match self.head.compare_exchange_weak(
                    head,
                    waiting(),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Batch::default(),
                    Err(actual) => head = actual,
                }
            }
        }
        // Only the set takes entries off or marks the head: once it is an entry, pushes only
        // put newer ones on top of it, so one swap takes them all.
        let head = self.head.swap(ptr::null_mut(), Ordering::Acquire);
        // Reverse the taken stack into completion order; the list gave us its references.
        let mut older = head;
        let mut newer = ptr::null_mut();
        while !older.is_null() {
            // SAFETY: the taken entries are ours alone; each is a live `Arc` allocation.
            let next = unsafe { (*older).next.load(Ordering::Relaxed) };
            // SAFETY: as above.
            unsafe { (*older).next.store(newer, Ordering::Relaxed) };
            newer = older;
            older = next;
        }
        Batch { first: newer }
    }

    /// Stores the set's waker (unless the stored one wakes the same task), cloned and dropped
    /// outside the lock: a waker's clone and drop are user code.
    fn store_waker(&self, waker: &Waker) {
        {
            let stored = lock(&self.waker);
            if stored.as_ref().is_some_and(|w| w.will_wake(waker)) {
                return;
            }
        }
        let new = waker.clone();
        let old = lock(&self.waker).replace(new);
        drop(old);
    }

    /// Closes the list: later pushes drop their entries. Returns what it held, and drops the
    /// stored waker.
    pub(crate) fn close(&self) -> Batch<T> {
        let head = self.head.swap(closed(), Ordering::AcqRel);
        let waker = lock(&self.waker).take();
        drop(waker);
        Batch {
            first: if is_entry(head) {
                head
            } else {
                ptr::null_mut()
            },
        }
    }
}

impl<T> Drop for ReadyList<T> {
    fn drop(&mut self) {
        // Entries hold their list, so a list with entries on it is never dropped: the set
        // closes it first.
        debug_assert!(!is_entry(self.head.load(Ordering::Relaxed)));
    }
}

fn is_entry<T>(head: *mut Entry<T>) -> bool {
    !head.is_null() && head != waiting() && head != closed()
}

/// Entries taken off a [`ReadyList`], oldest first; it owns them.
pub(crate) struct Batch<T> {
    first: *mut Entry<T>,
}

// SAFETY: a `Batch` owns `Arc<Entry<T>>`s, which are `Send` when `T` is.
unsafe impl<T: Send> Send for Batch<T> {}
// SAFETY: `&Batch` gives no access to the entries.
unsafe impl<T> Sync for Batch<T> {}

impl<T> Default for Batch<T> {
    fn default() -> Batch<T> {
        Batch {
            first: ptr::null_mut(),
        }
    }
}

impl<T> Batch<T> {
    /// Whether no entry is left.
    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_null()
    }

    /// The oldest entry.
    pub(crate) fn pop(&mut self) -> Option<Arc<Entry<T>>> {
        if self.first.is_null() {
            return None;
        }
        // SAFETY: the batch owns the reference `into_raw` gave the list for each entry, and
        // `first` is the oldest of them.
        let entry = unsafe { Arc::from_raw(self.first) };
        self.first = entry.next.load(Ordering::Relaxed);
        Some(entry)
    }
}

impl<T> Drop for Batch<T> {
    fn drop(&mut self) {
        while self.pop().is_some() {}
    }
}

impl<T> fmt::Debug for Batch<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("empty", &self.is_empty())
            .finish()
    }
}
