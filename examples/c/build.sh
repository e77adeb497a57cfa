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

cargo build --release -p rawtask-c-example

case "$(uname -s)" in
    Darwin) system_libs=(-lSystem -lc -lm) ;;
    *) system_libs=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc) ;;
esac
mkdir -p target/c-example
"${CC:-cc}" -std=c11 -Wall -Wextra -O2 -pthread -I include -I examples/c \
    examples/c/executor.c target/release/librawtask_c_example.a "${system_libs[@]}" \
    -o target/c-example/executor
echo "built target/c-example/executor"
./target/c-example/executor
