"""The suite's results as people read them: a markdown summary (also the
README's performance section) and PNG charts drawn with matplotlib."""

import os

from .machine import one_line

TITLES = {
    "throughput": "Throughput: {transfer_count:,} messages of {transfer_size:,} bytes, sender to receiver, "
                  "each ending as `bytes`",
    "roundtrip": "Round trips of a 64-byte message ({roundtrips:,} per run)",
    "sleep-roundtrip": "Sleeping round trips of a 64-byte message ({roundtrips:,} per run): both sides "
                       "sleep until woken, on each loop, beside raw eventfds",
    "bulk-roundtrip": "Round trips of a {transfer_size:,}-byte message ({bulk_roundtrips:,} per run), "
                      "each ending as `bytes`",
    "rate": "One-way rate: {rate_count:,} messages of 64 bytes",
    "dict": "A shared dict, read and written in turns by two processes",
    "idle": "Idle CPU: a receiver waiting {idle_seconds:g} s for a message",
    "objects": "Nested objects and str attributes, the seed's receiver statements (geometric mean of "
               "`thing.company_info.income` read and written, a chained method call, a str attribute "
               "read, written and `+=`)",
}
ROUNDTRIPS = ("roundtrip", "sleep-roundtrip", "bulk-roundtrip")
for _n in (2, 4, 8, 16):
    TITLES[f"turns-{_n}"] = f"Turns: {_n} processes take turns back to back for {{contention_seconds:g}} s " \
                            "(share: the fewest turns a process got over the most)"
for _n in (1, 3):
    TITLES[f"writer-{_n}"] = f"A writer against {_n} reader(s) taking back-to-back turns of 1,000 operations: " \
                             f"the writer's turns over its fair share, 1/{_n + 1} (1.00: fair)"
for _n in (1, 3, 7, 15):
    TITLES[f"producers-{_n}"] = f"{_n} producer(s) to one consumer: {{producer_count:,}} messages of 64 bytes, " \
                                "one per turn"
CONTENTION = tuple(k for k in TITLES if k.startswith(("turns-", "writer-", "producers-")))
UNITS = {"throughput": "GiB/s", "rate": "messages/s", "dict": "increments/s", "idle": "CPU s per s",
         "objects": "statements/s", **{b: "µs" for b in ROUNDTRIPS}}
HIGHER_IS_BETTER = {"throughput": True, "rate": True, "dict": True, "idle": False, "objects": True,
                    **{b: False for b in ROUNDTRIPS}}
BASELINE = {"throughput": "ours-sync", "rate": "ours-sync", "roundtrip": "ours-sync", "dict": "ours-dict",
            "objects": "ours-objects", "sleep-roundtrip": "ours-sync-sleep", "bulk-roundtrip": "ours-sync"}
for _b in CONTENTION:
    UNITS[_b] = "turns/s" if _b.startswith("turns") else "of fair share" if _b.startswith("writer") \
        else "messages/s"
    HIGHER_IS_BETTER[_b] = True
    BASELINE[_b] = "ours-many"


def _num(b, v):
    if v is None:
        return "-"
    if b == "throughput":
        return f"{v:.2f}"
    if b in ROUNDTRIPS:
        return f"{v:.1f}" if v < 1000 else f"{v:,.0f}"
    if b == "idle":
        return f"{v:.4f}"
    if b.startswith("writer"):
        return f"{v:.2f}"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e3:
        return f"{v / 1e3:.1f} k"
    return f"{v:.0f}"


def format_figure(b, fig):
    """One run's figure, for the progress line."""
    if b in ROUNDTRIPS:
        return f"{fig['median_us']:.1f} µs (p99 {fig['p99_us']:.1f})"
    if "share" in fig:
        return f"{_num(b, fig['value'])} {UNITS[b]}, share {fig['share']:.2f}"
    return f"{_num(b, fig['value'])} {UNITS[b]}"


def _ordered(b, entries):
    return sorted(entries.items(), key=lambda kv: kv[1]["median"], reverse=HIGHER_IS_BETTER[b])


