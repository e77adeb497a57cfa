#!/usr/bin/env python3
"""Assembles benches/RESULTS.md and benches/results.svg from the tables benches/results.sh
collected (one Markdown file per step in its output directory).

    python3 benches/results.py OUT_DIR RESULTS.md results.svg key=value...

The keys (date, cpu, cores, rustc, load_before, load_after, config, ab_rounds, ae_rounds,
ae_short_rounds, commit) describe the run. The headline lines and the chart are read from the
tables themselves, so they cannot disagree with them.
"""

import math
import os
import re
import sys


def read(out, name):
    path = os.path.join(out, name + ".md")
    status_path = os.path.join(out, name + ".status")
    status = open(status_path).read().strip() if os.path.exists(status_path) else "not run"
    text = open(path).read().strip() if os.path.exists(path) else ""
    return text, status


def tables(text):
    """The Markdown tables of `text`: lists of rows, each a list of cells (header included,
    separator dropped)."""
    found, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                current.append(cells)
        elif current:
            found.append(current)
            current = []
    if current:
        found.append(current)
    return found


# ab's groups, in the order results.sh asks for them, and their subsection titles in RESULTS.md
# (the README links to these anchors).
AB_GROUPS = ["core", "scope", "capi", "cdylib", "ffi", "compat", "home", "storage", "floor"]
AB_TITLES = {
    "core": "Core workloads against async-task",
    "scope": "Scoped children against plain tasks",
    "capi": "C callbacks against Rust closures",
    "cdylib": "The C path in a shared library",
    "ffi": "FFI futures against async-ffi",
    "compat": "Compatibility layers",
    "home": "Home scheduler from C",
    "storage": "Task pools against the heap",
    "floor": "Spawn, run and join against its floor",
}


def ab_groups(count):
    """The groups of an ab step output with `count` tables: today's, or an older run's list
    (before the cdylib group, and before the scope group too), or none when none fits."""
    older = [g for g in AB_GROUPS if g != "cdylib"]
    for groups in (AB_GROUPS, older, [g for g in older if g != "scope"]):
        if count == len(groups):
            return groups
    return []


def ab_chunks(text, count):
    """`text` cut into `count` pieces, each starting at a table (and keeping the lines after it
    up to the next table); None when the count differs."""
    chunks, current, in_table = [], [], False
    for line in text.splitlines():
        starts = line.startswith("|") and not in_table
        in_table = line.startswith("|")
        if starts and current and any(l.startswith("|") for l in current):
            chunks.append("\n".join(current).strip())
            current = []
        current.append(line)
    if current:
        chunks.append("\n".join(current).strip())
    return chunks if len(chunks) == count else None


def criterion_ratios(text):
    """{workload: (peer, rawtask/peer)} from a benches/criterion-table.py table."""
    found = tables(text)
    if not found:
        return {}
    return {r[0]: (r[2], number(r[4])) for r in found[0][1:] if len(r) > 4}


def number(cell):
    match = re.search(r"-?\d+(?:\.\d+)?", cell.replace(",", "").replace("*", ""))
    return float(match.group()) if match else None


def geomean(xs):
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None


def earlier_machines(results_md, machine):
    """The headline of the previous run of each other machine, as Markdown lines.

    Ratios move with the processor (the atomics rawtask saves cost several times more on some
    than on others), so a run on a new machine keeps the headline of the last run on each
    other machine instead of dropping it: the previous file's own run becomes an entry when
    its machine differs, and its entries carry over, one per machine."""
    try:
        old = open(results_md, encoding="utf-8").read().splitlines()
    except OSError:
        return []

    def field(lines, key):
        return next((l[len(key):].strip() for l in lines if l.startswith(key)), "?")

    def block(lines, title):
        """The lines of section `title` (its own heading level), without the heading."""
        level = title.split(" ")[0]
        try:
            start = lines.index(title) + 1
        except ValueError:
            return []
        end = next((i for i in range(start, len(lines))
                    if lines[i].startswith("#") and len(lines[i].split(" ")[0]) <= len(level)),
                   len(lines))
        return lines[start:end]

    entries = []  # (machine, lines)
    old_machine = field(old, "- machine:")
    if old_machine not in ("?", machine):
        headline = [l for l in block(old, "## Headline") if l.startswith("- ")]
        if headline:
            entries.append((old_machine, [
                f"### {old_machine}",
                "",
                f"{field(old, '- date:')}, rawtask commit {field(old, '- rawtask commit:')}; "
                f"its tables are in the git history of this file.",
                "",
            ] + headline + [""]))
    section = block(old, "## Earlier runs on other machines")
    heads = [i for i, l in enumerate(section) if l.startswith("### ")]
    for n, i in enumerate(heads):
        name = section[i][4:].strip()
        if name != machine and all(name != m for m, _ in entries):
            end = heads[n + 1] if n + 1 < len(heads) else len(section)
            entries.append((name, section[i:end]))
    return [line for _, lines in entries for line in lines]


