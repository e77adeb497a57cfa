#!/usr/bin/env bash
# async-executor 1.14.1's own criterion benchmark suite (benches/executor.rs, `--features
# static`: create, spawn_one, spawn_batch, spawn_many_local, spawn_recursively, yield_now,
# channels, web_server; single- and multi-threaded; Executor and StaticExecutor), built twice:
# with async-task patched to rawtask (compat/async-task-shim, as .ci/dependents.sh does for
# async-executor's tests) and unpatched (the real async-task 4.7.1). The two bench binaries run
# in alternation, benchmark by benchmark (each benchmark's two runs back to back, which goes
# first alternating), ROUNDS times, each round into its own criterion directory; for every
# benchmark the script prints the median over rounds of the per-round ratio patched/unpatched (criterion's
# median estimate of each side), and the geometric mean. A ratio below 1 means rawtask is faster.
#
#   benches/async-executor.sh                     3 rounds, short criterion settings
#   ROUNDS=5 benches/async-executor.sh             5 rounds; 15 for benchmarks under 100 µs
#   SHORT_ROUNDS=5 benches/async-executor.sh       the same rounds for every benchmark
#   CRITERION_ARGS="--sample-size 10 --warm-up-time 1 --measurement-time 2" benches/async-executor.sh
#   benches/async-executor.sh spawn_one           a criterion filter (any other argument)
#   REPORT_ONLY=1 benches/async-executor.sh       the table of the last run, no build or run
#   BUILD_ONLY=1 benches/async-executor.sh        build and check both sides, print
#                                                 "SIDE BINARY DIR" per side, run nothing
#
# Why alternation per benchmark: this project's shared VM drifts by ±25 % between windows a few
# seconds apart (benches/ab.rs); a first version alternated whole suites (each side ~2.5 min)
# and single ratios ranged 0.2-3.9 over three rounds.
# Why the tree check: Cargo drops an unusable patch with only a warning and builds the real
# async-task; the "patched" numbers would then be async-task's own.
#
# Builds in target/async-executor-bench/ (or $WORK), from the copy cargo fetched of the
# published package with its published Cargo.lock. Progress goes to stderr; stdout is the table.
# Prints `SKIPPED: async-executor bench: ...` (exit 0) when the package cannot be fetched.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHIM=$ROOT/compat/async-task-shim
VERSION=1.14.1
WORK=${WORK:-$ROOT/target/async-executor-bench}
ROUNDS=${ROUNDS:-3}
# Rounds in all for the benchmarks under SHORT_NS nanoseconds per iteration (see below).
SHORT_ROUNDS=${SHORT_ROUNDS:-$((ROUNDS * 3))}
SHORT_NS=${SHORT_NS:-100000}
read -r -a CRIT <<<"${CRITERION_ARGS:---sample-size 10 --warm-up-time 1 --measurement-time 2}"
# Both builds share one target directory: criterion and the other dependencies are the same
# artifacts; the two async-executor builds differ in their dependency hashes.
export CARGO_TARGET_DIR=$WORK/target
unset RUSTFLAGS RUSTDOCFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS

note() { echo "async-executor bench: $*" >&2; }

# setup SIDE PATCH?: a fresh copy of the published package in $WORK/SIDE, its own workspace,
# with or without the patch.
setup() {
    local side=$1 patch=$2 dir=$WORK/$1
    rm -rf "$dir"
    cp -R "$SRC" "$dir"
    chmod -R u+w "$dir"
    printf '\n# Added by rawtask'"'"'s benches/async-executor.sh.\n[workspace]\n' >>"$dir/Cargo.toml"
    if [ "$patch" = yes ]; then
        printf '\n[patch.crates-io]\nasync-task = { path = "%s" }\n' "$SHIM" >>"$dir/Cargo.toml"
    fi
}

# bench_binary SIDE: builds the bench and prints its executable's path.
bench_binary() {
    local dir=$WORK/$1
    (cd "$dir" && cargo bench --features static --bench executor --no-run \
        --message-format json 2>"$WORK/$1.build.log") |
        python3 -c '
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg.get("executable") \
            and msg["target"]["name"] == "executor":
        print(msg["executable"])
'
}

