//! Interleaved A/B comparison of rawtask and async-task 4.7.1 on the core workloads of
//! `benches/core.rs` (plus its self-waking task made by `spawn_local`), for a machine whose
//! speed drifts by ±25 % between criterion's back-to-back measurements (this project's shared
//! 2-core VM does).
//!
//! Criterion (`benches/core.rs`) measures each implementation in its own few-second window,
//! so a slow window skews a ratio. Here every round times a short batch of rawtask and a
//! short batch of async-task back to back (alternating which goes first) and records their
//! ratio; the median over many rounds is robust to drift. The rounds are spread over five
//! processes (`AB_PROCESSES`), because each process gets its own random placement of stack,
//! heap and libraries, and some ratios move with it by more than their quartiles (see `pool`).
//! Run:
//!
//!     cargo bench -p rawtask-benches --bench ab            # 41 rounds (45 in 5 processes)
//!     AB_ROUNDS=101 cargo bench -p rawtask-benches --bench ab
//!     AB_PROCESSES=1 cargo bench -p rawtask-benches --bench ab   # all rounds in one process
//!     cargo bench -p rawtask-benches --bench ab -- scope   # rawtask::scope against plain tasks
//!     cargo bench -p rawtask-benches --bench ab -- capi    # the C callback path against Rust
//!     cargo bench -p rawtask-benches --bench ab -- cdylib  # that path in a shared library against linked in
//!     cargo bench -p rawtask-benches --bench ab -- ffi     # rawtask::ffi against async-ffi 0.5.1
//!     cargo bench -p rawtask-benches --bench ab -- compat  # compat::async_task_ffi against the root
//!     cargo bench -p rawtask-benches --bench ab -- home    # the home scheduler from C against Rust
//!     cargo bench -p rawtask-benches --bench ab -- storage # StaticPool, OwnedPool against the heap
//!     cargo bench -p rawtask-benches --bench ab -- floor   # spawn + run + join against its floor
//!
//! `benches/results.sh` builds this bench with every function and loop aligned to 64 bytes
//! (`RUSTFLAGS="-C llvm-args=-align-all-functions=6 -C llvm-args=-align-loops=64"`, in a target
//! directory of its own): a workload of a few nanoseconds otherwise moves with where unrelated
//! code happens to place its loop, by up to a fifth (`ffi_poll_ready`).
//!
//! Prints one line per workload: median rawtask/async-task ratio and the quartiles, then the
//! geometric mean of the medians. A ratio below 1 means rawtask is faster.

use std::cell::Cell;
use std::hint::black_box;

use rawtask_benches::{ab, block_on, poll_pending, poll_ready};

thread_local! {
    static RAW_SLOT: Cell<Option<rawtask::Runnable>> = const { Cell::new(None) };
    static AT_SLOT: Cell<Option<async_task::Runnable>> = const { Cell::new(None) };
}

/// Runs `first`, then each `Runnable` its task put in `RAW_SLOT`, until it puts none.
fn raw_run_until_idle(first: rawtask::Runnable) {
    let mut next = Some(first);
    while let Some(r) = next {
        r.run();
        next = RAW_SLOT.take();
    }
}

/// [`raw_run_until_idle`] for async-task, through `AT_SLOT`.
fn at_run_until_idle(first: async_task::Runnable) {
    let mut next = Some(first);
    while let Some(r) = next {
        r.run();
        next = AT_SLOT.take();
    }
}

/// Pending `n` times (waking itself), then ready.
struct Yields(u32);