def span(values):
    """`low–high` to two decimals, or the one value when they print alike."""
    values = list(values)
    low, high = f"{min(values):.2f}", f"{max(values):.2f}"
    return low if low == high else f"{low}–{high}"


def main():
    out, results_md, results_svg = sys.argv[1:4]
    meta = dict(arg.split("=", 1) for arg in sys.argv[4:])
    steps = {name: read(out, name) for name in ["ab", "join-set", "cancel", "scope", "batch",
                                                 "storage", "executors", "async-executor",
                                                 "async-executor-share",
                                                 "async-executor-share-cgu1", "code-size"]}

    ab_tables = tables(steps["ab"][0])
    ab_names = ab_groups(len(ab_tables))
    ab = dict(zip(ab_names, ab_tables))

    series = []  # (title, [(label, ratio)]) for the chart
    headline = []
    if "core" in ab:
        rows = [(r[0].split(" (")[0], number(r[1])) for r in ab["core"][1:]
                if not r[0].startswith("**")]
        series.append(("rawtask / async-task 4.7.1 (core workloads, interleaved A/B medians)", rows))
        g = geomean([v for _, v in rows])
        headline.append(f"- **rawtask / async-task 4.7.1**, {len(rows)} core task workloads: geometric "
                        f"mean of medians **{g:.2f}** (worst {max(v for _, v in rows):.2f}, "
                        f"{min(rows, key=lambda r: -r[1])[0]}).")
    if "floor" in ab:
        rows = {r[0]: number(r[1]) for r in ab["floor"][1:]}
        raw = next((v for k, v in rows.items() if "rawtask/floor" in k), None)
        peer = next((v for k, v in rows.items() if "async-task/floor" in k), None)
        size = re.search(r"alloc (\d+) bytes", ab["floor"][0][0])
        if raw is not None:
            headline.append(f"- **spawn + run + join against its floor** (one {size.group(1) if size else '?'}-byte "
                            f"allocation, 2 atomic read-modify-writes, one free): rawtask "
                            f"**{raw:.2f}x**, async-task {peer:.2f}x.")
    if "scope" in ab:
        rows = {r[0]: number(r[1]) for r in ab["scope"][1:]}
        signal = rows.get("scoped spawn + done signal")  # the labels of ab.rs's scope group
        bare = rows.get("scoped spawn, no signal")
        joinset = criterion_ratios(steps["scope"][0])
        vs_tokio = next((v for k, (_, v) in joinset.items() if "spawn_future_with_signal" in k),
                        None)
        if signal is not None and bare is not None:
            line = (f"- **scoped children** (`rawtask::scope`): a child with done and cancel "
                    f"signals costs **{signal:.2f}x** a plain spawn + join, one without "
                    f"signals {bare:.2f}x")
            if vs_tokio is not None:
                line += f"; with signals, **{vs_tokio:.2f}** of tokio's `JoinSet` spawn + join"
            headline.append(line + ".")
    tokens = criterion_ratios(steps["cancel"][0])
    if tokens:
        peers = " and ".join(dict.fromkeys(peer for peer, _ in tokens.values()))
        cells = [f"{k} **{v:.2f}**" for k, (_, v) in tokens.items() if v is not None]
        headline.append(f"- **tokens and background jobs**, rawtask / {peers} (criterion "
                        f"medians): " + "; ".join(cells) + ".")
    ex = tables(steps["executors"][0])
    if ex:
        rows = [r for r in ex[0][1:] if not r[0].startswith("**")]
        ae_rows = [(r[0].split(" (")[0], number(r[4])) for r in rows if number(r[4]) is not None]
        tk_rows = [(r[0].split(" (")[0], number(r[5])) for r in rows if number(r[5]) is not None]
        series.append(("rawtask executor / async-executor (end to end, 2 threads)", ae_rows))
        series.append(("rawtask executor / tokio (end to end, 2 threads)", tk_rows))
        if ae_rows and tk_rows:
            headline.append(f"- **rawtask's reference executor**, end to end on 2 threads: "
                            f"geometric mean **{geomean([v for _, v in ae_rows]):.2f}** of "
                            f"async-executor's time, **{geomean([v for _, v in tk_rows]):.2f}** of tokio's.")
    ae = tables(steps["async-executor"][0])
    measured = {}  # async-executor's suite: benchmark -> patched/unpatched median
    if ae:
        rows = [(r[0], number(r[3])) for r in ae[0][1:] if not r[0].startswith("**")]
        measured = dict(rows)
        series.append(("async-executor 1.14.1's own suite: async-task patched to rawtask / unpatched", rows))
        # The table's own geometric mean (of the unrounded medians), else one of its cells.
        total = next((r for r in ae[0][1:] if r[0].startswith("**")), None)
        g = number(total[3]) if total and number(total[3]) is not None else geomean([v for _, v in rows])
        worst = max(rows, key=lambda r: r[1])
        above = sum(v > 1.0 for _, v in rows)  # the table's two-decimal medians
        headline.append(f"- **async-executor 1.14.1's own benchmark suite**, async-task patched to "
                        f"rawtask / unpatched: geometric mean **{g:.2f}** over {len(rows)} "
                        f"benchmarks; worst {worst[1]:.2f} ({worst[0]}); {above} above 1.00.")
    share = tables(steps["async-executor-share"][0])
    if share:
        rows = [r for r in share[0][1:] if not r[0].startswith("**")]
        at = [float(r[1].rstrip("%")) for r in rows if r[1].endswith("%")]
        total = next((r for r in share[0][1:] if r[0].startswith("**")), None)
        if at and total:
            headline.append(f"- **how much of that suite is task code** (callgrind): async-task's "
                            f"share of the instructions is {min(at):.0f}–{max(at):.0f} % per "
                            f"benchmark, so even a task crate that cost nothing would leave the "
                            f"suite's geometric mean at {total[3].strip('*')}.")
        at_time = [float(r[7].rstrip("%")) for r in rows if len(r) > 9 and r[7].endswith("%")]
        rt_time = [float(r[8].rstrip("%")) for r in rows if len(r) > 9 and r[8].endswith("%")]
        if at_time and rt_time and len(total) > 9 and total[9].strip("*"):
            headline.append(f"- **the same in CPU time** (perf profiles): async-task's share is "
                            f"{min(at_time):.0f}–{max(at_time):.0f} % per benchmark, rawtask's "
                            f"{min(rt_time):.0f}–{max(rt_time):.0f} %; a task crate that cost "
                            f"nothing would leave the suite's geometric mean at "
                            f"{total[9].strip('*')}.")
        split = share[1][1:] if len(share) > 1 else []
        atomic = [number(r[3]) for r in split if len(r) > 4 and r[3].endswith("%")]
        other = [number(r[4]) for r in split if len(r) > 4 and r[4].endswith("%")]
        at_atomic = [number(r[1]) for r in split if len(r) > 4 and r[1].endswith("%")]
        # Each measured ratio as it would be if rawtask's instructions other than its atomics
        # cost nothing (at most that share of the CPU time, and of the wall time where the
        # threads mostly wait).
        busy = {r[0]: number(r[5]) for r in rows if len(r) > 5 and number(r[5]) is not None}
        left = [measured[r[0]] * (1 - number(r[4]) / 100 * min(1.0, busy[r[0]]))
                for r in split if len(r) > 4 and r[4].endswith("%") and r[0] in busy
                and measured.get(r[0])]
        if atomic and other and left and len(left) == len(measured):
            headline.append(f"- **what is left of rawtask's share** (perf): its atomic "
                            f"read-modify-writes take {min(atomic):.0f}–{max(atomic):.0f} % of "
                            f"the CPU time per benchmark (async-task's: "
                            f"{min(at_atomic):.0f}–{max(at_atomic):.0f} %), everything else it "
                            f"runs {min(other):.0f}–{max(other):.0f} %; if that everything else "
                            f"cost nothing, the suite's geometric mean would be "
                            f"{geomean(left):.2f}.")
        waiting = [(r[0], number(r[5]), number(r[6])) for r in rows if len(r) > 6
                   and number(r[5]) is not None and number(r[6]) is not None and number(r[5]) < 0.5]
        if waiting:
            names = sorted({n.split("::")[-1] for n, _, _ in waiting})
            headline.append(f"- **benchmarks that mostly wait** ({', '.join(names)}: "
                            f"{len(waiting)} rows, user CPU {span(b for _, b, _ in waiting)} of "
                            f"wall time, the rest asleep in thread wake-ups): a task crate that "
                            f"cost nothing would make them at most "
                            f"{1 - min(t for _, _, t in waiting):.0%} faster (bound in time "
                            f"{span(t for _, _, t in waiting)}), far inside their "
                            f"round-to-round noise.")
        one = tables(steps["async-executor-share-cgu1"][0])
        one_total = next((r for r in one[0][1:] if r[0].startswith("**")), None) if one else None
        if len(total) > 4 and total[4].strip("*"):
            line = (f"- **the whole program's instructions per task run**, patched/unpatched "
                    f"(callgrind, geometric mean over the suite): {total[4].strip('*')}")
            if one_total and len(one_total) > 4 and one_total[4].strip("*"):
                line += (f"; {one_total[4].strip('*')} with both sides built as one codegen "
                         f"unit (which of the executor's queue functions get inlined then no "
                         f"longer depends on the task crate's items)")
            headline.append(line + ".")
    cs = tables(steps["code-size"][0])
    if cs:
        per = {r[0]: r for r in cs[0][1:]}
        lines = next((r for k, r in per.items() if "LLVM lines per" in k), None)
        size = next((r for k, r in per.items() if "bytes per" in k), None)
        parts = []
        if lines and lines[1] != "SKIPPED":
            parts.append(f"{lines[1]} LLVM lines per spawned future type (async-task: {lines[2]})")
        if size:
            parts.append(f"{size[1]} stripped bytes per future type (async-task: {size[2]})")
        if parts:
            headline.append("- **code size**: " + "; ".join(parts) + ".")

    md = ["# rawtask benchmark results", "",
          "Generated by `benches/results.sh` (do not edit by hand; rerun it). A ratio below 1 "
          "means rawtask is faster or smaller.", "",
          f"- date: {meta.get('date')}",
          f"- machine: {meta.get('cpu')}, {meta.get('cores')} cores",
          f"- {meta.get('rustc')}",
          f"- load average (1, 5, 15 min): {meta.get('load_before')} before, "
          f"{meta.get('load_after')} after (a shared VM: other builds run alongside; the "
          f"interleaved A/B medians keep ratios meaningful, absolute times are not)",
          f"- configuration: {meta.get('config')}; ab {meta.get('ab_rounds')} rounds, "
          f"async-executor suite {meta.get('ae_rounds')} alternating rounds"
          + (f" ({meta['ae_short_rounds']} for benchmarks under 100 µs)"
             if meta.get("ae_short_rounds") else ""),
          f"- rawtask commit: {meta.get('commit')}", "",
          "## Headline", ""]
    md += headline or ["(no step ran)"]
    md += ["", "![rawtask's time as a ratio of its peers' per workload](results.svg)", ""]
    machine = f"{meta.get('cpu')}, {meta.get('cores')} cores"
    earlier = earlier_machines(results_md, machine)
    if earlier:
        md += ["## Earlier runs on other machines", "",
               "The last run's headline on each other machine this file was generated on: "
               "compare ratios within one machine, not across.", ""] + earlier
    # Short titles, so that the README can link to their anchors; the command on its own line.
    # The A/B benches' build flags (results.sh aligns their code), shown with their command.
    ab_env = f"RUSTFLAGS=\"{meta['ab_flags']}\" " if meta.get("ab_flags") else ""
    sections = [
        ("ab", "Interleaved A/B",
         f"`{ab_env}cargo bench -p rawtask-benches --bench ab -- "
         f"{' '.join(ab_names or AB_GROUPS)}`"),
        ("join-set", "JoinSet against tokio's",
         f"`{ab_env}cargo bench -p rawtask-benches --bench join_set`"),
        ("cancel", "Tokens and background jobs",
         "`cargo bench -p rawtask-benches --bench cancel` (criterion; the table by "
         "`benches/criterion-table.py`)"),
        ("scope", "Scopes against tokio's JoinSet",
         "`cargo bench -p rawtask-benches --bench scope` (criterion; the table by "
         "`benches/criterion-table.py`)"),
        ("batch", "Batch spawning",
         "`cargo bench -p rawtask-benches --bench batch` (criterion; the table by "
         "`benches/criterion-table.py`)"),
        ("storage", "Storage paths",
         "`cargo bench -p rawtask-benches --bench storage` (criterion; the table by "
         "`benches/criterion-table.py`)"),
        ("executors", "Executors end to end", "`benches/report-executors.sh`"),
        ("async-executor", "async-executor 1.14.1's own suite on rawtask",
         "`benches/async-executor.sh`"),
        ("async-executor-share", "How much of that suite is task code",
         "`benches/async-executor-share.sh`"),
        ("async-executor-share-cgu1", "The same with one codegen unit",
         "`CODEGEN_UNITS=1 benches/async-executor-share.sh`"),
        ("code-size", "Code size", "`benches/code-size.sh`"),
    ]
    for name, title, command in sections:
        text, status = steps[name]
        md += [f"## {title}", "", f"{command}. Status: {status}.", ""]
        chunks = ab_chunks(text, len(ab_names)) if name == "ab" and ab else None
        if chunks:
            # One subsection per group, each table with the lines printed after it.
            for group, chunk in zip(ab_names, chunks):
                md += [f"### {AB_TITLES[group]}", "", chunk, ""]
        elif text:
            md += [text, ""]
    with open(results_md, "w") as f:
        f.write("\n".join(md).rstrip() + "\n")
    write_svg(results_svg, series, meta)


