#!/usr/bin/env bash
# How much of each benchmark of async-executor 1.14.1's own suite is the task crate's code,
# and so how far swapping the task crate could move it at best.
#
# benches/async-executor.sh times the suite with async-task patched to rawtask against the
# real async-task 4.7.1. Many of those benchmarks spend most of their time outside the task
# crate: in async-executor's queues and sleepers, in channels, in thread wake-ups. This script
# builds both sides with line tables, runs each benchmark under callgrind (criterion's
# `--profile-time`, which iterates without analysing), and sums the instructions whose source
# line is in the task crate (its code inlined into the executor included) or that run inside
# one of its functions: async-task's on the unpatched side; rawtask's and the shim's on the
# patched side. It prints per benchmark:
#
#   async-task share   instructions in async-task / all instructions (unpatched)
#   rawtask share      instructions in rawtask / all instructions (patched)
#   bound              1 - async-task share: the patched/unpatched ratio the benchmark would
#                      have if rawtask's task code cost nothing (instructions, not time: the
#                      time a thread sleeps in the kernel is not counted, which only makes the
#                      task's share look larger and the bound lower than it is)
#   user CPU / wall    user-space CPU time over wall time of a native run of the unpatched
#                      side (same --profile-time, no valgrind; all threads' CPU time, so it
#                      can exceed 1 on two threads). Well below 1 means the benchmark spends
#                      its time waiting: threads asleep in the kernel between wake-ups.
#   bound in time      1 - async-task share x min(1, user CPU / wall): the instruction share
#                      is a share of user-space work only, so a task crate that cost nothing
#                      could save at most that share of the user CPU time, and no more wall
#                      time than that (nor more than that share of the wall time, where
#                      threads work in parallel). It is the tighter bound where threads
#                      mostly wait (spawn_one: a thread wake-up there and back per
#                      iteration), and the instruction bound where they are busy.
#   CPU time shares    the same split of the benchmark's CPU time, from a `perf record -e
#                      cpu-clock` profile of each side (benches/perf-task-share.py; every
#                      thread, user and kernel): what the instruction shares miss, such as an
#                      atomic read-modify-write costing tens of instructions' time, or a
#                      contended lock spinning in the executor
#   bound from the     1 - async-task's share of CPU time x min(1, user CPU / wall): the bound
#   time profile       in time, from the profile instead of the instruction count
#   atomic / other     (a second table) each crate's share of the CPU time split into its
#                      atomic read-modify-writes (locked instructions: a timer sample lands on
#                      the instruction after one) and everything else it runs
#   per task run       all instructions per call of the task crate's `RawTask::run`, patched
#                      over unpatched: what the swap changes in the whole program's work,
#                      executor code included. That code is compiled in the benchmark's own
#                      crate, split into 16 codegen units; which of concurrent-queue's
#                      functions share a unit (and so get inlined) depends on every item in
#                      the crate, the task crate's too. With CODEGEN_UNITS=1 both sides are
#                      built with one unit, which takes that chance out of the comparison.
#
# and the geometric mean of the bounds: no task crate can bring the suite's geometric mean
# below it.
#
#   benches/async-executor-share.sh              every benchmark, 1 s of profiling each
#   PROFILE_TIME=3 benches/async-executor-share.sh spawn_one
#   REPORT_ONLY=1 benches/async-executor-share.sh   the table of the last run's profiles
#   CODEGEN_UNITS=1 benches/async-executor-share.sh  both sides built with one codegen unit
#                                                    (in target/async-executor-bench-cgu1/)
#
# Needs valgrind; prints `SKIPPED: ...` without it. The time profile needs perf (Debian's
# linux-perf) and reads n/a without it. Builds in target/async-executor-bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PROFILE_TIME=${PROFILE_TIME:-1}
if [[ -n "${CODEGEN_UNITS:-}" ]]; then
    export CARGO_PROFILE_BENCH_CODEGEN_UNITS=$CODEGEN_UNITS
    WORK=${WORK:-$ROOT/target/async-executor-bench-cgu$CODEGEN_UNITS}
fi
WORK=${WORK:-$ROOT/target/async-executor-bench}
OUT=$WORK/share
note() { echo "async-executor share: $*" >&2; }

if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
    echo "SKIPPED: async-executor share: valgrind (callgrind) is not installed"
    exit 0
fi

