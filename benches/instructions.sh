#!/usr/bin/env bash
# Counts the instructions (callgrind's Ir) of spawning, running and joining tasks that have no
# hooks, so that "a task without hooks runs exactly what it ran before" can be checked, not
# guessed. The workload (benches/instructions/workload.rs) spawns N tasks with `rawtask::spawn`
# and N with `Builder::spawn`; each wakes itself once, so it is scheduled twice, polled twice
# and joined. Only `rawtask_workload` is counted (callgrind --toggle-collect).
#
#   benches/instructions.sh              this working tree
#   benches/instructions.sh main         main (built in a temporary worktree), then this tree
#   N=10000 benches/instructions.sh main
#
# Needs valgrind. Builds in release mode, offline, in a scratch project outside the workspace.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
n=${N:-1000}
scratch=$(mktemp -d)
cleanup() {
    if [[ -n "${base_tree:-}" ]]; then git -C "$here" worktree remove --force "$base_tree"; fi
    rm -rf "$scratch"
}
trap cleanup EXIT

# Prints the Ir of the workload built against the rawtask at $1 (label $2).
measure() {
    local crate=$1 label=$2 project=$scratch/$2
    mkdir -p "$project/src"
    cp "$here/benches/instructions/workload.rs" "$project/src/main.rs"
    cat >"$project/Cargo.toml" <<TOML
[package]
name = "rawtask-instructions"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
rawtask = { path = "$crate" }
[profile.release]
debug = true
[workspace]
TOML
    cargo build --quiet --offline --release --manifest-path "$project/Cargo.toml" \
        --target-dir "$scratch/target-$label"
    valgrind --tool=callgrind --callgrind-out-file="$scratch/$label.out" \
        --collect-atstart=no --toggle-collect='*rawtask_workload*' \
        "$scratch/target-$label/release/rawtask-instructions" "$n" 2>/dev/null
    local ir
    ir=$(callgrind_annotate "$scratch/$label.out" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    printf '%-12s %12s Ir for %s tasks  (%s Ir per task)\n' "$label" "$ir" "$((2 * n))" \
        "$(python3 -c "print(round($ir / (2 * $n), 1))")"
}

if [[ $# -ge 1 ]]; then
    base_tree=$scratch/base-tree
    git -C "$here" worktree add --quiet --detach "$base_tree" "$1"
    measure "$base_tree" "$1"
fi
measure "$here" "working-tree"
