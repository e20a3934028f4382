"""What every contender's two processes share: the start gate, the payloads,
the checks of what arrived and the clocks.

A contender (a peer module's class) supplies what moves the bytes: for the
stream shape `stream_send(h)` and `stream_recv(h)`, for the ping-pong shape
`ping(h)` and `pong(h)`, and `dict_side(h)` for the shared dict. `h`, a
`Side`, is what it calls back: `h.start()` when the sender is ready to send
its first message (the clock starts there), `h.see(data)` for each message
received, `h.sent()` once everything is handed over, and so on.

This module and the peer modules run under any interpreter that has the
standard library: the reference package's venv runs them too (its
`ipc_py_objects` is the reference), so they import nothing of this package
but `ipc_py_objects`'s public API, by name, in the peer that needs it.
"""

import asyncio
import os
import resource
import time
import traceback

# A payload that is not zeros: fresh shared pages are zero, so zeros would
# hide a copy that never happened; not a repeated byte either, so that a
# message that arrives shifted shows.
_PATTERN = bytes(range(251))


def make_payload(size):
    reps, rest = divmod(size, len(_PATTERN))
    return _PATTERN * reps + _PATTERN[:rest]


def ping_messages(count, size):
    """Distinct messages of `size` bytes: the sequence number first, so that
    a reply to an older ping is not taken for the answer to this one."""
    body = make_payload(max(0, size - 8))
    return [i.to_bytes(8, "little") + body for i in range(count)]


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CheckFailed(AssertionError):
    pass


class Side:
    """One process's part of a run: built by the parent, pickled into the
    child (spawn), where the peer drives it."""

    def __init__(self, role, params, gate, done, results):
        self.role = role
        self.params = params
        self.count = params.get("count", 0)
        self.size = params.get("size", 0)
        self.delay = params.get("delay", 0.0)
        self._gate = gate
        self._done = done
        self._results = results
        self.payload = b""
        self.msgs = []

    # ---- set up in the child, before the peer runs ----------------------------------

    def prepare(self):
        if self.role in ("send", "recv"):
            self.payload = make_payload(self.size)
        elif self.role == "ping":
            self.msgs = ping_messages(self.count + self.params.get("warmup", 0), self.size)
        self._seen = 0
        self._bytes = 0
        self._last = None
        self._idle = None
        self._t_end = None

    # ---- the sender's side --------------------------------------------------------------

    def start(self):
        """The sender is set up: wait for the other side to be too, then for
        the delay (the idle shape), and start the clock."""
        self._results.put(("ready", self.role))
        if not self._gate.wait(120):
            raise TimeoutError("the other process never became ready")
        if self.delay:
            time.sleep(self.delay)
        self._t0 = time.perf_counter()
        return self._t0

    async def astart(self):
        """`start()` for a sender in an event loop: the loop keeps running
        while it waits (a peer may need it to answer a handshake)."""
        await asyncio.get_running_loop().run_in_executor(None, self._wait_gate)
        if self.delay:
            await asyncio.sleep(self.delay)
        self._t0 = time.perf_counter()
        return self._t0

    def _wait_gate(self):
        self._results.put(("ready", self.role))
        if not self._gate.wait(120):
            raise TimeoutError("the other process never became ready")

    def sent(self, timeout=300):
        """Everything is handed over: stay until the receiver has it all, so
        that closing the channel cannot cut a message short."""
        if not self._done.wait(timeout):
            raise TimeoutError("the receiver did not finish")

    async def asent(self, timeout=300):
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, self._done.wait, timeout):
            raise TimeoutError("the receiver did not finish")

    # ---- the receiver's side --------------------------------------------------------------

    def ready(self):
        """The receiver is set up and starts waiting: from here to the first
        message, its CPU time is what waiting costs (the idle shape)."""
        self._results.put(("ready", self.role))
        self._cpu0, self._wall0 = cpu_seconds(), time.monotonic()

    def see(self, data):
        """Each message received, in order. Every 64th and the last are
        compared whole (a comparison of every 400 kB message would weigh on
        the figure); each one's length and count are checked."""
        n = self._seen
        if n == 0:
            self._idle = (cpu_seconds() - self._cpu0) / max(1e-9, time.monotonic() - self._wall0)
        self._seen = n + 1
        self._bytes += len(data)
        self._last = data
        if not n & 63 and (type(data) is not bytes or data != self.payload):
            raise CheckFailed(f"message {n} arrived wrong: {type(data).__name__} of {len(data)} bytes")

    def finish(self):
        """The last message is in: stop the clock, check the whole run."""
        self._t_end = time.perf_counter()
        if self._seen != self.count:
            raise CheckFailed(f"{self._seen} messages arrived, {self.count} were sent")
        if self._bytes != self.count * self.size:
            raise CheckFailed(f"{self._bytes} bytes arrived, {self.count * self.size} were sent")
        if self.count and (type(self._last) is not bytes or self._last != self.payload):
            raise CheckFailed("the last message arrived wrong")
        self._done.set()

    # ---- ping-pong ------------------------------------------------------------------------------

    QUIT = b""  # what the pinger sends last: a ping is never empty

    def finish_pong(self):
        self._done.set()

    def check_reply(self, i, reply):
        if reply != self.msgs[i]:
            raise CheckFailed(f"round trip {i}: the reply differs from the ping "
                              f"({type(reply).__name__} of {len(reply)} bytes)")

    # ---- results --------------------------------------------------------------------------------

    def report(self, **figures):
        self._results.put(("result", self.role, figures))


def timed_pings(h, round_trip):
    """The pinger's loop for a synchronous peer: `round_trip(msg)` sends one
    message and returns the reply. Returns the round trips in ns, after the
    warm-up."""
    msgs = h.msgs
    rtts = []
    clock = time.perf_counter_ns
    for i, msg in enumerate(msgs):
        t = clock()
        reply = round_trip(msg)
        rtts.append(clock() - t)
        h.check_reply(i, reply)
    return rtts[h.params.get("warmup", 0):]


async def atimed_pings(h, round_trip):
    """The same for a peer whose round trip is a coroutine."""
    msgs = h.msgs
    rtts = []
    clock = time.perf_counter_ns
    for i, msg in enumerate(msgs):
        t = clock()
        reply = await round_trip(msg)
        rtts.append(clock() - t)
        h.check_reply(i, reply)
    return rtts[h.params.get("warmup", 0):]


def role_main(peer, shape, side):
    """A child's body: run the peer's part for this role, report the
    figures or the error."""
    try:
        side.prepare()
        if shape == "stream":
            if side.role == "send":
                peer.stream_send(side)
                side.report(start=side._t0)
            else:
                peer.stream_recv(side)
                side.report(end=side._t_end, idle=side._idle)
        elif shape == "pingpong":
            if side.role == "ping":
                side.report(rtts=peer.ping(side))
            else:
                peer.pong(side)
                side.report()
        elif shape == "dict":
            side.report(**(peer.dict_side(side) or {}))
        else:
            raise ValueError(f"unknown shape {shape!r}")
    except BaseException as exc:  # noqa: BLE001 (reported to the parent, which fails the run)
        side._results.put(("error", side.role, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
        side._done.set()  # a sender waiting for this receiver gives up at once
        side._results.close()
        side._results.join_thread()  # the message reaches the parent before this process goes
        os._exit(1)
