"""A dict shared by two processes, read and written in turns: the shape of
the seed's shared-dict comparison (a player's state, its numeric fields
incremented).

Process a and process b take `rounds` turns in alternation, handed over by
two semaphores (the same for every contender, so that the handoff costs the
same). In each turn, a process first checks that every field holds what the
other's increments made it (each process reads the other's writes), then
increments every field `increments` times. Figure: increments per second,
from a's first turn to the last turn's end, handoffs included. The local
dict is the limit: the same increments in one process, no handoff.
"""

import contextlib
import os
import time
import uuid

from harness import CheckFailed

INT_FIELDS = ("health", "mana", "inventory_size")
FLOAT_FIELDS = ("position_x", "position_y", "position_z", "rotation_x", "rotation_y", "rotation_z")
FIELDS = INT_FIELDS + FLOAT_FIELDS


def _initial():
    state = {"player_id": 7, "name": "Player_7"}
    state.update((f, 0) for f in INT_FIELDS)
    state.update((f, 0.0) for f in FLOAT_FIELDS)
    return state


def _check(d, expected):
    for f in FIELDS:
        if d[f] != expected:
            raise CheckFailed(f"field {f} holds {d[f]!r}, {expected} expected: the other process's writes were lost")


def _increment(d, n):
    for _ in range(n):
        for f in INT_FIELDS:
            d[f] += 1
        for f in FLOAT_FIELDS:
            d[f] += 1.0


class _Turns:
    """What every shared-dict contender shares: the two semaphores, the
    'created' flag, and the loop of turns. A subclass opens the dict
    (`open(create)`) and says what a turn holds (`turn(...)`)."""

    def __init__(self, ctx, scale=1.0):
        self.turn_a, self.turn_b = ctx.Semaphore(1), ctx.Semaphore(0)
        self.created = ctx.Event()
        self.scale = scale
        self.name = f"ipo-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    # The other process attaches once the dict exists; ipc_py_objects' own
    # handshake (wait_consumer_ready and init_consumer) does that itself.
    wait_created = True

    def turn(self, state):
        return contextlib.nullcontext()

    def close(self, state, create):
        pass

    def dict_side(self, h):
        create = h.role == "a"
        rounds = h.params["rounds"]
        per_turn = max(1, int(h.params["increments"] * self.scale))
        if not create and self.wait_created and not self.created.wait(60):
            raise TimeoutError("the dict was never created")
        d, state = self.open(create)
        if create:
            self.created.set()
        mine, theirs = (self.turn_a, self.turn_b) if create else (self.turn_b, self.turn_a)
        start = h.start() if create else h.ready()
        end = None
        done = 0
        # Rounds 0, 2, 4... are a's, the odd ones b's; round `rounds` only
        # checks the last round's writes, and its start is the end of the run.
        for r in range(0 if create else 1, rounds + 1, 2):
            if not mine.acquire(timeout=300):
                raise TimeoutError("the other process never handed over")
            if r == rounds:
                end = time.perf_counter()
            with self.turn(state):
                _check(d, r * per_turn)
                if r < rounds:
                    _increment(d, per_turn)
                    done += per_turn * len(FIELDS)
            theirs.release()
        self.close(state, create)
        return {"start": start, "end": end, "increments": done}


class IpoDict(_Turns):
    """ipc_py_objects' live dict (a SharedDict view in both processes), each
    turn inside wait_my_turn; under the reference venv, the reference's."""

    wait_created = False

    def unavailable(self):
        import ipc_py_objects  # noqa: F401
        return None

    def cleanup(self):
        try:
            os.unlink(f"/dev/shm/{self.name}")
        except OSError:
            pass

    def open(self, create):
        from ipc_py_objects import SharedMemory, wait_my_turn, wait_my_turn_when_has_messages

        if create:
            sm = SharedMemory(self.name, create=True, size=16 * 1024 * 1024)
            sm.__enter__()
            sm.wait_consumer_ready(time_limit=60)
            with wait_my_turn(sm, time_limit=60):
                d = sm.put_message(_initial())
        else:
            sm = SharedMemory(self.name)
            sm.init_consumer(time_limit=60)
            sm.__enter__()
            with wait_my_turn_when_has_messages(sm, time_limit=60):
                d = sm.take_message()
        return d, sm

    def turn(self, sm):
        from ipc_py_objects import wait_my_turn

        return wait_my_turn(sm, time_limit=60)

    def close(self, sm, create):
        sm.__exit__(None, None, None)


class UltraDictPeer(_Turns):
    def unavailable(self):
        from UltraDict import UltraDict  # noqa: F401
        return None

    def open(self, create):
        from UltraDict import UltraDict

        name = self.name.replace("-", "_")
        d = UltraDict(_initial(), name=name, create=True) if create else UltraDict(name=name, create=False)
        return d, d

    def close(self, d, create):
        d.close(unlink=create)


class SharedMemoryDictPeer(_Turns):
    def unavailable(self):
        from shared_memory_dict import SharedMemoryDict  # noqa: F401
        return None

    def open(self, create):
        from shared_memory_dict import SharedMemoryDict

        d = SharedMemoryDict(name=self.name, size=64 * 1024)
        if create:
            for k, v in _initial().items():  # it cannot be built from a dict
                d[k] = v
        return d, d

    def close(self, d, create):
        if create:
            d.shm.close()
            d.shm.unlink()
        else:
            d.shm.close()


class ManagerDict(_Turns):
    """multiprocessing.Manager().dict(): a proxy; every read and write is a
    round trip to the manager's server process."""

    def __init__(self, ctx, scale=1.0):
        super().__init__(ctx, scale)
        self._manager = ctx.Manager()
        self.proxy = self._manager.dict(_initial())

    def __getstate__(self):
        state = dict(self.__dict__)
        del state["_manager"]  # the parent's; the children have the proxy
        return state

    def cleanup(self):
        self._manager.shutdown()

    def open(self, create):
        return self.proxy, None


class LocalDict:
    """A plain dict in one process: the limit."""

    local = True

    def __init__(self, ctx, scale=1.0):
        self.scale = scale

    def dict_local(self, params):
        d = _initial()
        rounds, per_turn = params["rounds"], max(1, int(params["increments"] * self.scale))
        start = time.perf_counter()
        for r in range(rounds):
            _check(d, r * per_turn)
            _increment(d, per_turn)
        end = time.perf_counter()
        _check(d, rounds * per_turn)
        return {"a": {"start": start, "end": end, "increments": rounds * per_turn * len(FIELDS)}}
