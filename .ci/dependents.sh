#!/usr/bin/env bash
# Real dependents of async-task, and async-task 4.7.1's own test suite, run on rawtask:
#
#   bash .ci/dependents.sh [NAME...]      (a subset, e.g. `bash .ci/dependents.sh async-task blocking`)
#
# rawtask's crate root promises async-task 4.7.1's API and behaviour (DESIGN.md). This fetches
# the published packages from crates.io at test time (nothing of theirs is committed here),
# copies each one into target/dependents/, patches its async-task with compat/async-task-shim
# (async-task's name and version, rawtask's crate root), checks with `cargo tree` that the
# patch is really in the graph, and runs the package's own test suite.
#
# Why the tree check: if the shim lacks a feature that something in the graph names (async-task's
# `portable-atomic`: edge-executor's feature of that name forwards to it, and a target-specific
# dependency of bevy_tasks always names it), or does not match a version requirement, Cargo
# drops the whole patch with only a warning ("patch ... was not used in the crate graph") and
# builds the real async-task: the suite would pass without testing rawtask. (Cargo 1.95 does
# that when a dependency names the feature; when the copied package itself names it, resolution
# fails outright. Both fail this step.)
#
# Progress and the tools' output go to stderr (and to target/dependents/<name>.log); the last
# stdout line is the summary, `SKIPPED: dependents: ...` when crates.io cannot be reached, or
# `FAILED: dependents: ...` (exit 1).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHIM=$ROOT/compat/async-task-shim
WORK=$ROOT/target/dependents
# One target directory for all: the suites share most of their dependencies.
export CARGO_TARGET_DIR=$WORK/target
# The suites' expected panics need no backtraces.
export RUST_BACKTRACE=0
# Other people's crates, built as they are published: the caller's flags (-D warnings, a
# sanitizer) are not meant for them.
unset RUSTFLAGS RUSTDOCFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS

# name:version:features:harness-args:expected-passed-tests, one per line. The counts are those
# of the published, immutable packages (what `cargo test` runs: unit tests, tests/, doc
# examples): another count means tests were filtered, skipped or not found, which fails too.
# Nothing is skipped. The features are those the suites need or that reach async-task:
#   async-executor  `static` adds StaticExecutor/StaticLocalExecutor (spawned with
#                   `Builder::spawn_unchecked`) and their 12 doc examples; the rest is the same
#   bevy_tasks      `multi_threaded`: the thread pool built on async-executor
#   edge-executor   `--include-ignored`: its one `ignore`d doc example (a four-thread
#                   executor) runs fine here, and it is the multi-threaded case
#   blocking        its default features (`tracing` only adds logging)
DEPENDENTS="async-executor:1.14.1:static::44
blocking:1.7.0:::21
edge-executor:0.5.0::--include-ignored:20
bevy_tasks:0.20.1:multi_threaded::20"
ASYNC_TASK_VERSION=4.7.1
# async-task's tests/ and its doc examples.
ASYNC_TASK_TESTS=53
ASYNC_TASK_DOCS=27

# A subset when names are given.
if [ $# -gt 0 ]; then
    only=" $* "
    sel=""
    for entry in $DEPENDENTS; do
        case $only in *" ${entry%%:*} "*) sel+="$entry"$'\n' ;; esac
    done
    DEPENDENTS=$sel
    case $only in *" async-task "*) ;; *) ASYNC_TASK_VERSION="" ;; esac
fi

note() { echo "dependents: $*" >&2; }

count_passed() { # sums "N passed" over the `test result: ok.` lines of a log
    grep -Eo 'test result: ok\. [0-9]+ passed' "$1" | awk '{s += $4} END {print s + 0}'
}

fail() { # fail LOG MESSAGE : the whole step fails now
    local log=$1
    shift
    if [ -s "$log" ]; then
        echo "----- last lines of $log -----" >&2
        tail -n 40 "$log" >&2 || true
    fi
    echo "FAILED: dependents: $*"
    exit 1
}

# A package's failure is recorded and the next package still runs, so that one run reports
# every package that fails.
failures=()
problem() { # problem LOG MESSAGE : records a package's failure; returns 1
    local log=$1
    shift
    if [ -s "$log" ]; then
        echo "----- last lines of $log -----" >&2
        tail -n 40 "$log" >&2 || true
    fi
    note "FAILED: $*"
    failures+=("$*")
    return 1
}