def write_svg(path, series, meta):
    """Horizontal bars, one per workload and peer, the ratio on a log scale from 1/4 to 4
    with a line at 1 (left of it rawtask is faster)."""
    bar, gap, label_w, plot_w, pad = 14, 4, 330, 420, 10
    lo, hi = math.log(0.25), math.log(4.0)
    x_of = lambda r: label_w + (math.log(min(max(r, 0.25), 4.0)) - lo) / (hi - lo) * plot_w
    rows = sum(len(items) + 2 for _, items in series) if series else 1
    height = pad * 2 + 40 + rows * (bar + gap) + 20
    width = label_w + plot_w + 60
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{pad}" y="{pad + 12}" font-size="13" font-weight="bold">rawtask\'s time '
           f'/ peer\'s time per workload (log scale; left of 1 = rawtask faster)</text>',
           f'<text x="{pad}" y="{pad + 28}" fill="#555">{esc(meta.get("date", ""))}, '
           f'{esc(meta.get("cpu", ""))}, {meta.get("cores", "?")} cores, load '
           f'{esc(meta.get("load_before", ""))}; benches/results.sh</text>']
    y = pad + 40
    top = y
    for title, items in series:
        y += bar + gap
        out.append(f'<text x="{pad}" y="{y + 10}" font-weight="bold">{esc(title)}</text>')
        y += bar + gap
        for label, ratio in items:
            x1 = x_of(1.0)
            x2 = x_of(ratio)
            colour = "#2a7" if ratio <= 1.0 else "#d54"
            out.append(f'<text x="{label_w - 6}" y="{y + 11}" text-anchor="end">{esc(label)}</text>')
            out.append(f'<rect x="{min(x1, x2):.1f}" y="{y}" width="{abs(x2 - x1):.1f}" '
                       f'height="{bar}" fill="{colour}"/>')
            out.append(f'<text x="{max(x1, x2) + 4:.1f}" y="{y + 11}">{ratio:.2f}</text>')
            y += bar + gap
    for tick in (0.25, 0.5, 1.0, 2.0, 4.0):
        x = x_of(tick)
        stroke = "#000" if tick == 1.0 else "#ccc"
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{y}" stroke="{stroke}"/>')
        out.append(f'<text x="{x:.1f}" y="{y + 14}" text-anchor="middle">{tick:g}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


if __name__ == "__main__":
    main()
