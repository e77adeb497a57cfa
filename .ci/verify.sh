#!/usr/bin/env bash
# The heavy rungs of rawtask's verification ladder (the README's "On a fresh machine"
# describes the ladder; .ci/run runs all of it), one function per step:
#
#   bash .ci/verify.sh loom|miri|asan|tsan|valgrind [more steps...]
#
# Each step sends the tools' output to stderr (and to target/verify/<step>.log) and ends by
# printing exactly one summary line on stdout, e.g. `loom: 116 models passed`, or
# `SKIPPED: <step>: <reason>` when a tool cannot be had on this machine. A failing step prints
# `FAILED: <step>: ...` and the script exits non-zero. Never a silent pass.
#
# Every flavour builds into its own target directory (target/loom, target/miri, target/asan,
# target/tsan; valgrind reuses the plain target/), so they never invalidate each other.
set -euo pipefail
cd "$(dirname "$0")/.."

LOG_DIR=target/verify
mkdir -p "$LOG_DIR"

# The host triple: the sanitizers need an explicit --target so that proc macros and build
# scripts are built without instrumentation.
TARGET=x86_64-unknown-linux-gnu

# The sanitizer and valgrind steps set RUST_BACKTRACE=0: every expected panic of a test would
# otherwise print a backtrace, whose symbolisation in a large instrumented binary takes seconds
# (12 s per test binary under TSan). The tools print their own stack traces.

# The integration tests of the rawtask package that race tasks across real threads, which miri
# re-runs with tree borrows and under eight scheduler seeds (-Zmiri-many-seeds=0..8): a
# space-separated list of test targets (files under tests/). This is the one list (.ci/run
# uses it too); set MIRI_CONCURRENCY_TESTS for a deeper local run, e.g.
# MIRI_CONCURRENCY_TESTS="$(cd tests && ls *.rs | sed 's/\.rs$//')".
#
# Every test file that starts threads (itself, or through rawtask::background's pool), with
# its measured cost on this 2-core machine (seeds 0..8 + tree borrows, one `cargo miri test`
# each, so ~4 s of it is start-up). Listed is every file that fits the CI budget (~8 min for
# all that running the whole test suite added to .ci/run, most of it taken by the workspace's
# suites below):
#   background_pool 8+2 s, background_spin 8+2 s, cancel_guard 17+4 s, storage 19+5 s,
#   background_export 21+5 s, leak_check 23+5 s, cancel_token 23+4 s,
#   cancel_detach 41+7 s, waker 51+9 s, join_threads 75+10 s (the core cross-thread tests),
#   compat_async_task_ffi (data_mut while the Task is polled on another thread),
#   owned_pool ~3 s each (slots claimed with a plain store while other threads free them),
#   plain_output 33+4 s (a `()` task's completion and detach releasing in the step that marks
#   the output taken, racing the other owner: a use-after-free there is miri's to find),
#   scope_remote ~10 s each (a busy-polled parent finishing while its last child still has
#   to visit the scope's lock: the registry freed early is miri's to find)
# Left out, over the budget (each still runs once under miri in step 1):
#   raw 24+4 s, is_finished 24+6 s, local 26+5 s, large_future 26+6 s, metadata 30+6 s,
#   fallible 36+6 s, cancel_wait 37+8 s, panic 39+8 s, background_handle 47+9 s,
#   drop_semantics 59+7 s, scope_* 95+16 s together (scope_cancellation, scope_executor_drops, scope_linked_leaves, scope_panics, scope_spawners, scope_termination_order, scope_wakers; measured as the one scope.rs they were split from), cancel_tree 139+21 s, identity 163+36 s
MIRI_CONCURRENCY_TESTS=${MIRI_CONCURRENCY_TESTS:-"background_pool background_spin cancel_guard storage background_export leak_check cancel_token cancel_detach waker join_threads compat_async_task_ffi completion owned_pool plain_output scope_remote"}

# The core's test files that miri also runs on a 32-bit (i686) and a big-endian (s390x) target,
# with the library's unit tests (capi's among them). Together ~3 min per target here.
MIRI_CROSS_TARGETS=${MIRI_CROSS_TARGETS:-"i686-unknown-linux-gnu s390x-unknown-linux-gnu"}
MIRI_CROSS_TESTS=${MIRI_CROSS_TESTS:-"basic raw metadata waker drop_semantics panic local fallible ready large_future join_threads compat_async_task_ffi completion owned_pool plain_output scope_remote"}