logged() { # logged LOG CMD... : output to stderr and appended to LOG; the command's status
    local log=$1
    shift
    note "(in $PWD) \$ $*"
    set +e
    "$@" 2>&1 | tee -a "$log" >&2
    local status=${PIPESTATUS[0]}
    set -e
    return "$status"
}

# fetch NAME VERSION: has cargo download the published package (a scratch crate depending on
# exactly that version) and prints the directory cargo extracted it to. cargo metadata gives
# the path, rather than a glob over registry/src/*/, which can match several index
# directories (one per cargo version's hash).
fetch() {
    local name=$1 version=$2 dir=$WORK/fetch/$1
    mkdir -p "$dir/src"
    : >"$dir/src/lib.rs"
    cat >"$dir/Cargo.toml" <<EOF
[package]
name = "fetch-$name"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$name = "=$version"

# Its own workspace: it sits under rawtask's.
[workspace]
EOF
    (cd "$dir" && cargo fetch >&2) || return 1
    local path
    path=$(cd "$dir" && cargo metadata --format-version 1 2>/dev/null |
        grep -o "\"manifest_path\":\"[^\"]*/$name-$version/Cargo.toml\"" | head -n 1 |
        sed 's/^"manifest_path":"\(.*\)\/Cargo\.toml"$/\1/')
    [ -n "$path" ] && [ -d "$path" ] || return 1
    echo "$path"
}

# The tables every copied package gets: the patch, and an empty [workspace] (the copy would
# otherwise try to join rawtask's workspace, whose root is an ancestor directory).
patch_tables() {
    cat <<EOF

# Added by rawtask's .ci/dependents.sh.
[workspace]

[patch.crates-io]
async-task = { path = "$SHIM" }
EOF
}

# Copies a fetched package to target/dependents/NAME (fresh), with its published Cargo.lock:
# the versions it was released and tested with, so that a new release of some dependency
# cannot break this step. The patch then changes only async-task's entries.
copy_fresh() { # copy_fresh FROM TO
    rm -rf "$2"
    cp -R "$1" "$2"
    chmod -R u+w "$2"
    # A published manifest is normalized: no workspace or patch tables of its own.
    if grep -qE '^\[(workspace|patch)' "$2/Cargo.toml"; then
        fail /dev/null "$(basename "$2"): its published Cargo.toml already has a [workspace] or [patch] table"
    fi
}

# fetch_graph NAME DIR: downloads DIR's whole graph (dev-dependencies too) while DIR is not
# yet patched, so that a failure here can only be the network, never the patch; then patches.
fetch_graph() {
    local manifest=$2/Cargo.toml
    cp "$manifest" "$manifest.published"
    printf '\n[workspace]\n' >>"$manifest"
    if ! (cd "$2" && cargo fetch >&2); then
        echo "SKIPPED: dependents: cargo could not fetch the dependencies of $1 from crates.io (no network?)"
        exit 0
    fi
    cp "$manifest.published" "$manifest"
    patch_tables >>"$manifest"
}

# check_patched DIR LOG FEATURE-ARGS... : a problem unless every async-task in DIR's graph
# (normal and dev edges, with the features of the test run) is the shim.
check_patched() {
    local dir=$1 log=$2
    shift 2
    local name tree err
    name=$(basename "$dir")
    tree=$WORK/$name.tree
    err=$WORK/$name.tree.err
    note "(in $dir) \$ cargo tree -i async-task -e normal,dev $*"
    if ! (cd "$dir" && cargo tree -i async-task -e normal,dev "$@") >"$tree" 2>"$err"; then
        cat "$tree" "$err" >>"$log"
        cat "$err" >&2
        problem /dev/null "$name: cargo could not resolve its graph with async-task patched to rawtask: $(grep -m1 'does not have that feature' "$err" || grep -m1 '^error' "$err" || true)"
        return 1
    fi
    cat "$tree" "$err" >>"$log"
    cat "$err" >&2
    head -n 3 "$tree" >&2
    if grep -q 'was not used in the crate graph' "$err"; then
        problem /dev/null "$name: cargo ignored the async-task patch and built the real async-task ($(grep -m1 'was not used' "$err")): the shim lacks something the graph asks for (a feature? a version it accepts?)"
        return 1
    fi
    # The first line is the inverted tree's root: the async-task package itself.
    if [ "$(head -n 1 "$tree")" != "async-task v4.7.1 ($SHIM)" ]; then
        problem /dev/null "$name: the async-task in its graph is not the shim at $SHIM: $(head -n 1 "$tree")"
        return 1
    fi
    if grep 'async-task v' "$tree" | grep -vqF "($SHIM)"; then
        problem /dev/null "$name: a second async-task is in its graph: $(grep 'async-task v' "$tree" | grep -vF "($SHIM)" | head -n 1)"
        return 1
    fi
}

