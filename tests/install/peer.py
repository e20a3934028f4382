"""The Python peer of tests/install/consumer.c: creates the regions, asks, checks the answer.

    python tests/install/peer.py CONSUMER LABEL

Creates NAME-in and NAME-out, starts `CONSUMER NAME LABEL`, puts a str into
NAME-in and waits for "LABEL got: " + that str in NAME-out; exits non-zero,
saying what went wrong, when the answer or the consumer's exit is not right.
"""

import os
import subprocess
import sys

from ipc_py_objects import SharedMemory, wait_my_turn, wait_my_turn_when_has_messages

TIME_LIMIT = 20.0


def main(consumer: str, label: str) -> int:
    name = f"ipo_install_{os.getpid()}"
    question = "hello from Python, grüße"
    answer = status = None
    with SharedMemory(f"{name}-in", create=True, size=1 << 20) as requests, \
            SharedMemory(f"{name}-out", create=True, size=1 << 20) as replies:
        proc = subprocess.Popen([consumer, name, label])
        try:
            for region in (requests, replies):
                if not region.wait_consumer_ready(time_limit=TIME_LIMIT):
                    print(f"peer: {consumer} did not attach to {region.name} within {TIME_LIMIT} s")
                    return 1
            with wait_my_turn(requests, time_limit=TIME_LIMIT):
                requests.put_message(question)
            with wait_my_turn_when_has_messages(replies, time_limit=TIME_LIMIT):
                answer = replies.take_message()
            status = proc.wait(TIME_LIMIT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    expected = f"{label} got: {question}"
    if answer != expected or status != 0:
        print(f"peer: {label}: answer {answer!r} (expected {expected!r}), consumer exit status {status}")
        return 1
    print(f"peer: {label}: {answer!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
