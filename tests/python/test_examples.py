"""The shared-objects example of the README (examples/shared_objects), run as
its two processes."""

import os
import subprocess
import sys

import pytest

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "shared_objects")


def test_sender_and_receiver_share_live_objects(region_name):
    run = [sys.executable]
    receiver = subprocess.Popen(run + ["receiver.py", region_name], cwd=EXAMPLE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        sender = subprocess.run(run + ["sender.py", region_name], cwd=EXAMPLE,
                                capture_output=True, text=True, timeout=60)
        r_out, r_err = receiver.communicate(timeout=30)
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()
    assert receiver.returncode == 0, r_err
    assert sender.returncode == 0, sender.stderr + sender.stdout
    assert "receiver: reviewed 'Quarterly, reviewed!' of company 7" in r_out
    out = sender.stdout
    assert "sender: every change arrived" in out
    assert "lead Employee('Ada', age=37, role=<Role.manager: 1>, years=5)" in out
    assert "'samples': array([11, 12, 13], dtype=int32)" in out
