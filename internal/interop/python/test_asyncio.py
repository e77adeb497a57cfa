"""asyncio awaits thousands of Rust tasks through rawtask_asyncio.py and checks every result.

    python3 internal/interop/python/test_asyncio.py PATH/TO/librawtask_interop_bridge.so

INTEROP_PY_TASKS sets the task count (default 3000). Exits non-zero on the first failed check;
prints `python asyncio: ok: ...` when every check passed.
"""

import asyncio
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawtask_asyncio  # noqa: E402

KINDS = ("sleep", "yields", "channel", "pipeline", "cancel", "native")


def sum_from(n, seed):
    return n * seed + n * (n - 1) // 2


async def native(i):
    """A plain asyncio task among the Rust ones: the loop keeps serving both."""
    for _ in range(i % 3):
        await asyncio.sleep(0)
    return 5 * i


async def main(path, count):
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    bridge = rawtask_asyncio.Bridge(path)
    futures, expected, cancelled = [], [], []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        if kind == "sleep":
            futures.append(bridge.sleep_then_value(1 + i % 5, 3 * i))
            expected.append(3 * i)
        elif kind == "yields":
            futures.append(bridge.yields(i % 7))
            expected.append(i % 7)
        elif kind == "channel":
            futures.append(bridge.channel_sum(1 + i % 4, i))
            expected.append(sum_from(1 + i % 4, i))
        elif kind == "pipeline":
            futures.append(bridge.pipeline(1 + i % 5, 2 * i))
            expected.append(sum_from(1 + i % 5, 2 * i))
        elif kind == "cancel":
            future = bridge.pending()
            # Cancelled from the loop a little later, as a timeout would.
            loop.call_later(0.001 * (i % 4), future.cancel)
            cancelled.append(future)
            futures.append(future)
            expected.append(None)
        else:
            futures.append(asyncio.ensure_future(native(i)))
            expected.append(5 * i)

    # Every future resolves on the loop thread (checked from a done callback).
    wrong_thread = []
    for future in futures:
        future.add_done_callback(
            lambda f: wrong_thread.append(f) if threading.get_ident() != loop_thread else None
        )

    results = await asyncio.wait_for(
        asyncio.gather(*futures, return_exceptions=True), timeout=120
    )
    failures = 0
    for i, (result, want) in enumerate(zip(results, expected)):
        kind = KINDS[i % len(KINDS)]
        if want is None:
            ok = isinstance(result, asyncio.CancelledError)
        else:
            ok = result == want
        if not ok:
            failures += 1
            if failures <= 20:
                print(f"task {i} ({kind}): got {result!r}, expected {want!r}", file=sys.stderr)
    assert failures == 0, f"{failures} tasks gave a wrong result"
    assert not wrong_thread, f"{len(wrong_thread)} futures resolved off the loop thread"

    # The cancelled tasks' Rust futures are dropped on the loop too: their outcomes arrive.
    deadline = loop.time() + 30
    while bridge.outstanding():
        assert loop.time() < deadline, f"{bridge.outstanding()} Rust outcomes never arrived"
        await asyncio.sleep(0.001)
    drains = bridge.drains
    await bridge.close()
    live = bridge.live_futures()
    assert live == 0, f"{live} Rust futures still alive: a task was lost or leaked"

    # A cancelled future whose Rust task is still running is cancelled in Rust too.
    bridge = rawtask_asyncio.Bridge(path)
    slow = bridge.sleep_then_value(10_000, 1)
    await asyncio.sleep(0.01)
    slow.cancel()
    await bridge.close()
    assert slow.cancelled()
    assert bridge.live_futures() == 0, "the cancelled sleeper's future was not dropped"

    natives = sum(1 for i in range(count) if KINDS[i % len(KINDS)] == "native")
    print(
        f"python asyncio: ok: {count} futures ({count - natives} Rust tasks, {len(cancelled)} of "
        f"them cancelled from asyncio, {natives} native), every result checked, "
        f"{drains} drains, no Rust future left"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: test_asyncio.py PATH/TO/librawtask_interop_bridge.so")
    asyncio.run(main(sys.argv[1], int(os.environ.get("INTEROP_PY_TASKS", "3000"))))
