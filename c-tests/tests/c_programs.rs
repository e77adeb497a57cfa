//! Compiles the C programs of `tests/c/` against rawtask's C API (plus the fixtures of this
//! crate) and runs them. One test per program; see `harness` for how, and the crate docs for
//! how to add a program.

mod harness;

/// A priority event loop in C driving 10,000 Rust tasks (timers, channels, yields).
#[test]
fn event_loop() {
    harness::run_c_program("event_loop");
}

/// Background jobs from C through the functions `export_task!` generates (issue 6).
#[test]
fn background() {
    harness::run_c_program("background");
}

/// Every detectable misuse of the C API gets a defined status and message, never a crash.
#[test]
fn misuse() {
    harness::run_c_program("misuse");
}

/// The C executor example of `examples/c/`, against the example's own static library, as
/// `examples/c/build.sh` builds it.
#[test]
fn example_executor() {
    let source = harness::workspace_root().join("examples/c/executor.c");
    let exe = harness::build_c_program("executor", &source, "rawtask_c_example", &[]);
    harness::run("executor", &exe);
}

/// `include/rawtask.h` is valid C++11 (cbindgen's `cpp_compat`), `RawtaskTask_NULL` included:
/// `tests/c/header_cpp.cpp` must compile with `-std=c++11 -pedantic -Werror`.
#[test]
fn header_compiles_as_cpp() {
    let root = harness::workspace_root();
    let target = env!("RAWTASK_C_TESTS_TARGET");
    let compiler = cc::Build::new()
        .cpp(true)
        .cargo_metadata(false)
        .target(target)
        .host(target)
        .opt_level(0)
        .std("c++11")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .flag("-pedantic")
        .get_compiler();
    let mut cmd = compiler.to_command();
    cmd.arg("-fsyntax-only")
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join("tests/c/header_cpp.cpp"));
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("running the C++ compiler {cmd:?}: {e}"));
    assert!(
        output.status.success(),
        "include/rawtask.h does not compile as C++:\n{cmd:?}\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
