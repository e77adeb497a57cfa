//! A process-wide table of generation-checked handles for C, shared by the handle types of the
//! C API (task handles, token handles).
//!
//! A handle is a 64-bit id, not a pointer: the slot's generation in the high 32 bits, the slot's
//! index plus one in the low 32 bits (0 is the null handle). Freeing a handle bumps its slot's
//! generation, so a second free, or any use after free, finds a stale id and is rejected
//! without touching freed memory (until one slot has been reused 2^32 times); so is an id that
//! was never issued. A handle is "checked out" while a call uses it: its value is moved out to
//! the caller, and a second use meanwhile gets `BUSY`; a free (or any other release) requested
//! meanwhile is recorded and handed back by the checkin, whose caller then performs it. No user
//! code runs while a lock is held: values are moved out before they are used or dropped.
//!
//! # Why shards
//!
//! One mutex for the whole table made every call on any thread write the same cache line:
//! two threads each working on their own handles ran several times slower in total than one. The
//! table is split into [`SHARDS`] shards, each a mutex-protected slab on cache lines of its own
//! (128 bytes: two 64-byte lines, for CPUs that prefetch pairs). A handle's shard is the low
//! [`SHARD_BITS`] bits of its index, and a new handle goes into the shard of the inserting
//! thread (threads are given shards round-robin on their first insert). A thread that uses
//! the handles it made thus takes an uncontended lock on a line nobody else writes: the same
//! two uncontended lock operations per call as before, and no bouncing. Handles passed between
//! threads still work, at the old cost when contended.
//!
//! Lock-free slots (a generation-tagged state word per slot) would save the lock's two atomic
//! operations too, but need either slots that never move (a segmented array) or an epoch
//! scheme for growth, and a value type that can be read without a lock; the sharded slab keeps
//! the code ordinary and growth simple (a shard's vector only grows under its own lock, and
//! every access to it holds that lock).

use alloc::format;
use alloc::vec::Vec;
use core::cell::Cell;
use core::ops::{Deref, DerefMut};
use std::sync::Mutex;

use super::status::{Failure, RawtaskStatus};

/// Bits of a handle's index that name its shard.
pub(crate) const SHARD_BITS: u32 = 5;
/// Number of shards of a table.
pub(crate) const SHARDS: usize = 1 << SHARD_BITS;
/// Slots per shard: the index (slot << SHARD_BITS | shard) plus one must fit 32 bits.
const SLOTS_PER_SHARD: u32 = (u32::MAX >> SHARD_BITS) - 1;

/// A table of handles to values of type `V`. `R` says how a handle is released (free, detach),
/// for a release that a checkout defers.
pub(crate) struct HandleTable<V, R: Copy> {
    /// What a handle is called in messages ("task", "token").
    noun: &'static str,
    /// Performs a release that was deferred to a checkin (no lock is held).
    perform: fn(V, R),
    shards: [Padded<Mutex<Shard<V, R>>>; SHARDS],
}

/// A shard on cache lines of its own.
#[repr(align(128))]
struct Padded<T>(T);

struct Shard<V, R> {
    entries: Vec<Entry<V, R>>,
    /// Free slots of `entries`.
    free: Vec<u32>,
}

struct Entry<V, R> {
    generation: u32,
    slot: Slot<V, R>,
}

enum Slot<V, R> {
    Free,
    Live(V),
    /// A call has the value checked out. The release is set (and the generation bumped) when
    /// the handle is released meanwhile.
    Busy(Option<R>),
}

