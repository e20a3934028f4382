"""ipc_py_objects as a contender, synchronous or in an event loop; the same
code runs under the reference package's venv, whose `ipc_py_objects` is
InterProcessPyObjects, so both are measured by one program.

Stream: the seed's transfer shape. The sender puts as many messages as fit
per turn (a full region raises FreeMemoryChunkNotFoundError: the receiver's
turn frees memory); the receiver takes each as a `bytes` copy
(take_message_2) and destroys its block. Ping-pong: a request region and a
reply region, one message in flight. Both sides use the package's default
waiting (a short spin, then sleep); with `sleep=True` they sleep at once
(`spin_budget=0` for the sync API, `save_cpu_time=True` for a manager): a
sleeping round trip, beside the peers that always sleep.
"""

import asyncio
import os
import time
import uuid

from harness import atimed_pings, timed_pings

MiB = 1024 * 1024
QUIT = b""  # a ping is never empty


def _run(loop_kind, coro):
    if loop_kind == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def _attach(name, **options):
    """A consumer's SharedMemory(name), ready. The reference package can
    fail an attach that races its creator's setup ("cannot mmap an empty
    file"): try again then, as its own examples do by starting the
    receiver after the sender. Ours waits in init_consumer and never
    needs it."""
    from ipc_py_objects import SharedMemory

    for attempt in range(500):
        try:
            sm = SharedMemory(name, **options)
            sm.init_consumer(time_limit=60)
            return sm
        except (ValueError, FileNotFoundError):
            if attempt == 499:
                raise
            time.sleep(0.01)