impl std::future::Future for Yields {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 == 0 {
            return std::task::Poll::Ready(());
        }
        self.0 -= 1;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: keep that short.
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let rounds: usize = std::env::var("AB_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(if quick { 3 } else { 41 });
    // Each process has its own address-space layout, so spread the rounds over several.
    let processes: usize = std::env::var("AB_PROCESSES")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(if quick { 1 } else { 5 });
    if processes > 1 && std::env::var_os(CHILD).is_none() {
        return pool(processes, rounds);
    }
    // Groups to run: `core` unless named on the command line (`-- scope`).
    let mut groups: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    if groups.is_empty() || quick {
        groups = vec![
            "core".into(),
            "scope".into(),
            "capi".into(),
            "cdylib".into(),
            "ffi".into(),
            "compat".into(),
            "home".into(),
            "storage".into(),
            "floor".into(),
        ];
    }
    for group in groups {
        match group.as_str() {
            "core" => core(rounds),
            "scope" => scope(rounds),
            "capi" => capi(rounds),
            "cdylib" => cdylib(rounds),
            "ffi" => ffi(rounds),
            "compat" => compat(rounds),
            "home" => home(rounds),
            "storage" => storage(rounds),
            "floor" => floor(rounds),
            other => {
                panic!(
                    "unknown group {other:?}: core, scope, capi, cdylib, ffi, compat, home, storage, floor"
                )
            }
        }
        println!();
    }
}

/// Set in the processes `pool` starts: they print each workload's per-round ratios too.
const CHILD: &str = rawtask_benches::AB_CHILD;

/// How a table header names the rounds: `pool` passes the pooled count to its processes.
fn rounds_label(rounds: usize) -> String {
    std::env::var("AB_ROUNDS_LABEL").unwrap_or_else(|_| format!("{rounds} rounds"))
}

/// Runs this benchmark (same arguments) in `processes` processes, `rounds / processes` rounds
/// each (rounded up), and prints its tables with every workload's median and quartiles taken
/// over the rounds of all of them, and each geometric mean over those pooled medians.
///
/// Why: the operating system places the stack, heap and libraries at random addresses in each
/// process, and some workloads' ratios move with that layout by more than their quartiles
/// within one process (measured on the Intel Xeon VM: scoped spawn + done signal 1.64 in one
/// process and 2.00 in the next, future_1k 0.58 and 1.11). Pooling measures across layouts.
fn pool(processes: usize, rounds: usize) {
    let each = rounds.div_ceil(processes);
    let label = format!("{} rounds in {processes} processes", each * processes);
    let outputs: Vec<Vec<String>> = (0..processes)
        .map(|_| {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(std::env::args().skip(1))
                .env(CHILD, "1")
                .env("AB_ROUNDS", each.to_string())
                .env("AB_ROUNDS_LABEL", &label)
                .stderr(std::process::Stdio::inherit())
                .output()
                .expect("start a benchmark process");
            assert!(out.status.success(), "a benchmark process failed");
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .collect();
    // The `@ratios` lines in the order the processes printed them (the same in every one).
    let pooled: Vec<Vec<f64>> = {
        let per_process: Vec<Vec<&String>> = outputs
            .iter()
            .map(|lines| lines.iter().filter(|l| l.starts_with("@ratios")).collect())
            .collect();
        (0..per_process[0].len())
            .map(|row| {
                let mut all: Vec<f64> = per_process
                    .iter()
                    .flat_map(|lines| lines[row].split_whitespace().skip(1))
                    .map(|r| r.parse().unwrap())
                    .collect();
                all.sort_by(f64::total_cmp);
                all
            })
            .collect()
    };
    let quantile = |all: &[f64], p: f64| all[((all.len() - 1) as f64 * p).round() as usize];
    let mut rows = pooled.iter();
    let mut medians: Vec<f64> = Vec::new();
    let lines = &outputs[0];
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("@ratios") {
            continue;
        }
        let is_row = lines
            .get(i + 1)
            .is_some_and(|next| next.starts_with("@ratios"));
        if is_row {
            let all = rows.next().unwrap();
            let name = line.trim_start_matches("| ").split(" | ").next().unwrap();
            let median = quantile(all, 0.5);
            medians.push(median);
            println!(
                "| {name} | {median:.2} | {:.2}–{:.2} |",
                quantile(all, 0.25),
                quantile(all, 0.75)
            );
        } else if line.starts_with("| **geometric mean") {
            let mean = medians.iter().map(|m| m.ln()).sum::<f64>() / medians.len() as f64;
            println!(
                "| **geometric mean of medians** | **{:.2}** | |",
                mean.exp()
            );
        } else {
            if line.starts_with("| workload") {
                medians.clear();
            }
            println!("{line}");
        }
    }
}

/// rawtask against async-task 4.7.1 on the eight workloads of `benches/core.rs`, plus
/// `self_wake_run` on a task made by `spawn_local` (whose runs check the thread) and
/// `spawn_await_join`, a join whose `Task` was polled before the run (as an executor's
/// parent task awaits its child): the completion wakes a registered awaiter.
fn core(rounds: usize) {
    fn raw_noop(_: rawtask::Runnable) {}
    fn at_noop(_: async_task::Runnable) {}
    fn raw_data_noop(_: rawtask::Runnable<u64>) {}
    fn at_data_noop(_: async_task::Runnable<u64>) {}

    println!(
        "| workload (rawtask/async-task, {label}) | median | quartiles |",
        label = rounds_label(rounds)
    );
    println!("|---|---:|---:|");
    let medians = [
        ab(
            "spawn_drop",
            rounds,
            || drop(black_box(rawtask::spawn(async {}, raw_noop))),
            || drop(black_box(async_task::spawn(async {}, at_noop))),
        ),
        ab(
            "spawn_run_join",
            rounds,
            || {
                let x = black_box(7u64);
                let (r, t) = rawtask::spawn(async move { x + 1 }, raw_noop);
                r.run();
                black_box(poll_ready(t));
            },
            || {
                let x = black_box(7u64);
                let (r, t) = async_task::spawn(async move { x + 1 }, at_noop);
                r.run();
                black_box(poll_ready(t));
            },
        ),
        ab(
            "spawn_await_join (the Task polled before the run)",
            rounds,
            || {
                let x = black_box(7u64);
                let (r, mut t) = rawtask::spawn(async move { x + 1 }, raw_noop);
                black_box(poll_pending(&mut t));
                r.run();
                black_box(poll_ready(t));
            },
            || {
                let x = black_box(7u64);
                let (r, mut t) = async_task::spawn(async move { x + 1 }, at_noop);
                black_box(poll_pending(&mut t));
                r.run();
                black_box(poll_ready(t));
            },
        ),
        ab(
            "spawn_cancel_run (the Task dropped before the run)",
            rounds,
            || {
                let x = black_box(7u64);
                let (r, t) = rawtask::spawn(async move { x + 1 }, raw_noop);
                drop(black_box(t));
                black_box(r.run());
            },
            || {
                let x = black_box(7u64);
                let (r, t) = async_task::spawn(async move { x + 1 }, at_noop);
                drop(black_box(t));
                black_box(r.run());
            },
        ),
        ab(
            "spawn_poll_cancel_run (the Task polled, then dropped before the run)",
            rounds,
            || {
                let x = black_box(7u64);
                let (r, mut t) = rawtask::spawn(async move { x + 1 }, raw_noop);
                black_box(poll_pending(&mut t));
                drop(black_box(t));
                black_box(r.run());
            },
            || {
                let x = black_box(7u64);
                let (r, mut t) = async_task::spawn(async move { x + 1 }, at_noop);
                black_box(poll_pending(&mut t));
                drop(black_box(t));
                black_box(r.run());
            },
        ),
        ab(
            "spawn_run_detach",
            rounds,
            || {
                let x = black_box(7u64);
                let (r, t) = rawtask::spawn(
                    async move {
                        black_box(x);
                    },
                    raw_noop,
                );
                t.detach();
                black_box(r.run());
            },
            || {
                let x = black_box(7u64);
                let (r, t) = async_task::spawn(
                    async move {
                        black_box(x);
                    },
                    at_noop,
                );
                t.detach();
                black_box(r.run());
            },
        ),
        ab(
            "spawn_with_u64_data",
            rounds,
            || {
                let x = black_box(7u64);
                let (r, t) = rawtask::spawn_with(async move { x + 1 }, raw_data_noop, x);
                black_box(*r.data());
                r.run();
                black_box(poll_ready(t));
            },
            || {
                let x = black_box(7u64);
                let (r, t) = async_task::Builder::new()
                    .metadata(x)
                    .spawn(move |_| async move { x + 1 }, at_data_noop);
                black_box(*r.metadata());
                r.run();
                black_box(poll_ready(t));
            },
        ),
        ab(
            "self_wake_run (100 polls)",
            rounds,
            || {
                let (r, t) = rawtask::spawn(Yields(99), |r| RAW_SLOT.set(Some(r)));
                raw_run_until_idle(r);
                poll_ready(t);
            },
            || {
                let (r, t) = async_task::spawn(Yields(99), |r| AT_SLOT.set(Some(r)));
                at_run_until_idle(r);
                poll_ready(t);
            },
        ),
        ab(
            "local_self_wake_run (spawn_local, 100 polls)",
            rounds,
            || {
                let (r, t) = rawtask::spawn_local(Yields(99), |r| RAW_SLOT.set(Some(r)));
                raw_run_until_idle(r);
                poll_ready(t);
            },
            || {
                let (r, t) = async_task::spawn_local(Yields(99), |r| AT_SLOT.set(Some(r)));
                at_run_until_idle(r);
                poll_ready(t);
            },
        ),
        {
            let (raw_runnable, raw_task) = rawtask::spawn(std::future::pending::<()>(), raw_noop);
            let raw_waker = raw_runnable.waker();
            let (at_runnable, at_task) = async_task::spawn(std::future::pending::<()>(), at_noop);
            let at_waker = at_runnable.waker();
            let median = ab(
                "waker_clone_drop",
                rounds,
                || drop(black_box(raw_waker.clone())),
                || drop(black_box(at_waker.clone())),
            );
            drop((raw_runnable, raw_task, at_runnable, at_task));
            median
        },
        ab(
            "future_1k",
            rounds,
            || {
                let buf = black_box([3u8; 1024]);
                let future = async move {
                    std::future::ready(()).await;
                    black_box(&buf)[black_box(1000)]
                };
                let (r, t) = rawtask::spawn(future, raw_noop);
                r.run();
                black_box(poll_ready(t));
            },
            || {
                let buf = black_box([3u8; 1024]);
                let future = async move {
                    std::future::ready(()).await;
                    black_box(&buf)[black_box(1000)]
                };
                let (r, t) = async_task::spawn(future, at_noop);
                r.run();
                black_box(poll_ready(t));
            },
        ),
        {
            // 1,000 tasks per call, scheduled through a flume channel to a worker thread
            // (one worker per implementation, both alive throughout) and joined here.
            let (raw_sender, raw_receiver) = flume::unbounded::<rawtask::Runnable>();
            let (at_sender, at_receiver) = flume::unbounded::<async_task::Runnable>();
            let raw_worker = std::thread::spawn(move || {
                raw_receiver.iter().for_each(|r| {
                    r.run();
                })
            });
            let at_worker = std::thread::spawn(move || {
                at_receiver.iter().for_each(|r| {
                    r.run();
                })
            });
            let mut raw_tasks = Vec::with_capacity(1000);
            let mut at_tasks = Vec::with_capacity(1000);
            let median = ab(
                "flume_cross_thread (1000 tasks)",
                rounds,
                || {
                    for i in 0..1000u64 {
                        let sender = raw_sender.clone();
                        let (r, t) = rawtask::spawn(async move { black_box(i) }, move |r| {
                            sender.send(r).unwrap()
                        });
                        r.schedule();
                        raw_tasks.push(t);
                    }
                    let sum: u64 = raw_tasks.drain(..).map(block_on).sum();
                    assert_eq!(sum, 499_500);
                },
                || {
                    for i in 0..1000u64 {
                        let sender = at_sender.clone();
                        let (r, t) = async_task::spawn(async move { black_box(i) }, move |r| {
                            sender.send(r).unwrap()
                        });
                        r.schedule();
                        at_tasks.push(t);
                    }
                    let sum: u64 = at_tasks.drain(..).map(block_on).sum();
                    assert_eq!(sum, 499_500);
                },
            );
            drop((raw_sender, at_sender));
            raw_worker.join().unwrap();
            at_worker.join().unwrap();
            median
        },
    ];
    let geomean = medians.iter().map(|m| m.ln()).sum::<f64>() / medians.len() as f64;
    println!(
        "| **geometric mean of medians** | **{:.2}** | |",
        geomean.exp()
    );
}

/// The size and alignment of the one allocation of the task `spawn_run_join` spawns, read by
/// spawning that task once through a zero-sized allocator (the same size as the default
/// `Heap`, so the same task layout) that records the layout it is asked for.
fn spawn_run_join_layout() -> std::alloc::Layout {
    use std::alloc::Layout;
    use std::ptr::NonNull;
    use std::sync::Mutex;

    use rawtask::storage::{AllocError, Allocator, Heap};

    static ASKED: Mutex<Option<Layout>> = Mutex::new(None);
    struct Recorder;
    // SAFETY: forwards to the global allocator, which meets the contract; records the layout.
    unsafe impl Allocator for Recorder {
        fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
            *ASKED.lock().unwrap() = Some(layout);
            Heap.allocate(layout)
        }
        unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
            // SAFETY: `ptr` came from `allocate` above, that is from `Heap`, with `layout`.
            unsafe { Heap.deallocate(ptr, layout) }
        }
    }
    fn raw_noop(_: rawtask::Runnable) {}
    let x = black_box(7u64);
    let (r, t) = rawtask::Builder::new()
        .allocator(Recorder)
        .spawn(move |()| async move { x + 1 }, raw_noop);
    r.run();
    poll_ready(t);
    ASKED
        .lock()
        .unwrap()
        .expect("the task was allocated through the recorder")
}