# check_patched: async-task in the patched graph must be the shim, and only the shim.
check_patched() {
    local dir=$WORK/patched tree err
    tree=$WORK/patched.tree
    err=$WORK/patched.tree.err
    (cd "$dir" && cargo tree -i async-task -e normal,dev --features static) >"$tree" 2>"$err" || {
        cat "$err" >&2
        echo "FAILED: async-executor bench: cargo could not resolve the patched graph"
        exit 1
    }
    if grep -q 'was not used in the crate graph' "$err" ||
        [ "$(head -n 1 "$tree")" != "async-task v4.7.1 ($SHIM)" ] ||
        grep 'async-task v' "$tree" | grep -vqF "($SHIM)"; then
        cat "$tree" "$err" >&2
        echo "FAILED: async-executor bench: the patch did not apply (the real async-task is in the graph)"
        exit 1
    fi
    note "patched graph: $(head -n 1 "$tree")"
    # And the unpatched graph has the real one.
    if ! (cd "$WORK/unpatched" && cargo tree -i async-task -e normal --features static 2>/dev/null) |
        head -n 1 | grep -qx 'async-task v4.7.1'; then
        echo "FAILED: async-executor bench: the unpatched graph does not have async-task 4.7.1 from crates.io"
        exit 1
    fi
}

if [[ -z "${REPORT_ONLY:-}" ]]; then
    mkdir -p "$WORK"
    # Have cargo fetch the published package (a scratch crate depending on exactly it).
    fetchdir=$WORK/fetch
    mkdir -p "$fetchdir/src"
    : >"$fetchdir/src/lib.rs"
    cat >"$fetchdir/Cargo.toml" <<EOF
[package]
name = "fetch-async-executor"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
async-executor = "=$VERSION"

