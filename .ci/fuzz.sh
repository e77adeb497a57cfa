#!/usr/bin/env bash
# The `fuzz` rung of the verification ladder: a short coverage-guided smoke run of each
# cargo-fuzz target in fuzz/ (raw_ops, capi_ops, ffi_poll), starting from the committed seed
# corpus in fuzz/corpus/<target>/. Needs nightly and cargo-fuzz; installs cargo-fuzz
# (`cargo install --locked cargo-fuzz`) when it is missing.
#
#   FUZZ_SECONDS=60 bash .ci/fuzz.sh        # seconds per target (default 60)
#
# New inputs go to a scratch directory, never to the committed corpus. A crash leaves its input
# in fuzz/artifacts/<target>/ (reproduce: cargo +nightly fuzz run <target> <that file>).
#
# stdout: `fuzz: <target> <runs> runs, <corpus> inputs, no crash` per target, then the summary
# `fuzz: 3 targets, N runs in total`; `SKIPPED: fuzz: <reason>` when nightly or cargo-fuzz
# cannot be had; `FAILED: fuzz: ...` (exit 1) on a crash or a build failure. Never a silent pass.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
TARGETS="raw_ops capi_ops ffi_poll"
LOG_DIR=target/verify
mkdir -p "$LOG_DIR"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "SKIPPED: fuzz: no nightly toolchain"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz: cargo-fuzz is missing: cargo install --locked cargo-fuzz" >&2
    if ! cargo install --locked cargo-fuzz >&2 || ! cargo +nightly fuzz --version >/dev/null 2>&1; then
        echo "SKIPPED: fuzz: cargo-fuzz could not be installed (cargo install --locked cargo-fuzz failed)"
        exit 0
    fi
fi

# Out of the other steps' way (the sanitizer flags would rebuild everything).
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$PWD/target/fuzz}

if ! cargo +nightly fuzz build >"$LOG_DIR/fuzz-build.log" 2>&1; then
    cat "$LOG_DIR/fuzz-build.log" >&2
    echo "FAILED: fuzz: the targets did not build (see $LOG_DIR/fuzz-build.log)"
    exit 1
fi

total=0
for target in $TARGETS; do
    work=$(mktemp -d)
    log="$LOG_DIR/fuzz-$target.log"
    echo "=== fuzz: $target for ${FUZZ_SECONDS} s" >&2
    set +e
    cargo +nightly fuzz run "$target" "$work" "fuzz/corpus/$target" -- \
        -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 >"$log" 2>&1
    status=$?
    set -e
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log" >&2
        rm -rf "$work"
        echo "FAILED: fuzz: $target crashed (exit status $status; log $log, input in fuzz/artifacts/$target/)"
        exit 1
    fi
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n 1)
    runs=${runs:-0}
    corpus=$(find "$work" "fuzz/corpus/$target" -type f | wc -l | tr -d ' ')
    rm -rf "$work"
    if [ "$runs" -eq 0 ]; then
        echo "FAILED: fuzz: $target ran no input (log $log)"
        exit 1
    fi
    total=$((total + runs))
    echo "fuzz: $target $runs runs, $corpus inputs, no crash"
done
echo "fuzz: 3 targets, $total runs in total"