/// The floor of spawn + run + join: what no implementation of a shared task can avoid
/// — one allocation of the task's size, the two atomic read-modify-writes with which a pair
/// of handles (runnable and task) agree who frees it, one free — against rawtask's and
/// async-task 4.7.1's spawn + run + join of the task of `core`'s `spawn_run_join`. Goal:
/// rawtask/floor at most 1.3.
fn floor(rounds: usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn raw_noop(_: rawtask::Runnable) {}
    fn at_noop(_: async_task::Runnable) {}
    let layout = spawn_run_join_layout();
    let floor = move || {
        // SAFETY: the layout is the task's, not zero-sized; the memory is freed below with it.
        let memory = unsafe { std::alloc::alloc(layout) };
        assert!(!memory.is_null());
        // The state word, initialised like a task's, then released once by each handle.
        let state = memory.cast::<AtomicUsize>();
        // SAFETY: the memory is fresh, large and aligned enough for a usize (a task's state).
        unsafe { state.write(AtomicUsize::new(black_box(2))) };
        // SAFETY: initialised just above; nothing else refers to it.
        let state = unsafe { &*state };
        black_box(state.fetch_sub(1, Ordering::AcqRel));
        if state.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: allocated above with this layout; the last reference is gone.
            unsafe { std::alloc::dealloc(black_box(memory), layout) };
        }
    };
    let raw = || {
        let x = black_box(7u64);
        let (r, t) = rawtask::spawn(async move { x + 1 }, raw_noop);
        r.run();
        black_box(poll_ready(t));
    };
    let at = || {
        let x = black_box(7u64);
        let (r, t) = async_task::spawn(async move { x + 1 }, at_noop);
        r.run();
        black_box(poll_ready(t));
    };
    println!(
        "| workload ({label}; floor: alloc {} bytes, 2 atomic RMWs, free) | median | quartiles |",
        layout.size(),
        label = rounds_label(rounds)
    );
    println!("|---|---:|---:|");
    ab("spawn_run_join: rawtask/floor", rounds, raw, floor);
    ab("spawn_run_join: async-task/floor", rounds, at, floor);
}