class Ipo:
    def __init__(self, ctx, loop="sync", region_mib=200, sleep=False):
        self.loop = loop
        # Only ours has these options (the reference package runs this
        # peer with sleep left False).
        self.options = {"spin_budget": 0} if sleep else {}
        self.save_cpu_time = sleep
        self.region_size = region_mib * MiB
        self.name = f"ipo-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def unavailable(self):
        import ipc_py_objects  # noqa: F401  (an ImportError says: not installed)

        if self.loop == "uvloop":
            import uvloop  # noqa: F401
        return None

    def cleanup(self):
        # A region whose processes were killed stays in /dev/shm: remove it.
        for suffix in ("", "-in", "-out"):
            try:
                os.unlink(f"/dev/shm/{self.name}{suffix}")
            except OSError:
                pass

    # ---- stream ---------------------------------------------------------------------------------

    def stream_send(self, h):
        from ipc_py_objects import FreeMemoryChunkNotFoundError, SharedMemory, wait_my_turn

        if self.loop != "sync":
            return _run(self.loop, self._astream_send(h))
        payload, count = h.payload, h.count
        with SharedMemory(self.name, create=True, size=self.region_size) as sm:
            sm.wait_consumer_ready(time_limit=60)
            h.start()
            sent = 0
            while sent < count:
                with wait_my_turn(sm, time_limit=60):
                    try:
                        while sent < count:
                            sm.put_message(payload)
                            sent += 1
                    except FreeMemoryChunkNotFoundError:
                        pass  # full: the receiver's turn frees memory
            h.sent()

    async def _astream_send(self, h):
        from ipc_py_objects import ASharedMemoryManager, FreeMemoryChunkNotFoundError, SharedMemory

        payload, count = h.payload, h.count
        sm = SharedMemory(self.name, create=True, size=self.region_size)
        async with ASharedMemoryManager(sm) as asmm:
            cm = asmm()
            await h.astart()
            sent = 0
            while sent < count:
                async with cm as shm:
                    try:
                        while sent < count:
                            shm.value.put_message(payload)
                            sent += 1
                    except FreeMemoryChunkNotFoundError:
                        pass
            await h.asent()

    def stream_recv(self, h):
        from ipc_py_objects import wait_my_turn_when_has_messages

        if self.loop != "sync":
            return _run(self.loop, self._astream_recv(h))
        count, see = h.count, h.see
        sm = _attach(self.name)
        with sm:
            h.ready()
            received = 0
            while received < count:
                with wait_my_turn_when_has_messages(sm, time_limit=60):
                    while sm.has_messages():
                        data, offset = sm.take_message_2()
                        sm.destroy_obj(offset)
                        see(data)
                        received += 1
            h.finish()

    async def _astream_recv(self, h):
        from ipc_py_objects import ASharedMemoryManager, SharedMemory

        count, see = h.count, h.see
        async with ASharedMemoryManager(SharedMemory(self.name)) as asmm:
            cm = asmm()
            h.ready()
            received = 0
            while received < count:
                async with cm.if_has_messages() as shm:
                    region = shm.value
                    while region.has_messages():
                        data, offset = region.take_message_2()
                        region.destroy_obj(offset)
                        see(data)
                        received += 1
            h.finish()

    # ---- ping-pong ------------------------------------------------------------------------------

    def ping(self, h):
        from ipc_py_objects import SharedMemory, wait_my_turn, wait_my_turn_when_has_messages

        if self.loop != "sync":
            return _run(self.loop, self._aping(h))
        with SharedMemory(f"{self.name}-in", create=True, size=4 * MiB, **self.options) as requests, \
                SharedMemory(f"{self.name}-out", create=True, size=4 * MiB, **self.options) as replies:
            requests.wait_consumer_ready(time_limit=60)
            replies.wait_consumer_ready(time_limit=60)
            h.start()

            def round_trip(msg):
                with wait_my_turn(requests, time_limit=60):
                    requests.put_message(msg)
                with wait_my_turn_when_has_messages(replies, time_limit=60):
                    reply, offset = replies.take_message_2()
                    replies.destroy_obj(offset)
                return reply

            rtts = timed_pings(h, round_trip)
            with wait_my_turn(requests, time_limit=60):
                requests.put_message(QUIT)  # the server leaves
            h.sent()
            return rtts

    async def _aping(self, h):
        from ipc_py_objects import ASharedMemoryManager, SharedMemory

        requests = SharedMemory(f"{self.name}-in", create=True, size=4 * MiB)
        replies = SharedMemory(f"{self.name}-out", create=True, size=4 * MiB)
        save = self.save_cpu_time
        async with ASharedMemoryManager(requests, save) as a_in, ASharedMemoryManager(replies, save) as a_out:
            cm_in, cm_out = a_in(), a_out()
            await h.astart()

            async def round_trip(msg):
                async with cm_in as shm:
                    shm.value.put_message(msg)
                async with cm_out.if_has_messages() as shm:
                    reply, offset = shm.value.take_message_2()
                    shm.value.destroy_obj(offset)
                return reply

            rtts = await atimed_pings(h, round_trip)
            async with cm_in as shm:
                shm.value.put_message(QUIT)
            await h.asent()
            return rtts

    def pong(self, h):
        from ipc_py_objects import wait_my_turn, wait_my_turn_when_has_messages

        if self.loop != "sync":
            return _run(self.loop, self._apong(h))
        requests, replies = _attach(f"{self.name}-in", **self.options), _attach(f"{self.name}-out", **self.options)
        with requests, replies:
            h.ready()
            while True:
                with wait_my_turn_when_has_messages(requests, time_limit=60):
                    msg, offset = requests.take_message_2()
                    requests.destroy_obj(offset)
                if msg == QUIT:
                    break
                with wait_my_turn(replies, time_limit=60):
                    replies.put_message(msg)
            h.finish_pong()

    async def _apong(self, h):
        from ipc_py_objects import ASharedMemoryManager, SharedMemory

        save = self.save_cpu_time
        async with ASharedMemoryManager(SharedMemory(f"{self.name}-in"), save) as a_in, \
                ASharedMemoryManager(SharedMemory(f"{self.name}-out"), save) as a_out:
            cm_in, cm_out = a_in(), a_out()
            h.ready()
            while True:
                async with cm_in.if_has_messages() as shm:
                    msg, offset = shm.value.take_message_2()
                    shm.value.destroy_obj(offset)
                if msg == QUIT:
                    break
                async with cm_out as shm:
                    shm.value.put_message(msg)
            h.finish_pong()
