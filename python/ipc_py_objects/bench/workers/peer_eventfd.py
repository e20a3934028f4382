"""The floor of a sleeping round trip from Python: two eventfds and a page of
shared memory, nothing else. The pinger copies its message into the page
and writes the server's eventfd; the ponger, asleep in poll() (or in its
event loop's add_reader), wakes, copies the message out as `bytes`, copies
it back into the reply half and writes the pinger's eventfd. Every
system call a sleeping wake needs (a write to ring, a poll, a read to
drain) and the Python around them, and no more: what a sleeping turn of
ours is measured against, on each loop.

Ping-pong only: a stream through one slot would measure the slot, not a wake.
"""

import asyncio
import mmap
import os
import select
from multiprocessing import reduction

from harness import atimed_pings, timed_pings

QUIT = b""
HALF = 2048  # requests in the first half of the page, replies in the second


def _run(loop_kind, coro):
    if loop_kind == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


class Eventfd:
    def __init__(self, ctx, loop="sync"):
        self.loop = loop
        self.to_pong = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.to_ping = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.page = os.memfd_create("ipo-bench-eventfd", os.MFD_CLOEXEC)
        os.ftruncate(self.page, 2 * HALF)

    def unavailable(self):
        if not hasattr(os, "eventfd"):
            return "os.eventfd needs Linux and Python 3.10"
        if self.loop == "uvloop":
            import uvloop  # noqa: F401
        return None

    def cleanup(self):
        for fd in (self.to_pong, self.to_ping, self.page):
            os.close(fd)

    # The descriptors go to the spawned children the way multiprocessing
    # hands over a Connection's: duplicated into the child as it starts.
    def __getstate__(self):
        return {"loop": self.loop, "fds": [reduction.DupFd(fd) for fd in (self.to_pong, self.to_ping, self.page)]}

    def __setstate__(self, state):
        self.loop = state["loop"]
        self.to_pong, self.to_ping, self.page = (d.detach() for d in state["fds"])

    def _map(self):
        return mmap.mmap(self.page, 2 * HALF)

    @staticmethod
    def _put(buf, at, msg):
        buf[at:at + 4] = len(msg).to_bytes(4, "little")
        buf[at + 4:at + 4 + len(msg)] = msg

    @staticmethod
    def _get(buf, at):
        n = int.from_bytes(buf[at:at + 4], "little")
        return buf[at + 4:at + 4 + n]  # mmap slices are bytes

    # ---- sync: poll() on the eventfd, as the sync API sleeps -----------------------

    def ping(self, h):
        if self.loop != "sync":
            return _run(self.loop, self._aping(h))
        buf, put, get = self._map(), self._put, self._get
        poller = select.poll()
        poller.register(self.to_ping, select.POLLIN)
        to_pong, to_ping = self.to_pong, self.to_ping
        h.start()

        def round_trip(msg):
            put(buf, 0, msg)
            os.eventfd_write(to_pong, 1)
            poller.poll()
            os.eventfd_read(to_ping)
            return get(buf, HALF)

        rtts = timed_pings(h, round_trip)
        put(buf, 0, QUIT)
        os.eventfd_write(to_pong, 1)
        h.sent()
        return rtts

    def pong(self, h):
        if self.loop != "sync":
            return _run(self.loop, self._apong(h))
        buf, put, get = self._map(), self._put, self._get
        poller = select.poll()
        poller.register(self.to_pong, select.POLLIN)
        to_pong, to_ping = self.to_pong, self.to_ping
        h.ready()
        while True:
            poller.poll()
            os.eventfd_read(to_pong)
            msg = get(buf, 0)
            if msg == QUIT:
                break
            put(buf, HALF, msg)
            os.eventfd_write(to_ping, 1)
        h.finish_pong()

    # ---- an event loop: add_reader once, a future per wait ----------------------------

    @staticmethod
    def _reader(fd):
        """A wait for fd's next write, as an event loop program writes one."""
        loop = asyncio.get_running_loop()
        state = {"future": None}

        def on_readable():
            os.eventfd_read(fd)
            future = state["future"]
            if future is not None and not future.done():
                future.set_result(None)

        loop.add_reader(fd, on_readable)

        async def wait():
            future = state["future"] = loop.create_future()
            await future

        return wait

    async def _aping(self, h):
        buf, put, get = self._map(), self._put, self._get
        wait = self._reader(self.to_ping)
        to_pong = self.to_pong
        await h.astart()

        async def round_trip(msg):
            put(buf, 0, msg)
            os.eventfd_write(to_pong, 1)
            await wait()
            return get(buf, HALF)

        rtts = await atimed_pings(h, round_trip)
        put(buf, 0, QUIT)
        os.eventfd_write(to_pong, 1)
        await h.asent()
        return rtts

    async def _apong(self, h):
        buf, put, get = self._map(), self._put, self._get
        wait = self._reader(self.to_pong)
        to_ping = self.to_ping
        h.ready()
        while True:
            await wait()
            msg = get(buf, 0)
            if msg == QUIT:
                break
            put(buf, HALF, msg)
            os.eventfd_write(to_ping, 1)
        h.finish_pong()
