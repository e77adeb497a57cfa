//! Compiles a C program against a static library that cargo built for these tests, runs it
//! (optionally under valgrind), and checks that it succeeded.
//!
//! - The C compiler comes from the `cc` crate (so `CC` and `CFLAGS` are honoured), for the
//!   target the tests are built for, with `-std=c11 -Wall -Wextra -Werror -pedantic`.
//! - The library is the `staticlib` that cargo built in the same run as the test binary, found
//!   beside it in `target/<profile>/deps/` (the newest `lib<name>-*.a`).
//! - Executables go to `target/tmp/c-programs/`; each is a real program that can be run by
//!   hand, or under a debugger.
//! - With `RAWTASK_C_VALGRIND=1`, each program runs under `valgrind --error-exitcode=1
//!   --leak-check=full --errors-for-leak-kinds=definite`, and a line `valgrind-clean: NAME` is
//!   printed when it passes (`.ci/c-valgrind.sh` counts them).
//! - A program passes if it exits with 0 and prints a line starting with `NAME: ok`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The library the C programs of `c/` link against: rawtask's C API plus the fixtures.
pub const FIXTURES_LIB: &str = "rawtask_c_tests";

/// How long a program may run (valgrind included) before the test kills it and fails.
const TIMEOUT: Duration = Duration::from_secs(600);

/// This crate's C programs, and `fixtures.h` with the declarations of its fixtures.
pub fn c_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("c")
}

pub fn workspace_root() -> PathBuf {
    // This crate is internal/c-tests: the root is two levels up.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// Compiles `c/NAME.c` against the fixtures library, runs it, and checks that it passed.
pub fn run_c_program(name: &str) {
    let source = c_dir().join(format!("{name}.c"));
    let exe = build_c_program(name, &source, FIXTURES_LIB, &[]);
    run(name, &exe);
}

/// Finds the newest `lib{lib}-*.a` that cargo built beside the running test binary.
pub fn static_library(lib: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let prefix = format!("lib{lib}-");
    let newest = std::fs::read_dir(deps)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with(&prefix) && name.ends_with(".a")
        })
        .max_by_key(|path| path.metadata().and_then(|m| m.modified()).ok());
    newest.unwrap_or_else(|| {
        panic!(
            "no lib{lib}-*.a in {}: the package must list crate-type \"staticlib\" and be a \
             (dev-)dependency of rawtask-c-tests",
            deps.display()
        )
    })
}

/// The system libraries a Rust `staticlib` needs (`rustc --print native-static-libs`).
fn system_libs() -> &'static [&'static str] {
    if cfg!(target_os = "macos") {
        &["-lSystem", "-lc", "-lm"]
    } else {
        &[
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
        ]
    }
}

/// Compiles `source` (plus `extra_sources`) into an executable named `name`, linked with the
/// static library `lib`, and returns its path.
pub fn build_c_program(name: &str, source: &Path, lib: &str, extra_sources: &[PathBuf]) -> PathBuf {
    let root = workspace_root();
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c-programs");
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join(name);
    // Link to a name of our own, then rename: another test process building the same program
    // at the same time (a shared target directory) never executes a half-written file, and
    // never makes our exec fail with "text file busy".
    let tmp = out_dir.join(format!(".{name}.{}", std::process::id()));

    let target = env!("RAWTASK_C_TESTS_TARGET");
    let compiler = cc::Build::new()
        .cargo_metadata(false)
        .target(target)
        .host(target)
        .opt_level(1)
        .debug(true)
        .std("c11")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .flag("-pedantic")
        .get_compiler();
    let mut cmd = compiler.to_command();
    cmd.arg("-pthread")
        .arg("-I")
        .arg(root.join("include"))
        .arg("-I")
        .arg(c_dir())
        .arg(source)
        .args(extra_sources)
        .arg(static_library(lib))
        .args(system_libs())
        .arg("-o")
        .arg(&tmp);
    match env!("RAWTASK_C_TESTS_SANITIZER") {
        "" => {}
        sanitizer => {
            cmd.arg(format!("-fsanitize={sanitizer}"));
        }
    }
    let output = cmd.output().unwrap_or_else(|e| no_compiler(&cmd, e));
    assert!(
        output.status.success(),
        "compiling {} failed:\n{}\n{}{}",
        source.display(),
        command_line(&cmd),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::rename(&tmp, &exe).unwrap();
    exe
}

/// The program and arguments of `cmd`, without the environment `cc` sets on it.
pub fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|arg| arg.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One clear line when the C compiler cannot be run at all.
pub fn no_compiler(cmd: &Command, error: std::io::Error) -> ! {
    panic!(
        "cannot run the C compiler `{}` ({error}): `cargo test --workspace` needs one; install \
         gcc or clang, or point CC (CXX for C++) at it",
        cmd.get_program().to_string_lossy()
    )
}

/// Runs `exe` (under valgrind with `RAWTASK_C_VALGRIND=1`) and checks that it passed.
pub fn run(name: &str, exe: &Path) {
    let valgrind = std::env::var_os("RAWTASK_C_VALGRIND").is_some_and(|v| v != "0");
    let mut cmd = if valgrind {
        let mut cmd = Command::new("valgrind");
        cmd.args([
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
        ])
        .arg(exe);
        cmd
    } else {
        Command::new(exe)
    };
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));

    // Read both pipes on threads so a chatty program cannot block on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            child.kill().ok();
            child.wait().ok();
            panic!("{name} did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        status.success(),
        "{name} failed ({status}){}",
        if valgrind { " under valgrind" } else { "" }
    );
    let ok_line = format!("{name}: ok");
    assert!(
        stdout.lines().any(|line| line.starts_with(&ok_line)),
        "{name} exited successfully but never printed `{ok_line}`"
    );
    if valgrind {
        println!("valgrind-clean: {name}");
    }
}
