"""Contention: many processes on one region (or one lock, one queue), run by
run_many.py. Turns: every process takes turns back to back (a turn is
`with wait_my_turn(sm)` around one increment of a local count; for
multiprocessing.Lock, `with lock`). Writer: readers take back-to-back turns
of `ops` operations each (a call that needs the turn: has_messages()), one
writer takes turns of one operation; what counts is the writer's share.
Producers: each producer puts its part of `count` messages of 64 bytes, one
per turn; one consumer takes every message there is in each of its turns.
"""

import os
import time
import uuid

PAYLOAD = bytes(range(64))
MiB = 1024 * 1024


def _timed_loop(h, turn):
    """Turns until the run's time is up; how many. The clock is read every
    16 turns, so that reading it weighs little on short turns."""
    t0 = h.start()
    until = h.until(t0)
    n = 0
    clock = time.perf_counter
    while True:
        for _ in range(16):
            turn()
        n += 16
        if clock() >= until:
            return {"turns": n, "seconds": clock() - t0}


class Ipo:
    """ipc_py_objects, sync: the parent creates the region, the children
    attach as consumers (slots for all)."""

    def __init__(self, ctx):
        self.name = f"ipo-many-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.sm = None

    def unavailable(self):
        import ipc_py_objects  # noqa: F401
        return None

    def setup(self, shape, params):
        from ipc_py_objects import SharedMemory

        if shape == "turns":
            n = int(params["procs"])
        elif shape == "writer":
            n = int(params["readers"]) + 1
        else:
            n = int(params["producers"]) + 1
        self.sm = SharedMemory(self.name, create=True, size=64 * MiB, slots=n + 2, close_timeout=5)

    def __getstate__(self):
        return {"name": self.name, "sm": None}

    def teardown(self):
        if self.sm is not None:
            self.sm.close()
        try:
            os.unlink(f"/dev/shm/{self.name}")
        except OSError:
            pass

    def _attach(self):
        from ipc_py_objects import SharedMemory

        sm = SharedMemory(self.name)
        sm.init_consumer(time_limit=60)
        return sm

    def turns(self, h):
        from ipc_py_objects import wait_my_turn

        sm = self._attach()
        with sm:
            def turn():
                with wait_my_turn(sm):
                    pass
            return _timed_loop(h, turn)

    def reader(self, h):
        from ipc_py_objects import wait_my_turn

        ops = range(int(h.params["ops"]))
        sm = self._attach()
        with sm:
            has = sm.has_messages

            def turn():
                with wait_my_turn(sm):
                    for _ in ops:
                        has()
            return _timed_loop(h, turn)

    def writer(self, h):
        from ipc_py_objects import wait_my_turn

        sm = self._attach()
        with sm:
            has = sm.has_messages

            def turn():
                with wait_my_turn(sm):
                    has()
            return _timed_loop(h, turn)

    def produce(self, h):
        from ipc_py_objects import wait_my_turn

        mine = _share(h)
        sm = self._attach()
        with sm:
            h.start()
            for _ in range(mine):
                with wait_my_turn(sm):
                    sm.put_message(PAYLOAD)
            return {}

    def consume(self, h):
        from ipc_py_objects import wait_my_turn_when_has_messages

        count = int(h.params["count"])
        sm = self._attach()
        with sm:
            t0 = h.start()
            got = 0
            while got < count:
                with wait_my_turn_when_has_messages(sm, time_limit=60):
                    while sm.has_messages():
                        data = sm.take_message()
                        got += 1
            if data != PAYLOAD:
                raise AssertionError("the last message arrived wrong")
            return {"count": got, "seconds": time.perf_counter() - t0}


def _share(h):
    """This producer's part of the count (the first ones take the rest)."""
    n, count = int(h.params["producers"]), int(h.params["count"])
    return count // n + (1 if h.index - 1 < count % n else 0)


class MpLock:
    """multiprocessing.Lock (a POSIX semaphore): turns and the writer."""

    def __init__(self, ctx):
        self.lock = ctx.Lock()

    def unavailable(self):
        return None

    def setup(self, shape, params):
        pass

    def teardown(self):
        pass

    def turns(self, h):
        lock = self.lock

        def turn():
            with lock:
                pass
        return _timed_loop(h, turn)

    def reader(self, h):
        lock, ops = self.lock, range(int(h.params["ops"]))
        x = []

        def turn():
            with lock:
                for _ in ops:
                    len(x)
        return _timed_loop(h, turn)

    def writer(self, h):
        lock, x = self.lock, []

        def turn():
            with lock:
                len(x)
        return _timed_loop(h, turn)


class MpQueue:
    """multiprocessing.Queue, pickled bytes."""

    def __init__(self, ctx):
        self.q = ctx.Queue(10000)

    def unavailable(self):
        return None

    def setup(self, shape, params):
        pass

    def teardown(self):
        pass

    def produce(self, h):
        mine = _share(h)
        h.start()
        put = self.q.put
        for _ in range(mine):
            put(PAYLOAD)
        return {}

    def consume(self, h):
        count = int(h.params["count"])
        t0 = h.start()
        get = self.q.get
        for _ in range(count):
            data = get(timeout=60)
        if data != PAYLOAD:
            raise AssertionError("the last message arrived wrong")
        return {"count": count, "seconds": time.perf_counter() - t0}


class FasterFifo:
    """faster-fifo: put per message, get_many on the consumer's side."""

    def __init__(self, ctx):
        from faster_fifo import Queue

        self.q = Queue(max_size_bytes=8 * MiB)

    def unavailable(self):
        return None  # the import in __init__ is the test

    def setup(self, shape, params):
        pass

    def teardown(self):
        pass

    def produce(self, h):
        mine = _share(h)
        h.start()
        put = self.q.put
        for _ in range(mine):
            put(PAYLOAD, timeout=60)
        return {}

    def consume(self, h):
        count = int(h.params["count"])
        t0 = h.start()
        got = 0
        while got < count:
            batch = self.q.get_many(timeout=60)
            got += len(batch)
        if batch[-1] != PAYLOAD:
            raise AssertionError("the last message arrived wrong")
        return {"count": got, "seconds": time.perf_counter() - t0}