# ----- The workspace's other test suites (the whole test suite, benchmarks excluded) -----------
# As package:test-target pairs; each step below runs those its tool can run. Left out of every
# step, on purpose:
#   benches              benchmarks, not tests
#   loom-tests           loom models, meaningful only with --cfg loom: step_loom runs them
#   c-tests              its C programs are compiled with cc and run as child processes;
#                        .ci/c-valgrind.sh runs each under memcheck (miri cannot run C, and the
#                        sanitizers would need the C side instrumented too); its header test
#                        compares cbindgen's output with the committed headers (no rawtask code)
#   examples/c, internal/ffi-tests/plugin   libraries without tests (test = false / doctest = false)
#   interop libuv, python   foreign event loops (libuv's C program, python3): child processes
#                        that miri cannot run and the sanitizers would need instrumented; the C
#                        program runs under memcheck in .ci/c-valgrind.sh (the bridge's one test
#                        target, scopes on Tokio and futures' ThreadPool, is in the list)
#   rawtask-macros ui    trybuild compile-fail cases: they run rustc, not rawtask code
#   doc examples         run under miri only (as rawtask's); the sanitizers and valgrind run
#                        the test targets (`--tests`), as they always did for rawtask
WS_TESTS="rawtask-executors:single rawtask-executors:multi rawtask-executors:priority
    rawtask-executors:examples rawtask-ffi-tests:allocations rawtask-ffi-tests:async_ffi_compat
    rawtask-ffi-tests:panics rawtask-ffi-tests:boundaries
    rawtask-interop-bridge:scope_foreign_executors rawtask-macros:drop_order
    rawtask-cdylib-fixture:exports"

# Under the sanitizers (ASan, TSan): everything but the two tests that load the Rust cdylib
# plugin into another program. rustc links the sanitizer runtime statically into executables
# without exporting its symbols, so an instrumented cdylib cannot be loaded (dlopen: undefined
# symbol: __asan_option_detect_stack_use_after_return), and exporting them
# (-Wl,--export-dynamic) also exports the test's own copy of rawtask, which breaks the
# separate-copies tests. valgrind runs them (below).
#   rawtask-cdylib-fixture exports       dlopens the fixture cdylib
#   ffi-tests boundaries: rust_host_rust_plugin, c_host_rust_plugin    load the Rust plugin
#   (its C-plugin pairs run: the C plugin is not instrumented)
SAN_WS_TESTS=$(echo $WS_TESTS | tr ' ' '\n' | grep -v '^rawtask-cdylib-fixture:exports$' | tr '\n' ' ')
SAN_HARNESS_ARGS=(--exact --skip rust_host_rust_plugin --skip c_host_rust_plugin)

# `--cfg loom` preemption bound (the models that are cheap enough explore one level deeper).
export LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-2}

note() { echo "verify: $*" >&2; }

# Sums the "N passed" of every `test result: ok.` line in a log.
count_passed() {
    grep -Eo 'test result: ok\. [0-9]+ passed' "$1" | awk '{s += $4} END {print s + 0}'
}

# Runs a command with its output (stdout and stderr) going to stderr and to the log file $1.
# Returns the command's status.
logged() {
    local log=$1
    shift
    note "\$ $*"
    set +e
    "$@" 2>&1 | tee -a "$log" >&2
    local status=${PIPESTATUS[0]}
    set -e
    return "$status"
}

fail() { # fail STEP LOG MESSAGE
    local step=$1 log=$2
    shift 2
    echo "----- last lines of $log -----" >&2
    tail -n 40 "$log" >&2 || true
    echo "FAILED: $step: $*"
    exit 1
}

