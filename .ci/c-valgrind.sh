#!/usr/bin/env bash
# Runs every C program of the C harness (internal/c-tests/c/*.c and the examples/c executor, as
# listed in internal/c-tests/tests/c_programs.rs), internal/interop/libuv's uv_driver.c, and
# internal/interop/python's asyncio client
# (python3 itself, loading the bridge's cdylib), under valgrind memcheck:
#
#     valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite PROGRAM
#
# so any memory error or definite leak fails the run. The last line printed is the summary:
# `valgrind-c: N programs clean`, or a line starting with `SKIPPED:` if valgrind cannot be had.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    (apt-get install -y -qq valgrind >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq valgrind >/dev/null 2>&1; }) || true
fi
if ! command -v valgrind >/dev/null 2>&1; then
    echo "SKIPPED: valgrind-c: valgrind is not installed and could not be installed"
    exit 0
fi

mkdir -p target
log=target/c-valgrind.log
RAWTASK_C_VALGRIND=1 RUST_BACKTRACE=0 cargo test -p rawtask-c-tests --test c_programs \
    -- --nocapture --test-threads=1 2>&1 | tee "$log"

# internal/interop/libuv's uv_driver (a libuv loop driving Rust tasks) when libuv's headers are
# here; its test prints SKIPPED without them, which is reported below instead of counted.
interop=""
if pkg-config --exists libuv 2>/dev/null; then
    RAWTASK_C_VALGRIND=1 RUST_BACKTRACE=0 cargo test -p rawtask-interop-libuv --test uv_loop \
        -- --nocapture --test-threads=1 2>&1 | tee -a "$log"
else
    interop=" (SKIPPED: internal/interop/libuv's uv_driver: libuv1-dev not installed)"
fi

# internal/interop/python's asyncio client: CPython itself under valgrind (PYTHONMALLOC=malloc; its own
# noise suppressed by internal/interop/python/valgrind-cpython.supp, errors inside libpython only) loading
# the bridge's cdylib and awaiting Rust tasks.
python=""
if command -v python3 >/dev/null 2>&1; then
    RAWTASK_C_VALGRIND=1 RUST_BACKTRACE=0 cargo test -p rawtask-interop-python --test asyncio \
        -- --nocapture --test-threads=1 2>&1 | tee -a "$log"
else
    python=" (SKIPPED: internal/interop/python's asyncio client: python3 not installed)"
fi

programs=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
clean=$(grep -c '^valgrind-clean: ' "$log" || true)
if [ "$programs" -eq 0 ] || [ "$clean" -ne "$programs" ]; then
    echo "valgrind-c: FAILED: $clean of $programs programs reported clean"
    exit 1
fi
echo "valgrind-c: $clean programs clean$interop$python"