def markdown(data, image_dir=None):
    """The summary, with the charts linked from `image_dir` when given."""
    sizes, summary, contenders = data["sizes"], data["summary"], data["contenders"]
    out = [f"Measured on {one_line(data['machine'])}, {data['started']}; "
           f"{sizes['rounds']} rounds ({data['mode']} run), contenders alternating round by round; "
           "each figure is the median over rounds, with the min-max beside it.", ""]
    versions = data["machine"].get("versions", {})
    if versions:
        out += ["Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".", ""]
    for b in ("throughput", "roundtrip", "sleep-roundtrip", "bulk-roundtrip", "rate", "dict", "idle",
              "objects") + CONTENTION:
        entries = summary.get(b)
        if not entries:
            continue
        out += [f"#### {TITLES[b].format(**sizes)}", ""]
        if image_dir and b in ("throughput", "roundtrip"):
            name = "throughput.png" if b == "throughput" else "latency.png"
            out += [f"![{UNITS[b]}]({image_dir}/{name})", ""]
        base = summary[b].get(BASELINE.get(b, ""), {}).get("median")
        head = f"| contender | {UNITS[b]} (median) | min-max |"
        rule = "|---|---:|---:|"
        if b in ROUNDTRIPS:
            head, rule = head + " p99 µs |", rule + "---:|"
        if b.startswith("turns"):
            head, rule = head + " share (median, lowest) |", rule + "---:|"
        if b.startswith("writer"):
            head, rule = head + " writer turns/s |", rule + "---:|"
        if base:
            head, rule = head + " relative to ours |", rule + "---:|"
        head, rule = head + " notes |", rule + "---|"
        out += [head, rule]
        for cid, e in _ordered(b, entries):
            c = contenders.get(cid, {"label": cid, "note": ""})
            label = f"**{c['label']}**" if c.get("kind") == "ours" else c["label"]
            row = f"| {label} | {_num(b, e['median'])} | {_num(b, e['min'])}-{_num(b, e['max'])} |"
            if b in ROUNDTRIPS:
                row += f" {_num(b, e['p99'])} |"
            if b.startswith("turns"):
                row += f" {e.get('share', 0):.2f} ({e.get('share_min', 0):.2f}) |"
            if b.startswith("writer"):
                row += f" {_num('rate', e.get('writer_turns_s'))} |"
            if base:
                row += f" {e['median'] / base:.2f}× |"
            row += f" {c.get('note', '')} |"
            out.append(row)
        out.append("")
    if data.get("skipped") or data.get("failures"):
        out += ["Skipped, or failed in some round (a median above, if any, is of the rounds that ran):", ""]
        for cid, why in data.get("skipped", {}).items():
            out.append(f"- {data['contenders'].get(cid, {}).get('label', cid)}: skipped, {why}")
        for key, why in data.get("failures", {}).items():
            b, cid = key.split("/", 1)
            out.append(f"- {data['contenders'].get(cid, {}).get('label', cid)}, {b}: failed, "
                       f"{why.splitlines()[0][:300]}")
        out.append("")
    return "\n".join(out)


COLORS = {"ours": "#d62728", "reference": "#9467bd", "peer": "#1f77b4", "limit": "#7f7f7f"}


def charts(data, folder):
    """throughput.png and latency.png in `folder`; the paths written (none
    without matplotlib, which the suite says)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no charts: matplotlib is not installed (pip install 'ipc_py_objects[bench]')")
        return []
    written = []
    machine = one_line(data["machine"])
    for b, name, xlabel in (("throughput", "throughput.png", "GiB/s (median; bars: min-max over rounds)"),
                            ("roundtrip", "latency.png", "round trip, µs (median; dot: p99), log scale")):
        entries = data["summary"].get(b)
        if not entries:
            continue
        rows = _ordered(b, entries)[::-1] if HIGHER_IS_BETTER[b] else _ordered(b, entries)[::-1]
        labels = [data["contenders"].get(cid, {}).get("label", cid) for cid, _ in rows]
        medians = [e["median"] for _, e in rows]
        errors = [[e["median"] - e["min"] for _, e in rows], [e["max"] - e["median"] for _, e in rows]]
        colors = [COLORS.get(data["contenders"].get(cid, {}).get("kind"), COLORS["peer"]) for cid, _ in rows]
        fig, ax = plt.subplots(figsize=(9, 0.42 * len(rows) + 1.6))
        ax.barh(labels, medians, xerr=errors, color=colors, capsize=3)
        if b == "roundtrip":
            ax.plot([e["p99"] for _, e in rows], labels, "k.", label="p99")
            ax.set_xscale("log")
            ax.legend(loc="lower right")
        for y, v in enumerate(medians):
            ax.annotate(_num(b, v), (v, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_title(f"{TITLES[b].format(**data['sizes'])}".replace("`", ""), fontsize=9)
        fig.text(0.01, 0.005, machine, fontsize=7, color="#555555")
        fig.tight_layout(rect=(0, 0.02, 1, 1))
        path = os.path.join(folder, name)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