# Makes sure the nightly toolchain has the given components; false if it cannot.
nightly_with() {
    if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
        note "no nightly toolchain installed"
        return 1
    fi
    if [ $# -gt 0 ] && ! rustup component add --toolchain nightly "$@" >&2; then
        note "rustup could not add nightly components: $*"
        return 1
    fi
    return 0
}

step_loom() {
    local log=$LOG_DIR/loom.log
    : >"$log"
    # clippy on the loom build first: the cfg(loom) paths of rawtask and the models' harness
    # are code the default clippy run never sees.
    if ! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
        logged "$log" cargo clippy -p loom-tests --release --all-targets -- -D warnings; then
        fail loom "$log" "clippy failed on the loom build"
    fi
    if ! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
        logged "$log" cargo test -p loom-tests --release -- --nocapture; then
        fail loom "$log" "a loom model failed (LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS)"
    fi
    local n
    n=$(count_passed "$log")
    [ "$n" -gt 0 ] || fail loom "$log" "no loom model ran (was the crate built with --cfg loom?)"
    echo "loom: clippy clean; $n models passed (LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS)"
}

# The packages of a list of package:target pairs, each once.
packages_of() {
    local pair
    for pair in $1; do echo "${pair%%:*}"; done | awk '!seen[$0]++'
}

# The tests passed in a cargo test log by the test target $2 (the "Running tests/$2.rs" blocks).
passed_in_target() {
    awk -v t="tests/$2.rs" '/^ *Running /{cur = ($2 == t)} cur && /test result: ok\./{s += $4} END {print s + 0}' "$1"
}

# ws_test LOG "PKG:TARGET..." CMD... : runs `CMD -p PKG... --test TARGET... -- WS_HARNESS_ARGS`
# once for all the pairs (one build, with the packages' features unified), output to LOG (test
# target names are unique across the workspace). Appends "PKG N" (N tests passed) per package
# to ws_counts, and N to ws_total. Returns the command's status.
ws_counts=()
ws_total=0
ws_test() {
    local log=$1 pairs=$2 pkg pair
    shift 2
    local args=() status=0
    for pkg in $(packages_of "$pairs"); do args+=(-p "$pkg"); done
    for pair in $pairs; do args+=(--test "${pair#*:}"); done
    logged "$log" "$@" "${args[@]}" -- ${WS_HARNESS_ARGS[@]+"${WS_HARNESS_ARGS[@]}"} || status=$?
    for pkg in $(packages_of "$pairs"); do
        local n=0
        for pair in $pairs; do
            if [ "${pair%%:*}" = "$pkg" ]; then
                n=$((n + $(passed_in_target "$log" "${pair#*:}")))
            fi
        done
        ws_counts+=("$pkg $n")
        ws_total=$((ws_total + n))
    done
    return "$status"
}

# "pkg-a 12, pkg-b 4" from ws_counts.
ws_summary() {
    local IFS=,
    echo "${ws_counts[*]}" | sed 's/,/, /g'
}

step_miri() {
    local log=$LOG_DIR/miri.log
    : >"$log"
    if ! nightly_with miri rust-src; then
        echo "SKIPPED: miri: the nightly toolchain with miri and rust-src is not available here"
        return 0
    fi
    local -x CARGO_TARGET_DIR=target/miri
    local -x RUSTFLAGS="-Zrandomize-layout"
    local base="-Zmiri-strict-provenance -Zmiri-symbolic-alignment-check"
    logged "$log" cargo +nightly miri setup || fail miri "$log" "cargo miri setup failed"

    # 1. The library's unit tests, every integration test and every doc example (199 doc
    #    examples take ~40 s more under miri on this 2-core machine; MIRI_DOCTESTS=0 skips
    #    them for a quick local run). Leaks are errors (miri's default: -Zmiri-ignore-leaks is
    #    not set).
    MIRIFLAGS="$base" logged "$log" cargo +nightly miri test -p rawtask --no-fail-fast --lib --tests ||
        fail miri "$log" "the test suite failed under miri"
    local all docs="doc examples skipped (MIRI_DOCTESTS=0)"
    all=$(count_passed "$log")
    if [ "${MIRI_DOCTESTS:-1}" = 1 ]; then
        local dlog=$LOG_DIR/miri-doc.log
        : >"$dlog"
        MIRIFLAGS="$base" logged "$dlog" cargo +nightly miri test -p rawtask --doc ||
            fail miri "$dlog" "a doc example failed under miri"
        docs="$(count_passed "$dlog") doc examples"
    fi

    # 2. The workspace's other test suites (WS_TESTS), with rawtask's flags, except:
    #    - rawtask-ffi-tests boundaries: runs cc and loads cdylibs into child processes (miri
    #      can do neither); async_ffi_compat is #![cfg(not(miri))] and some tests of
    #      allocations.rs and panics.rs are ignored under miri (child processes; miri's nominal
    #      ABI check rejects calls through async-ffi's layout-identical types: reasons in place)
    #    - rawtask-cdylib-fixture exports: dlopens a cdylib, which miri cannot load
    #    - rawtask-executors' examples.rs `multi`: ignored under miri (reason in place)
    #    - rawtask-macros' doc examples: miri does not run doctests of proc-macro crates
    #    rawtask-executors (and its 4 doc examples) runs with its own flags: crossbeam-deque's
    #    epoch GC (the work-stealing executor's queues) breaks Stacked Borrows and strict
    #    provenance (crossbeam issue 545; crossbeam's own CI runs it under tree borrows), and
    #    never frees its global collector (crossbeam issue 579), and the executors' reaper thread
    #    (internal/executors/src/lib.rs, drop_later) runs until exit ("the main thread terminated
    #    without waiting for all remaining threads"): so tree borrows, permissive provenance
    #    and -Zmiri-ignore-leaks (its tests count their own leaked tasks; ASan and valgrind
    #    check its leaks). -Zmiri-compare-exchange-weak-failure-rate=0: crossbeam's steals
    #    answer Retry to a spurious weak-CAS failure (80% of them by default under miri), after
    #    which the executor looks elsewhere or sleeps: multi.rs took 318 s instead of 97 s.
    #    rawtask's own suite keeps the default rate.
    local wlog=$LOG_DIR/miri-workspace.log
    : >"$wlog"
    ws_counts=()
    ws_total=0
    local -a WS_HARNESS_ARGS=()
    local executors="-Zmiri-tree-borrows -Zmiri-permissive-provenance -Zmiri-symbolic-alignment-check -Zmiri-ignore-leaks -Zmiri-compare-exchange-weak-failure-rate=0.0"
    local exec_pairs rest_pairs
    exec_pairs=$(echo $WS_TESTS | tr ' ' '\n' | grep '^rawtask-executors:' | tr '\n' ' ')
    rest_pairs=$(echo $WS_TESTS | tr ' ' '\n' | grep -v -e '^rawtask-executors:' \
        -e '^rawtask-ffi-tests:boundaries$' -e '^rawtask-ffi-tests:async_ffi_compat$' \
        -e '^rawtask-cdylib-fixture:exports$' | tr '\n' ' ')
    MIRIFLAGS="$executors" ws_test "$wlog" "$exec_pairs" cargo +nightly miri test --no-fail-fast ||
        fail miri "$wlog" "rawtask-executors' tests failed under miri"
    MIRIFLAGS="$base" ws_test "$wlog" "$rest_pairs" cargo +nightly miri test --no-fail-fast ||
        fail miri "$wlog" "a workspace test suite failed under miri"
    local xlog=$LOG_DIR/miri-workspace-doc.log
    : >"$xlog"
    MIRIFLAGS="$executors" logged "$xlog" cargo +nightly miri test -p rawtask-executors --doc ||
        fail miri "$xlog" "a doc example of rawtask-executors failed under miri"
    local ws="$(ws_summary) tests, rawtask-executors $(count_passed "$xlog") doc examples"

    # 3. The thread-spawning tests again, with tree borrows, then under eight scheduler seeds
    #    (the seeds' outputs interleave: their count is the tests' count times 8).
    local args=() t
    for t in $MIRI_CONCURRENCY_TESTS; do args+=(--test "$t"); done
    local seeds=0 tb=0
    if [ ${#args[@]} -gt 0 ]; then
        local tlog=$LOG_DIR/miri-tree-borrows.log
        : >"$tlog"
        MIRIFLAGS="$base -Zmiri-tree-borrows" \
            logged "$tlog" cargo +nightly miri test -p rawtask --no-fail-fast "${args[@]}" ||
            fail miri "$tlog" "a concurrency test failed under tree borrows"
        tb=$(count_passed "$tlog")
        local slog=$LOG_DIR/miri-seeds.log
        : >"$slog"
        MIRIFLAGS="$base -Zmiri-many-seeds=0..8" \
            logged "$slog" cargo +nightly miri test -p rawtask --no-fail-fast "${args[@]}" ||
            fail miri "$slog" "a concurrency test failed under one of miri's seeds 0..8"
        seeds=$tb
    else
        note "no concurrency tests listed"
    fi
    # 4. async-task-ffi 4.1.1's own suite against compat::async_task_ffi: its `data_mut` hands
    #    out `&mut D` with no check, and this is where a `Task` reading the slot would show.
    #    Isolation stays on: the suite times its threads with sleeps (a 400 ms poll, a cancel
    #    at 200 ms), and miri's isolated clock advances with the interpreted program, so those
    #    margins hold however slow or loaded the machine is. With the host clock they did not.
    local plog=$LOG_DIR/miri-peer-async-task-ffi.log peer
    peer=$(MIRIFLAGS="$base" bash .ci/peer-async-task-ffi.sh --miri 2>"$plog" | tail -n 1) ||
        fail miri "$plog" "async-task-ffi's suite failed under miri"
    local peer_count
    peer_count=$(count_passed "$plog")

    # 5. The core on other architectures: 32-bit little-endian (i686) and 64-bit big-endian
    #    (s390x). Miri interprets them without a linker; the library's unit tests (the capi
    #    ones among them) and the core's test files, which read the slot at DATA_OFFSET and
    #    the state word through every transition.
    local cross=() cross_counts=() target clog
    for t in $MIRI_CROSS_TESTS; do cross+=(--test "$t"); done
    for target in $MIRI_CROSS_TARGETS; do
        clog=$LOG_DIR/miri-$target.log
        : >"$clog"
        MIRIFLAGS="$base" CARGO_TARGET_DIR=target/miri-cross \
            logged "$clog" cargo +nightly miri test -p rawtask --no-fail-fast --target "$target" --lib "${cross[@]}" ||
            fail miri "$clog" "the core failed under miri on $target"
        cross_counts+=("$target $(count_passed "$clog")")
    done
    local cross_summary
    cross_summary=$(IFS=,; echo "${cross_counts[*]}" | sed 's/,/, /g')

    local nfiles
    nfiles=$(echo $MIRI_CONCURRENCY_TESTS | wc -w)
    echo "miri: $((all + ws_total + peer_count)) tests passed (rawtask lib + integration $all, $docs; $ws; async-task-ffi 4.1.1's suite $peer_count); concurrency tests ($nfiles files): $seeds tests x seeds 0..8 passed, $tb with tree borrows; other architectures (lib + $(echo $MIRI_CROSS_TESTS | wc -w) core files): $cross_summary"
}

step_asan() {
    local log=$LOG_DIR/asan.log
    : >"$log"
    if ! nightly_with; then
        echo "SKIPPED: asan: no nightly toolchain here (-Zsanitizer needs nightly)"
        return 0
    fi
    local -x RUSTFLAGS="-Zsanitizer=address" ASAN_OPTIONS="detect_leaks=1" RUST_BACKTRACE=0
    local -x CARGO_TARGET_DIR=target/asan
    # Leaks that two ffi-tests provoke on purpose: a rawtask FFI future that panics, awaited by
    # async-ffi (a host that does not read rawtask's panic notes), leaks its note, as
    # documented (src/ffi/mod.rs, "Panics"); and drop_payload's unit test leaks the third
    # payload of a panic whose destructors keep panicking, as designed (src/panic.rs). Only
    # leaks allocated under these three tests are suppressed.
    local supp=$LOG_DIR/lsan.supp
    cat >"$supp" <<'EOF'
leak:async_ffi_compat::panics_cross_both_ways
leak:panics::polling_after_ready_from_a_foreign_host_is_defined
leak:a_payload_whose_drop_panics_twice_is_leaked_not_unwound
EOF
    local -x LSAN_OPTIONS="suppressions=$PWD/$supp"
    if ! logged "$log" cargo +nightly test -p rawtask --no-fail-fast --target "$TARGET" --tests; then
        fail asan "$log" "AddressSanitizer (or a test) failed"
    fi
    local n
    n=$(count_passed "$log")
    local wlog=$LOG_DIR/asan-workspace.log
    : >"$wlog"
    ws_counts=()
    ws_total=0
    local -a WS_HARNESS_ARGS=("${SAN_HARNESS_ARGS[@]}")
    ws_test "$wlog" "$SAN_WS_TESTS" cargo +nightly test --no-fail-fast --target "$TARGET" ||
        fail asan "$wlog" "AddressSanitizer (or a test) failed in the workspace's test suites"
    echo "asan: $((n + ws_total)) tests passed (rawtask $n; $(ws_summary)) (AddressSanitizer, leak detection on)"
}

step_tsan() {
    local log=$LOG_DIR/tsan.log
    : >"$log"
    if ! nightly_with rust-src; then
        echo "SKIPPED: tsan: the nightly toolchain with rust-src (for -Zbuild-std) is not available here"
        return 0
    fi
    # -Zbuild-std: std itself must be instrumented, or TSan refuses to link / reports std's
    # own synchronisation as races.
    #
    # crossbeam-deque (the queues of rawtask-executors' multi): its fences, which TSan does not
    # model, it replaces by stronger orderings itself under -Zsanitizer=thread (cfg
    # crossbeam_sanitize_thread, set by its build scripts). What remains is by design: a
    # stealer reads a slot of the deque's buffer before its CAS claims it, racing with a push
    # that reuses the slot, and forgets the value if the CAS fails (TSan reported it in
    # multi.rs's `stress`: Buffer::read in Stealer::steal_batch_with_limit_and_pop against
    # Buffer::write in Injector::steal_batch_with_limit_and_pop). crossbeam's own TSan CI
    # suppresses these races (crossbeam ci/tsan: race:crossbeam_deque*push,
    # race:crossbeam_deque*steal); this suppresses only races in which a stack holds one of
    # the buffer's slot accesses, which run no rawtask code (runnables move through them as
    # plain bits). Nothing else is suppressed.
    local supp=$LOG_DIR/tsan.supp
    cat >"$supp" <<'EOF'
race:crossbeam_deque::deque::Buffer<*>>::read
race:crossbeam_deque::deque::Buffer<*>>::write
EOF
    local -x RUSTFLAGS="-Zsanitizer=thread" RUST_BACKTRACE=0
    local -x TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/$supp"
    local -x CARGO_TARGET_DIR=target/tsan
    if ! logged "$log" cargo +nightly test -Zbuild-std --target "$TARGET" -p rawtask --no-fail-fast --tests; then
        fail tsan "$log" "ThreadSanitizer (or a test) failed"
    fi
    local n
    n=$(count_passed "$log")
    local wlog=$LOG_DIR/tsan-workspace.log
    : >"$wlog"
    ws_counts=()
    ws_total=0
    local -a WS_HARNESS_ARGS=("${SAN_HARNESS_ARGS[@]}")
    ws_test "$wlog" "$SAN_WS_TESTS" cargo +nightly test -Zbuild-std --target "$TARGET" --no-fail-fast ||
        fail tsan "$wlog" "ThreadSanitizer (or a test) failed in the workspace's test suites"
    # The soak (tests/soak.rs), longer: RAWTASK_SOAK_SECS (default 120 s; .ci/run's budget on
    # this 2-core machine) of random spawns, wakes, cancels and callbacks on real threads.
    local slog=$LOG_DIR/tsan-soak.log
    : >"$slog"
    local secs=${RAWTASK_SOAK_SECS:-120}
    RAWTASK_SOAK_SECS=$secs logged "$slog" cargo +nightly test -Zbuild-std --target "$TARGET" \
        -p rawtask --test soak -- --nocapture ||
        fail tsan "$slog" "ThreadSanitizer (or the soak) failed in the ${secs} s soak"
    local soak
    soak=$(grep -Eo '^soak: [0-9]+ tasks' "$slog" | tail -n 1 | awk '{print $2}')
    [ -n "$soak" ] || fail tsan "$slog" "the soak printed no count"
    echo "tsan: $((n + ws_total)) tests passed (rawtask $n; $(ws_summary)); soak ${secs} s: $soak tasks (ThreadSanitizer, -Zbuild-std)"
}

# The test executables (not the other binaries) in a `cargo --message-format=json` output.
test_executables() {
    grep -E '"profile":\{[^}]*"test":true' "$1" | grep -o '"executable":"[^"]*"' |
        sed 's/"executable":"\(.*\)"/\1/' | sort -u
}

step_valgrind() {
    local log=$LOG_DIR/valgrind.log
    : >"$log"
    if ! command -v valgrind >/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            note "installing valgrind"
            { apt-get update -qq && apt-get install -y -qq valgrind; } >&2 || true
        fi
    fi
    if ! command -v valgrind >/dev/null; then
        echo "SKIPPED: valgrind: valgrind is not installed and could not be installed"
        return 0
    fi
    # Definite leaks made on purpose: the last payload of a panic whose destructors panic three
    # times over (src/panic.rs's unit test of drop_payload); a rawtask panic note, allocated by rawtask's poll
    # function while async-ffi (a host that does not read notes) polls it, is leaked as
    # documented (src/ffi/mod.rs, "Panics"); and exports.rs never unloads the cdylib it loads
    # (it leaks the Library box: the library's threads and thread-locals must outlive every
    # call).
    local -x RUST_BACKTRACE=0
    local supp=$LOG_DIR/valgrind.supp
    cat >"$supp" <<'EOF'
{
   rawtask-panic-note-leaked-by-a-host-that-does-not-read-notes
   Memcheck:Leak
   match-leak-kinds: definite
   fun:malloc
   ...
   fun:*rawtask*ffi*panic*leave_note*
   fun:*rawtask*ffi*future*poll_boxed*
   fun:*async_ffi*LocalBorrowingFfiFuture*poll*
}
{
   rawtask-panic-payload-whose-destructors-panic-three-times-is-leaked-on-purpose
   Memcheck:Leak
   match-leak-kinds: definite
   fun:malloc
   ...
   fun:*a_payload_whose_drop_panics_twice_is_leaked_not_unwound*
}
{
   rawtask-cdylib-fixture-exports-keeps-its-library-loaded
   Memcheck:Leak
   match-leak-kinds: definite
   fun:malloc
   ...
   fun:*exports*api*
}
EOF
    # Every test binary of rawtask and of WS_TESTS (all of them: dlopen and child processes
    # are fine under valgrind; the child processes - C hosts, aborting children - run
    # natively).
    local json=$LOG_DIR/valgrind-build.json pkg pair args=()
    for pkg in $(packages_of "$WS_TESTS"); do args+=(-p "$pkg"); done
    for pair in $WS_TESTS; do args+=(--test "${pair#*:}"); done
    local group count=0 wslog=$LOG_DIR/.valgrind-workspace.log
    : >"$wslog"
    for group in rawtask workspace; do
        if [ $group = rawtask ]; then
            cargo test -p rawtask --tests --no-run --message-format=json >"$json"
        else
            cargo test "${args[@]}" --no-run --message-format=json >"$json"
        fi || fail valgrind "$log" "building the test binaries ($group) failed"
        local exes exe
        exes=$(test_executables "$json")
        [ -n "$exes" ] || fail valgrind "$log" "no test binary found ($group)"
        for exe in $exes; do
            # --errors-for-leak-kinds=definite: the test harness's own "possibly lost" block is
            # not an error. Tests run one at a time: valgrind serialises threads anyway.
            # --fair-sched=yes hands the CPU to threads in turn: with valgrind's default lock a
            # thread spinning while it waits for another keeps it for whole time slices
            # (rawtask-executors' multi.rs: 300 s instead of 14 s).
            local glog=$log
            [ $group = rawtask ] || glog=$wslog
            # The "Running tests/<target>.rs" line cargo would print, for the per-package counts.
            echo "     Running tests/$(basename "$exe" | sed 's/-[0-9a-f]*$//').rs" >>"$glog"
            if ! logged "$glog" valgrind --error-exitcode=1 --leak-check=full \
                --errors-for-leak-kinds=definite --fair-sched=yes --suppressions="$supp" --num-callers=40 \
                --quiet "$exe" --test-threads=1; then
                [ $group = rawtask ] || cat "$wslog" >>"$log"
                fail valgrind "$log" "$(basename "$exe") failed under valgrind memcheck"
            fi
            count=$((count + 1))
        done
    done
    local n
    n=$(count_passed "$log")
    cat "$wslog" >>"$log"
    ws_counts=()
    ws_total=0
    for pkg in $(packages_of "$WS_TESTS"); do
        local m=0
        for pair in $WS_TESTS; do
            if [ "${pair%%:*}" = "$pkg" ]; then
                m=$((m + $(passed_in_target "$wslog" "${pair#*:}")))
            fi
        done
        ws_counts+=("$pkg $m")
        ws_total=$((ws_total + m))
    done
    rm -f "$wslog"
    echo "valgrind: $((n + ws_total)) tests passed in $count binaries (rawtask $n; $(ws_summary)) (memcheck, definite leaks are errors)"
}

if [ $# -eq 0 ]; then
    echo "usage: bash .ci/verify.sh loom|miri|asan|tsan|valgrind [...]" >&2
    exit 2
fi
for step in "$@"; do
    case $step in
    loom | miri | asan | tsan | valgrind) "step_$step" ;;
    *)
        echo "unknown step: $step (loom, miri, asan, tsan, valgrind)" >&2
        exit 2
        ;;
    esac
done
