#!/usr/bin/env bash
# The library on targets unlike the host: no_std on 32-bit Arm (thumbv7m) and WebAssembly, no_std
# without compare-and-swap (thumbv6m, through the `portable-atomic` feature, single-core
# interrupt-free critical sections), and std on a 32-bit big-endian target without 64-bit atomics
# (powerpc, `cargo check`: no cross linker needed).
#
# Progress goes to stderr; the last line on stdout is the summary. A target that rustup refuses
# to install is skipped with a `SKIPPED:` note; a failing build exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

ok=()
skipped=()

add_target() { # add_target TRIPLE: 0 if the target's standard library is installed
    command -v rustup >/dev/null || { skipped+=("$1 (no rustup)"); return 1; }
    rustup target list --installed | grep -qx "$1" && return 0
    if rustup target add "$1" >&2; then
        return 0
    fi
    skipped+=("$1 (rustup target add refused)")
    return 1
}

run() { # run NAME TRIPLE CARGO-ARGS... (RUSTFLAGS from the environment)
    local name=$1 triple=$2; shift 2
    add_target "$triple" || { echo "SKIPPED: targets-core: $name" >&2; return 0; }
    echo "--- $name: cargo $* --target $triple${RUSTFLAGS:+ (RUSTFLAGS=$RUSTFLAGS)}" >&2
    cargo "$@" -p rawtask --target "$triple" >&2
    ok+=("$name")
}

run "thumbv7m no_std" thumbv7m-none-eabi build --no-default-features --features alloc
run "thumbv7m no_std no alloc" thumbv7m-none-eabi build --no-default-features
RUSTFLAGS="--cfg portable_atomic_unsafe_assume_single_core" \
    run "thumbv6m portable-atomic" thumbv6m-none-eabi build --no-default-features --features alloc,portable-atomic
RUSTFLAGS="--cfg portable_atomic_unsafe_assume_single_core" \
    run "thumbv6m portable-atomic no alloc" thumbv6m-none-eabi build --no-default-features --features portable-atomic
run "wasm32 no_std" wasm32-unknown-unknown build --no-default-features --features alloc
run "powerpc std check" powerpc-unknown-linux-gnu check

# The heapless executor example (examples/embedded, its own workspace): a `no_main` binary with
# tasks in an OwnedPool and no `#[global_allocator]`. That it links proves the no-`alloc` build
# references no allocator symbol (rustc refuses a graph with `alloc` and no global allocator).
if add_target thumbv7m-none-eabi; then
    echo "--- embedded example: cargo build --target thumbv7m-none-eabi (examples/embedded)" >&2
    (cd examples/embedded && cargo build --target thumbv7m-none-eabi >&2)
    ok+=("embedded example (thumbv7m no allocator)")
else
    echo "SKIPPED: targets-core: embedded example" >&2
fi

if [ ${#ok[@]} -eq 0 ]; then
    echo "SKIPPED: targets-core: ${skipped[*]}"
elif [ ${#skipped[@]} -gt 0 ]; then
    echo "targets-core: ${#ok[@]} builds ok ($(IFS=,; echo "${ok[*]}" | sed 's/,/, /g')); SKIPPED: ${skipped[*]}"
else
    echo "targets-core: ${#ok[@]} builds ok ($(IFS=,; echo "${ok[*]}" | sed 's/,/, /g'))"
fi
