"""Runs one contender once in a shape of many processes, and prints the
figures as one JSON line (as run_pair.py does for two):

    python run_many.py MODULE CLASS SHAPE '{"peer": {...}, "params": {...}}'

SHAPE: turns (`procs` processes take turns back to back for `seconds`),
writer (one writer takes one-operation turns while `readers` processes take
back-to-back turns of `ops` operations each, for `seconds`), producers
(`producers` processes put `count` messages of 64 bytes in all, one per
turn, to one consumer). The contender's class supplies, per shape, a
`setup(shape, params)` in this process (it may create what the children
attach to; `teardown()` ends it), and the children's bodies: `turns(h)`,
`reader(h)` and `writer(h)` returning turns taken, `produce(h)` and
`consume(h)`. The clock of a run starts at one moment for every child,
set once all are ready: on 2 cores, 16 processes woken by one event would
otherwise start up to 0.2 s apart, and the first ones run alone meanwhile
(which skews both the shares and the producers' rate).
"""

import importlib
import json
import multiprocessing as mp
import queue
import sys
import time
import traceback


GO_DELAY = 0.3  # seconds from the last child ready to the common start


class Many:
    """One child's part, pickled into it (spawn)."""

    def __init__(self, role, index, params, gate, go_at, results):
        self.role = role
        self.index = index
        self.params = params
        self._gate = gate
        self._go_at = go_at
        self._results = results

    def start(self):
        """Set up: wait for every other child, then sleep until the moment
        the parent set for all (perf_counter is the machine's monotonic
        clock, one for every process). That moment is the run's start."""
        self._results.put(("ready", self.index))
        if not self._gate.wait(120):
            raise TimeoutError("the other processes never became ready")
        go_at = self._go_at.value
        late = go_at - time.perf_counter()
        if late > 0:
            time.sleep(late)
        return go_at

    def until(self, t0):
        return t0 + float(self.params.get("seconds", 1.0))


def child_main(peer, shape, h):
    try:
        body = getattr(peer, h.role)
        h._results.put(("result", h.index, body(h)))
    except BaseException as exc:  # noqa: BLE001 (reported to the parent, which fails the run)
        h._results.put(("error", h.index, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


def roles(shape, params):
    if shape == "turns":
        return ["turns"] * int(params["procs"])
    if shape == "writer":
        return ["writer"] + ["reader"] * int(params["readers"])
    if shape == "producers":
        return ["consume"] + ["produce"] * int(params["producers"])
    raise ValueError(shape)


def run(module, cls, shape, spec):
    ctx = mp.get_context("spawn")
    params = spec.get("params", {})
    peer = getattr(importlib.import_module(module), cls)(ctx, **spec.get("peer", {}))
    peer.setup(shape, params)
    timeout = float(spec.get("timeout", 120))
    gate, results = ctx.Event(), ctx.Queue()
    go_at = ctx.Value("d", 0.0, lock=False)  # written before the gate is set, read after
    who = roles(shape, params)
    procs = [ctx.Process(target=child_main, args=(peer, shape, Many(role, i, params, gate, go_at, results)))
             for i, role in enumerate(who)]
    try:
        for p in procs:
            p.start()
        deadline = time.monotonic() + timeout
        ready, figures = 0, {}
        while len(figures) < len(procs):
            try:
                msg = results.get(timeout=0.2)
            except queue.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"a process died with exit code {dead[0].exitcode}") from None
                if time.monotonic() > deadline:
                    raise TimeoutError("the processes did not finish in time") from None
                continue
            if msg[0] == "error":
                raise RuntimeError(f"process {msg[1]} failed: {msg[2]}")
            if msg[0] == "ready":
                ready += 1
                if ready == len(procs):
                    # Time for every child to wake from the gate first, even
                    # 16 of them on 2 busy cores.
                    go_at.value = time.perf_counter() + GO_DELAY
                    gate.set()
            else:
                figures[msg[1]] = msg[2]
        for p in procs:
            p.join(30)
        return {"roles": who, "figures": [figures[i] for i in range(len(procs))]}
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)
        peer.teardown()


def main():
    module, cls, shape, spec = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    try:
        out = run(module, cls, shape, spec)
    except Exception as exc:  # noqa: BLE001 (the suite reports it and goes on)
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    print(json.dumps({"ok": True, **out}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
