"""The benchmark suite (ipc_py_objects/bench) runs end to end, reports a
peer it cannot import instead of faking it, and its receivers' checks catch
wrong bytes. Tiny counts: this keeps the suite from rotting, it measures
nothing."""

import json
import os
import subprocess
import sys

import pytest

from ipc_py_objects.bench import contenders, suite

HERE = os.path.dirname(os.path.abspath(__file__))
WORKERS = suite.WORKERS
ROOT = os.path.dirname(os.path.dirname(HERE))


def test_smoke_run_writes_figures_table_and_charts(tmp_path):
    only = "ours-sync,ours-asyncio,ours-sync-sleep,eventfd-sync,eventfd-asyncio,mp-pipe,memcpy,ours-dict,local-dict"
    proc = subprocess.run([sys.executable, "-m", "ipc_py_objects.bench", "--smoke", "--only", only,
                           "--output", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "about" in proc.stdout and "left" in proc.stdout  # the progress lines
    data = json.loads((tmp_path / "results.json").read_text())
    summary = data["summary"]
    for b in ("throughput", "roundtrip", "rate", "idle"):
        assert {"ours-sync", "ours-asyncio", "mp-pipe"} <= set(summary[b]), b
    assert summary["throughput"]["memcpy"]["median"] > 0
    # Sleeping round trips beside the raw eventfd floors; the 400 kB ping-pong.
    assert {"ours-sync-sleep", "eventfd-sync", "eventfd-asyncio", "mp-pipe"} == set(summary["sleep-roundtrip"])
    assert {"ours-sync", "ours-sync-sleep", "mp-pipe"} == set(summary["bulk-roundtrip"])
    assert set(summary["dict"]) == {"ours-dict", "local-dict"}
    assert summary["roundtrip"]["ours-sync"]["p99"] >= summary["roundtrip"]["ours-sync"]["min"]
    assert data["machine"]["cores"] == os.cpu_count() and data["machine"]["cpu"]
    assert not data["failures"] and not data["skipped"]
    table = (tmp_path / "results.md").read_text()
    assert "ipc_py_objects (sync)" in table and "multiprocessing.Pipe" in table
    assert "Sleeping round trips" in table and "eventfd + poll(), Python" in table
    for chart in ("throughput.png", "latency.png"):
        assert (tmp_path / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_peer_that_cannot_be_imported_is_skipped_and_said(tmp_path, capsys):
    missing = contenders.Contender("missing", "a peer not installed", "peer_not_there", "Nope", ("rate",))
    status = suite.run(["--smoke", "--output", str(tmp_path), "--no-charts", "--benchmarks", "rate"],
                       contenders=[missing])
    assert status == 0
    assert "skipped: a peer not installed: not installed" in capsys.readouterr().out
    data = json.loads((tmp_path / "results.json").read_text())
    assert "not installed" in data["skipped"]["missing"]
    assert data["summary"]["rate"] == {}
    assert "a peer not installed: skipped" in (tmp_path / "results.md").read_text()


def test_the_reference_without_its_interpreter_is_skipped(tmp_path):
    ref = [c for c in contenders.CONTENDERS if c.id == "reference-sync"]
    status = suite.run(["--smoke", "--output", str(tmp_path), "--no-charts", "--benchmarks", "rate"],
                       contenders=ref)
    assert status == 0
    assert "--reference" in json.loads((tmp_path / "results.json").read_text())["skipped"]["reference-sync"]


def test_unknown_names_are_refused_with_the_known_ones():
    with pytest.raises(SystemExit, match="unknown contender.*ours-sync"):
        suite.run(["--only", "ours-snyc"])
    with pytest.raises(SystemExit, match="unknown benchmark.*throughput"):
        suite.run(["--benchmarks", "thruput"])


def test_the_receiver_check_catches_wrong_bytes():
    sys.path.insert(0, WORKERS)
    try:
        import harness
    finally:
        sys.path.remove(WORKERS)

    class Done:
        def set(self):
            pass

    side = harness.Side("recv", {"count": 2, "size": 1000}, None, Done(), None)
    side.prepare()
    side._cpu0, side._wall0 = 0.0, 0.0
    bad = bytearray(side.payload)
    bad[500] ^= 1
    with pytest.raises(harness.CheckFailed, match="message 0 arrived wrong"):
        side.see(bytes(bad))
    side.prepare()
    side.see(side.payload)
    side.see(bytes(bad))  # not sampled as it comes, but the last one is checked whole
    with pytest.raises(harness.CheckFailed, match="the last message"):
        side.finish()
    side.prepare()
    side.see(side.payload)
    with pytest.raises(harness.CheckFailed, match="1 messages arrived, 2 were sent"):
        side.finish()


def test_the_readme_section_is_rewritten_between_its_markers(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import update_readme
    finally:
        sys.path.remove(os.path.join(ROOT, "benchmarks"))
    text = f"# x\n\nbefore\n{update_readme.BEGIN}\nold figures\n{update_readme.END}\nafter\n"
    out = update_readme.rewrite(text, "new figures\n")
    assert out == f"# x\n\nbefore\n{update_readme.BEGIN}\nnew figures\n{update_readme.END}\nafter\n"
    assert update_readme.rewrite(out, "newer").count("newer") == 1
    with pytest.raises(SystemExit, match="no <!-- bench-suite:begin -->"):
        update_readme.rewrite("# no markers\n", "x")
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    assert readme.count(update_readme.BEGIN) == 1 and readme.count(update_readme.END) == 1


def test_contention_benchmarks_run_in_many_processes(tmp_path):
    """turns-N, writer-K and producers-N run their N processes and report
    figures that add up (a share within 0-1, a writer that got turns)."""
    proc = subprocess.run([sys.executable, "-m", "ipc_py_objects.bench", "--smoke", "--no-charts",
                           "--only", "ours-many,mp-lock,mp-queue-many",
                           "--benchmarks", "turns-4,writer-1,producers-3", "--output", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "results.json").read_text())
    summary = data["summary"]
    assert set(summary["turns-4"]) == {"ours-many", "mp-lock"}
    for entry in summary["turns-4"].values():
        assert entry["median"] > 0 and 0 <= entry["share"] <= 1
    assert summary["writer-1"]["ours-many"]["writer_turns_s"] > 0
    assert set(summary["producers-3"]) == {"ours-many", "mp-queue-many"}
    assert not data["failures"]
    table = (tmp_path / "results.md").read_text()
    assert "multiprocessing.Lock" in table and "share" in table
