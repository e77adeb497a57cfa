//! Compiles `internal/interop/libuv/uv_driver.c` against the bridge's static library and the
//! system's libuv (found with `pkg-config libuv`: Debian's `libuv1-dev`), and runs it: a uv loop driving
//! thousands of Rust tasks (timers, channels, wakes from other threads and from uv timers,
//! cancellations), every output checked, no task lost, the loop closed clean.
//!
//! Without libuv's headers the test prints `SKIPPED: ...` and passes (`.ci/run` installs
//! them). `INTEROP_UV_TASKS` sets the task count (default 4000). With `RAWTASK_C_VALGRIND=1`
//! the program runs under valgrind memcheck and a line `valgrind-clean: uv_driver` is printed
//! (`.ci/c-valgrind.sh` counts it).
//!
//! The benchmark (libuv against a plain C loop, same tasks):
//! `cargo test --release -p rawtask-interop-libuv --test uv_loop -- --ignored --nocapture`.
#![cfg(not(miri))]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the program may run (valgrind included) before the test kills it.
const TIMEOUT: Duration = Duration::from_secs(600);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../..")
        .canonicalize()
        .unwrap()
}

/// `pkg-config --cflags --libs libuv`, or `None` if libuv's development files are missing.
fn libuv_flags() -> Option<Vec<String>> {
    let output = Command::new("pkg-config")
        .args(["--cflags", "--libs", "libuv"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    Some(
        String::from_utf8(output.stdout)
            .ok()?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    )
}

/// The newest `librawtask_interop_bridge[-*].a` that cargo built beside this test binary.
fn bridge_library() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    std::fs::read_dir(deps)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            (name.starts_with("librawtask_interop_bridge-")
                || name == "librawtask_interop_bridge.a")
                && name.ends_with(".a")
        })
        .max_by_key(|path| path.metadata().and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| panic!("no librawtask_interop_bridge-*.a in {}", deps.display()))
}

/// Compiles the driver (optimised with `opt`), or returns `None` (after printing why) if libuv
/// is missing.
fn build(opt: u32) -> Option<PathBuf> {
    let Some(uv) = libuv_flags() else {
        println!(
            "SKIPPED: uv_driver: libuv's development files were not found (pkg-config libuv); \
             install libuv1-dev to run it"
        );
        return None;
    };
    let root = root();
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-libuv");
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join(format!("uv_driver-O{opt}"));
    // Link to a name of our own, then rename: a concurrent build never runs a half-written file.
    let tmp = out_dir.join(format!(".uv_driver-O{opt}.{}", std::process::id()));
    let target = env!("INTEROP_TARGET");
    let compiler = cc::Build::new()
        .cargo_metadata(false)
        .target(target)
        .host(target)
        .opt_level(opt)
        .debug(true)
        .std("c11")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .get_compiler();
    let mut cmd = compiler.to_command();
    cmd.arg("-D_GNU_SOURCE")
        .arg("-pthread")
        .arg("-I")
        .arg(root.join("include"))
        .arg("-I")
        .arg(root.join("internal/interop/bridge/include"))
        .arg(root.join("internal/interop/libuv/uv_driver.c"))
        .arg(bridge_library())
        .args(&uv)
        .args([
            "-lgcc_s",
            "-lutil",
            "-lrt",
            "-lpthread",
            "-lm",
            "-ldl",
            "-lc",
        ])
        .arg("-o")
        .arg(&tmp);
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler: {e}"));
    assert!(
        output.status.success(),
        "compiling uv_driver.c failed:\n{cmd:?}\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::rename(&tmp, &exe).unwrap();
    Some(exe)
}

/// Runs `exe args` (under valgrind if asked) and returns its stdout; fails the test if it fails.
fn run(exe: &Path, args: &[&str], valgrind: bool) -> String {
    let mut cmd = if valgrind {
        let mut cmd = Command::new("valgrind");
        cmd.args([
            "--error-exitcode=1",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--fair-sched=yes",
        ])
        .arg(exe);
        cmd
    } else {
        Command::new(exe)
    };
    let mut child = cmd
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
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
            panic!("uv_driver did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(status.success(), "uv_driver {args:?} failed ({status})");
    stdout
}

#[test]
fn libuv_loop_drives_thousands_of_rust_tasks() {
    let Some(exe) = build(1) else { return };
    let valgrind = std::env::var_os("RAWTASK_C_VALGRIND").is_some_and(|v| v != "0");
    let stdout = run(&exe, &[], valgrind);
    assert!(
        stdout.lines().any(|l| l.starts_with("uv_driver: ok")),
        "uv_driver exited successfully but never printed `uv_driver: ok`"
    );
    if valgrind {
        println!("valgrind-clean: uv_driver");
    }
}

/// Reads the seconds of a `bench ...: N tasks x Y yields in S s` line.
fn seconds(stdout: &str) -> f64 {
    let line = stdout.lines().find(|l| l.starts_with("bench")).unwrap();
    let (_, rest) = line.split_once(" in ").unwrap();
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

/// 1,000,000 tasks (`INTEROP_BENCH_TASKS`) yielding 0, 1 and 10 times each
/// (`INTEROP_BENCH_YIELDS`, a comma-separated list) driven by libuv on the home scheduler vs by
/// a plain C loop (a mutex FIFO fed by a `RawtaskSchedule` callback, as in
/// internal/c-tests/c/event_loop.c). Interleaved rounds (`INTEROP_BENCH_ROUNDS`, default 7),
/// alternating which goes first; prints the median libuv/plain ratio and its quartiles.
#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn bench_libuv_vs_plain_c_loop() {
    let Some(exe) = build(2) else { return };
    let n = std::env::var("INTEROP_BENCH_TASKS").unwrap_or_else(|_| "1000000".into());
    let yields = std::env::var("INTEROP_BENCH_YIELDS").unwrap_or_else(|_| "0,1,10".into());
    let rounds: usize = std::env::var("INTEROP_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    for yields in yields.split(',') {
        let time = |mode: &str| seconds(&run(&exe, &[mode, &n, yields], false));
        let mut ratios = Vec::new();
        let (mut uvs, mut plains) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let (uv, plain) = if round % 2 == 0 {
                let uv = time("bench");
                (uv, time("bench-plain"))
            } else {
                let plain = time("bench-plain");
                (time("bench"), plain)
            };
            ratios.push(uv / plain);
            uvs.push(uv);
            plains.push(plain);
        }
        let q = |v: &mut Vec<f64>, p: f64| {
            v.sort_by(f64::total_cmp);
            v[((v.len() - 1) as f64 * p).round() as usize]
        };
        println!(
            "libuv vs plain C loop: {n} tasks x {yields} yields, {rounds} interleaved rounds: \
             ratio median {:.2} (quartiles {:.2}-{:.2}); libuv median {:.3} s, plain {:.3} s",
            q(&mut ratios, 0.5),
            q(&mut ratios, 0.25),
            q(&mut ratios, 0.75),
            q(&mut uvs, 0.5),
            q(&mut plains, 0.5),
        );
    }
}
