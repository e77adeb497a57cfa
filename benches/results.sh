#!/usr/bin/env bash
# Runs rawtask's measurements and writes them, dated and with the machine they ran on, to ONE
# file, benches/RESULTS.md, with the headline comparison drawn as benches/results.svg:
#
#   1. the interleaved A/B groups of benches/benches/ab.rs: core (against async-task 4.7.1),
#      scope (scoped children against plain tasks), capi, cdylib (the C path in a shared
#      library against linked in), ffi, compat, home, storage
#      (StaticPool and OwnedPool against the heap, one table), floor (spawn + run + join
#      against alloc + 2 atomic RMWs + free); and benches/benches/join_set.rs (JoinSet against
#      tokio's)
#   2. criterion: benches/benches/cancel.rs (tokens against tokio-util, background jobs against
#      ffi_helpers), benches/benches/scope.rs (scoped children against tokio's JoinSet),
#      benches/benches/batch.rs (spawn_many against a loop) and benches/benches/storage.rs
#      (the Builder and TaskPool paths against spawn), each as a table of medians made by
#      benches/criterion-table.py
#   3. the executors, end to end (benches/report-executors.sh: against async-executor, tokio)
#   4. async-executor 1.14.1's own benchmark suite with async-task patched to rawtask, against
#      unpatched (benches/async-executor.sh)
#   5. how much of each of those benchmarks is task-crate code, and the bound that puts on
#      their ratios, and the whole program's instructions per task run (benches/async-executor-
#      share.sh, callgrind); again with both sides built as one codegen unit (CODEGEN_UNITS=1)
#   6. code size per spawned future type (benches/code-size.sh)
#
#   benches/results.sh                 the full run (about 50 minutes on a quiet 2-core machine;
#                                      async-executor's suite in 5 alternating rounds, 15 for
#                                      its benchmarks under 100 µs)
#   QUICK=1 benches/results.sh         fewer rounds / criterion's --quick (a few minutes less)
#   SKIP_AB=1 SKIP_CRITERION=1 SKIP_EXECUTORS=1 SKIP_ASYNC_EXECUTOR=1 SKIP_SHARE=1 SKIP_CODE_SIZE=1 benches/results.sh
#                                      any of the six skipped (its section says SKIPPED);
#                                      SKIP_CANCEL, SKIP_SCOPE, SKIP_BATCH or SKIP_STORAGE=1
#                                      skips one criterion step
#   AB_ALIGN=0 benches/results.sh      the A/B benches built the default way, not with their
#                                      functions and loops aligned to 64 bytes
#   REUSE_ASYNC_EXECUTOR=1 benches/results.sh
#                                      the tables of the last benches/async-executor.sh and
#                                      benches/async-executor-share.sh runs (the slowest
#                                      parts), not new runs
#   RESULTS_MD=path RESULTS_SVG=path benches/results.sh
#                                      write somewhere else than benches/RESULTS.md and
#                                      benches/results.svg (a trial run)
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

# What ab.rs runs: a multiple of its 5 processes (9 rounds each), so that this line and the
# tables agree.
ab_rounds=${AB_ROUNDS:-$([[ -n $quick ]] && echo 25 || echo 45)}
ae_rounds=${ROUNDS:-$([[ -n $quick ]] && echo 2 || echo 5)}
# async-executor.sh's rounds for its benchmarks under 100 µs (its default: 3 × ROUNDS).
ae_short_rounds=${SHORT_ROUNDS:-$((ae_rounds * 3))}
executor_args=()
[[ -z $quick ]] || executor_args=(--quick)

# The A/B benches are built with every function and loop aligned to 64 bytes, in a target
# directory of their own. Built as cargo builds by default, a row of a few nanoseconds moves
# with where unrelated code happens to put its loop: ffi_poll_ready read 0.80 at daa9142 and
# 1.00-1.19 at the next commits, which changed only src/scope; aligned, 1.04, 0.99 and 1.00.
# AB_ALIGN=0 builds them the default way.
ab_flags=""
ab_env=()
if [[ ${AB_ALIGN:-1} != 0 ]]; then
    ab_flags="-C llvm-args=-align-all-functions=6 -C llvm-args=-align-loops=64"
    ab_env=(env CARGO_TARGET_DIR="$target_dir/ab-aligned" RUSTFLAGS="$ab_flags")
fi
# The groups in the order of results.py's `ab_names` (it tells the tables apart by position).
AB_ROUNDS=$ab_rounds step ab SKIP_AB ${ab_env[@]+"${ab_env[@]}"} \
    cargo bench -p rawtask-benches --bench ab -- core scope capi cdylib ffi compat home storage floor
AB_ROUNDS=$ab_rounds step join-set SKIP_AB ${ab_env[@]+"${ab_env[@]}"} \
    cargo bench -p rawtask-benches --bench join_set

