#!/usr/bin/env python3
"""Prints a Markdown table of rawtask against a peer from criterion's saved results.

    python3 benches/criterion-table.py CRITERION_HOME CAPTION ROW...

Each ROW is `label|group|rawtask function|peer function|peer name`; the times are criterion's
median point estimates, read from CRITERION_HOME/<group>/<function>/new/estimates.json. The
median, not the mean: on a shared machine a few slow samples should not move a figure. A ratio
below 1 means rawtask is faster. Exits with 1 (after printing the table, with `n/a` cells) when
a result is missing, so that a failed or skipped benchmark is not mistaken for a figure.

Example (after `cargo bench -p rawtask-benches --bench cancel`):

    python3 benches/criterion-table.py target/criterion "workload" \\
        "is_cancelled|token_is_cancelled|rawtask|tokio-util|tokio-util 0.7.20"
"""

import sys

from criterion_estimates import estimate_ns, fmt_time


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    root, caption, rows = sys.argv[1], sys.argv[2], sys.argv[3:]
    print(f"| {caption} | rawtask | peer | peer's time | rawtask/peer |")
    print("|---|---:|---|---:|---:|")
    missing = False
    for row in rows:
        label, group, raw_fn, peer_fn, peer = row.split("|")
        raw, other = estimate_ns(root, group, raw_fn), estimate_ns(root, group, peer_fn)
        ratio = f"{raw / other:.2f}" if raw and other else "n/a"
        missing |= raw is None or other is None
        print(f"| {label} | {fmt_time(raw)} | {peer} | {fmt_time(other)} | {ratio} |")
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