[workspace]
EOF
    if ! (cd "$fetchdir" && cargo fetch >&2); then
        echo "SKIPPED: async-executor bench: cargo could not fetch async-executor $VERSION (no network?)"
        exit 0
    fi
    SRC=$(cd "$fetchdir" && cargo metadata --format-version 1 2>/dev/null |
        python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "async-executor":
        print(p["manifest_path"].rsplit("/", 1)[0])
')
    [ -d "$SRC/benches" ] || {
        echo "FAILED: async-executor bench: no benches/ in $SRC"
        exit 1
    }
    setup unpatched no
    setup patched yes
    for side in unpatched patched; do
        (cd "$WORK/$side" && cargo fetch >&2) || {
            echo "SKIPPED: async-executor bench: cargo could not fetch the bench's dependencies"
            exit 0
        }
    done
    check_patched
    note "building both bench binaries (release)"
    declare -A BIN
    for side in unpatched patched; do
        BIN[$side]=$(bench_binary "$side")
        [ -x "${BIN[$side]}" ] || {
            tail -n 30 "$WORK/$side.build.log" >&2
            echo "FAILED: async-executor bench: the $side bench did not build"
            exit 1
        }
        note "$side: ${BIN[$side]}"
    done
    if [[ -n "${BUILD_ONLY:-}" ]]; then
        # For benches/async-executor-share.sh: the two binaries, and each side's directory.
        for side in unpatched patched; do echo "$side ${BIN[$side]} $WORK/$side"; done
        exit 0
    fi
    rm -rf "$WORK/criterion"
    # The benchmarks (a criterion filter given on the command line narrows them).
    mapfile -t names < <(cd "$WORK/unpatched" && "${BIN[unpatched]}" --bench --list "$@" 2>/dev/null |
        sed -n 's/: benchmark$//p')
    [ ${#names[@]} -gt 0 ] || {
        echo "FAILED: async-executor bench: no benchmark listed"
        exit 1
    }
    note "${#names[@]} benchmarks, $ROUNDS rounds"
    # Interleaved per benchmark: each benchmark's patched and unpatched runs are back to back
    # (seconds apart, not a whole suite apart), the order alternating from one to the next.
    flip=0
    # run_round ROUND ROUNDS NAME...: one round of the named benchmarks, both sides each.
    run_round() {
        local round=$1 rounds=$2 name side order
        shift 2
        for name in "$@"; do
            if ((flip % 2 == 0)); then order="unpatched patched"; else order="patched unpatched"; fi
            flip=$((flip + 1))
            for side in $order; do
                note "round $((round + 1))/$rounds: $name: $side"
                # The bench's own directory is its working directory, as under `cargo bench`.
                (cd "$WORK/$side" && CRITERION_HOME=$WORK/criterion/$round/$side \
                    "${BIN[$side]}" --bench "${CRIT[@]}" --exact "$name" >&2)
            done
        done
        # An odd count of benchmarks would give every benchmark the same order each round.
        if (($# % 2 == 1)); then flip=$((flip + 1)); fi
    }
    for ((round = 0; round < ROUNDS; round++)); do
        run_round "$round" "$ROUNDS" "${names[@]}"
    done
    # Benchmarks shorter than SHORT_NS per iteration (spawn_one: two thread wake-ups, ~20 µs)
    # are cheap to repeat and the noisiest: their ratios spread 0.6-1.6 from round to round.
    # They get SHORT_ROUNDS rounds in all, chosen by round 1's unpatched time (never by a ratio).
    mapfile -t short < <(python3 - "$ROOT" "$WORK/criterion/0/unpatched" "$SHORT_NS" "${names[@]}" <<'PYTHON'
import sys
sys.path.insert(0, sys.argv[1] + "/benches")
from criterion_estimates import medians_by_id
side, limit, wanted = sys.argv[2], float(sys.argv[3]), set(sys.argv[4:])
for name, median in medians_by_id(side).items():
    if name in wanted and median < limit:
        print(name)
PYTHON
    )
    ((${#short[@]} > 0 && SHORT_ROUNDS > ROUNDS)) &&
        note "${#short[@]} benchmarks under $SHORT_NS ns: $((SHORT_ROUNDS - ROUNDS)) more rounds"
    for ((round = ROUNDS; round < SHORT_ROUNDS && ${#short[@]} > 0; round++)); do
        run_round "$round" "$SHORT_ROUNDS" "${short[@]}"
    done
fi

SHORT_NS=$SHORT_NS python3 - "$WORK/criterion" "$ROOT" <<'PYTHON'
import math, os, statistics, sys

root = sys.argv[1]
sys.path.insert(0, sys.argv[2] + "/benches")
from criterion_estimates import fmt_time as fmt, medians_by_id as estimates

rounds = sorted((d for d in os.listdir(root) if d.isdigit()), key=int) if os.path.isdir(root) else []
data = [(estimates(os.path.join(root, r, "patched")), estimates(os.path.join(root, r, "unpatched")))
        for r in rounds]
if not data:
    print("no results: run benches/async-executor.sh first")
    sys.exit(1)

def order(name):
    # create first, then single-thread before multi-thread, then the suite's order.
    kinds = ["spawn_one", "spawn_batch", "spawn_many_local", "spawn_recursively", "yield_now",
             "channels", "web_server"]
    group = 0 if name.startswith("executor::create") else (1 if name.startswith("single") else 2)
    kind = next((i for i, k in enumerate(kinds) if k in name), 99)
    return (group, "static" in name, kind, name)

# Every benchmark of the first round; the short ones have more rounds (see above).
names = sorted(set(data[0][0]) & set(data[0][1]), key=order)
def rounds_of(name):
    return [(p, u) for p, u in data if name in p and name in u]
counts = sorted({len(rounds_of(name)) for name in names})
label = f"{counts[0]} alternating rounds"
if len(counts) > 1:
    label += f"; {counts[-1]} for those under {float(os.environ.get('SHORT_NS', 1e5)) / 1e3:g} µs"
print(f"| async-executor 1.14.1 benchmark ({label}) | rawtask (patched) "
      "| async-task 4.7.1 | patched/unpatched, median | range |")
print("|---|---:|---:|---:|---:|")
medians = []
for name in names:
    both = rounds_of(name)
    ratios = sorted(p[name] / u[name] for p, u in both)
    m = statistics.median(ratios)
    medians.append(m)
    tp = statistics.median(p[name] for p, _ in both)
    tu = statistics.median(u[name] for _, u in both)
    flag = " ⚠" if round(m, 2) > 1.0 else ""
    print(f"| {name} | {fmt(tp)} | {fmt(tu)} | {m:.2f}{flag} | {ratios[0]:.2f}–{ratios[-1]:.2f} |")
g = math.exp(sum(map(math.log, medians)) / len(medians))
print(f"| **geometric mean ({len(medians)} benchmarks)** | | | **{g:.2f}** | |")
worst = max(zip(medians, names))
print(f"\nworst: {worst[1]} {worst[0]:.2f}; above 1.00: {sum(round(m, 2) > 1.0 for m in medians)}; "
      f"goal: geomean <= 0.90, none above 1.00")
PYTHON
