//! Tells the library which newer APIs the compiler has, so that it still builds with its MSRV
//! (Rust 1.70) and takes the slower, documented paths there. By the compiler's version, not by
//! compiling a probe: a probe inherits the build's RUSTFLAGS, and under a sanitizer with
//! `-Zbuild-std` (this project's ThreadSanitizer run) it fails against the uninstrumented
//! sysroot, which silently turned the fast paths off. The cfgs are declared
//! in `Cargo.toml`'s `[lints.rust]` (not with `cargo:rustc-check-cfg`, which cargo < 1.80 warns
//! about).

fn main() {
    // For testing the fallbacks on a new compiler: pretend none of the newer APIs exists.
    autocfg::rerun_env("RAWTASK_ASSUME_OLD_RUSTC");
    if std::env::var_os("RAWTASK_ASSUME_OLD_RUSTC").is_some() {
        return;
    }
    let ac = autocfg::new();
    // `Waker::data` and `Waker::vtable` (Rust 1.83): recognise rawtask's own wakers and reuse
    // their task pointer. Without them every waker is treated as a foreign one.
    if ac.probe_rustc_version(1, 83) {
        autocfg::emit("rawtask_waker_data");
    }
    // `core::mem::offset_of!` (Rust 1.77): compile-time checks of the C ABI's field offsets.
    if ac.probe_rustc_version(1, 77) {
        autocfg::emit("rawtask_offset_of");
    }
    autocfg::rerun_path("build.rs");
}
