//! The inbox: a lock-free multi-producer, single-consumer list of runnables woken on foreign
//! threads, which the home thread takes whole.
//!
//! Producers push onto the head with a compare-and-swap (a Treiber stack); the consumer swaps
//! the whole list out and reverses it into wake order. The consumer never pops one node while
//! producers push, so the ABA problem of a Treiber pop cannot arise. Closing swaps in a
//! sentinel that no push gets past: a wake after shutdown gets its runnable back instead of
//! leaving it in a list nobody takes.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use core::ptr;

use crate::runnable::Runnable;
use crate::sync::atomic::{AtomicPtr, Ordering};

/// One pushed runnable.
struct Node<M> {
    runnable: Runnable<M>,
    /// The node pushed before this one (null at the bottom).
    next: *mut Node<M>,
}

/// The address of the sentinel a closed inbox holds: a static's, so it is never a node's.
static CLOSED_MARK: u8 = 0;

/// The lock-free list of runnables woken off the home thread.
pub(super) struct Inbox<M> {
    /// Newest node first; null when empty; [`closed`] once closed.
    head: AtomicPtr<Node<M>>,
}

/// The sentinel of a closed inbox (compared, never dereferenced).
fn closed<M>() -> *mut Node<M> {
    ptr::addr_of!(CLOSED_MARK).cast_mut().cast()
}

impl<M> Inbox<M> {
    pub(super) fn new() -> Inbox<M> {
        Inbox {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Pushes `runnable`, from any thread. Gives it back if the inbox was closed.
    pub(super) fn push(&self, runnable: Runnable<M>) -> Result<(), Runnable<M>> {
        let node = Box::into_raw(Box::new(Node {
            runnable,
            next: ptr::null_mut(),
        }));
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            if head == closed() {
                // SAFETY: the node was never published; we own it.
                let node = unsafe { Box::from_raw(node) };
                return Err(node.runnable);
            }
            // SAFETY: the node is not published yet: only we can reach it.
            unsafe { (*node).next = head };
            // Release: the consumer that swaps the list out sees the node's contents.
            match self
                .head
                .compare_exchange_weak(head, node, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(current) => head = current,
            }
        }
    }

    /// Moves every pushed runnable to the back of `queue`, oldest first. Home thread only
    /// (the single consumer). Returns how many were moved.
    #[inline]
    pub(super) fn take_into(&self, queue: &mut VecDeque<Runnable<M>>) -> usize {
        let head = self.head.load(Ordering::Relaxed);
        // Only the consumer closes the inbox, so a head that is not the sentinel now stays so.
        if head.is_null() || head == closed() {
            return 0;
        }
        // Acquire: pairs with the pushes' release. An atomic swap: a push racing with it
        // lands either in this list or in the next one, never in neither.
        let list = self.head.swap(ptr::null_mut(), Ordering::Acquire);
        // SAFETY: the list is ours alone (swapped out) and made of pushed nodes.
        unsafe { append_in_order(list, queue) }
    }

    /// Closes the inbox and moves what it held to the back of `queue`, oldest first. Every
    /// later push fails. Home thread only.
    pub(super) fn close_into(&self, queue: &mut VecDeque<Runnable<M>>) -> usize {
        let list = self.head.swap(closed(), Ordering::Acquire);
        if list == closed() {
            return 0;
        }
        // SAFETY: as in `take_into`.
        unsafe { append_in_order(list, queue) }
    }
}

/// Reverses `list` (newest first) and appends its runnables to `queue` oldest first, freeing
/// the nodes.
///
/// # Safety
/// `list` is null or a list of nodes made by `push` that the caller owns.
unsafe fn append_in_order<M>(mut list: *mut Node<M>, queue: &mut VecDeque<Runnable<M>>) -> usize {
    // Reverse in place: no allocation beyond the queue's own.
    let mut reversed: *mut Node<M> = ptr::null_mut();
    while !list.is_null() {
        // SAFETY: every node of the list is ours.
        let next = unsafe { (*list).next };
        // SAFETY: as above.
        unsafe { (*list).next = reversed };
        reversed = list;
        list = next;
    }
    let mut moved = 0;
    while !reversed.is_null() {
        // SAFETY: every node came from `Box::into_raw` in `push` and is freed once, here.
        let node = unsafe { Box::from_raw(reversed) };
        reversed = node.next;
        queue.push_back(node.runnable);
        moved += 1;
    }
    moved
}

impl<M> Drop for Inbox<M> {
    fn drop(&mut self) {
        // Only reachable with runnables still inside if the `Home` was leaked: their tasks
        // hold the inbox alive, so this runs once none is left. Defensive all the same.
        let mut rest = VecDeque::new();
        self.close_into(&mut rest);
        drop(rest);
    }
}
