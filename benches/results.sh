#!/usr/bin/env bash
# Runs rawtask's measurements and writes them, dated and with the machine they ran on, to ONE
# file, benches/RESULTS.md, with the headline comparison drawn as benches/results.svg:
#
#   1. the interleaved A/B groups of benches/benches/ab.rs: core (against async-task 4.7.1),
#      capi, ffi, compat, home, storage (StaticPool and OwnedPool against the heap, one table),
#      floor (spawn + run + join against alloc + 2 atomic RMWs + free); and
#      benches/benches/join_set.rs (JoinSet against tokio's)
#   2. the executors, end to end (benches/report-executors.sh: against async-executor, tokio)
#   3. async-executor 1.14.1's own benchmark suite with async-task patched to rawtask, against
#      unpatched (benches/async-executor.sh)
#   4. how much of each of those benchmarks is task-crate code, and the bound that puts on
#      their ratios (benches/async-executor-share.sh, callgrind)
#   5. code size per spawned future type (benches/code-size.sh)
#
#   benches/results.sh                 the full run (about 25 minutes on a quiet 2-core machine)
#   QUICK=1 benches/results.sh         fewer rounds / criterion's --quick (a few minutes less)
#   SKIP_AB=1 SKIP_EXECUTORS=1 SKIP_ASYNC_EXECUTOR=1 SKIP_SHARE=1 SKIP_CODE_SIZE=1 benches/results.sh
#                                      any of the five skipped (its section says SKIPPED)
#   REUSE_ASYNC_EXECUTOR=1 benches/results.sh
#                                      the tables of the last benches/async-executor.sh and
#                                      benches/async-executor-share.sh runs (the slowest
#                                      parts), not new runs
#
# Each step's table goes to target/results/<step>.md, its log to target/results/<step>.log;
# benches/results.py assembles RESULTS.md and results.svg from them. A ratio below 1 means
# rawtask is faster (or smaller).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
target_dir=${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')}
OUT=$target_dir/results
mkdir -p "$OUT"
quick=${QUICK:-}
note() { echo "results: $*" >&2; }

# step NAME SKIP-VAR CMD...: runs CMD with its table on stdout into $OUT/NAME.md, or records
# that the step was skipped (by its variable) or failed (the step's last lines kept).
step() {
    local name=$1 skip=$2
    shift 2
    rm -f "$OUT/$name.md" "$OUT/$name.status"
    if [[ -n "${!skip:-}" ]]; then
        note "$name: SKIPPED ($skip is set)"
        echo "SKIPPED ($skip set)" >"$OUT/$name.status"
        return
    fi
    note "$name: $* (log: $OUT/$name.log)"
    local start=$SECONDS
    if "$@" >"$OUT/$name.md" 2>"$OUT/$name.log"; then
        echo "ok, $((SECONDS - start)) s" >"$OUT/$name.status"
    else
        echo "FAILED (exit $?; log: $OUT/$name.log)" >"$OUT/$name.status"
        tail -n 20 "$OUT/$name.log" >&2
    fi
    note "$name: $(cat "$OUT/$name.status")"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u '+%Y-%m-%d %H:%M UTC')

ab_rounds=${AB_ROUNDS:-$([[ -n $quick ]] && echo 21 || echo 41)}
ae_rounds=${ROUNDS:-$([[ -n $quick ]] && echo 2 || echo 3)}
executor_args=()
[[ -z $quick ]] || executor_args=(--quick)

AB_ROUNDS=$ab_rounds step ab \
    SKIP_AB cargo bench -p rawtask-benches --bench ab -- core capi ffi compat home storage floor
AB_ROUNDS=$ab_rounds step join-set SKIP_AB cargo bench -p rawtask-benches --bench join_set
step executors SKIP_EXECUTORS benches/report-executors.sh ${executor_args[@]+"${executor_args[@]}"}
if [[ -n "${REUSE_ASYNC_EXECUTOR:-}" ]]; then
    ae_rounds="$(ls "${WORK:-$ROOT/target/async-executor-bench}/criterion" 2>/dev/null | wc -l) (reused from the last run)"
    REPORT_ONLY=1 step async-executor SKIP_ASYNC_EXECUTOR benches/async-executor.sh
else
    ROUNDS=$ae_rounds step async-executor SKIP_ASYNC_EXECUTOR benches/async-executor.sh
fi
if [[ -n "${REUSE_ASYNC_EXECUTOR:-}" ]]; then
    REPORT_ONLY=1 step async-executor-share SKIP_SHARE benches/async-executor-share.sh
else
    step async-executor-share SKIP_SHARE benches/async-executor-share.sh
fi
step code-size SKIP_CODE_SIZE benches/code-size.sh

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
config="full"
[[ -z $quick ]] || config="quick (QUICK=1)"
python3 benches/results.py "$OUT" benches/RESULTS.md benches/results.svg \
    "date=$started" "cpu=${cpu:-unknown}" "cores=$(nproc)" "rustc=$(rustc --version)" \
    "load_before=$load_before" "load_after=$load_after" "config=$config" \
    "ab_rounds=$ab_rounds" "ae_rounds=$ae_rounds" \
    "commit=$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src benches ':!benches/RESULTS.md' ':!benches/results.svg' || echo '+changes')"
note "wrote benches/RESULTS.md and benches/results.svg"
