"""Programs written for the original package, run unchanged as two processes:
our own equivalent of its example (tests/programs/original_example: the same
calls, in the same order, from the same places), and bulk transfers in the
style of its author's benchmark scripts (tests/programs/transfer) on the
sync API, asyncio and uvloop."""

import os
import subprocess
import sys

import pytest

PROGRAMS = os.path.join(os.path.dirname(__file__), "..", "programs")
MiB = 1024 * 1024


def run_pair(directory, first, second, timeout=90):
    """Starts `first` (the receiver), runs `second` (the sender) to its end,
    then waits for the first; both outputs, both exit codes checked. The
    programs import their neighbours from `directory`, wherever they lie."""
    cwd = os.path.join(PROGRAMS, directory)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [cwd, os.environ.get("PYTHONPATH")])))
    receiver = subprocess.Popen([sys.executable, *first], cwd=cwd, text=True, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        sender = subprocess.run([sys.executable, *second], cwd=cwd, text=True, env=env,
                                capture_output=True, timeout=timeout)
        r_out, r_err = receiver.communicate(timeout=timeout)
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.communicate()
    assert sender.returncode == 0, sender.stdout + sender.stderr
    assert receiver.returncode == 0, r_out + r_err
    return sender.stdout, r_out


# ---- the original's example ----------------------------------------------------------------


EXPECTED_SENDER_LINES = [
    "Sender is ready.",
    "> job.job_done:\n\tTrue",
    "> job.counter:\n\t201",
    "> job.label:\n\tHello. !",
    "> job.readings:\n\t{'r1': 203, ('r', 2): 'value2d', 'r3': array([6, 7, 8], dtype=int32)}",
    "> job.station.output:\n\t3800000.0000000005",
    "> job.station.on_duty.shifts_done:\n\t4",
    "> job.station.on_duty.age:\n\t32",
    "> job.station.metrics[StationMetrics.yearly_output]:\n\t2000000.0",
    "> job.station.metrics[StationMetrics.contacts]:\n\t('ops@station.example', 'desk@station.example')",
    "> job.station.metrics[StationMetrics.avg_load]:\n\t5001.1",
    "> job.station.metrics[StationMetrics.staff]:\n\t21",
    "> job.station.metrics[StationMetrics.healthy]:\n\tFalse",
    "on_duty=Operator(name=Ada Smith, age=32, shift=<Shift.early: 0>, shifts_done=4)",
    "Sender has finished its work.",
]


def test_the_original_example_runs_unchanged(region_name):
    sender, receiver = run_pair("original_example", ["receiver.py", region_name],
                                ["sender.py", region_name])
    for line in EXPECTED_SENDER_LINES:
        assert line in sender, f"{line!r} missing from the sender's output:\n{sender}"
    assert receiver.splitlines() == ["Receiver is starting its work.", "Receiver is ready.",
                                     "Receiver has finished its work."]
    assert not os.path.exists(f"/dev/shm/{region_name}")


def test_a_block_after_the_peer_left_does_not_hang(region_name, tmp_path):
    # The same example, its last reads wrapped in a block: the receiver has
    # left by then, and the block must not wait for it.
    with open(os.path.join(PROGRAMS, "original_example", "sender.py")) as f:
        source = f.read()
    marker = '        printtitle("Fields changed by the receiver")'
    assert marker in source
    wrapped = tmp_path / "wrapped_sender.py"
    wrapped.write_text(source.replace(
        marker, "        async with ashared_memory_context_manager as shared_memory:\n"
                "            pass\n" + marker))
    sender, _ = run_pair("original_example", ["receiver.py", region_name],
                         [str(wrapped), region_name], timeout=60)
    for line in EXPECTED_SENDER_LINES:
        assert line in sender


# ---- the author's transfer scripts, in their style ------------------------------------------


COUNT = 300  # about 120 MB through a 64 MiB region: it fills, and the sender waits


def check_transfer(sender, receiver):
    assert "Sender is done." in sender and "Sender has finished its work." in sender
    assert f"received {COUNT} messages of 400000 bytes, {COUNT} intact" in receiver
    assert "Receiver has finished its work." in receiver


def test_sync_transfer(region_name):
    sender, receiver = run_pair("transfer", ["sync_receiver.py", region_name],
                                ["sync_sender.py", region_name, str(COUNT)])
    check_transfer(sender, receiver)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_async_transfer(region_name, loop):
    sender, receiver = run_pair("transfer", ["async_receiver.py", region_name, loop],
                                ["async_sender.py", region_name, str(COUNT), loop])
    check_transfer(sender, receiver)
