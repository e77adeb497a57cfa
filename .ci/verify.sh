#!/usr/bin/env bash
# The heavy rungs of rawtask's verification ladder (DESIGN.md), one function per step:
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

# The integration tests that race one task across real threads, which miri re-runs under
# eight scheduler seeds (-Zmiri-many-seeds=0..8) and with tree borrows: a space-separated list
# of test targets (files under tests/). Under miri each takes 5-10 s per seed on this 2-core
# machine, so the list is kept to the core's cross-thread tests; widen it with e.g.
# MIRI_CONCURRENCY_TESTS="$(cd tests && ls *.rs | sed 's/\.rs$//')" for a deep run.
MIRI_CONCURRENCY_TESTS=${MIRI_CONCURRENCY_TESTS:-"join_threads waker local cancel_wait drop_semantics"}

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
    if ! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
        logged "$log" cargo test -p loom-tests --release -- --nocapture; then
        fail loom "$log" "a loom model failed (LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS)"
    fi
    local n
    n=$(count_passed "$log")
    [ "$n" -gt 0 ] || fail loom "$log" "no loom model ran (was the crate built with --cfg loom?)"
    echo "loom: $n models passed (LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS)"
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
        docs="$(count_passed "$dlog") doc examples passed"
    fi

    # 2. The thread-spawning tests again, under eight scheduler seeds, then with tree borrows.
    local args=() t
    for t in $MIRI_CONCURRENCY_TESTS; do args+=(--test "$t"); done
    local seeds=0 tb=0
    if [ ${#args[@]} -gt 0 ]; then
        local slog=$LOG_DIR/miri-seeds.log
        : >"$slog"
        MIRIFLAGS="$base -Zmiri-many-seeds=0..8" \
            logged "$slog" cargo +nightly miri test -p rawtask --no-fail-fast "${args[@]}" ||
            fail miri "$slog" "a concurrency test failed under one of miri's seeds 0..8"
        seeds=$(count_passed "$slog")
        local tlog=$LOG_DIR/miri-tree-borrows.log
        : >"$tlog"
        MIRIFLAGS="$base -Zmiri-tree-borrows" \
            logged "$tlog" cargo +nightly miri test -p rawtask --no-fail-fast "${args[@]}" ||
            fail miri "$tlog" "a concurrency test failed under tree borrows"
        tb=$(count_passed "$tlog")
    else
        note "no concurrency tests found under tests/"
    fi
    echo "miri: $all tests passed (lib + integration tests; $docs); concurrency tests (${MIRI_CONCURRENCY_TESTS% }): $seeds test runs passed over seeds 0..8, $tb with tree borrows"
}

step_asan() {
    local log=$LOG_DIR/asan.log
    : >"$log"
    if ! nightly_with; then
        echo "SKIPPED: asan: no nightly toolchain here (-Zsanitizer needs nightly)"
        return 0
    fi
    if ! RUSTFLAGS="-Zsanitizer=address" ASAN_OPTIONS="detect_leaks=1" \
        CARGO_TARGET_DIR=target/asan \
        logged "$log" cargo +nightly test -p rawtask --no-fail-fast --target "$TARGET" --tests; then
        fail asan "$log" "AddressSanitizer (or a test) failed"
    fi
    echo "asan: $(count_passed "$log") tests passed (AddressSanitizer, leak detection on)"
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
    if ! RUSTFLAGS="-Zsanitizer=thread" TSAN_OPTIONS="halt_on_error=1" \
        CARGO_TARGET_DIR=target/tsan \
        logged "$log" cargo +nightly test -Zbuild-std --target "$TARGET" -p rawtask --no-fail-fast --tests; then
        fail tsan "$log" "ThreadSanitizer (or a test) failed"
    fi
    echo "tsan: $(count_passed "$log") tests passed (ThreadSanitizer, -Zbuild-std)"
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
    local json=$LOG_DIR/valgrind-build.json
    cargo test -p rawtask --tests --no-run --message-format=json >"$json" ||
        fail valgrind "$log" "building the test binaries failed"
    local exes
    exes=$(grep -o '"executable":"[^"]*"' "$json" | sed 's/"executable":"\(.*\)"/\1/' | sort -u)
    [ -n "$exes" ] || fail valgrind "$log" "no test binary found"
    local exe count=0
    for exe in $exes; do
        # --errors-for-leak-kinds=definite: the test harness's own "possibly lost" block is not
        # an error. Tests run one at a time: valgrind serialises threads anyway.
        if ! logged "$log" valgrind --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite --quiet "$exe" --test-threads=1; then
            fail valgrind "$log" "$(basename "$exe") failed under valgrind memcheck"
        fi
        count=$((count + 1))
    done
    echo "valgrind: $(count_passed "$log") tests passed in $count binaries (memcheck, definite leaks are errors)"
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
