//! Futures across real library boundaries: the Rust plugin (a `cdylib` with its own copy of
//! rawtask, built by cargo as a dev-dependency) and the C plugin (compiled here with the
//! system C compiler), each loaded at run time by the Rust host (`ffi-host`, libloading) and
//! by the C host (compiled here, dlopen). The pairs:
//!
//! - Rust → Rust: `ffi-host` + the Rust plugin;
//! - Rust → C: the C host + the Rust plugin;
//! - C → Rust: `ffi-host` + the C plugin;
//! - C → C: the C host + the C plugin (the header alone is a complete contract).
//!
//! Each host checks that a pending plugin future is polled exactly twice (it is woken, not
//! polled in a loop), that futures cross both ways, and that panic messages cross.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn workspace_root() -> PathBuf {
    // This crate is internal/ffi-tests: the root is two levels up.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ffi-boundaries");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The Rust plugin that cargo built beside this test binary.
fn rust_plugin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let name = format!(
        "{}rawtask_ffi_plugin{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let path = exe.parent().unwrap().join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// Runs the system C compiler (`$CC`, or `cc`) with `args`.
fn cc(args: &[&str]) {
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let include = workspace_root().join("include");
    let status = Command::new(&compiler)
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-g",
            "-O1",
        ])
        .arg("-I")
        .arg(&include)
        .args(args)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run the C compiler `{compiler}` ({e}): `cargo test --workspace` needs \
                 one; install gcc or clang, or point CC at it"
            )
        });
    assert!(status.success(), "{compiler} {args:?} failed");
}

fn c_source(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("c")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The C plugin, compiled once per test run.
fn c_plugin() -> &'static Path {
    static PLUGIN: OnceLock<PathBuf> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        let out = out_dir().join(format!(
            "{}rawtask_ffi_c_plugin{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        ));
        cc(&[
            "-shared",
            "-fPIC",
            "-fvisibility=hidden",
            &c_source("plugin.c"),
            "-o",
            out.to_str().unwrap(),
            "-lpthread",
        ]);
        out
    })
}

/// The C host, compiled once per test run.
fn c_host() -> &'static Path {
    static HOST: OnceLock<PathBuf> = OnceLock::new();
    HOST.get_or_init(|| {
        let out = out_dir().join("rawtask_ffi_c_host");
        cc(&[
            &c_source("host.c"),
            "-o",
            out.to_str().unwrap(),
            "-ldl",
            "-lpthread",
        ]);
        out
    })
}

/// Runs `host plugin` and checks that it printed `expected` and succeeded.
fn run(host: &Path, plugin: &Path, expected: &str) {
    let output = Command::new(host).arg(plugin).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(expected),
        "{} {}: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        host.display(),
        plugin.display(),
        output.status
    );
}

fn rust_host() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ffi-host"))
}

#[test]
fn rust_host_rust_plugin() {
    run(rust_host(), &rust_plugin(), "ffi-host: rust-plugin: ok");
}

#[test]
fn c_host_rust_plugin() {
    run(c_host(), &rust_plugin(), "c-host: rust-plugin: ok");
}

#[test]
fn rust_host_c_plugin() {
    run(rust_host(), c_plugin(), "ffi-host: c-plugin: ok");
}

#[test]
fn c_host_c_plugin() {
    run(c_host(), c_plugin(), "c-host: c-plugin: ok");
}