thread_local! {
    static QUEUE: std::cell::RefCell<std::collections::VecDeque<rawtask::Runnable>> =
        const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
}

fn push(runnable: rawtask::Runnable) {
    QUEUE.with(|queue| queue.borrow_mut().push_back(runnable));
}

fn run_queue() {
    while let Some(runnable) = QUEUE.with(|queue| queue.borrow_mut().pop_front()) {
        runnable.run();
    }
}

/// `rawtask::scope` against a plain raw task (the workloads of `benches/scope.rs`): a scoped
/// child spawned from a root spawner onto a local queue, run, and its done signal awaited,
/// against a plain task spawned onto the same queue, run and joined. Target: ≤ 1.5.
fn scope(rounds: usize) {
    use rawtask::scope::{ForgettableSignalSender, ScopedSpawn, ScopedSpawner};

    println!(
        "| workload (scoped/plain rawtask, {label}) | median | quartiles |",
        label = rounds_label(rounds)
    );
    println!("|---|---:|---:|");
    let plain = |i: u64| {
        let (runnable, task) = rawtask::spawn(
            async move {
                black_box(i);
            },
            push,
        );
        runnable.schedule();
        run_queue();
        poll_ready(task);
    };
    let spawner = ScopedSpawner::on_schedule(push);
    ab(
        "scoped spawn + done signal",
        rounds,
        || {
            let signals = spawner
                .spawn_future_with_signal(
                    async move {
                        black_box(7u64);
                    },
                    || {},
                )
                .unwrap();
            run_queue();
            poll_ready(signals.done_receiver);
            signals.cancel_sender.forget();
        },
        || plain(black_box(7)),
    );
    // The cancel sender forgotten at spawn, the usual way to keep only the done signal: the
    // leaf's `Task` is detached before the run, so the completion finds the done receiver's
    // reference and no handle to take the output. (The spawn is written out in both rows, as
    // a user writes it: returned through a shared closure, the signals went through the
    // stack and both rows measured 0.2-0.35 higher.)
    ab(
        "scoped spawn + done signal, sender forgotten at spawn",
        rounds,
        || {
            let signals = spawner
                .spawn_future_with_signal(
                    async move {
                        black_box(7u64);
                    },
                    || {},
                )
                .unwrap();
            signals.cancel_sender.forget();
            run_queue();
            poll_ready(signals.done_receiver);
        },
        || plain(black_box(7)),
    );
    ab(
        "scoped spawn, no signal",
        rounds,
        || {
            spawner
                .spawn_future(
                    async move {
                        black_box(7u64);
                    },
                    || {},
                )
                .unwrap();
            run_queue();
        },
        || plain(black_box(7)),
    );
    // The floor of a scoped leaf with signals: a plain task plus the three atomic
    // read-modify-writes a scope cannot do without (register in the parent's count,
    // deregister, release the done receiver's task reference), and nothing else.
    static FLOOR: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    ab(
        "floor: plain + 3 atomic read-modify-writes",
        rounds,
        || {
            plain(black_box(7));
            let counter = black_box(&FLOOR);
            counter.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            counter.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
            counter.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        },
        || plain(black_box(7)),
    );
    // The same three operations where a scoped leaf does them: registering before the spawn,
    // deregistering when the future completes, releasing a second handle after the join.
    ab(
        "floor in place: the same 3 at a scoped child's points",
        rounds,
        || {
            use std::sync::atomic::Ordering::{AcqRel, Relaxed};
            let counter = black_box(&FLOOR);
            counter.fetch_add(1, Relaxed);
            let (runnable, task) = rawtask::spawn(
                async move {
                    black_box(7u64);
                    counter.fetch_sub(1, AcqRel);
                },
                push,
            );
            runnable.schedule();
            run_queue();
            poll_ready(task);
            counter.fetch_add(1, AcqRel);
        },
        || plain(black_box(7)),
    );
    ab(
        "scoped spawn with a child spawner + done signal",
        rounds,
        || {
            let signals = spawner
                .spawn_with_signal(
                    |_child| async move {
                        black_box(7u64);
                    },
                    || {},
                )
                .unwrap();
            run_queue();
            poll_ready(signals.done_receiver);
            signals.cancel_sender.forget();
        },
        || plain(black_box(7)),
    );
}

