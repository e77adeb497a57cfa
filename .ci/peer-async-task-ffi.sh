#!/usr/bin/env bash
# async-task-ffi 4.1.1's own test suite, unchanged, against rawtask::compat::async_task_ffi.
#
# Cargo fetches the published package at test time; its tests/*.rs are copied into a scratch
# crate under target/ whose `async-task-ffi` dependency is a two-line shim re-exporting
# rawtask's compat module. Nothing of async-task-ffi is committed to this repository.
#
#   bash .ci/peer-async-task-ffi.sh [--miri]
#
# Progress goes to stderr; the last stdout line is the summary (or FAILED/SKIPPED).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VERSION=4.1.1
WORK=$ROOT/target/peer-async-task-ffi
MIRI=${1:-}

log() { echo "peer-async-task-ffi: $*" >&2; }

rm -rf "$WORK/suite" "$WORK/shim"
mkdir -p "$WORK/fetch/src" "$WORK/shim/src" "$WORK/suite/src" "$WORK/suite/tests"

# 1. Fetch the published package (its source lands in cargo's registry cache).
cat > "$WORK/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-async-task-ffi"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
async-task-ffi = "=$VERSION"
[workspace]
TOML
touch "$WORK/fetch/src/lib.rs"
# (without the caller's RUSTFLAGS: the miri step sets nightly-only flags)
(cd "$WORK/fetch" && env -u RUSTFLAGS cargo fetch -q) >&2
SRC=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/async-task-ffi-$VERSION 2>/dev/null | head -n 1)
if [ -z "$SRC" ] || [ ! -d "$SRC/tests" ]; then
    echo "FAILED: peer-async-task-ffi: the published async-task-ffi $VERSION has no tests/ after cargo fetch"
    exit 1
fi
cp "$SRC"/tests/*.rs "$WORK/suite/tests/"

# 2. The shim: a crate named async-task-ffi that is rawtask's compat module.
cat > "$WORK/shim/Cargo.toml" <<TOML
[package]
name = "async-task-ffi"
version = "$VERSION"
edition = "2021"
publish = false
[dependencies]
rawtask = { path = "$ROOT" }
TOML
echo 'pub use rawtask::compat::async_task_ffi::*;' > "$WORK/shim/src/lib.rs"

# 3. The suite, with async-task-ffi's own dev-dependencies (its published Cargo.toml).
cat > "$WORK/suite/Cargo.toml" <<TOML
[package]
name = "async-task-ffi-suite"
version = "0.0.0"
edition = "2018"
publish = false
[dependencies]
async-task-ffi = { path = "../shim" }
[dev-dependencies]
atomic-waker = "1.0.0"
easy-parallel = "3.1.0"
flume = { version = "0.10", default-features = false }
once_cell = "1.4.1"
smol = "1.0.1"
[workspace]
TOML
touch "$WORK/suite/src/lib.rs"

cd "$WORK/suite"
# The suite times its threads with sleeps (a panicking poll at 400 ms, checks at 600 ms):
# symbolising a panic's backtrace in a debug build can take longer than that margin.
export RUST_BACKTRACE=0
count=$(ls tests/*.rs | wc -l)
if [ "$MIRI" = "--miri" ]; then
    # Miri's isolation stays on: its clock then advances with the interpreted program, so the
    # sleeps above keep their order however slow the interpreter or busy the machine is.
    log "running $count test files under miri"
    MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance}" \
        cargo +nightly miri test --no-fail-fast --tests 2>&1 | tee "$WORK/miri.log" >&2 || {
        echo "FAILED: peer-async-task-ffi: async-task-ffi $VERSION's suite failed under miri (target/peer-async-task-ffi/miri.log)"
        exit 1
    }
    LOGFILE=$WORK/miri.log
    how="under miri"
else
    log "running $count test files"
    cargo test --no-fail-fast --tests 2>&1 | tee "$WORK/test.log" >&2 || {
        echo "FAILED: peer-async-task-ffi: async-task-ffi $VERSION's suite failed (target/peer-async-task-ffi/test.log)"
        exit 1
    }
    LOGFILE=$WORK/test.log
    how=""
fi
passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$LOGFILE" | awk '{s += $4} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed' "$LOGFILE" | awk '{s += $1} END {print s + 0}')
if [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
    echo "FAILED: peer-async-task-ffi: $passed passed, $failed failed"
    exit 1
fi
echo "peer-async-task-ffi: $passed/$passed tests of async-task-ffi $VERSION's own suite pass against rawtask::compat::async_task_ffi${how:+ $how}"
