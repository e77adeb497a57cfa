#!/usr/bin/env bash
# Builds and runs the C executor example. From the repository root:
#
#     bash examples/c/build.sh
#
# 1. cargo builds the Rust half (examples/c/src/lib.rs, with rawtask) as a static library;
# 2. the C compiler builds executor.c against it, with include/rawtask.h and example.h;
# 3. the executor runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

# cargo reports where it put the library: under $CARGO_TARGET_DIR if set (or build.target-dir,
# or target/<triple>/ with a build target), target/release/ by default.
lib="$(cargo build --release -p rawtask-c-example --message-format=json-render-diagnostics \
    | grep -o '"[^"]*/librawtask_c_example\.a"' | tail -n 1 | tr -d '"')"
if [ -z "$lib" ] || [ ! -f "$lib" ]; then
    echo "build.sh: cargo did not report librawtask_c_example.a" >&2
    exit 1
fi

case "$(uname -s)" in
    Darwin) system_libs=(-lSystem -lc -lm) ;;
    *) system_libs=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc) ;;
esac
# The executable goes beside the profile directory: <target dir>/c-example/executor.
out_dir="$(dirname "$(dirname "$lib")")/c-example"
mkdir -p "$out_dir"
"${CC:-cc}" -std=c11 -Wall -Wextra -O2 -pthread -I include -I examples/c \
    examples/c/executor.c "$lib" "${system_libs[@]}" \
    -o "$out_dir/executor"
echo "built $out_dir/executor"
"$out_dir/executor"
