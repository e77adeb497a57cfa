//! Compiles the C programs of `c/` (beside this crate's `src/`) against rawtask's C API (plus
//! the fixtures of this crate) and runs them. One test per program; see `harness` for how, and
//! the crate docs for how to add a program.

mod harness;

/// A priority event loop in C driving 10,000 Rust tasks (timers, channels, yields).
#[test]
fn event_loop() {
    harness::run_c_program("event_loop");
}

/// Background jobs from C through the functions `export_task!` generates.
#[test]
fn background() {
    harness::run_c_program("background");
}

/// A pthread pool runs Rust tasks with text and `Result` outputs; the main thread waits for
/// them with completion callbacks (`rawtask_task_on_complete`, `RawtaskBuffer`).
#[test]
fn completion() {
    harness::run_c_program("completion");
}

/// A C loop (a pipe as the notify) drives Rust tasks woken from Rust threads through the
/// home-thread scheduler (`rawtask_home_*`).
#[test]
fn home() {
    harness::run_c_program("home");
}

/// Every detectable misuse of the C API gets a defined status and message, never a crash.
#[test]
fn misuse() {
    harness::run_c_program("misuse");
}

/// Cancellation tokens from C: a tree cancelled from another pthread, every callback called
/// exactly once; misuse and re-entrant callbacks.
#[test]
fn tokens() {
    harness::run_c_program("tokens");
}

/// Soak from C threads: pthreads spawn, run, wake, cancel, detach and free Rust tasks and
/// tokens at random (seeded), racing on shared handles; every callback runs once, no future
/// is left. About 2 s; `RAWTASK_SOAK_SECS=N` runs N seconds.
#[test]
fn soak() {
    harness::run_c_program("soak");
}

/// The C executor example of `examples/c/`, against the example's own static library, as
/// `examples/c/build.sh` builds it.
#[test]
fn example_executor() {
    let source = harness::workspace_root().join("examples/c/executor.c");
    let exe = harness::build_c_program("executor", &source, "rawtask_c_example", &[]);
    harness::run("executor", &exe);
}
