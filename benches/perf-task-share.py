#!/usr/bin/env python3
"""The task crate's share of a program's CPU time, from a `perf record -e cpu-clock` profile.

    perf-task-share.py PERF_DATA BINARY SIDE ROOT

Prints one line, `TASK_SAMPLES TOTAL_SAMPLES`: of all the samples in PERF_DATA (every thread,
user and kernel), how many fell in the task crate's code of SIDE (`unpatched`: async-task;
`patched`: rawtask, whose workspace is ROOT). The rule is benches/task_code.py's, the one
benches/async-executor-share.sh applies to callgrind's instructions, with the innermost source
line at a sample's address and the outermost function there. Samples outside BINARY (the
kernel, libc's allocator) are never the crate's.

Addresses come from `perf script` as symbol + offset, are turned into addresses in BINARY with
`nm`, and are resolved with `addr2line -i` (BINARY needs line tables).
"""

import collections
import re
import subprocess
import sys

from task_code import side_code


def main():
    data, binary, side, root = sys.argv[1:]
    is_task = side_code(side, root)
    script = subprocess.run(
        ["perf", "script", "-i", data, "--no-demangle", "-F", "ip,sym,symoff,dso"],
        capture_output=True, text=True, check=True).stdout
    symbols = {}
    for line in subprocess.run(["nm", binary], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            symbols.setdefault(parts[2], int(parts[0], 16))
    sample = re.compile(r"\s*[0-9a-f]+\s+(\S+)\+0x([0-9a-f]+)\s+\((.*)\)\s*$")
    total, at = 0, collections.Counter()
    for line in script.splitlines():
        if not line.strip():
            continue
        total += 1
        m = sample.match(line)
        if m and m.group(3) == binary and m.group(1) in symbols:
            at[symbols[m.group(1)] + int(m.group(2), 16)] += 1
    addresses = sorted(at)
    resolved = subprocess.run(
        ["addr2line", "-e", binary, "-i", "-f", "-C", "-a"] + [hex(a) for a in addresses],
        capture_output=True, text=True, check=True).stdout.splitlines()
    # addr2line prints each address, then (function, file:line) per inlined frame, innermost
    # first.
    frames, current, i = {}, None, 0
    while i < len(resolved):
        if resolved[i].startswith("0x"):
            current = int(resolved[i], 16)
            frames[current] = []
            i += 1
        else:
            frames[current].append((resolved[i], resolved[i + 1] if i + 1 < len(resolved) else ""))
            i += 2
    task = 0
    for address, count in at.items():
        chain = frames.get(address) or [("", "")]
        innermost_file, outer_function = chain[0][1], chain[-1][0]
        if is_task(innermost_file, outer_function):
            task += count
    print(task, total)


if __name__ == "__main__":
    main()
