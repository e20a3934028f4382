"""Rewrites the README's performance section from the benchmark suite's
latest results (what `make bench` wrote), between the two markers:

    <!-- bench-suite:begin -->  ...  <!-- bench-suite:end -->

    python benchmarks/update_readme.py [RESULTS_JSON] [README]

The section names the machine and links the charts beside the results,
relative to the README.
"""

import json
import os
import sys

from ipc_py_objects.bench.report import markdown

BEGIN, END = "<!-- bench-suite:begin -->", "<!-- bench-suite:end -->"


def rewrite(readme_text, section):
    """readme_text with what lies between the markers replaced by `section`."""
    start, end = readme_text.find(BEGIN), readme_text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"the README has no {BEGIN} ... {END} section to rewrite")
    return readme_text[:start + len(BEGIN)] + "\n" + section.rstrip() + "\n" + readme_text[end:]


def main(argv):
    results = argv[0] if argv else os.path.join("benchmarks", "results", "results.json")
    readme = argv[1] if len(argv) > 1 else "README.md"
    with open(results) as f:
        data = json.load(f)
    charts = os.path.relpath(os.path.dirname(os.path.abspath(results)), os.path.dirname(os.path.abspath(readme)))
    have_charts = os.path.exists(os.path.join(os.path.dirname(results), "throughput.png"))
    with open(readme) as f:
        text = f.read()
    text = rewrite(text, markdown(data, image_dir=charts if have_charts else None))
    with open(readme, "w") as f:
        f.write(text)
    print(f"{readme}: the performance section now shows {results} ({data['started']})")


if __name__ == "__main__":
    main(sys.argv[1:])
