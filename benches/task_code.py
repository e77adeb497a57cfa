"""What counts as the task crate's code in a profile of async-executor's suite: one rule for
benches/async-executor-share.sh's callgrind instructions and benches/perf-task-share.py's
perf samples."""


def crate_code(files, crate):
    """A predicate on (source file, function): an instruction or sample is the crate's if its
    source line is in the crate (its code inlined anywhere) or it runs inside one of the
    crate's functions (core's code inlined there)."""
    prefixes = (f"{crate}::", f"<{crate}::", f"core::ptr::drop_in_place<{crate}::")
    return lambda file, function: (any(part in file for part in files)
                                   or function.startswith(prefixes))


def side_code(side, root):
    """The task crate of one side of the comparison: async-task 4.7.1 on the unpatched side,
    rawtask (a path dependency: its files are named from the workspace `root`) and its shim on
    the patched side."""
    if side == "unpatched":
        return crate_code(["/async-task-4.7.1/src/"], "async_task")
    return crate_code([root + "/src/", root + "/compat/"], "rawtask")
