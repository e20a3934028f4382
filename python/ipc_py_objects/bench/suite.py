"""The benchmark suite: every contender, every benchmark, in one sitting.

For each benchmark, round after round, each contender runs once (the order
turns by one each round, so that no contender always follows the same
one), in processes of its own; a line per run says what it measured and
about how long is left. The figures of all rounds go to results.json; the
summary (median, min-max over rounds) to results.md and two charts.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from . import machine, report
from .contenders import C_LIMITS, CONTENDERS

WORKERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workers")
GiB = 1024 ** 3


@dataclass(frozen=True)
class Sizes:
    rounds: int
    idle_rounds: int
    transfer_count: int  # the seed's shape: 1,000 x 400,000 bytes
    transfer_size: int
    roundtrips: int
    bulk_roundtrips: int
    rate_count: int
    dict_rounds: int
    dict_increments: int
    idle_seconds: float
    contention_seconds: float  # each run of turns-N and writer-N
    producer_count: int        # messages of a producers-N run, all producers together


FULL = Sizes(rounds=5, idle_rounds=3, transfer_count=1000, transfer_size=400_000, roundtrips=5000,
             bulk_roundtrips=1000, rate_count=50_000, dict_rounds=20, dict_increments=200, idle_seconds=3.0,
             contention_seconds=1.0, producer_count=150_000)
QUICK = Sizes(rounds=2, idle_rounds=1, transfer_count=200, transfer_size=400_000, roundtrips=1000,
              bulk_roundtrips=200, rate_count=10_000, dict_rounds=6, dict_increments=50, idle_seconds=1.0,
              contention_seconds=0.5, producer_count=40_000)
SMOKE = Sizes(rounds=1, idle_rounds=1, transfer_count=20, transfer_size=400_000, roundtrips=50,
              bulk_roundtrips=20, rate_count=200, dict_rounds=2, dict_increments=5, idle_seconds=0.2,
              contention_seconds=0.1, producer_count=300)

# Contention (many processes, run by workers/run_many.py): turns among N
# processes; one writer against K back-to-back readers; N producers to one
# consumer.
TURNS = ("turns-2", "turns-4", "turns-8", "turns-16")
WRITER = ("writer-1", "writer-3")
PRODUCERS = ("producers-1", "producers-3", "producers-7", "producers-15")
CONTENTION = TURNS + WRITER + PRODUCERS
BENCHMARKS = ("throughput", "roundtrip", "sleep-roundtrip", "bulk-roundtrip", "rate", "dict", "idle",
              "objects") + CONTENTION
# Figures are round-trip times (median and p99 of each run).
ROUNDTRIPS = ("roundtrip", "sleep-roundtrip", "bulk-roundtrip")
READER_OPS = 1000  # operations in each reader's turn


def run_spec(benchmark, sizes):
    """The shape and its parameters for run_pair.py."""
    if benchmark == "throughput":
        return "stream", {"count": sizes.transfer_count, "size": sizes.transfer_size}
    if benchmark == "rate":
        return "stream", {"count": sizes.rate_count, "size": 64}
    if benchmark in ("roundtrip", "sleep-roundtrip"):
        return "pingpong", {"count": sizes.roundtrips, "size": 64, "warmup": max(10, sizes.roundtrips // 10)}
    if benchmark == "bulk-roundtrip":
        return "pingpong", {"count": sizes.bulk_roundtrips, "size": sizes.transfer_size,
                            "warmup": max(10, sizes.bulk_roundtrips // 10)}
    if benchmark == "idle":
        return "stream", {"count": 1, "size": 64, "delay": sizes.idle_seconds}
    if benchmark == "dict":
        return "dict", {"rounds": sizes.dict_rounds, "increments": sizes.dict_increments}
    if benchmark == "objects":
        return "objects", {"number": sizes.rate_count * 4}
    kind, _, n = benchmark.partition("-")
    if kind == "turns":
        return "turns", {"procs": int(n), "seconds": sizes.contention_seconds}
    if kind == "writer":
        return "writer", {"readers": int(n), "ops": READER_OPS, "seconds": sizes.contention_seconds}
    if kind == "producers":
        return "producers", {"producers": int(n), "count": sizes.producer_count}
    raise ValueError(benchmark)


def many_figure(benchmark, answer):
    """One run's figure from run_many.py's answer. turns-N: turns/s of all
    processes, and the min/max of their turns (1: all got as many). writer-K:
    the writer's turns as a part of its fair share, 1/(K+1) of all (1: fair;
    at least 1 is the aim), and its turns/s. producers-N: messages/s."""
    figures, roles = answer["figures"], answer["roles"]
    if benchmark.startswith("producers"):
        c = figures[roles.index("consume")]
        return {"value": c["count"] / c["seconds"]}
    turns = [f["turns"] for f in figures]
    seconds = max(f["seconds"] for f in figures)
    if benchmark.startswith("turns"):
        return {"value": sum(turns) / seconds, "share": min(turns) / max(turns)}
    w = turns[roles.index("writer")]
    return {"value": w / (sum(turns) / len(turns)), "writer_turns_s": w / seconds}


def figure(benchmark, params, figures):
    """One run's figure(s) from what its processes reported."""
    if benchmark in ROUNDTRIPS:
        rtts = sorted(figures["ping"]["rtts"])
        return {"median_us": statistics.median(rtts) / 1000,
                "p99_us": rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))] / 1000}
    if benchmark == "objects":
        return figures["objects"]
    if benchmark == "dict":
        start = figures["a"]["start"]
        end = max(f["end"] for f in figures.values() if f.get("end") is not None)
        done = sum(f["increments"] for f in figures.values())
        return {"value": done / (end - start)}
    seconds = figures["recv"]["end"] - figures["send"]["start"]
    if benchmark == "throughput":
        return {"value": params["count"] * params["size"] / seconds / GiB}
    if benchmark == "rate":
        return {"value": params["count"] / seconds}
    return {"value": figures["recv"]["idle"]}


