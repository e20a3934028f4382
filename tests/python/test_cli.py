"""The ipc-py-objects command, run as a user runs it (a subprocess), on
regions that real processes use."""

import json
import os
import struct
import subprocess
import sys
import time

import pytest

from ipc_py_objects import SharedMemory, _ipo, wait_my_turn

HERE = os.path.dirname(os.path.abspath(__file__))
MiB = 1024 * 1024
CLI = [sys.executable, "-m", "ipc_py_objects"]


def run(*args, check_status=0):
    p = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)
    assert p.returncode == check_status, (p.returncode, p.stdout, p.stderr)
    return p


def run_json(*args, check_status=0):
    return json.loads(run(*args, "--json", check_status=check_status).stdout)


def start(function, region):
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "cli_workers", function, region], env=env, cwd=HERE,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)


def expect(proc, line):
    got = proc.stdout.readline().strip()
    assert got == line, f"worker said {got!r}, not {line!r}"


def stop(proc):
    proc.kill()
    proc.wait(30)


@pytest.fixture
def sm(region_name):
    region = SharedMemory(region_name, create=True, size=16 * MiB)
    yield region
    if region.attached:
        region.close()


def until(condition, what, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.01)


def test_list_shows_the_holder_the_queue_and_the_creator(sm):
    with wait_my_turn(sm):
        sm.put_message(b"x" * 1000)
        sm.put_message([1, 2])
    holder = start("hold", sm.name)
    try:
        expect(holder, "held")
        (r,) = [r for r in run_json("list") if r["name"] == sm.name]
        assert r["holder_pid"] == holder.pid
        assert r["queue"]["length"] == 2
        assert r["creator_pid"] == os.getpid() and r["creator_alive"]
        assert r["participants_alive"] == 2 and r["participants_dead"] == 0
        assert r["size"] == 16 * MiB
        assert 0 < r["heap"]["used_bytes"] < r["heap"]["size"] and r["heap"]["largest_free"] > 0
        # The table names it too.
        assert sm.name in run("list").stdout
    finally:
        stop(holder)


def test_inspect_shows_who_waits_for_what_and_the_turns_each_took(sm):
    with wait_my_turn(sm):
        waiter = start("wait", sm.name)
        expect(waiter, "waiting")
        until(lambda: any(p["waiting_for"] == ["access"] for p in run_json("inspect", sm.name)["participants"]),
              "the waiter shown waiting for access")
        r = run_json("inspect", sm.name)
        me = [p for p in r["participants"] if p["pid"] == os.getpid()][0]
        assert me["holds_access"] and me["role"] == "creator" and me["turns"] == 1
        assert r["layout_version"] == _ipo.layout()["layout_version"]
        assert "blocks_by_type" in r and 0.0 <= r["fragmentation"] <= 1.0
    expect(waiter, "got it")
    waiter.wait(30)
    # The waiter took one turn, then left (its slot is free again).
    r = run_json("inspect", sm.name)
    assert [p["pid"] for p in r["participants"]] == [os.getpid()]
    assert r["access"]["turns"] == 2


def test_messages_lists_types_sizes_and_ages_without_taking_anything(sm):
    with wait_my_turn(sm):
        sm.put_message(b"z" * 5000)
        sm.put_message({"a": [1, 2, 3], "b": "text"})
    put_at = time.monotonic()
    until(lambda: time.monotonic() - put_at > 0.3, "time to pass")
    with wait_my_turn(sm):
        sm.put_message("hello")
    m = run_json("messages", sm.name)
    looked_at = time.monotonic()
    assert m["length"] == 3
    assert [x["type"] for x in m["messages"]] == ["bytes", "dict", "str"]
    assert m["messages"][0]["bytes"] >= 5000 and m["messages"][1]["blocks"] > 1
    # Ages on the coarse clock (a tick, a few ms): the first two were put
    # in one turn, the last in a later one.
    first, second, last = (x["age_s"] for x in m["messages"])
    assert first == second
    assert 0.3 <= first <= looked_at - put_at + 0.05
    assert last <= first - 0.25
    assert "age" in run("messages", sm.name).stdout
    with wait_my_turn(sm):
        assert sm.take_message() == b"z" * 5000  # still there, in order


def test_check_in_a_turn_is_not_a_consumer(sm):
    # A creator waiting for its first consumer must not take the checker
    # for one: the check joins for its turn and leaves.
    assert "ok" in run("check", sm.name).stdout
    assert sm.wait_consumer_ready(0) is False
    consumer = SharedMemory(sm.name, create=False)
    try:
        assert consumer.init_consumer(10)
        assert sm.wait_consumer_ready(10) is True
    finally:
        consumer.close()


