"""N Rust tasks awaited from asyncio through rawtask_asyncio.py against N native
asyncio tasks doing the same number of yields. Prints the ratio (Rust / native; goal <= 1.0).

    python3 internal/interop/python/bench_asyncio.py PATH/TO/librawtask_interop_bridge.so [N] [YIELDS]

Build the cdylib with --release first (`cargo build --release -p rawtask-interop-bridge`).
Each side: spawn N tasks, then `await asyncio.gather(...)` on all of them; best of 3 runs.
"""

import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawtask_asyncio  # noqa: E402


async def native_task(yields):
    for _ in range(yields):
        await asyncio.sleep(0)
    return yields


async def run_native(n, yields):
    start = time.perf_counter()
    results = await asyncio.gather(*[native_task(yields) for _ in range(n)])
    elapsed = time.perf_counter() - start
    assert sum(results) == n * yields
    return elapsed


async def run_rust(path, n, yields):
    bridge = rawtask_asyncio.Bridge(path)
    start = time.perf_counter()
    results = await asyncio.gather(*[bridge.yields(yields) for _ in range(n)])
    elapsed = time.perf_counter() - start
    assert sum(results) == n * yields
    await bridge.close()
    assert bridge.live_futures() == 0
    return elapsed


def main():
    path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    yields = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    rust = min(asyncio.run(run_rust(path, n, yields)) for _ in range(3))
    native = min(asyncio.run(run_native(n, yields)) for _ in range(3))
    print(
        f"asyncio bench: {n} tasks x {yields} yields: Rust through the bridge {rust:.3f} s, "
        f"native asyncio {native:.3f} s, ratio {rust / native:.2f}x"
    )


if __name__ == "__main__":
    main()
