"""Await Rust tasks from Python's asyncio, through rawtask's C API and ctypes only (no pip).

The bridge's cdylib (internal/interop/bridge, librawtask_interop_bridge.so) spawns Rust tasks onto a
loop scheduler that this module drains on the asyncio loop's thread:

- notify: the scheduler calls it (from any thread) when tasks are queued; it hands one drain
  to the loop with ``loop.call_soon_threadsafe``. Notifies are coalesced: at most one per drain.
- drain: runs up to ``BATCH`` Rust tasks per loop callback, then collects the outcomes of every
  task that finished, in one call (the completion callback registered with
  ``rawtask_task_on_complete`` is a C function of the bridge that records them), and resolves
  their futures. No Python code runs per task on the Rust side.
- each task is a ``RustFuture`` (an ``asyncio.Future``): cancelling it cancels the Rust task
  (``rawtask_task_cancel``); the task's future is dropped on the loop thread.

    bridge = Bridge("target/debug/librawtask_interop_bridge.so")   # inside a running loop
    value = await bridge.sleep_then_value(5, 42)                    # 42, after 5 ms
    await bridge.close()
"""

import asyncio
import ctypes

OK, PENDING, READY, CANCELLED, PANICKED = 0, 1, 2, 3, 4

# Rust tasks run per drain callback, and outcomes collected per call.
BATCH = 4096


class _Task(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64)]


class _Completion(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64), ("status", ctypes.c_int32), ("value", ctypes.c_uint64)]


_NOTIFY = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


def _load(path):
    lib = ctypes.CDLL(path)
    p, u32, u64, size = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_size_t
    signatures = {
        "rawtask_home_new": ([_NOTIFY, p], p),
        "rawtask_home_drain": ([p, size, ctypes.POINTER(size)], ctypes.c_int32),
        "rawtask_home_free": ([p], ctypes.c_int32),
        "interop_completions_new": ([], p),
        "interop_completions_watch": ([p, _Task], ctypes.c_int32),
        "interop_completions_collect": ([p, ctypes.POINTER(_Completion), size], size),
        "interop_completions_free": ([p], None),
        "interop_spawn_sleep_then_value": ([p, u32, u64], _Task),
        "interop_spawn_yields": ([p, u32], _Task),
        "interop_spawn_channel_sum": ([p, u32, u64], _Task),
        "interop_spawn_pipeline": ([p, u32, u64], _Task),
        "interop_spawn_pending": ([p], _Task),
        "interop_live_futures": ([], ctypes.c_int64),
        "interop_shutdown": ([], None),
        "rawtask_task_cancel": ([_Task], ctypes.c_int32),
        "rawtask_last_error_message": ([ctypes.c_char_p, ctypes.c_int], ctypes.c_int),
    }
    for name, (argtypes, restype) in signatures.items():
        function = getattr(lib, name)
        function.argtypes, function.restype = argtypes, restype
    return lib


class RustFuture(asyncio.Future):
    """The future of one Rust task; cancelling it cancels the task."""

    def __init__(self, bridge, handle):
        super().__init__(loop=bridge.loop)
        self._bridge, self._handle = bridge, handle

    def cancel(self, msg=None):
        bridge, self._bridge = self._bridge, None
        if bridge is not None and not self.done():
            # The outcome (CANCELLED) still arrives through the completion callback once the
            # task's future is dropped; the bridge forgets the handle then.
            bridge._lib.rawtask_task_cancel(self._handle)
        return super().cancel(msg)


class Bridge:
    """Rust tasks on the running asyncio loop. Create and use it on the loop's thread."""

    def __init__(self, path, loop=None):
        self._lib = _load(path)
        self.loop = loop or asyncio.get_running_loop()
        self._notify = _NOTIFY(self._on_notify)  # kept alive as long as the scheduler
        self._lp = self._lib.rawtask_home_new(self._notify, None)
        self._completions = self._lib.interop_completions_new()
        self._futures = {}  # handle id -> RustFuture, until the task's outcome is collected
        self._buffer = (_Completion * BATCH)()
        self._ran = ctypes.c_size_t()
        self.drains = 0

    # Any thread, inside the scheduler's lock: only hand a drain to the loop.
    def _on_notify(self, _context):
        self.loop.call_soon_threadsafe(self._drain)

    def _drain(self):
        if self._lp is None:
            return
        self.drains += 1
        status = self._lib.rawtask_home_drain(self._lp, BATCH, ctypes.byref(self._ran))
        self._collect()
        if status == PENDING:
            self.loop.call_soon(self._drain)  # more queued: after the loop's other callbacks
        elif status != OK:
            raise RuntimeError(f"rawtask_home_drain: status {status}: {self.last_error()}")

    def _collect(self):
        collect, buffer, futures = self._lib.interop_completions_collect, self._buffer, self._futures
        while True:
            n = collect(self._completions, buffer, BATCH)
            for i in range(n):
                done = buffer[i]
                future = futures.pop(done.id, None)
                if future is None or future.done():
                    continue
                if done.status == READY:
                    future.set_result(done.value)
                elif done.status == CANCELLED:
                    future._bridge = None
                    future.cancel()
                else:
                    future.set_exception(RuntimeError(f"Rust task failed: status {done.status}"))
            if n < BATCH:
                return

    def _watch(self, handle):
        if handle.id == 0:
            raise RuntimeError(f"spawn failed: {self.last_error()}")
        future = RustFuture(self, handle)
        self._futures[handle.id] = future
        status = self._lib.interop_completions_watch(self._completions, handle)
        if status != OK:
            raise RuntimeError(f"rawtask_task_on_complete: status {status}: {self.last_error()}")
        return future

    def last_error(self):
        buffer = ctypes.create_string_buffer(512)
        if self._lib.rawtask_last_error_message(buffer, len(buffer)) < 0:
            return "(no message)"
        return buffer.value.decode(errors="replace")

    # ----- the Rust tasks -----

    def sleep_then_value(self, ms, value):
        """Sleeps ``ms`` ms on a Rust timer thread, returns ``value``."""
        return self._watch(self._lib.interop_spawn_sleep_then_value(self._lp, ms, value))

    def yields(self, n):
        """Yields ``n`` times, returns ``n``."""
        return self._watch(self._lib.interop_spawn_yields(self._lp, n))

    def channel_sum(self, n, seed):
        """Sums ``seed + k`` for k < n, received on a channel fed from another thread."""
        return self._watch(self._lib.interop_spawn_channel_sum(self._lp, n, seed))

    def pipeline(self, n, seed):
        """Like channel_sum, fed by a second Rust task on this loop (a rendezvous channel)."""
        return self._watch(self._lib.interop_spawn_pipeline(self._lp, n, seed))

    def pending(self):
        """Never finishes: cancel it."""
        return self._watch(self._lib.interop_spawn_pending(self._lp))

    def live_futures(self):
        """How many Rust futures spawned by the bridge are alive (process-wide)."""
        return self._lib.interop_live_futures()

    def outstanding(self):
        """How many tasks' outcomes have not been collected yet."""
        return len(self._futures)

    async def close(self, timeout=30.0):
        """Cancels what is left, waits for every outcome, frees the scheduler and stops the
        bridge's worker thread."""
        for future in list(self._futures.values()):
            future.cancel()
        deadline = self.loop.time() + timeout
        while self._futures:
            if self.loop.time() > deadline:
                raise TimeoutError(f"{len(self._futures)} Rust tasks never finished")
            await asyncio.sleep(0.001)
        self._lib.rawtask_home_free(self._lp)
        self._lp = None
        self._lib.interop_completions_free(self._completions)
        self._lib.interop_shutdown()