def test_check_says_ok_and_finds_a_moved_head(sm):
    assert "ok" in run("check", sm.name).stdout
    with wait_my_turn(sm):
        sm.put_message(b"one")
        sm.put_message(b"two")
    # Move the queue's head on by one, as a stray write would.
    queue_head = 192
    with open(f"/dev/shm/{sm.name}", "r+b") as f:
        f.seek(queue_head)
        (head,) = struct.unpack("<Q", f.read(8))
        f.seek(queue_head)
        f.write(struct.pack("<Q", head + 1))
    out = run_json("check", sm.name, check_status=1)
    assert not out["ok"] and out["failure"]
    assert "DAMAGED" in run("check", sm.name, "--no-turn", check_status=1).stdout


def test_looking_at_a_busy_queue_never_crashes_nor_cries_damage(sm):
    """A holder changes both ends of a long queue turn after turn while the
    command line reads it without a turn: figures may be a moment old, but
    every look ends cleanly, and a check without a turn never reports
    damage that is only a change in progress."""
    churner = start("churn_queue", sm.name)
    try:
        expect(churner, "churning")
        until(lambda: run_json("list") and sm.name in json.dumps(run_json("list")), "listed")
        for _ in range(6):
            m = run_json("messages", sm.name, "--limit", "500")
            assert all("type" in x for x in m["messages"])
            p = subprocess.run([*CLI, "check", sm.name, "--no-turn", "--time-limit", "2"],
                               capture_output=True, text=True, timeout=60)
            assert p.returncode in (0, 2), (p.returncode, p.stdout, p.stderr)
            run_json("inspect", sm.name)
    finally:
        stop(churner)
    assert "ok" in run("check", sm.name).stdout


def test_a_closed_pipe_is_not_an_error(sm):
    p = subprocess.run(["bash", "-c", "set -o pipefail; " + " ".join(CLI) +
                        f" watch {sm.name} --json --interval 0.01 --count 200 | head -1"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert len(p.stdout.splitlines()) == 1 and "Broken pipe" not in p.stderr


def test_bad_arguments_are_refused(sm):
    p = run("messages", sm.name, "--limit", "0", check_status=2)
    assert "--limit" in p.stderr


def test_commands_on_a_missing_region_fail_clearly(region_name):
    for command in ("inspect", "check", "messages"):
        p = run(command, region_name, check_status=2)
        assert region_name in p.stderr


def test_watch_reports_turns_and_messages_per_second(sm):
    busy = start("busy", sm.name)
    try:
        expect(busy, "busy")
        p = run("watch", sm.name, "--interval", "0.3", "--count", "2", "--json")
        lines = [json.loads(line) for line in p.stdout.splitlines()]
        assert len(lines) == 2
        assert all(x["turns_per_s"] > 0 and x["messages_put_per_s"] > 0 for x in lines)
        # Without a terminal the table is drawn too.
        assert "turns/s" in run("watch", sm.name, "--interval", "0.1", "--count", "1").stdout
    finally:
        stop(busy)


def test_cleanup_removes_a_region_whose_participants_all_died(region_name):
    creator = start("create_and_stay", region_name)
    expect(creator, "created")
    (r,) = [r for r in run_json("list") if r["name"] == region_name]
    assert r["creator_alive"]
    assert region_name not in json.dumps(run_json("cleanup", "--dry-run"))
    stop(creator)
    (r,) = [r for r in run_json("list") if r["name"] == region_name]
    assert not r["creator_alive"] and r["participants_dead"] == 1
    # The dead region can still be looked into: its message is there.
    assert run_json("messages", region_name)["messages"][0]["type"] == "list"
    dry = run_json("cleanup", "--dry-run")
    assert {"kind": "region", "path": f"/dev/shm/{region_name}"} in dry
    assert os.path.exists(f"/dev/shm/{region_name}")
    assert {"kind": "region", "path": f"/dev/shm/{region_name}"} in run_json("cleanup")
    assert not os.path.exists(f"/dev/shm/{region_name}")


def test_the_console_script_is_installed():
    script = os.path.join(os.path.dirname(sys.executable), "ipc-py-objects")
    p = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0
    for command in ("list", "inspect", "check", "messages", "watch", "cleanup", "bench"):
        assert command in p.stdout
    # The suite's own options pass through.
    p = subprocess.run([script, "bench", "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "--quick" in p.stdout and "--output" in p.stdout
