"""Container, attribute and message operations: ours beside the reference
package (InterProcessPyObjects from PyPI, in its own virtual environment) and
beside the same statements on plain Python objects, all in one run.

    python benchmarks/bench_objects.py --reference .venv-ref/bin/python

The operations are the ones the seed's receiver example annotates with the
reference's rates (benchmarks/object_ops.py). Target: ours at least 10x the
reference on every container, attribute and message operation, and numpy
arithmetic on a shared array at numpy's own speed.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from object_ops import OPERATIONS  # noqa: E402  (the statements; importing runs nothing)

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = 10.0
SEED_STATEMENTS = [op for op, *_ in OPERATIONS]


def run(python, *args):
    out = subprocess.run([python, os.path.join(HERE, "object_ops.py"), *args], capture_output=True,
                         text=True, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"{python} object_ops.py failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", help="the interpreter of the reference package's venv")
    args = parser.parse_args()

    result = run(sys.executable)
    ours = result["rates"]
    # Plain Python timed beside ours, statement by statement, in one process.
    plain = result.get("plain") or run(sys.executable, "--plain")["rates"]
    reference = run(args.reference)["rates"] if args.reference else {}

    print(f"{'operation':50} {'ours/s':>12} {'reference/s':>12} {'ratio':>7} {'plain/s':>12} {'ours/plain':>10}")
    missed = []
    for op, rate in ours.items():
        ref = reference.get(op)
        base = plain.get(op)
        ratio = rate / ref if ref else None
        line = f"{op:50} {rate:12,.0f} {ref or 0:12,.0f} {ratio or 0:7.1f} {base or 0:12,.0f} " \
               f"{(rate / base) if base else 0:10.2f}"
        print(line)
        if ratio is not None and ratio < TARGET and not op.startswith("ndarray"):
            missed.append((op, ratio, rate / base if base else None))
    if reference:
        print()
        print(f"below {TARGET:.0f}x the reference: " + (", ".join(
            f"{op} ({r:.1f}x; {p:.2f} of plain Python)" if p else f"{op} ({r:.1f}x)"
            for op, r, p in missed) if missed else "none"))
    # The measure: each statement of the seed's receiver example
    # against the same statement on plain Python objects.
    seed = sorted(ours[op] / plain[op] for op in SEED_STATEMENTS if plain.get(op))
    if seed:
        below = [op for op in SEED_STATEMENTS if plain.get(op) and ours[op] / plain[op] < 0.25]
        print(f"ours/plain over the seed's {len(seed)} statements: median {statistics.median(seed):.2f}, "
              f"lowest {seed[0]:.2f}; below 0.25: " + (", ".join(below) if below else "none"))
    print("ndarray arithmetic on the shared array vs a plain array: "
          f"{ours['ndarray += 10'] / plain['ndarray += 10']:.2f}, "
          f"{ours['ndarray -= 15'] / plain['ndarray -= 15']:.2f}")


if __name__ == "__main__":
    main()