class Runner:
    def __init__(self, sizes, interpreters, c_dir=None, timeout=120, out=sys.stdout):
        self.sizes = sizes
        self.interpreters = interpreters  # "ours" / "reference" -> path or None
        self.c_dir = c_dir
        self.timeout = timeout
        self.out = out
        self.durations = {}  # (benchmark, contender id) -> seconds of each run

    # ---- one run ------------------------------------------------------------------------------

    def _worker(self, c, shape, spec, script="run_pair.py"):
        python = self.interpreters.get(c.python)
        env = dict(os.environ, **c.env)
        env.pop("PYTHONPATH", None)  # the worker imports the interpreter's own ipc_py_objects
        proc = subprocess.run([python, os.path.join(WORKERS, script), c.module, c.cls, shape,
                               json.dumps(spec)], capture_output=True, text=True, timeout=self.timeout + 30,
                              cwd=WORKERS, env=env)
        lines = proc.stdout.strip().splitlines()
        try:
            answer = json.loads(lines[-1])
        except (IndexError, ValueError):
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            return {"ok": False, "error": f"exit status {proc.returncode}: {tail}"}
        return answer

    def probe(self, c):
        """None if the contender can run here, else why not."""
        if c.kind == "limit" and c.id.startswith("c-"):
            path = os.path.join(self.c_dir or "", c.module)
            return None if self.c_dir and os.access(path, os.X_OK) else f"{path} is not built"
        if not self.interpreters.get(c.python):
            return "no --reference interpreter given (a venv with InterProcessPyObjects)"
        try:
            answer = self._worker(c, "probe", {"peer": c.peer})
        except subprocess.TimeoutExpired:
            return "its import did not finish"
        except OSError as exc:
            return f"cannot start {self.interpreters.get(c.python)}: {exc.strerror}"
        return None if answer.get("ok") else answer.get("error") or "it cannot run here"

    def run_once(self, benchmark, c):
        """The figures of one run of `c`, or raises RuntimeError with why it failed."""
        if c.id.startswith("c-"):
            return self._run_c(benchmark, c)
        shape, params = run_spec(benchmark, self.sizes)
        spec = {"peer": c.peer, "params": params, "timeout": self.timeout}
        many = benchmark in CONTENTION
        try:
            answer = self._worker(c, shape, spec, "run_many.py" if many else "run_pair.py")
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"no answer within {self.timeout} s") from None
        if not answer.get("ok"):
            raise RuntimeError(answer.get("error", "failed"))
        if many:
            return many_figure(benchmark, answer)
        return figure(benchmark, params, answer["figures"])

    def _run_c(self, benchmark, c):
        binary = os.path.join(self.c_dir, c.module)
        shape, params = run_spec(benchmark, self.sizes)
        if c.module == "copy_limits":
            args = [binary, "batch", str(params["size"]), str(params["count"]), str(200 * 1024 * 1024)]
            seconds = float(subprocess.run(args, check=True, capture_output=True, text=True,
                                           timeout=self.timeout).stdout)
            per_second = params["count"] / seconds
            return {"value": per_second * params["size"] / GiB if benchmark == "throughput" else per_second}
        out = subprocess.run([binary, c.cls, str(params["count"])], check=True, capture_output=True, text=True,
                             timeout=self.timeout).stdout
        rtts = sorted(int(x) for x in out.split())
        return {"median_us": statistics.median(rtts) / 1000,
                "p99_us": rtts[min(len(rtts) - 1, int(len(rtts) * 0.99))] / 1000}

    # ---- the whole plan -----------------------------------------------------------------------

    def estimate(self, benchmark, cid):
        mine = self.durations.get((benchmark, cid))
        if mine:
            return sum(mine) / len(mine)
        same = [d for (b, _), ds in self.durations.items() if b == benchmark for d in ds]
        if same:
            return sum(same) / len(same)
        return 2.0 + (self.sizes.idle_seconds if benchmark == "idle" else 0.0)

    def run(self, benchmarks, contenders):
        results = {b: {} for b in benchmarks}
        failures = {}
        plan = []
        for b in benchmarks:
            entrants = [c for c in contenders if b in c.benchmarks]
            rounds = self.sizes.idle_rounds if b == "idle" else self.sizes.rounds
            for r in range(rounds):
                turn = r % len(entrants) if entrants else 0
                for c in entrants[turn:] + entrants[:turn]:
                    plan.append((b, r, rounds, c))
        total = len(plan)
        for i, (b, r, rounds, c) in enumerate(plan):
            if (b, c.id) in failures:
                continue
            t = time.monotonic()
            try:
                fig = self.run_once(b, c)
            except (RuntimeError, subprocess.SubprocessError, OSError, ValueError) as exc:
                failures[(b, c.id)] = str(exc)
                self._line(i, total, b, c, r, rounds, f"FAILED: {str(exc).splitlines()[0][:200]}", t, plan)
                continue
            results[b].setdefault(c.id, []).append(fig)
            self.durations.setdefault((b, c.id), []).append(time.monotonic() - t)
            self._line(i, total, b, c, r, rounds, report.format_figure(b, fig), t, plan)
        return results, {f"{b}/{cid}": why for (b, cid), why in failures.items()}

    def _line(self, i, total, b, c, r, rounds, what, t, plan):
        left = sum(self.estimate(pb, pc.id) for pb, _, _, pc in plan[i + 1:])
        self.out.write(f"[{i + 1:3}/{total}] {b:10} {c.label:36} round {r + 1}/{rounds}  {what:>18}"
                       f"  ({time.monotonic() - t:.1f} s; about {_duration(left)} left)\n")
        self.out.flush()