thread_local! {
    static C_QUEUE: std::cell::RefCell<std::collections::VecDeque<*mut rawtask::capi::RawtaskRunnable>> =
        const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
}

unsafe extern "C" fn c_to_queue(
    context: *mut std::ffi::c_void,
    runnable: *mut rawtask::capi::RawtaskRunnable,
    _: u32,
) {
    // SAFETY: the context is `C_QUEUE` of the benchmark thread, where every wake happens.
    let queue = unsafe {
        &*context.cast::<std::cell::RefCell<std::collections::VecDeque<*mut rawtask::capi::RawtaskRunnable>>>()
    };
    queue.borrow_mut().push_back(runnable);
}

/// The C callback path (the workloads of `benches/capi.rs`): a task scheduled by a
/// `RawtaskSchedule` (an `extern "C"` function and a context pointer) and run with
/// `rawtask_runnable_run`, against the same task scheduled by a Rust closure and run with
/// `Runnable::run`. Target: ≤ 1.3.
fn capi(rounds: usize) {
    use rawtask::capi::{rawtask_runnable_run, rawtask_runnable_schedule, RawtaskRunnable};
    use rawtask_benches::SelfWake;

    println!(
        "| workload (C callback/Rust closure, {label}) | median | quartiles |",
        label = rounds_label(rounds)
    );
    println!("|---|---:|---:|");
    let context = C_QUEUE
        .with(|queue| queue as *const std::cell::RefCell<_>)
        .cast_mut()
        .cast();
    // SAFETY: the callback only runs on this thread (the tasks never leave it), whose
    // thread-local queue the context points to.
    let schedule = unsafe { rawtask::capi::RawtaskSchedule::new(c_to_queue, context) };
    for yields in [3u64, 100] {
        ab(
            &format!("spawn, {} runs, join", yields + 1),
            rounds,
            || {
                let (runnable, task) = rawtask::spawn(SelfWake::new(yields), schedule);
                let runnable = RawtaskRunnable::from_runnable(runnable).as_ptr();
                // SAFETY: a fresh runnable, consumed once; then each one the callback queued.
                unsafe {
                    black_box(rawtask_runnable_schedule(runnable));
                    while let Some(runnable) = C_QUEUE.with_borrow_mut(|q| q.pop_front()) {
                        black_box(rawtask_runnable_run(runnable));
                    }
                }
                poll_ready(task);
            },
            || {
                let (runnable, task) = rawtask::spawn(SelfWake::new(yields), push);
                runnable.schedule();
                while let Some(runnable) = QUEUE.with_borrow_mut(|q| q.pop_front()) {
                    black_box(runnable.run());
                }
                poll_ready(task);
            },
        );
    }
}

