//! Feature `abi_stable`: rawtask::ffi's types implement `abi_stable::StableAbi`, as async-ffi's
//! do with its feature of the same name, and abi_stable's layout checker accepts each of them
//! against itself (what a plugin loader does when both sides use the same rawtask) and rejects
//! a future whose output type differs.
//!
//! Run with `cargo test -p rawtask-ffi-tests --features abi_stable --test abi_stable`.

use std::mem::size_of;

use abi_stable::abi_stability::abi_checking::check_layout_compatibility;
use abi_stable::type_layout::TypeLayout;
use abi_stable::StableAbi;
use rawtask::ffi::{
    BorrowingFfiFuture, FfiContext, FfiFuture, FfiPoll, FfiWakerBase, FfiWakerVTable,
    LocalBorrowingFfiFuture, LocalFfiFuture,
};

/// Fails to compile if `T` does not derive `StableAbi`.
fn layout<T: StableAbi>() -> &'static TypeLayout {
    T::LAYOUT
}

#[test]
fn every_type_checks_against_itself() {
    let layouts = [
        ("FfiFuture", layout::<FfiFuture<u32>>()),
        ("LocalFfiFuture", layout::<LocalFfiFuture<u32>>()),
        (
            "BorrowingFfiFuture",
            layout::<BorrowingFfiFuture<'static, u32>>(),
        ),
        (
            "LocalBorrowingFfiFuture",
            layout::<LocalBorrowingFfiFuture<'static, u32>>(),
        ),
        ("FfiContext", layout::<FfiContext<'static>>()),
        ("FfiPoll", layout::<FfiPoll<u32>>()),
        ("FfiWakerBase", layout::<FfiWakerBase>()),
        ("FfiWakerVTable", layout::<FfiWakerVTable>()),
    ];
    for (name, layout) in layouts {
        if let Err(errors) = check_layout_compatibility(layout, layout) {
            panic!("{name}: {errors}");
        }
    }
}

#[test]
fn the_future_layout_is_async_ffis() {
    let future = layout::<LocalFfiFuture<u64>>();
    assert_eq!(future.name(), "LocalBorrowingFfiFuture");
    assert_eq!(future.size(), 3 * size_of::<usize>());
    let fields: Vec<&str> = future
        .get_fields()
        .expect("a struct has fields")
        .iter()
        .map(|field| field.name())
        .collect();
    assert_eq!(&fields[..3], ["fut_ptr", "poll_fn", "drop_fn"]);
    // The Send variant is a transparent wrapper of the same size.
    assert_eq!(layout::<FfiFuture<u64>>().size(), future.size());
}

#[test]
fn a_different_output_is_rejected() {
    let u32_future = layout::<FfiFuture<u32>>();
    let u64_future = layout::<FfiFuture<u64>>();
    assert!(check_layout_compatibility(u32_future, u64_future).is_err());
    let u32_poll = layout::<FfiPoll<u32>>();
    let u64_poll = layout::<FfiPoll<u64>>();
    assert!(check_layout_compatibility(u32_poll, u64_poll).is_err());
}
