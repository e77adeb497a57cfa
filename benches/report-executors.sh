#!/usr/bin/env bash
# Runs the end-to-end executor benchmarks (rawtask's reference work-stealing executor against
# async-executor and tokio, 2 worker threads each) and prints a markdown table of the mean
# times, with the ratios rawtask/peer and their geometric means. A ratio below 1 means
# rawtask is faster.
#
#   benches/report-executors.sh                 full run (about three minutes), then the table
#   benches/report-executors.sh --quick         any other arguments are passed to criterion
#   REPORT_ONLY=1 benches/report-executors.sh   no run: the table of the last run's results
#
# The numbers are criterion's mean point estimates, read from
# <criterion home>/<group>/<function>/new/estimates.json.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${REPORT_ONLY:-}" ]]; then
    # criterion's own output goes to stderr, so that stdout is the table alone.
    cargo bench -p rawtask-benches --bench executors -- "$@" >&2
fi

# Where criterion saves its results: $CRITERION_HOME, else <cargo's target dir>/criterion.
criterion_home=${CRITERION_HOME:-$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/criterion}

python3 - "$criterion_home" <<'PYTHON'
import math, sys

sys.path.insert(0, "benches")
from criterion_estimates import estimate_ns, fmt_time

root = sys.argv[1]
workloads = ["spawn_one", "spawn_many_local", "spawn_many_remote_idle",
             "spawn_many_remote_busy1", "spawn_many_remote_busy2", "spawn_recursive",
             "yield_many", "ping_pong", "chained_spawn", "round_trips"]
impls = ["rawtask", "async-executor", "tokio"]
peers = ["async-executor", "tokio"]
# The sizes (see benches/benches/executors.rs); tokio's are those of its
# benches/rt_multi_threaded.rs.
notes = {
    "spawn_many_local": " (tokio's; 10,000 tasks from a task)",
    "spawn_many_remote_idle": " (tokio's; 10,000 tasks from outside)",
    "spawn_many_remote_busy1": " (tokio's; 10,000 from outside, 4 yielding spinners)",
    "spawn_many_remote_busy2": " (tokio's; 1,000 from outside, 2 spawning spinners)",
    "spawn_recursive": " (2,047 tasks)",
    "yield_many": " (tokio's; 200,000 polls)",
    "ping_pong": " (tokio's; 1,000 pairs)",
    "chained_spawn": " (tokio's; 1,000 tasks)",
    "round_trips": " (10,000 round trips)",
}

def mean_ns(group, function):
    return estimate_ns(root, group, function, "mean")

print("| workload | rawtask | async-executor | tokio "
      "| rawtask/async-executor | rawtask/tokio |")
print("|---|---:|---:|---:|---:|---:|")
ratios = {peer: [] for peer in peers}
for w in workloads:
    t = {i: mean_ns(w, i) for i in impls}
    cells = []
    for peer in peers:
        if t["rawtask"] and t[peer]:
            r = t["rawtask"] / t[peer]
            ratios[peer].append(r)
            cells.append(f"{r:.2f}")
        else:
            cells.append("n/a")
    print(f"| {w}{notes.get(w, '')} | "
          + " | ".join(fmt_time(t[i]) for i in impls)
          + " | " + " | ".join(cells) + " |")

def geomean(xs):
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("nan")

print(f"| **geometric mean** | | | | **{geomean(ratios['async-executor']):.2f}** "
      f"| **{geomean(ratios['tokio']):.2f}** |")
PYTHON
