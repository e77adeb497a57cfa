#!/usr/bin/env bash
# Runs the core benchmarks (rawtask against async-task and async-task-ffi) and prints
# a markdown table of the mean times, with the ratios rawtask/peer and their geometric
# means. A ratio below 1 means rawtask is faster.
#
#   benches/report.sh                 full run (about 3 minutes), then the table
#   benches/report.sh --quick         any other arguments are passed to criterion
#   REPORT_ONLY=1 benches/report.sh   no run: the table of the last run's results
#
# The numbers are criterion's mean point estimates, read from
# <criterion home>/<group>/<function>/new/estimates.json.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${REPORT_ONLY:-}" ]]; then
    # criterion's own output goes to stderr, so that stdout is the table alone.
    cargo bench -p rawtask-benches --bench core -- "$@" >&2
fi

# Where criterion saves its results: $CRITERION_HOME, else <cargo's target dir>/criterion.
criterion_home=${CRITERION_HOME:-$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/criterion}

python3 - "$criterion_home" <<'EOF'
import math, sys

sys.path.insert(0, "benches")
from criterion_estimates import estimate_ns, fmt_time

root = sys.argv[1]
workloads = [
    "spawn_drop", "spawn_run_join", "spawn_run_detach", "spawn_with_u64_data",
    "self_wake_run", "waker_clone_drop", "future_1k", "flume_cross_thread",
]
impls = ["rawtask", "async-task", "async-task-ffi"]
notes = {
    "self_wake_run": " (per poll)",
    "flume_cross_thread": " (per 1000 tasks)",
}

def mean_ns(group, function):
    return estimate_ns(root, group, function, "mean")

print("| workload | rawtask | async-task | async-task-ffi "
      "| rawtask/async-task | rawtask/async-task-ffi |")
print("|---|---:|---:|---:|---:|---:|")
ratios = {"async-task": [], "async-task-ffi": []}
for w in workloads:
    t = {i: mean_ns(w, i) for i in impls}
    cells = []
    for peer in ("async-task", "async-task-ffi"):
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

print(f"| **geometric mean** | | | | **{geomean(ratios['async-task']):.2f}** "
      f"| **{geomean(ratios['async-task-ffi']):.2f}** |")
EOF