failed_tests() { # the names of the failed tests in a cargo test log, on one line
    grep -E '^test .* \.\.\. FAILED$' "$1" | sed 's/^test //; s/ \.\.\. FAILED$//' | head -n 8 |
        paste -sd, - | sed 's/,/, /g'
}

# run_suite DIR LOG EXPECTED CARGO-TEST-ARGS... [-- HARNESS-ARGS] : the package's own `cargo
# test` (what it runs by default: lib unit tests, tests/, doc examples; examples are built).
# Sets `passed` (a `$(...)` subshell would swallow the FAILED line of problem/fail).
passed=0
run_suite() {
    local dir=$1 log=$2 expected=$3 name
    shift 3
    name=$(basename "$dir")
    passed=0
    (cd "$dir" && logged "$log" cargo test --no-fail-fast "$@") ||
        problem "$log" "$name: its own test suite fails on rawtask (failed: $(failed_tests "$log"); log: $log)" ||
        return 1
    # The tree check ran the resolver already; this catches a graph that changed since.
    if grep -q 'was not used in the crate graph' "$log"; then
        problem "$log" "$name: cargo test built the real async-task ($(grep -m1 'was not used' "$log"))"
        return 1
    fi
    passed=$(count_passed "$log")
    if [ -n "$expected" ] && [ "$passed" != "$expected" ]; then
        problem "$log" "$name: $passed tests passed, expected $expected (were tests filtered, skipped or not found?)"
        return 1
    fi
}

# The fenced code blocks of the `///` and `//!` comments of Rust sources, as Markdown that
# rustdoc tests like the originals: the doc examples, with their info strings (no_run, ...) and
# hidden `# ` lines. A blank source line inside a doc comment does not end it (rustdoc joins
# the comment's lines across it); any other non-comment line inside a fence is an error.
extract_doc_examples() { # extract_doc_examples FILE... > MARKDOWN
    awk '
    FNR == 1 { if (fence) bad = bad " " prev; fence = 0 }
    {
        prev = FILENAME ":" FNR
        if (match($0, /^[ \t]*\/\/[\/!]/)) {
            body = substr($0, RSTART + RLENGTH)
            sub(/^ /, "", body)
            if (body ~ /^[ \t]*```/) {
                if (!fence) { fence = 1; n++; print "<!-- " prev " -->"; print body }
                else { fence = 0; print "```"; print "" }
            } else if (fence) print body
        } else if (fence && $0 !~ /^[ \t]*$/) { bad = bad " " prev; fence = 0 }
    }
    END {
        if (fence) bad = bad " " prev
        if (bad != "") { print "unterminated doc example at" bad > "/dev/stderr"; exit 1 }
        if (n == 0) { print "no doc example found" > "/dev/stderr"; exit 1 }
    }' "$@"
}