def _duration(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02} s" if seconds >= 60 else f"{seconds} s"


def summarize(results):
    """Median and min-max over the rounds, per benchmark and contender."""
    summary = {}
    for b, per in results.items():
        summary[b] = {}
        for cid, runs in per.items():
            key = "median_us" if b in ROUNDTRIPS else "value"
            values = [r[key] for r in runs]
            entry = {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}
            if b in ROUNDTRIPS:
                entry["p99"] = statistics.median(r["p99_us"] for r in runs)
            for extra in ("share", "writer_turns_s"):
                if runs and extra in runs[0]:
                    entry[extra] = statistics.median(r[extra] for r in runs)
                    entry[extra + "_min"] = min(r[extra] for r in runs)
            summary[b][cid] = entry
    return summary


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="ipc-py-objects bench",
        description="ipc_py_objects against every peer in one sitting: bulk throughput, small-message round "
                    "trips and rate, a shared dict, idle CPU, and contention (turns among N processes, a "
                    "writer against back-to-back readers, N producers to one consumer). Writes "
                    "results.json, results.md and charts.")
    p.add_argument("--quick", action="store_true", help="fewer rounds and smaller counts (a few minutes)")
    p.add_argument("--smoke", action="store_true", help="one round of tiny counts: checks that it all runs")
    p.add_argument("--output", default=os.path.join("benchmarks", "results"),
                   help="the folder for results.json, results.md and the charts (default: %(default)s)")
    p.add_argument("--reference", metavar="PYTHON",
                   help="an interpreter with InterProcessPyObjects installed (the original package)")
    p.add_argument("--c-dir", metavar="DIR", help="where benchmarks/c was built (make build-c: build/c)")
    p.add_argument("--only", metavar="IDS", help="comma-separated contender ids (see --list)")
    p.add_argument("--benchmarks", metavar="NAMES", help=f"comma-separated, of {', '.join(BENCHMARKS)}")
    p.add_argument("--list", action="store_true", help="list the contenders and exit")
    p.add_argument("--no-charts", action="store_true", help="write no PNG charts")
    return p.parse_args(argv)