# criterion's results: $CRITERION_HOME, else <target dir>/criterion.
criterion_home=${CRITERION_HOME:-$target_dir/criterion}
criterion_args=()
[[ -z $quick ]] || criterion_args=(--quick)
SKIP_CANCEL=${SKIP_CANCEL:-${SKIP_CRITERION:-}}
SKIP_SCOPE=${SKIP_SCOPE:-${SKIP_CRITERION:-}}
SKIP_BATCH=${SKIP_BATCH:-${SKIP_CRITERION:-}}
SKIP_STORAGE=${SKIP_STORAGE:-${SKIP_CRITERION:-}}
# The version of a dependency in Cargo.lock, for the peers' names in the tables.
lock_version() {
    awk -v name="name = \"$1\"" '$0 == name { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}
# criterion_bench BENCH GROUP...: runs one criterion bench (its output to the step's log), its
# groups' old results removed first so that a function that did not run reads as missing.
criterion_bench() {
    local bench=$1 group
    shift
    for group in "$@"; do rm -rf "${criterion_home:?}/$group"; done
    cargo bench -p rawtask-benches --bench "$bench" -- ${criterion_args[@]+"${criterion_args[@]}"} >&2
}
# Each step's table: one row per workload, `label|group|rawtask function|peer function|peer`.
cancel_table() {
    local tu="tokio-util $(lock_version tokio-util)" fh="ffi_helpers $(lock_version ffi_helpers)"
    criterion_bench cancel token_is_cancelled token_cancel_1000_waiters token_child_create_drop \
        task_spawn_wait &&
        python3 benches/criterion-table.py "$criterion_home" "workload (criterion medians)" \
            "\`is_cancelled\` on a child token|token_is_cancelled|rawtask|tokio-util|$tu" \
            "\`cancel\` with 1,000 waiting futures|token_cancel_1000_waiters|rawtask|tokio-util|$tu" \
            "child token create + drop|token_child_create_drop|rawtask|tokio-util|$tu" \
            "\`TaskHandle::spawn\` + \`wait\`, trivial job|task_spawn_wait|rawtask|ffi_helpers|$fh"
}
scope_table() {
    local tk="tokio $(lock_version tokio) \`JoinSet\`"
    criterion_bench scope scope_spawn_join &&
        python3 benches/criterion-table.py "$criterion_home" \
            "spawn + join on one thread (criterion medians)" \
            "plain rawtask spawn + join|scope_spawn_join|rawtask_plain|tokio_joinset|$tk" \
            "\`spawn_future_with_signal\` + done signal|scope_spawn_join|rawtask_scoped|tokio_joinset|$tk" \
            "\`spawn_future\`, no signals|scope_spawn_join|rawtask_scoped_no_signal|tokio_joinset|$tk" \
            "\`spawn_with_signal\` (own spawner) + done signal|scope_spawn_join|rawtask_scoped_with_spawner|tokio_joinset|$tk"
}
batch_table() {
    criterion_bench batch spawn_1000 &&
        python3 benches/criterion-table.py "$criterion_home" "1,000 tasks (criterion medians)" \
            "\`spawn_many\` + one bulk enqueue, run, join|spawn_1000|spawn_many|loop|a loop of \`spawn\` + \`schedule\`"
}
storage_table() {
    local at="async-task $(lock_version async-task)" spawn="rawtask \`spawn\`"
    criterion_bench storage storage_spawn_run_join &&
        python3 benches/criterion-table.py "$criterion_home" \
            "spawn + run + join (criterion medians)" \
            "\`spawn\`|storage_spawn_run_join|spawn|async-task|$at" \
            "\`Builder::new().spawn\`|storage_spawn_run_join|builder|spawn|$spawn" \
            "\`Builder\` with \`assign_id\`|storage_spawn_run_join|builder_identity|spawn|$spawn" \
            "\`Builder::new().allocator(&TaskPool)\`|storage_spawn_run_join|task_pool|spawn|$spawn"
}
step cancel SKIP_CANCEL cancel_table
step scope SKIP_SCOPE scope_table
step batch SKIP_BATCH batch_table
step storage SKIP_STORAGE storage_table
step executors SKIP_EXECUTORS benches/report-executors.sh ${executor_args[@]+"${executor_args[@]}"}
if [[ -n "${REUSE_ASYNC_EXECUTOR:-}" ]]; then
    ae_rounds="(reused from the last run; see its table)"
    ae_short_rounds=""
    REPORT_ONLY=1 step async-executor SKIP_ASYNC_EXECUTOR benches/async-executor.sh
else
    ROUNDS=$ae_rounds step async-executor SKIP_ASYNC_EXECUTOR benches/async-executor.sh
fi
# The profiles, then the same with both sides built as one codegen unit (the control for
# inlining luck).
if [[ -n "${REUSE_ASYNC_EXECUTOR:-}" ]]; then
    REPORT_ONLY=1 step async-executor-share SKIP_SHARE benches/async-executor-share.sh
    CODEGEN_UNITS=1 REPORT_ONLY=1 step async-executor-share-cgu1 SKIP_SHARE benches/async-executor-share.sh
else
    step async-executor-share SKIP_SHARE benches/async-executor-share.sh
    CODEGEN_UNITS=1 step async-executor-share-cgu1 SKIP_SHARE benches/async-executor-share.sh
fi
step code-size SKIP_CODE_SIZE benches/code-size.sh

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
config="full"
[[ -z $quick ]] || config="quick (QUICK=1)"
results_md=${RESULTS_MD:-benches/RESULTS.md}
results_svg=${RESULTS_SVG:-benches/results.svg}
python3 benches/results.py "$OUT" "$results_md" "$results_svg" \
    "date=$started" "cpu=${cpu:-unknown}" "cores=$(nproc)" "rustc=$(rustc --version)" \
    "load_before=$load_before" "load_after=$load_after" "config=$config" \
    "ab_rounds=$ab_rounds" "ae_rounds=$ae_rounds" "ae_short_rounds=$ae_short_rounds" "ab_flags=$ab_flags" \
    "commit=$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src benches ':!benches/RESULTS.md' ':!benches/results.svg' || echo '+changes')"
note "wrote $results_md and $results_svg"