# async-task 4.7.1's own test suite, in a scratch crate whose async-task is the shim: its
# tests/ as they are, and its doc examples (extracted from its sources into the crate's docs,
# with async-task's doctest attributes: warnings are errors). async-task has no unit tests.
# The crate gets async-task's published dev-dependency tables and its Cargo.lock's versions.
prepare_async_task_suite() { # prepare_async_task_suite DIR
    local dir=$1 src=${SRC[async-task]}
    rm -rf "$dir"
    mkdir -p "$dir/src"
    cp -R "$src/tests" "$dir/tests"
    cp "$src/Cargo.lock" "$dir/Cargo.lock"
    chmod -R u+w "$dir"
    extract_doc_examples "$src"/src/*.rs >"$dir/doc-examples.md" ||
        fail /dev/null "async-task: could not extract its doc examples from $src/src"
    cat >"$dir/src/lib.rs" <<'EOF'
//! async-task's doc examples, run as this crate's (extracted by rawtask's .ci/dependents.sh).
#![doc = include_str!("../doc-examples.md")]
// async-task's own doctest attributes.
#![doc(test(attr(deny(rust_2018_idioms, warnings))))]
#![doc(test(attr(allow(unused_extern_crates, unused_variables))))]
EOF
    {
        cat <<EOF
[package]
name = "async-task-suite"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
async-task = "=$ASYNC_TASK_VERSION"

# async-task $ASYNC_TASK_VERSION's published dev-dependency tables, as they are.
EOF
        awk '/^\[/ { keep = ($0 ~ /^\[dev-dependencies[].]/) } keep' "$src/Cargo.toml"
    } >"$dir/Cargo.toml"
    fetch_graph async-task "$dir"
}

# The tests passed in the doc-test blocks of a cargo test log.
doc_passed() {
    awk '/^ *Running /{doc = 0} /^ *Doc-tests /{doc = 1} doc && /test result: ok\./{s += $4} END {print s + 0}' "$1"
}

mkdir -p "$WORK"
start=$SECONDS

# ----- 1. Downloads (the only part that needs crates.io) -----------------------------------
declare -A SRC
for entry in ${ASYNC_TASK_VERSION:+"async-task:$ASYNC_TASK_VERSION"} $DEPENDENTS; do
    IFS=: read -r name version _ <<<"$entry"
    note "fetching $name $version"
    if ! SRC[$name]=$(fetch "$name" "$version"); then
        echo "SKIPPED: dependents: cargo could not fetch $name $version from crates.io (no network?)"
        exit 0
    fi
    note "  $name $version is at ${SRC[$name]}"
done
[ -z "$ASYNC_TASK_VERSION" ] || prepare_async_task_suite "$WORK/async-task-suite"
for entry in $DEPENDENTS; do
    name=${entry%%:*}
    note "copying $name to $WORK/$name"
    copy_fresh "${SRC[$name]}" "$WORK/$name"
    fetch_graph "$name" "$WORK/$name"
done

# ----- 2. The suites, patched ---------------------------------------------------------------
tail=""
if [ -n "$ASYNC_TASK_VERSION" ]; then
    log=$WORK/async-task.log
    : >"$log"
    note "async-task $ASYNC_TASK_VERSION's own tests/ and doc examples on the shim"
    if check_patched "$WORK/async-task-suite" "$log" &&
        run_suite "$WORK/async-task-suite" "$log" "$((ASYNC_TASK_TESTS + ASYNC_TASK_DOCS))"; then
        docs=$(doc_passed "$log")
        note "async-task $ASYNC_TASK_VERSION: $passed tests passed on rawtask ($docs doc examples)"
        tail="; async-task $ASYNC_TASK_VERSION's own tests/ ($((passed - docs)) tests) and doc examples ($docs) pass on the shim"
    fi
fi

parts=()
for entry in $DEPENDENTS; do
    IFS=: read -r name version features harness expected <<<"$entry"
    log=$WORK/$name.log
    : >"$log"
    fargs=()
    [ -z "$features" ] || fargs=(--features "$features")
    hargs=()
    [ -z "$harness" ] || hargs=(-- $harness)
    note "$name $version${features:+ (features: $features)}"
    check_patched "$WORK/$name" "$log" ${fargs[@]+"${fargs[@]}"} || continue
    run_suite "$WORK/$name" "$log" "$expected" ${fargs[@]+"${fargs[@]}"} ${hargs[@]+"${hargs[@]}"} || continue
    note "$name $version: $passed tests passed on rawtask ($((SECONDS - start)) s so far)"
    # "async-executor 1.14.1 (N tests), blocking 1.7.0 (N), ...": the word "tests" once.
    if [ ${#parts[@]} -eq 0 ]; then
        parts+=("$name $version ($passed tests)")
    else
        parts+=("$name $version ($passed)")
    fi
done

if [ ${#failures[@]} -gt 0 ]; then
    msg=$(printf '%s; ' "${failures[@]}")
    echo "FAILED: dependents: ${msg%; }"
    exit 1
fi

list="(no dependent selected)"
if [ ${#parts[@]} -gt 0 ]; then
    list=$(printf '%s, ' "${parts[@]}")
    list="${list%, } pass with async-task patched to rawtask"
fi
echo "dependents: $list$tail"
