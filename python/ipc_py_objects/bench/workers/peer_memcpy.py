"""memcpy in one process, the physical reference for the stream shape: the
same copies a transfer through shared memory makes (each message copied in
to a pre-faulted buffer, then out into a new `bytes`), with no second
process, no handoff and no waiting. As many copies in as fit in a buffer
of the region's size, then as many out, as the batch transfer goes."""

import time

from harness import Side


class MemcpyOneProcess:
    local = True

    def __init__(self, ctx, buffer_mib=200):
        self.buffer_size = buffer_mib * 1024 * 1024

    def stream_local(self, params):
        h = Side("recv", params, None, _Flag(), None)
        h.prepare()
        size, count = h.size, h.count
        buf = bytearray(max(self.buffer_size, size))  # zero-filled: every page is faulted in
        view = memoryview(buf)
        payload, see = h.payload, h.see
        per_turn = max(1, len(buf) // max(1, size))
        h._cpu0, h._wall0 = 0.0, time.monotonic()
        start = time.perf_counter()
        done = 0
        while done < count:
            n = min(per_turn, count - done)
            for i in range(n):
                view[i * size:(i + 1) * size] = payload
            for i in range(n):
                see(bytes(view[i * size:(i + 1) * size]))
            done += n
        h.finish()
        return {"send": {"start": start}, "recv": {"end": h._t_end, "idle": None}}


class _Flag:
    def set(self):
        pass
