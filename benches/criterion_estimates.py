"""Reading criterion's saved estimates, shared by the bench scripts (criterion-table.py,
report.sh, report-executors.sh, async-executor.sh)."""

import json
import os


def estimate_ns(root, group, function, statistic="median"):
    """Criterion's point estimate of `statistic` ("median" or "mean") for one benchmark, in
    nanoseconds, from ROOT/<group>/<function>/new/estimates.json; None if it has no result."""
    path = os.path.join(root, group, function, "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)[statistic]["point_estimate"]
    except FileNotFoundError:
        return None


def medians_by_id(root):
    """{benchmark id: median point estimate in nanoseconds} of every benchmark saved under
    ROOT (a CRITERION_HOME), whatever its group and function directories are named."""
    out = {}
    for dirpath, _, files in os.walk(root):
        if "estimates.json" in files and os.path.basename(dirpath) == "new":
            with open(os.path.join(dirpath, "benchmark.json")) as f:
                name = json.load(f)["full_id"]
            with open(os.path.join(dirpath, "estimates.json")) as f:
                out[name] = json.load(f)["median"]["point_estimate"]
    return out


def fmt_time(ns):
    """A time in the largest unit that keeps it at or above 1; `n/a` for a missing one."""
    if ns is None:
        return "n/a"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.2f} {unit}"
    return f"{ns:.2f} ns" if ns < 10 else f"{ns:.1f} ns"