std::thread_local! {
    /// The shard this thread inserts into, or `usize::MAX` before its first insert.
    static HOME: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The shard of the current thread.
fn home_shard() -> usize {
    use crate::sync::atomic_static::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    // `try_with` fails only while the thread's locals are being destroyed: use shard 0.
    HOME.try_with(|home| {
        if home.get() == usize::MAX {
            home.set(NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS);
        }
        home.get()
    })
    .unwrap_or(0)
}

/// Splits an id into (shard, slot in the shard, generation); `None` for an index part of 0.
fn split(id: u64) -> Option<(usize, usize, u32)> {
    let index = ((id & 0xFFFF_FFFF) as u32).checked_sub(1)?;
    let shard = (index & (SHARDS as u32 - 1)) as usize;
    Some((shard, (index >> SHARD_BITS) as usize, (id >> 32) as u32))
}

fn make_id(shard: usize, slot: u32, generation: u32) -> u64 {
    let index = (slot << SHARD_BITS) | shard as u32;
    (u64::from(generation) << 32) | (u64::from(index) + 1)
}

impl<V, R: Copy> HandleTable<V, R> {
    // Only ever copied into `new`'s array (MSRV 1.70 has no inline `const` blocks).
    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY: Padded<Mutex<Shard<V, R>>> = Padded(Mutex::new(Shard {
        entries: Vec::new(),
        free: Vec::new(),
    }));

    /// An empty table; `perform` carries out a release deferred to a checkin.
    pub(crate) const fn new(noun: &'static str, perform: fn(V, R)) -> Self {
        HandleTable {
            noun,
            perform,
            shards: [Self::EMPTY; SHARDS],
        }
    }

    fn lock(&self, shard: usize) -> std::sync::MutexGuard<'_, Shard<V, R>> {
        // Every shard is consistent between any two statements that run under its lock, and
        // no code that could panic runs under it, so a poisoned lock is still good.
        crate::sync::lock_static(&self.shards[shard].0)
    }

    /// Stores a value and returns its handle's id (never 0).
    pub(crate) fn insert(&self, value: V) -> u64 {
        let shard_index = home_shard();
        let mut shard = self.lock(shard_index);
        self.insert_locked(&mut shard, shard_index, value)
    }

    /// The body of `insert`, under the shard's lock.
    #[inline]
    fn insert_locked(&self, shard: &mut Shard<V, R>, shard_index: usize, value: V) -> u64 {
        let slot = match shard.free.pop() {
            Some(slot) => {
                shard.entries[slot as usize].slot = Slot::Live(value);
                slot
            }
            None => {
                let slot = u32::try_from(shard.entries.len())
                    .ok()
                    .filter(|&slot| slot < SLOTS_PER_SHARD)
                    .unwrap_or_else(|| {
                        panic!("rawtask: more than {SLOTS_PER_SHARD} live {} handles made on one thread's shard", self.noun)
                    });
                shard.entries.push(Entry {
                    generation: 0,
                    slot: Slot::Live(value),
                });
                slot
            }
        };
        make_id(shard_index, slot, shard.entries[slot as usize].generation)
    }

    /// Like [`insert`](Self::insert), but hands `value` back (with the layout refused) if the
    /// shard cannot grow. It also keeps the free list's capacity at the number of slots, so
    /// that releasing a handle later never allocates.
    pub(crate) fn try_insert(&self, value: V) -> Result<u64, (V, core::alloc::Layout)> {
        let shard_index = home_shard();
        let mut shard = self.lock(shard_index);
        if shard.free.is_empty() {
            let wanted = shard.entries.len() + 1;
            let refused = if shard.entries.try_reserve(1).is_err() {
                Some(core::alloc::Layout::array::<Entry<V, R>>(wanted))
            } else if shard.free.capacity() < wanted && shard.free.try_reserve(wanted).is_err() {
                Some(core::alloc::Layout::array::<u32>(wanted))
            } else {
                None
            };
            if let Some(layout) = refused {
                drop(shard);
                let layout = layout.unwrap_or(core::alloc::Layout::new::<u32>());
                return Err((value, layout));
            }
        }
        // Room is reserved, under the same lock: the insert does not allocate.
        Ok(self.insert_locked(&mut shard, shard_index, value))
    }

    fn stale(&self, function: &str, id: u64) -> Failure {
        Failure::new(
            RawtaskStatus::InvalidHandle,
            format!(
                "{function}: {} handle {id:#x} is not live (already freed or detached, or \
                 never issued)",
                self.noun
            ),
        )
    }

    /// Checks that `id` is neither null nor stale; returns its shard and slot.
    fn locate(&self, function: &str, id: u64) -> Result<(usize, usize, u32), Failure> {
        if id == 0 {
            return Err(Failure::null(function, self.noun));
        }
        split(id).ok_or_else(|| self.stale(function, id))
    }

    /// Moves a live handle's value out for the length of one call; a second checkout meanwhile
    /// fails with `BUSY`. Dropping the [`Checkout`] checks it back in.
    pub(crate) fn checkout(&self, function: &str, id: u64) -> Result<Checkout<'_, V, R>, Failure> {
        let (shard_index, slot, generation) = self.locate(function, id)?;
        let mut shard = self.lock(shard_index);
        match shard.entries.get_mut(slot) {
            Some(entry) if entry.generation == generation => {
                match core::mem::replace(&mut entry.slot, Slot::Busy(None)) {
                    Slot::Live(value) => Ok(Checkout {
                        table: self,
                        shard: shard_index,
                        slot,
                        value: Some(value),
                    }),
                    other => {
                        let busy = matches!(other, Slot::Busy(_));
                        entry.slot = other;
                        drop(shard);
                        Err(if busy {
                            Failure::new(
                                RawtaskStatus::Busy,
                                format!(
                                    "{function}: {} handle {id:#x} is in use by another call (on \
                                     another thread, or further up this thread's stack)",
                                    self.noun
                                ),
                            )
                        } else {
                            self.stale(function, id)
                        })
                    }
                }
            }
            _ => {
                drop(shard);
                Err(self.stale(function, id))
            }
        }
    }

    /// Ends a checkout: stores the value back, or returns it with the release requested
    /// meanwhile (the caller then owns it and performs the release).
    fn checkin(&self, shard_index: usize, slot: usize, value: V) -> Option<(V, R)> {
        let mut shard = self.lock(shard_index);
        let entry = &mut shard.entries[slot];
        match entry.slot {
            Slot::Busy(None) => {
                entry.slot = Slot::Live(value);
                None
            }
            Slot::Busy(Some(release)) => {
                entry.slot = Slot::Free;
                shard.free.push(slot as u32);
                Some((value, release))
            }
            _ => unreachable!("a checked-out handle's slot is busy"),
        }
    }

    /// Invalidates a handle (its id is stale from now on). Returns its value if the caller must
    /// perform `release` now; `None` if a call has it checked out, whose checkin will.
    pub(crate) fn release(
        &self,
        function: &str,
        id: u64,
        release: R,
    ) -> Result<Option<V>, Failure> {
        let (shard_index, slot, generation) = self.locate(function, id)?;
        let mut shard = self.lock(shard_index);
        let shard = &mut *shard;
        match shard.entries.get_mut(slot) {
            Some(entry) if entry.generation == generation => match &mut entry.slot {
                Slot::Free => Err(self.stale(function, id)),
                Slot::Busy(deferred) => {
                    entry.generation = entry.generation.wrapping_add(1);
                    *deferred = Some(release);
                    Ok(None)
                }
                Slot::Live(_) => {
                    entry.generation = entry.generation.wrapping_add(1);
                    let Slot::Live(value) = core::mem::replace(&mut entry.slot, Slot::Free) else {
                        unreachable!("matched as live")
                    };
                    shard.free.push(slot as u32);
                    Ok(Some(value))
                }
            },
            _ => Err(self.stale(function, id)),
        }
    }
}

