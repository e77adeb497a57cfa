//! What identifies a task: [`TaskId`] and the [`Identity`] record (id, name, spawn location).

#[cfg(feature = "alloc")]
use alloc::borrow::Cow;
use core::fmt;
use core::num::NonZeroU64;
use core::panic::Location;

/// A task id, unique among all identified tasks for the life of the process.
///
/// Ids count up from 1. Where the target has 64-bit atomics the counter has 64 bits and never
/// runs out. On a target without them (32-bit PowerPC, MIPS and Arm M-profile chips, RISC-V
/// `imac`…) the counter has 32 bits: ids stay below 2³², and asking for an id after all 2³² − 1
/// were handed out **panics** rather than hand one out a second time. No lock is taken in
/// either case. (The `portable-atomic` feature does not change this: its 64-bit atomics need
/// portable-atomic's `fallback` feature, which rawtask does not turn on.)
///
/// ```
/// let (r1, t1) = rawtask::Builder::new().assign_id().spawn(|()| async {}, |_| {});
/// let (r2, t2) = rawtask::Builder::new().assign_id().spawn(|()| async {}, |_| {});
/// let (a, b) = (r1.identity().unwrap().id(), r2.identity().unwrap().id());
/// assert_ne!(a, b);
/// assert!(a.as_u64() >= 1);
/// # drop((r1, t1, r2, t2));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(NonZeroU64);

impl TaskId {
    /// The next id. 64 bits do not wrap in the life of a process.
    #[cfg(target_has_atomic = "64")]
    pub(crate) fn next() -> TaskId {
        use crate::sync::atomic_static::{AtomicU64, Ordering};
        // A plain counter: no ordering with anything else, nothing for loom to model.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        TaskId(NonZeroU64::new(id).expect("task ids do not wrap"))
    }

    /// The next id, from a 32-bit counter that stops (and panics) before it would wrap.
    #[cfg(not(target_has_atomic = "64"))]
    pub(crate) fn next() -> TaskId {
        use crate::sync::atomic_static::AtomicU32;
        static NEXT: AtomicU32 = AtomicU32::new(1);
        match next_u32(&NEXT) {
            Some(id) => TaskId(NonZeroU64::from(id)),
            None => panic!(
                "rawtask: all 2^32 - 1 task ids are used (this target has no 64-bit atomics, \
                 so ids have 32 bits)"
            ),
        }
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

/// Takes the next value from a counter that starts at 1, or `None` once `u32::MAX` was taken.
/// A compare-and-swap loop, not `fetch_add`: the counter must never move past `u32::MAX`, or
/// enough callers (each of which panics) would wrap it around to ids already handed out.
#[cfg(any(test, not(target_has_atomic = "64")))]
fn next_u32(counter: &crate::sync::atomic_static::AtomicU32) -> Option<core::num::NonZeroU32> {
    use crate::sync::atomic_static::Ordering;
    let mut current = counter.load(Ordering::Relaxed);
    loop {
        // 0 marks the counter as exhausted: `u32::MAX` was the last id.
        let id = core::num::NonZeroU32::new(current)?;
        match counter.compare_exchange_weak(
            current,
            current.wrapping_add(1),
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return Some(id),
            Err(actual) => current = actual,
        }
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskId({})", self.0)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A task's name: any string with the `alloc` feature, a `&'static str` without it.
#[cfg(feature = "alloc")]
pub(crate) type TaskName = Cow<'static, str>;
#[cfg(not(feature = "alloc"))]
pub(crate) type TaskName = &'static str;

/// What an identified task carries: its id, and its name and spawn location if requested.
pub struct Identity {
    id: TaskId,
    name: Option<TaskName>,
    location: Option<&'static Location<'static>>,
}

impl Identity {
    pub(crate) fn new(
        name: Option<TaskName>,
        location: Option<&'static Location<'static>>,
    ) -> Identity {
        Identity {
            id: TaskId::next(),
            name,
            location,
        }
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task's name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        #[cfg(feature = "alloc")]
        return self.name.as_deref();
        #[cfg(not(feature = "alloc"))]
        return self.name;
    }

    /// Where the task was spawned, if the spawner tracked it.
    pub fn location(&self) -> Option<&'static Location<'static>> {
        self.location
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Identity");
        s.field("id", &self.id.0);
        if let Some(name) = &self.name {
            s.field("name", name);
        }
        if let Some(location) = self.location {
            s.field("location", &format_args!("{location}"));
        }
        s.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::atomic_static::{AtomicU32, Ordering};

    #[test]
    fn ids_are_increasing_and_distinct() {
        let a = TaskId::next();
        let b = TaskId::next();
        assert!(b > a);
    }

    /// The 32-bit fallback hands out `u32::MAX` once, then refuses forever instead of wrapping.
    #[test]
    fn the_32_bit_counter_stops_at_its_last_id() {
        let counter = AtomicU32::new(u32::MAX - 1);
        assert_eq!(next_u32(&counter).map(|id| id.get()), Some(u32::MAX - 1));
        assert_eq!(next_u32(&counter).map(|id| id.get()), Some(u32::MAX));
        for _ in 0..3 {
            assert_eq!(next_u32(&counter), None);
        }
        assert_eq!(counter.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_32_bit_counter_starts_at_one() {
        let counter = AtomicU32::new(1);
        assert_eq!(next_u32(&counter).map(|id| id.get()), Some(1));
        assert_eq!(next_u32(&counter).map(|id| id.get()), Some(2));
    }

    /// Racing threads near the end never get the same id twice, and get every id once.
    #[cfg(feature = "std")]
    #[test]
    fn the_32_bit_counter_never_repeats_under_contention() {
        use alloc::vec::Vec;
        const FIRST: u32 = u32::MAX - 1000;
        let counter = AtomicU32::new(FIRST);
        let mut ids: Vec<u32> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        (0..500)
                            .filter_map(|_| next_u32(&counter).map(|id| id.get()))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        ids.sort_unstable();
        assert_eq!(ids, (FIRST..=u32::MAX).collect::<Vec<_>>());
    }
}
