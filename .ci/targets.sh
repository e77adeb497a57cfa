#!/usr/bin/env bash
# The `targets` rung of the verification ladder (DESIGN.md, step 3): rawtask on other targets
# and toolchains, and in other people's test suites. Runs, in this order, each script that is
# present:
#
#   .ci/targets-core.sh         no_std, 32-bit and big-endian builds
#   .ci/msrv.sh                 the packaged crate on its MSRV
#   .ci/peer-async-ffi.sh       async-ffi's own suite on rawtask::ffi
#   .ci/peer-async-task-ffi.sh  async-task-ffi's own suite on rawtask::compat::async_task_ffi
#   .ci/dependents.sh           async-task's dependents (and async-task's suite) on rawtask
#
# Each script's output goes to stderr; its last stdout line (its summary, `SKIPPED: ...` or
# `FAILED: ...`) is collected, with its time. A missing script gives
# `SKIPPED: <script>: not present`. A failing script does not stop the next ones.
#
# stdout: one line per script, then `targets: ...` or, if any script failed (non-zero exit or
# a FAILED line), `FAILED: targets: <scripts>` and exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."

SCRIPTS=".ci/targets-core.sh .ci/msrv.sh .ci/peer-async-ffi.sh .ci/peer-async-task-ffi.sh .ci/dependents.sh"

lines=()
failed=()
ran=0
skipped=0
for script in $SCRIPTS; do
    if [ ! -f "$script" ]; then
        echo "targets: $script is not present" >&2
        lines+=("SKIPPED: $script: not present")
        skipped=$((skipped + 1))
        continue
    fi
    echo "=== targets: $script" >&2
    start=$SECONDS
    out=$(mktemp)
    set +e
    bash "$script" | tee "$out" >&2
    status=${PIPESTATUS[0]}
    set -e
    line=$(tail -n 1 "$out")
    rm -f "$out"
    time="($((SECONDS - start)) s)"
    if [ -z "$line" ]; then
        line="FAILED: $script: printed no summary line (exit status $status)"
    elif [ "$status" -ne 0 ] && [[ $line != FAILED:* ]]; then
        line="FAILED: $script: exit status $status after: $line"
    fi
    case $line in
    FAILED:*) failed+=("$script") ;;
    SKIPPED:*) skipped=$((skipped + 1)) ;;
    *) ran=$((ran + 1)) ;;
    esac
    lines+=("$line $time")
done

printf '%s\n' "${lines[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: targets: ${failed[*]}"
    exit 1
fi
echo "targets: $ran passed, $skipped skipped (of $((ran + skipped)) scripts)"
