"""The processes of test_corruption.py, run as scripts: a region's creator
that goes on working after one of its header's fields was overwritten, and
a consumer that attaches to it afterwards. Each prints one line per step,
`step: ok` or `step: ExceptionName: message`, and exits 0 whatever the
steps raised: a crash or a hang is what the test looks for.

    python corruption_workers.py creator NAME   (then reads "go" on stdin)
    python corruption_workers.py consumer NAME
"""

import sys

from ipc_py_objects import SharedMemory

# How long any wait may take: a damaged access word must end in a refusal
# or a time limit, never in a wait for ever.
LIMIT = 1.0


def report(step, func):
    try:
        result = func()
    except Exception as e:  # noqa: BLE001  (every exception is a finding to print)
        print(f"{step}: {type(e).__name__}: {e}", flush=True)
        return None
    print(f"{step}: ok {result!r}"[:300], flush=True)
    return result


def plain(value):
    """A dict's copy, so that reading its table is part of the step."""
    return dict(value) if hasattr(value, "keys") else value


def turn_steps(sm):
    """What a participant does in a turn: check, read, take, put, check."""
    if not report("turn", lambda: sm.wait_my_turn(LIMIT)):
        return
    try:
        report("check", sm.check)
        report("read", lambda: sm.read_message())
        report("take", lambda: sm.take_message())
        report("put", lambda: sm.put_message({"key": "value", "n": [1, 2, 3]}) and None)
        report("take again", lambda: plain(sm.take_message()))
        report("check again", sm.check)
    finally:
        sm.release()


def creator(name):
    # Closing waits for consumers to leave: a bounded wait too.
    sm = SharedMemory(name, create=True, size=1 << 20, close_timeout=LIMIT)
    with sm:
        sm.wait_my_turn()
        sm.put_message(b"first message")
        sm.put_message({"alpha": 1, "beta": [2, 3], "gamma": "four"})
        sm.put_message("third message")
        sm.release()
        print("ready", flush=True)
        sys.stdin.readline()  # the test has written its hostile value
        turn_steps(sm)


def consumer(name):
    sm = SharedMemory(name)
    if not report("attach", lambda: sm.init_consumer(LIMIT)):
        return
    try:
        turn_steps(sm)
    finally:
        sm.close()


if __name__ == "__main__":
    {"creator": creator, "consumer": consumer}[sys.argv[1]](sys.argv[2])
