//! Passes the target triple and any sanitizer in RUSTFLAGS to the tests, which compile the C
//! programs for the same target and with the same sanitizer as the Rust library they link.

fn main() {
    let target = std::env::var("TARGET").unwrap();
    println!("cargo:rustc-env=RAWTASK_C_TESTS_TARGET={target}");
    let rustflags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let sanitizer = rustflags
        .split('\x1f')
        .find_map(|flag| flag.split_once("sanitizer=").map(|(_, name)| name))
        .unwrap_or("");
    println!("cargo:rustc-env=RAWTASK_C_TESTS_SANITIZER={sanitizer}");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
}
