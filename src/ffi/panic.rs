//! The panic note: how a panic message crosses from a rawtask poll function to a rawtask
//! awaiting side through async-ffi's unchanged layout (see the module docs, "Panics").

use core::any::Any;
use core::ptr::{self, addr_of_mut};
use std::boxed::Box;
use std::string::String;
use std::vec::Vec;

use super::abi::{RawtaskFfiPanicNote, RAWTASK_FFI_PANIC_NOTE_MAGIC};
use super::{FfiContext, FfiWakerBase, FfiWakerVTable};
use crate::abort::{abort, abort_on_panic};

/// The message of a caught panic, as the default panic hook would print it.
pub(crate) fn payload_message(payload: &(dyn Any + Send)) -> String {
    crate::panic::message_or(payload, "Box<dyn Any>")
}

/// The allocation behind a note: the note first, so that a pointer to it is a pointer to the
/// note (and to its waker).
#[repr(C)]
struct NoteBox {
    note: RawtaskFfiPanicNote,
    /// The message's bytes and a NUL; `note.message` points into this buffer.
    text: Box<[u8]>,
}

/// The vtable of a note's waker: forwards to the waker the note replaced.
static NOTE_VTABLE: FfiWakerVTable = FfiWakerVTable {
    clone: note_clone,
    wake: note_consumed,
    wake_by_ref: note_wake_by_ref,
    drop: note_consumed,
};

unsafe extern "C" fn note_clone(note: *const FfiWakerBase) -> *const FfiWakerBase {
    // SAFETY: a waker with this vtable is a live note (a note lives until released, and a
    // released note is no longer in any context), whose `original` is the waker the caller
    // could use instead: borrowed for at least as long as the context holds the note.
    unsafe {
        let original = (*note.cast::<RawtaskFfiPanicNote>()).original;
        ((*(*original).vtable).clone)(original)
    }
}

unsafe extern "C" fn note_wake_by_ref(note: *const FfiWakerBase) {
    // SAFETY: as in `note_clone`.
    unsafe {
        let original = (*note.cast::<RawtaskFfiPanicNote>()).original;
        ((*(*original).vtable).wake_by_ref)(original)
    }
}

unsafe extern "C" fn note_consumed(_: *const FfiWakerBase) {
    abort(
        "rawtask::ffi: wake or drop was called on the waker of an FfiContext (here a panic \
         note); that waker is only borrowed: clone it to get one to consume",
    )
}

unsafe extern "C" fn note_release(note: *mut RawtaskFfiPanicNote) {
    abort_on_panic("rawtask::ffi: freeing a panic note panicked", || {
        // SAFETY: notes are only made by `leave_note`, as a leaked `Box<NoteBox>` whose first
        // field is the note; the caller releases each note once.
        drop(unsafe { Box::from_raw(note.cast::<NoteBox>()) })
    })
}

/// Replaces the context's waker with a note carrying `message`.
///
/// # Safety
/// `cx` must point to the live context a poll function was called with.
pub(crate) unsafe fn leave_note(cx: *mut FfiContext<'_>, message: &str) {
    let mut text = Vec::with_capacity(message.len() + 1);
    text.extend_from_slice(message.as_bytes());
    text.push(0);
    // SAFETY: the caller's context is live; its waker is valid for the context's lifetime.
    let original = unsafe { (*cx).raw_waker() };
    let note = Box::into_raw(Box::new(NoteBox {
        note: RawtaskFfiPanicNote {
            waker: FfiWakerBase {
                vtable: &NOTE_VTABLE,
            },
            magic: RAWTASK_FFI_PANIC_NOTE_MAGIC,
            original,
            message: ptr::null(),
            message_len: message.len(),
            release: note_release,
        },
        text: text.into_boxed_slice(),
    }));
    // SAFETY: `note` is a fresh allocation we own; the message pointer is taken after the box
    // is in place, from the box's own pointer, so it stays valid as long as the note. The note
    // is a valid waker for as long as `original` is, which is the context's lifetime.
    unsafe {
        (*note).note.message = (*note).text.as_ptr().cast();
        (*cx).set_raw_waker(addr_of_mut!((*note).note.waker));
    }
}

/// After a `Panicked` result: takes the message out of the note a rawtask poll function left
/// in the context (if the context's waker went from `lent` to `now`) and frees the note.
///
/// # Safety
/// `lent` and `now` are the context's waker before and after the poll function's call, and a
/// note in `now` was not released yet. The poll function follows the ABI: it changed the
/// context's waker only to leave a note.
pub(crate) unsafe fn take_note(
    lent: *const FfiWakerBase,
    now: *const FfiWakerBase,
) -> Option<String> {
    if ptr::eq(now, lent) {
        return None;
    }
    let note = now.cast::<RawtaskFfiPanicNote>().cast_mut();
    // SAFETY: by the ABI, a changed waker is a note, whose fields we check before trusting it;
    // its message is `message_len` readable bytes until we release it, which we do once.
    unsafe {
        if (*note).magic != RAWTASK_FFI_PANIC_NOTE_MAGIC || !ptr::eq((*note).original, lent) {
            return None;
        }
        let bytes = core::slice::from_raw_parts((*note).message.cast::<u8>(), (*note).message_len);
        let message = String::from_utf8_lossy(bytes).into_owned();
        ((*note).release)(note);
        Some(message)
    }
}
