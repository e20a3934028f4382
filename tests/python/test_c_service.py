"""The C service on libuv (examples/c_service) answering a Python peer, as CI runs it."""

import os
import subprocess
import sys

import pytest

from ipc_py_objects import wait_my_turn, wait_my_turn_when_has_messages

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "examples", "c_service"))
import peer  # noqa: E402  (the example's own peer code is what is tested)

SERVICE = os.environ.get("IPO_ECHO_SERVICE", os.path.join(ROOT, "build", "c", "ipo_echo_service"))


@pytest.fixture
def service(region_name):
    if not os.access(SERVICE, os.X_OK):
        pytest.skip(f"{SERVICE} is not built (needs libuv; `make test` builds it)")
    proc = subprocess.Popen([SERVICE, region_name], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield region_name, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for side in ("in", "out"):
            try:
                os.unlink(f"/dev/shm/{region_name}-{side}")
            except FileNotFoundError:
                pass


def test_c_service_answers_a_python_peer(service):
    name, proc = service
    requests, replies = peer.connect(name, time_limit=10)
    with requests, replies:
        assert peer.ask(requests, replies, "hello") == "echo: hello"
        assert peer.ask(requests, replies, "grüße, 世界") == "echo: grüße, 世界"
        assert peer.ask(requests, replies, 41) == 42
        assert peer.ask(requests, replies, b"other") is None
        # A dict built in C: Python finds its keys by the format's hash.
        with wait_my_turn(requests, time_limit=10):
            requests.put_message(21.5)
        with wait_my_turn_when_has_messages(replies, time_limit=10):
            reading, offset = replies.take_message_2()
            assert reading == {"value": 21.5, "doubled": 43.0, "unit": "C"}
            assert reading["unit"] == "C" and "doubled" in reading and "other" not in reading
            reading["seen"] = True  # and it is a live dict like any other
            assert list(reading) == ["value", "doubled", "unit", "seen"]
            replies.check(offset)
            replies.destroy_obj(offset)
        for i in range(300):  # one at a time: each reply wakes us from sleep
            assert peer.ask(requests, replies, i) == i + 1
        # A burst: the service takes them all in one turn and answers in order.
        with wait_my_turn(requests, time_limit=10):
            for i in range(100):
                requests.put_message(f"burst {i}")
        answers = [peer.ask(requests, replies, "last")]
        # The service may answer "last" in a later turn than the burst: take
        # replies until all 101 are in, each wait bounded.
        while len(answers) < 101:
            with wait_my_turn_when_has_messages(replies, time_limit=10):
                while replies.has_messages():
                    answers.append(replies.take_message())
        with wait_my_turn(requests, time_limit=10):
            requests.put_message("quit")
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert out.strip() == "done"
    expected = [f"echo: burst {i}" for i in range(100)] + ["echo: last"]
    assert sorted(answers) == sorted(expected)
