#!/usr/bin/env bash
# The library's MSRV (rust-version in Cargo.toml, 1.70), checked on what would be published:
# the packaged `rawtask` and `rawtask-macros` crates, extracted and built alone with that
# toolchain, with default features, without them (no_std), with `portable-atomic`, and with
# `macros,futures`. Tests, benches and examples may need a newer Rust and are not built.
#
# The workspace's Cargo.lock (format v4) is unreadable by cargo < 1.78, so the scratch build gets
# its own lockfile, resolved by the current cargo to the newest dependency versions that still
# support 1.70 (CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback; for MSRV 1.70 cargo writes
# format v3), and cargo 1.70 builds with --locked.
#
# Progress goes to stderr; the last line on stdout is the summary, or `SKIPPED: msrv: <reason>`
# when the toolchain cannot be installed. Exits non-zero if a build fails.
set -euo pipefail
cd "$(dirname "$0")/.."

msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
[ -n "$msrv" ] || { echo "msrv: no rust-version in Cargo.toml" >&2; exit 1; }
macros_msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' macros/Cargo.toml | head -n 1)
if [ "$macros_msrv" != "$msrv" ]; then
    echo "msrv: rawtask-macros has rust-version $macros_msrv, rawtask $msrv" >&2
    exit 1
fi

# The published form first: both crates packaged, and cargo's verify build of each (rawtask's
# against the just-packaged rawtask-macros), on the current toolchain.
echo "--- packaging and verifying rawtask and rawtask-macros" >&2
cargo package -p rawtask -p rawtask-macros --allow-dirty >&2

if ! rustup toolchain install "$msrv" --profile minimal >&2; then
    echo "SKIPPED: msrv: rustup cannot install the $msrv toolchain (the packages were verified)"
    exit 0
fi


work=target/msrv
rm -rf "$work"
mkdir -p "$work"
for crate in target/package/rawtask-0.1.0.crate target/package/rawtask-macros-0.1.0.crate; do
    tar -xzf "$crate" -C "$work"
done
# A workspace around the two extracted crates only; the patch makes `rawtask`'s registry
# dependency on `rawtask-macros` the packaged one (it is not on crates.io yet).
cat >"$work/Cargo.toml" <<'EOF'
[workspace]
members = ["rawtask-0.1.0", "rawtask-macros-0.1.0"]
resolver = "2"

[patch.crates-io]
rawtask-macros = { path = "rawtask-macros-0.1.0" }
EOF

cd "$work"
echo "--- resolving dependencies for Rust $msrv" >&2
CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback cargo generate-lockfile >&2
echo "lockfile $(grep -m 1 '^version' Cargo.lock); library dependencies:" >&2
for dep in allocator-api2 autocfg futures-task portable-atomic proc-macro2 quote syn unicode-ident; do
    grep -A 1 "^name = \"$dep\"$" Cargo.lock | sed -n 's/^version = "\(.*\)"/  '"$dep"' \1/p' >&2
done

builds=0
build() { # build DESCRIPTION CARGO-ARGS...
    local what=$1; shift
    echo "--- cargo +$msrv build -p rawtask $* ($what)" >&2
    cargo "+$msrv" build --locked -p rawtask "$@" >&2
    builds=$((builds + 1))
}
build default
build "no_std alloc" --no-default-features --features alloc
build "no_std no alloc" --no-default-features
build portable-atomic --no-default-features --features portable-atomic
build "std + portable-atomic" --features portable-atomic
build "macros and futures" --features macros,futures

echo "msrv: rawtask and rawtask-macros package and verify; rawtask builds with Rust $msrv (default, no_std with and without alloc, portable-atomic; also macros, futures: $builds builds)"
