"""Runs one contender once: its two processes, in one shape, and prints the
figures as one JSON line. The suite starts this script under the
interpreter the contender needs (the reference package's venv for the
original package) and reads its last line.

    python run_pair.py MODULE CLASS SHAPE '{"peer": {...}, "params": {...}}'

SHAPE: stream (sender -> receiver, `count` messages of `size` bytes, after
`delay` seconds), pingpong (`count` round trips of `size` bytes after
`warmup`), dict (two processes take turns on a shared dict), probe (only
import the peer: can it run here?). Exit status 0 with {"ok": true, ...},
else 1 with {"ok": false, "error": ...}; 3 when the peer cannot be imported.
"""

import importlib
import json
import multiprocessing as mp
import os
import sys
import time

import harness

ROLES = {"stream": ("recv", "send"), "pingpong": ("pong", "ping"), "dict": ("a", "b")}


def collect(procs, results, want, deadline):
    """Messages of `want` kinds from the children, failing at once on an
    error message or a child that died without saying why."""
    got = []
    import queue

    while len(got) < len(procs):
        try:
            msg = results.get(timeout=0.2)
        except queue.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"a process of the pair died with exit code {dead[0].exitcode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {want} from both processes in time")
            continue
        if msg[0] == "error":
            raise RuntimeError(f"the {msg[1]} process failed: {msg[2]}")
        if msg[0] == want:
            got.append(msg)
    return got


def run(module, cls, shape, spec):
    peer_class = getattr(importlib.import_module(module), cls)
    ctx = mp.get_context("spawn")
    params = spec.get("params", {})
    peer = peer_class(ctx, **spec.get("peer", {}))
    if getattr(peer, "local", False):  # a reference in one process: no pair
        return getattr(peer, f"{shape}_local")(params)
    timeout = float(spec.get("timeout", 300))
    gate, done, results = ctx.Event(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=harness.role_main,
                         args=(peer, shape, harness.Side(role, params, gate, done, results)))
             for role in ROLES[shape]]
    try:
        for p in procs:
            p.start()
        deadline = time.monotonic() + timeout
        collect(procs, results, "ready", deadline)
        gate.set()
        figures = {m[1]: m[2] for m in collect(procs, results, "result", deadline)}
        for p in procs:
            p.join(30)
        return figures
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)
        cleanup = getattr(peer, "cleanup", None)
        if cleanup:
            cleanup()


def main():
    module, cls, shape, spec = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    if shape == "probe":
        try:
            peer = getattr(importlib.import_module(module), cls)(mp.get_context("spawn"), **spec.get("peer", {}))
            reason = getattr(peer, "unavailable", lambda: None)()
        except ImportError as exc:
            reason = f"not installed ({exc})"
        print(json.dumps({"ok": reason is None, "error": reason}))
        return 3 if reason else 0
    try:
        figures = run(module, cls, shape, spec)
    except Exception as exc:  # noqa: BLE001 (the suite reports it and goes on)
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    print(json.dumps({"ok": True, "figures": figures}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
