#!/usr/bin/env python3
"""The task crate's share of a program's CPU time, from a `perf record -e cpu-clock` profile.

    perf-task-share.py PERF_DATA BINARY SIDE ROOT

Prints one line, `TASK_SAMPLES TOTAL_SAMPLES ATOMIC_TASK_SAMPLES`: of all the samples in
PERF_DATA (every thread, user and kernel), how many fell in the task crate's code of SIDE
(`unpatched`: async-task; `patched`: rawtask, whose workspace is ROOT), and how many of those
are its atomic read-modify-writes: samples at the instruction right after a `lock`-prefixed
one (or an `xchg` with memory, locked without the prefix). A timer sample lands where the
interrupted instruction stream resumes, so a locked instruction's cost, tens of cycles while
the store buffer drains, shows at the instruction after it; such a sample is counted as the
locked instruction's, whoever's code follows it. The rule is benches/task_code.py's, the one
benches/async-executor-share.sh applies to callgrind's instructions, with the innermost source
line at a sample's address and the outermost function there. Samples outside BINARY (the
kernel, libc's allocator) are never the crate's.

Addresses come from `perf script` as symbol + offset, are turned into addresses in BINARY with
`nm`, and are resolved with `addr2line -i` (BINARY needs line tables).
"""

import collections
import os
import re
import subprocess
import sys

from task_code import side_code


def after_atomics(binary, cache_dir):
    """{address in BINARY: the atomic read-modify-write instruction right before it}. The
    disassembly is read once per binary (cached beside the profiles, keyed by its size and
    modification time)."""
    info = os.stat(binary)
    cache = os.path.join(cache_dir, f"after-atomics.{os.path.basename(binary)}.txt")
    key = f"{binary} {info.st_size} {info.st_mtime_ns}"
    try:
        with open(cache) as f:
            if f.readline().rstrip("\n") == key:
                return dict(tuple(int(a, 16) for a in pair.split(":"))
                            for pair in f.read().split())
    except OSError:
        pass
    listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", binary],
                             capture_output=True, text=True, check=True).stdout
    instruction = re.compile(r"^\s*([0-9a-f]+):\s+(.*)$")
    atomic = re.compile(r"^(lock\b|xchg\s+\S*\(|xchg\s+%\w+,\S*\()")
    found, locked = {}, None
    for line in listing.splitlines():
        m = instruction.match(line)
        if not m:
            continue
        address = int(m.group(1), 16)
        if locked is not None:
            found[address] = locked
        locked = address if atomic.match(m.group(2)) else None
    with open(cache, "w") as f:
        f.write(key + "\n" + " ".join(f"{a:x}:{l:x}" for a, l in sorted(found.items())) + "\n")
    return found


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
    # A sample right after an atomic instruction is that instruction's (see above).
    atomics = after_atomics(binary, os.path.dirname(os.path.abspath(data)))
    effective, atomic_at = collections.Counter(), collections.Counter()
    for address, count in at.items():
        if address in atomics:
            atomic_at[atomics[address]] += count
        effective[atomics.get(address, address)] += count
    at = effective
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
    task = task_atomic = 0
    for address, count in at.items():
        chain = frames.get(address) or [("", "")]
        innermost_file, outer_function = chain[0][1], chain[-1][0]
        if is_task(innermost_file, outer_function):
            task += count
            task_atomic += atomic_at[address]
    print(task, total, task_atomic)


if __name__ == "__main__":
    main()