def choose(args, pool):
    if not args.only:
        return list(pool)
    wanted = [x.strip() for x in args.only.split(",") if x.strip()]
    known = {c.id: c for c in pool}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise SystemExit(f"unknown contender(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[w] for w in wanted]


def run(argv=None, contenders=None):
    """`ipc-py-objects bench`: runs the suite and writes its files. Returns
    the exit status (0, or 1 when a contender failed)."""
    args = parse_args(argv)
    pool = list(contenders or CONTENDERS) + (list(C_LIMITS) if args.c_dir else [])
    if args.list:
        for c in pool:
            print(f"{c.id:20} {c.label:40} {', '.join(c.benchmarks)}")
        return 0
    chosen = choose(args, pool)
    benchmarks = BENCHMARKS
    if args.benchmarks:
        benchmarks = tuple(b.strip() for b in args.benchmarks.split(","))
        bad = [b for b in benchmarks if b not in BENCHMARKS]
        if bad:
            raise SystemExit(f"unknown benchmark(s): {', '.join(bad)}; known: {', '.join(BENCHMARKS)}")
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    # Absolute: the workers run in their own folder. Not resolved: a venv's
    # python is a symbolic link that must stay one to find its packages.
    reference = os.path.abspath(args.reference) if args.reference else None
    interpreters = {"ours": sys.executable, "reference": reference}
    runner = Runner(sizes, interpreters, c_dir=os.path.abspath(args.c_dir) if args.c_dir else None)

    print(f"probing {len(chosen)} contenders...", flush=True)
    skipped, ready = {}, []
    for c in chosen:
        why = runner.probe(c)
        if why:
            skipped[c.id] = why.splitlines()[0]
            print(f"  skipped: {c.label}: {skipped[c.id]}", flush=True)
        else:
            ready.append(c)
    started = time.time()
    results, failures = runner.run(benchmarks, ready)
    data = {
        "machine": machine.describe(reference=reference),
        "mode": "smoke" if args.smoke else "quick" if args.quick else "full",
        "sizes": sizes.__dict__,
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started, 1),
        "contenders": {c.id: {"label": c.label, "kind": c.kind, "note": c.note, "benchmarks": list(c.benchmarks)}
                       for c in chosen},
        "runs": results,
        "summary": summarize(results),
        "skipped": skipped,
        "failures": failures,
    }
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump(data, f, indent=1)
    charts = [] if args.no_charts else report.charts(data, args.output)
    with open(os.path.join(args.output, "results.md"), "w") as f:
        f.write(report.markdown(data, image_dir="." if charts else None))
    print(f"\n{_duration(data['seconds'])}; wrote results.json, results.md"
          + "".join(f", {os.path.basename(p)}" for p in charts) + f" in {args.output}")
    for key, why in failures.items():
        print(f"failed: {key}: {why.splitlines()[0]}")
    return 1 if failures else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