/// The C callback path in a shared library against the same code linked into this program
/// (`benches/cdylib`): what a `cdylib` build (a Python extension, a C program's plugin) pays
/// for reaching rawtask's thread-local through `__tls_get_addr` on every run and on every wake
/// by reference, where a program reads it at a fixed offset from the thread pointer. The
/// library is the one cargo built beside this bench as a dev-dependency.
fn cdylib(rounds: usize) {
    println!(
        "| workload (in a shared library/linked in, {label}) | median | quartiles |",
        label = rounds_label(rounds)
    );
    println!("|---|---:|---:|");
    let name = format!(
        "{}rawtask_bench_cdylib{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let path = std::env::current_exe()
        .expect("the bench's own path")
        .with_file_name(name);
    // SAFETY: the library is benches/cdylib, built by cargo for this bench; loading it runs
    // no initialisers of its own.
    let library = match unsafe { libloading::Library::new(&path) } {
        Ok(library) => library,
        Err(error) => {
            println!("\nSKIPPED: {} could not be loaded: {error}", path.display());
            return;
        }
    };
    // SAFETY: the symbol is `rawtask_bench_spawn_run_join`, an `extern "C" fn(u64)`.
    let in_library = unsafe {
        *library
            .get::<extern "C" fn(u64)>(b"rawtask_bench_spawn_run_join\0")
            .expect("the library exports rawtask_bench_spawn_run_join")
    };
    for yields in [0u64, 3, 100] {
        let runs = yields + 1;
        ab(
            &format!(
                "spawn, {runs} run{}, join",
                if runs == 1 { "" } else { "s" }
            ),
            rounds,
            || in_library(black_box(yields)),
            || rawtask_bench_cdylib::spawn_run_join(black_box(yields)),
        );
    }
}

/// A task driven through the home-thread scheduler from a C
/// loop (spawned with `capi::home_schedule`, scheduled on the home thread, run by
/// `rawtask_home_drain`, output taken) against the same with a plain Rust closure schedule
/// pushing to a `VecDeque` that the loop pops. Target: at most 1.10. One drain per task (the
/// worst case: a loop woken for every task) and one drain per 64 tasks.
fn home(rounds: usize) {
    use rawtask::capi::{home_schedule, rawtask_home_drain, rawtask_home_free, rawtask_home_new};
    use rawtask_benches::SelfWake;

    unsafe extern "C" fn notify(_: *mut std::ffi::c_void) {}
    println!(
        "| workload (home from C/Rust closure, {label}) | median | quartiles |",
        label = rounds_label(rounds)
    );
    println!("|---|---:|---:|");
    let home = rawtask_home_new(Some(notify), std::ptr::null_mut());
    let schedule = home_schedule(home).unwrap();
    for yields in [0u64, 3] {
        ab(
            &format!("spawn, {} runs, join; a drain per task", yields + 1),
            rounds,
            || {
                let (runnable, task) = rawtask::spawn(SelfWake::new(yields), schedule.clone());
                runnable.schedule();
                let mut ran = 0;
                // One drain per task, as the label says and as the Rust side runs its queue
                // empty in one loop: a task's self-wakes during the drain run in the same
                // call (a `max` of 1 made it one C call, and one guard, per run).
                // SAFETY: a live home, on its thread; `ran` is writable.
                while unsafe { rawtask_home_drain(home, 64, &mut ran) }
                    == rawtask::capi::RawtaskStatus::Pending
                {}
                poll_ready(task);
            },
            || {
                let (runnable, task) = rawtask::spawn(SelfWake::new(yields), push);
                runnable.schedule();
                while let Some(runnable) = QUEUE.with_borrow_mut(|q| q.pop_front()) {
                    black_box(runnable.run());
                }
                poll_ready(task);
            },
        );
    }
    let mut tasks = Vec::with_capacity(64);
    let mut tasks2 = Vec::with_capacity(64);
    ab(
        "64 x (spawn, run, join); one drain",
        rounds,
        || {
            for i in 0..64u64 {
                let (runnable, task) = rawtask::spawn(async move { i }, schedule.clone());
                runnable.schedule();
                tasks.push(task);
            }
            let mut ran = 0;
            // SAFETY: a live home, on its thread; `ran` is writable.
            black_box(unsafe { rawtask_home_drain(home, 64, &mut ran) });
            for task in tasks.drain(..) {
                black_box(poll_ready(task));
            }
        },
        || {
            for i in 0..64u64 {
                let (runnable, task) = rawtask::spawn(async move { i }, push);
                runnable.schedule();
                tasks2.push(task);
            }
            while let Some(runnable) = QUEUE.with_borrow_mut(|q| q.pop_front()) {
                black_box(runnable.run());
            }
            for task in tasks2.drain(..) {
                black_box(poll_ready(task));
            }
        },
    );
    drop(schedule);
    // SAFETY: a live home, on its thread.
    unsafe { rawtask_home_free(home) };
}

/// `rawtask::compat::async_task_ffi` against the crate root it wraps (the same raw task, so
/// the target is 1.00), and against async-task-ffi 4.1.1 itself.
fn compat(rounds: usize) {
    use rawtask::compat::async_task_ffi as compat;
    use rawtask_benches::SelfWake;

    thread_local! {
        static COMPAT_QUEUE: std::cell::RefCell<std::collections::VecDeque<compat::Runnable<u64>>> =
            const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
        static ROOT_QUEUE: std::cell::RefCell<std::collections::VecDeque<rawtask::Runnable<u64>>> =
            const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
        static PEER_QUEUE: std::cell::RefCell<std::collections::VecDeque<async_task_ffi::Runnable<u64>>> =
            const { std::cell::RefCell::new(std::collections::VecDeque::new()) };
    }
    // Each schedule function reads the slot, as a priority executor would, and queues.
    fn compat_push(runnable: compat::Runnable<u64>) {
        black_box(runnable.data());
        COMPAT_QUEUE.with_borrow_mut(|q| q.push_back(runnable));
    }
    fn root_push(runnable: rawtask::Runnable<u64>) {
        black_box(runnable.data());
        ROOT_QUEUE.with_borrow_mut(|q| q.push_back(runnable));
    }
    fn peer_push(runnable: async_task_ffi::Runnable<u64>) {
        black_box(runnable.data());
        PEER_QUEUE.with_borrow_mut(|q| q.push_back(runnable));
    }
    let compat_run = |yields: u64| {
        let (runnable, task) = compat::spawn_with(SelfWake::new(yields), compat_push, 0u64);
        runnable.schedule();
        while let Some(runnable) = COMPAT_QUEUE.with_borrow_mut(|q| q.pop_front()) {
            black_box(runnable.run());
        }
        poll_ready(task);
    };
    let root_run = |yields: u64| {
        let (runnable, task) = rawtask::spawn_with(SelfWake::new(yields), root_push, 0u64);
        runnable.schedule();
        while let Some(runnable) = ROOT_QUEUE.with_borrow_mut(|q| q.pop_front()) {
            black_box(runnable.run());
        }
        poll_ready(task);
    };
    let peer_run = |yields: u64| {
        let (runnable, task) = async_task_ffi::spawn_with(SelfWake::new(yields), peer_push, 0u64);
        runnable.schedule();
        while let Some(runnable) = PEER_QUEUE.with_borrow_mut(|q| q.pop_front()) {
            black_box(runnable.run());
        }
        poll_ready(task);
    };

    println!(
        "| workload ({label}) | median | quartiles |",
        label = rounds_label(rounds)
    );
    println!("|---|---:|---:|");
    for yields in [0u64, 3] {
        let runs = yields + 1;
        ab(
            &format!("compat/crate root: spawn_with, {runs} runs, join"),
            rounds,
            || compat_run(yields),
            || root_run(yields),
        );
        ab(
            &format!("compat/async-task-ffi: spawn_with, {runs} runs, join"),
            rounds,
            || compat_run(yields),
            || peer_run(yields),
        );
    }
}

/// Pending forever; every poll clones the waker and wakes the clone by value.
struct CloneWake;

impl std::future::Future for CloneWake {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        black_box(cx.waker().clone()).wake();
        std::task::Poll::Pending
    }
}

