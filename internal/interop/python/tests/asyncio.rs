//! Runs `internal/interop/python/test_asyncio.py` with `python3` against the bridge's cdylib
//! (built by cargo for this test): Python's asyncio loop awaits thousands of Rust tasks (timers,
//! channels, wakes from other threads, cancellations from asyncio) as asyncio futures, and
//! checks every result. Without `python3` the test prints `SKIPPED: python3 not found` and
//! passes. `INTEROP_PY_TASKS` sets the task count (default 3000).
//!
//! With `RAWTASK_C_VALGRIND=1` (`.ci/c-valgrind.sh`) the interpreter runs under valgrind
//! memcheck, `PYTHONMALLOC=malloc`, with CPython's own noise suppressed by
//! `valgrind-cpython.supp` (errors inside libpython only; no leak suppressed), 600 tasks unless
//! `INTEROP_PY_TASKS` says otherwise; a line `valgrind-clean: python asyncio` is printed.
//!
//! The benchmark (Rust tasks awaited through the bridge against native
//! asyncio tasks): `cargo test --release -p rawtask-interop-python --test asyncio -- --ignored
//! --nocapture`.
#![cfg(not(miri))]

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> Option<&'static str> {
    Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "python3")
}

/// `librawtask_interop_bridge.so` (or the platform's name), built beside this test binary.
fn cdylib() -> PathBuf {
    let name = format!(
        "{}rawtask_interop_bridge{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// The interpreter's own executable (`python3` may be a shell shim, as pyenv's is, which
/// valgrind would check instead of Python).
fn executable(python: &str) -> PathBuf {
    let output = Command::new(python)
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("asking python3 for sys.executable");
    assert!(
        output.status.success(),
        "python3 -c 'print(sys.executable)' failed"
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// `valgrind` with the flags of `.ci/c-valgrind.sh`, CPython's suppressions and
/// `PYTHONMALLOC=malloc`, ready for the interpreter's path.
fn valgrind() -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--error-exitcode=1",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
        "--fair-sched=yes",
    ])
    .arg(format!(
        "--suppressions={}",
        script("valgrind-cpython.supp").display()
    ))
    .env("PYTHONMALLOC", "malloc");
    if std::env::var_os("INTEROP_PY_TASKS").is_none() {
        cmd.env("INTEROP_PY_TASKS", "600");
    }
    cmd
}

/// Runs `python3 SCRIPT CDYLIB ARGS...` and returns its stdout; fails if it fails.
fn run(python: &str, name: &str, args: &[&str]) -> String {
    run_with(Command::new(python), name, args)
}

/// Runs `COMMAND SCRIPT CDYLIB ARGS...` and returns its stdout; fails if it fails.
fn run_with(mut command: Command, name: &str, args: &[&str]) -> String {
    let output = command
        .arg(script(name))
        .arg(cdylib())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{name} failed ({})", output.status);
    stdout
}

#[test]
fn asyncio_awaits_thousands_of_rust_tasks() {
    let Some(python) = python() else {
        println!("SKIPPED: python3 not found");
        return;
    };
    let under_valgrind = std::env::var_os("RAWTASK_C_VALGRIND").is_some_and(|v| v != "0");
    let stdout = if under_valgrind {
        let mut command = valgrind();
        command.arg(executable(python));
        run_with(command, "test_asyncio.py", &[])
    } else {
        run(python, "test_asyncio.py", &[])
    };
    assert!(
        stdout.lines().any(|l| l.starts_with("python asyncio: ok")),
        "test_asyncio.py exited successfully but never printed `python asyncio: ok`"
    );
    if under_valgrind {
        println!("valgrind-clean: python asyncio");
    }
}

/// 100,000 Rust tasks awaited through the bridge against 100,000 native
/// asyncio tasks doing the same number of yields (`INTEROP_BENCH_TASKS`,
/// `INTEROP_BENCH_YIELDS`).
#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn bench_rust_tasks_vs_native_asyncio_tasks() {
    let Some(python) = python() else {
        println!("SKIPPED: python3 not found");
        return;
    };
    let n = std::env::var("INTEROP_BENCH_TASKS").unwrap_or_else(|_| "100000".into());
    let yields = std::env::var("INTEROP_BENCH_YIELDS").unwrap_or_else(|_| "10".into());
    run(python, "bench_asyncio.py", &[&n, &yields]);
}