/// A handle's value, checked out of its table for the length of one call; dropping it checks
/// the value back in, performing a release that was requested meanwhile.
pub(crate) struct Checkout<'a, V, R: Copy> {
    table: &'a HandleTable<V, R>,
    shard: usize,
    slot: usize,
    /// `Some` until dropped.
    value: Option<V>,
}

impl<V, R: Copy> Deref for Checkout<'_, V, R> {
    type Target = V;

    fn deref(&self) -> &V {
        self.value
            .as_ref()
            .expect("a checkout holds its value until dropped")
    }
}

impl<V, R: Copy> DerefMut for Checkout<'_, V, R> {
    fn deref_mut(&mut self) -> &mut V {
        self.value
            .as_mut()
            .expect("a checkout holds its value until dropped")
    }
}

impl<V, R: Copy> Drop for Checkout<'_, V, R> {
    fn drop(&mut self) {
        if let Some(value) = self.value.take() {
            if let Some((value, release)) = self.table.checkin(self.shard, self.slot, value) {
                (self.table.perform)(value, release);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::{String, ToString};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Releases performed by `TABLE`'s checkins, for the deferred-release test.
    static DEFERRED: AtomicUsize = AtomicUsize::new(0);

    fn count_deferred(value: String, release: u8) {
        assert_eq!(release, 7);
        assert!(value.starts_with("deferred"));
        DEFERRED.fetch_add(1, Ordering::SeqCst);
    }

    /// Shared by every test here, as the real tables are: never assume an id is unused.
    static TABLE: HandleTable<String, u8> = HandleTable::new("test", count_deferred);

    fn status<T>(result: Result<T, Failure>) -> RawtaskStatus {
        match result {
            Ok(_) => RawtaskStatus::Ok,
            Err(failure) => failure.status(),
        }
    }

    #[test]
    fn values_round_trip_and_ids_go_stale_when_released() {
        let id = TABLE.insert("a".to_string());
        assert_eq!(*TABLE.checkout("t", id).unwrap(), "a");
        assert_eq!(TABLE.release("t", id, 0).unwrap().as_deref(), Some("a"));
        assert_eq!(
            status(TABLE.checkout("t", id)),
            RawtaskStatus::InvalidHandle
        );
        assert_eq!(
            status(TABLE.release("t", id, 0)),
            RawtaskStatus::InvalidHandle
        );
        assert_eq!(
            status(TABLE.checkout("t", 0)),
            RawtaskStatus::InvalidArgument
        );
        assert_eq!(
            status(TABLE.release("t", 0, 0)),
            RawtaskStatus::InvalidArgument
        );
    }

    #[test]
    fn stale_ids_stay_stale_after_the_slot_is_reused() {
        // Slots are reused LIFO per shard, and this thread inserts into one shard: the second
        // insert most likely reuses the slot (unless another test on a thread of the same
        // shard took it). Either way the old id must not resolve.
        let old = TABLE.insert("old".to_string());
        TABLE.release("t", old, 0).unwrap();
        let new = TABLE.insert("new".to_string());
        assert_ne!(old, new);
        if old & 0xFFFF_FFFF == new & 0xFFFF_FFFF {
            assert_eq!(new >> 32, (old >> 32) + 1, "reuse bumps the generation");
        }
        assert_eq!(
            status(TABLE.checkout("t", old)),
            RawtaskStatus::InvalidHandle
        );
        assert_eq!(
            status(TABLE.release("t", old, 0)),
            RawtaskStatus::InvalidHandle
        );
        assert_eq!(*TABLE.checkout("t", new).unwrap(), "new");
        TABLE.release("t", new, 0).unwrap();
    }

    #[test]
    fn forged_ids_are_rejected() {
        let id = TABLE.insert("forged".to_string());
        let index = id & 0xFFFF_FFFF;
        let generation = id >> 32;
        let shard = (index - 1) & (SHARDS as u64 - 1);
        let forged = [
            // Index part 0 (only the generation set).
            0x1_0000_0000,
            u64::MAX << 32,
            // An index far past the end of every shard.
            0x7FFF_FFFF,
            u64::MAX,
            // The right index, the wrong generation (a generation not yet reached).
            ((generation + 1000) << 32) | index,
            // A slot far past the end in another shard than this thread's.
            (generation << 32) | (((0x00F0_0000 << SHARD_BITS) | (shard ^ 1)) + 1),
        ];
        for forged in forged {
            assert_eq!(
                status(TABLE.checkout("t", forged)),
                RawtaskStatus::InvalidHandle,
                "{forged:#x}"
            );
            assert_eq!(
                status(TABLE.release("t", forged, 0)),
                RawtaskStatus::InvalidHandle,
                "{forged:#x}"
            );
        }
        // The real id in every other shard: in use by other tests or not, it is not this one.
        for other in (0..SHARDS as u64).filter(|&s| s != shard) {
            let moved = (generation << 32) | ((((index - 1) & !(SHARDS as u64 - 1)) | other) + 1);
            if let Ok(value) = TABLE.checkout("t", moved) {
                assert_ne!(*value, "forged");
            }
        }
        assert_eq!(
            TABLE.release("t", id, 0).unwrap().as_deref(),
            Some("forged")
        );
    }

    #[test]
    fn a_release_during_a_checkout_is_deferred_to_the_checkin() {
        let id = TABLE.insert("deferred 1".to_string());
        let checkout = TABLE.checkout("t", id).unwrap();
        assert_eq!(status(TABLE.checkout("t", id)), RawtaskStatus::Busy);
        assert!(TABLE.release("t", id, 7).unwrap().is_none());
        // Stale at once, though the value is still checked out.
        assert_eq!(
            status(TABLE.release("t", id, 7)),
            RawtaskStatus::InvalidHandle
        );
        assert_eq!(
            status(TABLE.checkout("t", id)),
            RawtaskStatus::InvalidHandle
        );
        let before = DEFERRED.load(Ordering::SeqCst);
        drop(checkout);
        assert!(
            DEFERRED.load(Ordering::SeqCst) > before,
            "the checkin performed the release"
        );
        assert_eq!(
            status(TABLE.checkout("t", id)),
            RawtaskStatus::InvalidHandle
        );
    }

    #[test]
    fn a_checkout_can_change_the_value() {
        let id = TABLE.insert("x".to_string());
        TABLE.checkout("t", id).unwrap().push('y');
        assert_eq!(TABLE.release("t", id, 0).unwrap().as_deref(), Some("xy"));
    }

    #[test]
    fn handles_of_many_threads_resolve_to_their_own_values() {
        const THREADS: usize = if cfg!(miri) { 3 } else { 8 };
        const ROUNDS: usize = if cfg!(miri) { 30 } else { 2_000 };
        let shared: Vec<u64> = (0..THREADS)
            .map(|t| TABLE.insert(format!("shared {t}")))
            .collect();
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let shared = &shared;
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for round in 0..ROUNDS {
                        let value = format!("{t}/{round}");
                        mine.push((TABLE.insert(value.clone()), value));
                        // Use another thread's shared handle too (maybe BUSY, never wrong).
                        let other = shared[(t + round) % THREADS];
                        if let Ok(value) = TABLE.checkout("t", other) {
                            assert_eq!(*value, format!("shared {}", (t + round) % THREADS));
                        }
                        if round % 3 == 0 {
                            let (id, value) = mine.swap_remove(round % mine.len());
                            assert_eq!(*TABLE.checkout("t", id).unwrap(), value);
                            assert_eq!(TABLE.release("t", id, 0).unwrap(), Some(value));
                            assert_eq!(
                                status(TABLE.checkout("t", id)),
                                RawtaskStatus::InvalidHandle
                            );
                        }
                    }
                    for (id, value) in mine {
                        assert_eq!(*TABLE.checkout("t", id).unwrap(), value);
                        assert_eq!(TABLE.release("t", id, 0).unwrap(), Some(value));
                    }
                });
            }
        });
        for (t, id) in shared.into_iter().enumerate() {
            assert_eq!(
                TABLE.release("t", id, 0).unwrap(),
                Some(format!("shared {t}"))
            );
        }
    }
}
