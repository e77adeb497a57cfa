//! Passes the target triple to the test, which compiles the C program for the same target as
//! the Rust library it links.

fn main() {
    let target = std::env::var("TARGET").unwrap();
    println!("cargo:rustc-env=INTEROP_TARGET={target}");
}