/// Pending forever; every poll clones the waker and keeps the clone in place of the previous
/// one (which is dropped), as a future waiting on an event source does.
struct CloneStore(Option<std::task::Waker>);

impl std::future::Future for CloneStore {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        self.0 = Some(black_box(cx.waker().clone()));
        std::task::Poll::Pending
    }
}

thread_local! {
    static FFI_SLOT: Cell<Option<rawtask::Runnable>> = const { Cell::new(None) };
    static PLAIN_SLOT: Cell<Option<rawtask::Runnable>> = const { Cell::new(None) };
    static ASYNC_FFI_SLOT: Cell<Option<rawtask::Runnable>> = const { Cell::new(None) };
}

/// A rawtask task around `future` that reschedules itself into `slot`, ready to run.
fn self_scheduling(
    future: impl std::future::Future<Output = ()> + Send + 'static,
    slot: &'static std::thread::LocalKey<Cell<Option<rawtask::Runnable>>>,
) -> rawtask::Task<()> {
    let (runnable, task) = rawtask::spawn(future, move |runnable| slot.set(Some(runnable)));
    runnable.schedule();
    task
}

/// Runs the task waiting in `slot` once.
fn run_from(slot: &'static std::thread::LocalKey<Cell<Option<rawtask::Runnable>>>) {
    let runnable = slot.take().expect("the task rescheduled itself");
    black_box(runnable.run());
}