if [[ -n "${REPORT_ONLY:-}" ]]; then
    count=$(ls "$OUT"/*.name 2>/dev/null | wc -l)
else
# Line tables, so that callgrind can tell inlined task code from the executor's.
export CARGO_PROFILE_BENCH_DEBUG=line-tables-only
sides=$(BUILD_ONLY=1 WORK=$WORK bash benches/async-executor.sh)
case $sides in SKIPPED:* | FAILED:*)
    echo "$sides"
    exit 0
    ;;
esac
declare -A BIN DIR
while read -r side bin dir; do
    BIN[$side]=$bin
    DIR[$side]=$dir
done <<<"$sides"

mapfile -t names < <(cd "${DIR[unpatched]}" && "${BIN[unpatched]}" --bench --list "$@" 2>/dev/null |
    sed -n 's/: benchmark$//p')
[ ${#names[@]} -gt 0 ] || {
    echo "FAILED: async-executor share: no benchmark listed"
    exit 1
}
rm -rf "$OUT"
mkdir -p "$OUT/unpatched" "$OUT/patched"
# perf's cpu-clock is a software event: it samples on machines without hardware counters too.
perf_ok=""
if command -v perf >/dev/null && perf record -q -e cpu-clock -o "$OUT/probe.data" true >/dev/null 2>&1; then
    perf_ok=1
else
    note "perf cannot sample here (install linux-perf; perf_event_paranoid): no time profile"
fi
rm -f "$OUT/probe.data"
for i in "${!names[@]}"; do
    name=${names[$i]}
    for side in unpatched patched; do
        note "$name: $side"
        (cd "${DIR[$side]}" && valgrind --tool=callgrind --callgrind-out-file="$OUT/$side/$i.out" \
            "${BIN[$side]}" --bench --profile-time "$PROFILE_TIME" --exact "$name" \
            >"$OUT/$side/$i.log" 2>&1) || {
            tail -n 20 "$OUT/$side/$i.log" >&2
            echo "FAILED: async-executor share: $name ($side) failed under callgrind"
            exit 1
        }
        callgrind_annotate --inclusive=no --auto=no --threshold=100 "$OUT/$side/$i.out" \
            >"$OUT/$side/$i.txt" 2>/dev/null
    done
    # The same run natively, timed: wall, user and system seconds.
    note "$name: unpatched, native"
    (
        cd "${DIR[unpatched]}"
        TIMEFORMAT='%R %U %S'
        { time "${BIN[unpatched]}" --bench --profile-time "$PROFILE_TIME" --exact "$name" \
            >/dev/null 2>&1; } 2>"$OUT/unpatched/$i.time"
    )
    # The same runs sampled in time, both sides: the task crate's share of the CPU time.
    if [[ -n $perf_ok ]]; then
        for side in unpatched patched; do
            note "$name: $side, perf"
            (cd "${DIR[$side]}" && perf record -q -e cpu-clock -F 2000 -o "$OUT/$side/$i.perf.data" \
                "${BIN[$side]}" --bench --profile-time "$PROFILE_TIME" --exact "$name" \
                >/dev/null 2>&1) &&
                python3 benches/perf-task-share.py "$OUT/$side/$i.perf.data" "${BIN[$side]}" \
                    "$side" "$ROOT" >"$OUT/$side/$i.perf" || note "$name: $side: perf failed"
            rm -f "$OUT/$side/$i.perf.data"
        done
    fi
    echo "$name" >"$OUT/$i.name"
done
count=${#names[@]}
fi

python3 - "$OUT" "$count" "$ROOT" "${CODEGEN_UNITS:-}" <<'PYTHON'
import math, re, sys

out, count, root, cgus = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
line = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+([^:]+):(.*?)(?: \[.*\])?$")

def shares(path, is_task):
    total = task = 0
    for text in open(path, encoding="utf-8", errors="replace"):
        if "PROGRAM TOTALS" in text:
            total = int(text.split()[0].replace(",", ""))
            continue
        m = line.match(text)
        if m and is_task(m.group(2), m.group(3)):
            task += int(m.group(1).replace(",", ""))
    return task / total if total else float("nan")

sys.path.insert(0, root + "/benches")
from task_code import side_code

in_async_task = side_code("unpatched", root)
in_rawtask = side_code("patched", root)

def program_total(path):
    for text in open(path, encoding="utf-8", errors="replace"):
        if "PROGRAM TOTALS" in text:
            return int(text.split()[0].replace(",", ""))
    return 0

def task_runs(path, crate):
    """How many times the task crate's `RawTask::run` was called (through the vtable, so
    always a real call), read from the callgrind file's call records."""
    names, runs, callee = {}, 0, None
    run = re.compile(r"^" + re.escape(crate) + r"::raw::(?:harness::)?RawTask<[^>]*>::run$")
    for text in open(path, encoding="utf-8", errors="replace"):
        if text.startswith(("fn=", "cfn=")):
            key, rest = text.rstrip("\n").split("=", 1)
            m = re.match(r"\((\d+)\)(?: (.*))?$", rest)
            if m and m.group(2):
                names[m.group(1)] = m.group(2)
            name = names.get(m.group(1), "") if m else rest
            callee = name if key == "cfn" else None
        elif text.startswith("calls=") and callee is not None:
            if run.match(callee):
                runs += int(text[6:].split()[0])
            callee = None
    return runs

def per_run(side, i, crate):
    runs = task_runs(f"{out}/{side}/{i}.out", crate)
    return program_total(f"{out}/{side}/{i}.txt") / runs if runs else None

def perf_counts(side, i):
    """(task crate's samples, all samples, the task crate's samples at its atomic
    instructions) of the `perf record` profile, if it ran."""
    try:
        counts = [int(word) for word in open(f"{out}/{side}/{i}.perf").read().split()]
    except (OSError, ValueError):
        return None
    if len(counts) == 2:  # written before the atomic count was
        counts.append(None)
    return tuple(counts) if len(counts) == 3 and counts[1] else None

def time_share(side, i):
    """The task crate's share of the CPU time samples of `perf record`, if it ran."""
    counts = perf_counts(side, i)
    return counts[0] / counts[1] if counts else None

title = "async-executor 1.14.1 benchmark (callgrind, instructions"
title += f"; codegen-units = {cgus} on both sides)" if cgus else ")"
def cpu_over_wall(i):
    """User CPU seconds over wall seconds of the native unpatched run, if it was timed."""
    try:
        wall, user, _sys = map(float, open(f"{out}/unpatched/{i}.time").read().split()[-3:])
    except (OSError, ValueError):
        return None
    return user / wall if wall > 0 else None

print(f"| {title} | async-task share (unpatched) | rawtask share (patched) | bound: ratio if the task code were free | instructions per task run, patched/unpatched | user CPU / wall (unpatched, native) | bound in time | async-task share of CPU time (perf, unpatched) | rawtask share of CPU time (perf, patched) | bound from the time profile |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
bounds, per_task, time_bounds, profile_bounds = [], [], [], []
for i in range(count):
    name = open(f"{out}/{i}.name").read().strip()
    at = shares(f"{out}/unpatched/{i}.txt", in_async_task)
    rt = shares(f"{out}/patched/{i}.txt", in_rawtask)
    bound = 1 - at
    bounds.append(bound)
    u, p = per_run("unpatched", i, "async_task"), per_run("patched", i, "rawtask")
    ratio = f"{p / u:.3f}" if u and p else "n/a (no task runs)"
    if u and p:
        per_task.append(p / u)
    busy = cpu_over_wall(i)
    if busy is not None:
        time_bounds.append(1 - at * min(busy, 1.0))
    busy_text = f"{busy:.2f}" if busy is not None else "n/a"
    time_text = f"{time_bounds[-1]:.2f}" if busy is not None else "n/a"
    at_time, rt_time = time_share("unpatched", i), time_share("patched", i)
    profile = None
    if at_time is not None and busy is not None:
        profile = 1 - at_time * min(busy, 1.0)
        profile_bounds.append(profile)
    pct = lambda v: f"{v:.1%}" if v is not None else "n/a"
    profile_text = f"{profile:.2f}" if profile is not None else "n/a"
    print(f"| {name} | {at:.1%} | {rt:.1%} | {bound:.2f} | {ratio} | {busy_text} | {time_text} "
          f"| {pct(at_time)} | {pct(rt_time)} | {profile_text} |")
geo = math.exp(sum(math.log(b) for b in bounds) / len(bounds))
geo_task = (f"**{math.exp(sum(math.log(r) for r in per_task) / len(per_task)):.3f}**"
            if per_task else "")
geo_time = (f"**{math.exp(sum(math.log(b) for b in time_bounds) / len(time_bounds)):.2f}**"
            if len(time_bounds) == count else "")
geo_profile = (f"**{math.exp(sum(math.log(b) for b in profile_bounds) / len(profile_bounds)):.2f}**"
               if len(profile_bounds) == count else "")
print(f"| **geometric mean ({count} benchmarks)** | | | **{geo:.2f}** | {geo_task} | | {geo_time} "
      f"| | | {geo_profile} |")

# The time profile's task samples split into the crate's atomic read-modify-writes and the rest
# (benches/perf-task-share.py): the rest is what a cheaper implementation of the same protocol
# could still save; the atomics only a protocol with fewer of them.
print()
print("| async-executor 1.14.1 benchmark (perf, share of CPU time) | async-task: atomic instructions "
      "| async-task: other | rawtask: atomic instructions | rawtask: other |")
print("|---|---:|---:|---:|---:|")
for i in range(count):
    name = open(f"{out}/{i}.name").read().strip()
    cells = []
    for side in ("unpatched", "patched"):
        counts = perf_counts(side, i)
        if counts and counts[2] is not None:
            task, total, atomic = counts
            cells += [f"{atomic / total:.1%}", f"{(task - atomic) / total:.1%}"]
        else:
            cells += ["n/a", "n/a"]
    print(f"| {name} | " + " | ".join(cells) + " |")
PYTHON