/// `rawtask::ffi` against async-ffi 0.5.1 (the workloads of `benches/ffi.rs`). Targets: ready
/// poll ≤ 1.0, clone + wake of a pending future woken by a rawtask task ≤ 0.5, `into_ffi` ≤ 1.0.
fn ffi(rounds: usize) {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    println!(
        "| workload (rawtask::ffi/async-ffi 0.5.1, {label}) | median | quartiles |",
        label = rounds_label(rounds)
    );
    println!("|---|---:|---:|");
    // Not fused, in either crate: a ready future polled again polls `poll_fn` again.
    let mut ours =
        rawtask::ffi::FutureExt::into_ffi(std::future::poll_fn(|_| Poll::Ready(black_box(7u64))));
    let mut theirs =
        async_ffi::FutureExt::into_ffi(std::future::poll_fn(|_| Poll::Ready(black_box(7u64))));
    ab(
        "ffi_poll_ready: one poll of a ready FFI future",
        rounds,
        || {
            let mut cx = Context::from_waker(Waker::noop());
            let _ = black_box(Pin::new(&mut ours).poll(&mut cx));
        },
        || {
            let mut cx = Context::from_waker(Waker::noop());
            let _ = black_box(Pin::new(&mut theirs).poll(&mut cx));
        },
    );
    let tasks = [
        self_scheduling(rawtask::ffi::FutureExt::into_ffi(CloneWake), &FFI_SLOT),
        self_scheduling(async_ffi::FutureExt::into_ffi(CloneWake), &ASYNC_FFI_SLOT),
        self_scheduling(CloneWake, &PLAIN_SLOT),
    ];
    ab(
        "ffi_clone_wake_pending: a task run, its FFI future clones and wakes its waker",
        rounds,
        || run_from(&FFI_SLOT),
        || run_from(&ASYNC_FFI_SLOT),
    );
    ab(
        "the same task without an FFI layer, against async-ffi (the bound of the line above)",
        rounds,
        || run_from(&PLAIN_SLOT),
        || run_from(&ASYNC_FFI_SLOT),
    );
    drop(tasks);
    for slot in [&FFI_SLOT, &ASYNC_FFI_SLOT, &PLAIN_SLOT] {
        drop(slot.take());
    }
    // One poll, with the waker of an idle rawtask task, of a pending future that clones its
    // waker on every poll and keeps the clone in place of the previous one.
    let (runnable, task) = rawtask::spawn(std::future::pending::<()>(), |_| {});
    let waker = runnable.waker();
    runnable.run(); // idle from now on: the clones never wake it
    let mut ours = rawtask::ffi::FutureExt::into_ffi(CloneStore(None));
    let mut theirs = async_ffi::FutureExt::into_ffi(CloneStore(None));
    let mut plain = CloneStore(None);
    ab(
        "ffi_clone_store_pending: one poll, with a task's waker, of a future that clones it",
        rounds,
        || {
            let mut cx = Context::from_waker(&waker);
            let _ = black_box(Pin::new(&mut ours).poll(&mut cx));
        },
        || {
            let mut cx = Context::from_waker(&waker);
            let _ = black_box(Pin::new(&mut theirs).poll(&mut cx));
        },
    );
    ab(
        "the same poll without an FFI layer, against async-ffi (the bound of the line above)",
        rounds,
        || {
            let mut cx = Context::from_waker(&waker);
            let _ = black_box(Pin::new(&mut plain).poll(&mut cx));
        },
        || {
            let mut cx = Context::from_waker(&waker);
            let _ = black_box(Pin::new(&mut theirs).poll(&mut cx));
        },
    );
    drop((ours, theirs, plain, waker, task));
    ab(
        "ffi_into_ffi: converting a small future (and dropping it)",
        rounds,
        || {
            let x = black_box(7u64);
            drop(black_box(rawtask::ffi::FutureExt::into_ffi(async move {
                x + 1
            })));
        },
        || {
            let x = black_box(7u64);
            drop(black_box(async_ffi::FutureExt::into_ffi(
                async move { x + 1 },
            )));
        },
    );
}

/// Tasks in a `storage::StaticPool` (`Builder::allocator(&POOL).try_spawn`, the heapless path)
/// and in a `storage::OwnedPool` (`Builder::allocator(spawner.claim()?)`, one spawner) against
/// the heap (`rawtask::spawn`): the target is a ratio of at most 1.0.
fn storage(rounds: usize) {
    // One table (benches/results.py counts one per group).
    println!(
        "| workload (pool/heap, {label}) | median | quartiles |",
        label = rounds_label(rounds)
    );
    println!("|---|---:|---:|");
    static_pool(rounds);
    owned_pool(rounds);
}

fn static_pool(rounds: usize) {
    use rawtask::storage::{StaticPool, TaskSlot};
    static POOL: StaticPool<TaskSlot<128>, 8> = StaticPool::new();
    pool_rows("StaticPool", rounds, || &POOL);
}

/// The rows of `static_pool`, with the slot claimed by an `OwnedPool`'s one spawner (a load
/// and a store instead of a compare-and-swap).
fn owned_pool(rounds: usize) {
    use rawtask::storage::{OwnedPool, TaskSlot};
    static POOL: OwnedPool<TaskSlot<128>, 8> = OwnedPool::new();
    let spawner = POOL
        .spawner()
        .expect("the bench is the pool's only spawner");
    pool_rows("OwnedPool", rounds, || spawner.claim().unwrap());
}

/// spawn + run + join, spawn + drop, and eight tasks alive at once (the pool full) then all
/// run and joined: tasks whose memory comes from `alloc()` against the heap.
fn pool_rows<B>(pool: &str, rounds: usize, alloc: impl Fn() -> B)
where
    B: rawtask::storage::Allocator + Send + 'static,
{
    fn noop(_: rawtask::Runnable) {}
    ab(
        &format!("{pool}: spawn_run_join"),
        rounds,
        || {
            let x = black_box(7u64);
            let (r, t) = rawtask::Builder::new()
                .allocator(alloc())
                .try_spawn(move |()| async move { x + 1 }, noop)
                .unwrap();
            r.run();
            black_box(poll_ready(t));
        },
        || {
            let x = black_box(7u64);
            let (r, t) = rawtask::spawn(async move { x + 1 }, noop);
            r.run();
            black_box(poll_ready(t));
        },
    );
    ab(
        &format!("{pool}: spawn_drop"),
        rounds,
        || {
            drop(black_box(
                rawtask::Builder::new()
                    .allocator(alloc())
                    .try_spawn(|()| async {}, noop)
                    .unwrap(),
            ))
        },
        || drop(black_box(rawtask::spawn(async {}, noop))),
    );
    ab(
        &format!("{pool}: spawn_8_then_run_join_all"),
        rounds,
        || {
            let tasks: [_; 8] = std::array::from_fn(|i| {
                let x = black_box(i as u64);
                rawtask::Builder::new()
                    .allocator(alloc())
                    .try_spawn(move |()| async move { x + 1 }, noop)
                    .unwrap()
            });
            for (r, t) in tasks {
                r.run();
                black_box(poll_ready(t));
            }
        },
        || {
            let tasks: [_; 8] = std::array::from_fn(|i| {
                let x = black_box(i as u64);
                rawtask::spawn(async move { x + 1 }, noop)
            });
            for (r, t) in tasks {
                r.run();
                black_box(poll_ready(t));
            }
        },
    );
}
