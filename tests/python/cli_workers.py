"""Processes the command-line tests look at: each attaches to (or creates)
the region named on its command line and says on stdout what it did."""

import sys

from ipc_py_objects import SharedMemory


def hold(name: str) -> None:
    """Attaches, takes a turn and keeps it until a line comes on stdin."""
    sm = SharedMemory(name, create=False)
    assert sm.init_consumer(30)
    assert sm.wait_my_turn(30)
    print("held", flush=True)
    sys.stdin.readline()
    sm.release()
    sm.close()


def wait(name: str) -> None:
    """Attaches and waits for a turn the test holds, until it gets one;
    then says so and leaves."""
    sm = SharedMemory(name, create=False)
    assert sm.init_consumer(30)
    print("waiting", flush=True)
    assert sm.wait_my_turn(30)
    sm.release()
    print("got it", flush=True)
    sm.close()


def busy(name: str) -> None:
    """Turn after turn: puts a message and takes one, until killed."""
    sm = SharedMemory(name, create=False)
    assert sm.init_consumer(30)
    print("busy", flush=True)
    while True:
        assert sm.wait_my_turn(30)
        sm.put_message(b"m" * 64)
        sm.discard_message()
        sm.release()


def churn_queue(name: str) -> None:
    """Keeps a few hundred messages queued and changes both ends of the
    queue, turn after turn (its ring grows and shrinks), until killed."""
    sm = SharedMemory(name, create=False)
    assert sm.init_consumer(30)
    n = 0
    print("churning", flush=True)
    while True:
        assert sm.wait_my_turn(30)
        for _ in range(60):
            n += 1
            sm.put_message((n, b"q" * (n % 200)))
        for k in range(60 if n > 600 else 20):
            sm.discard_message(k % 2)  # oldest and newest in turn
        sm.release()


def create_and_stay(name: str) -> None:
    """Creates the region with a message in it and stays until killed."""
    sm = SharedMemory(name, create=True, size=4 * 1024 * 1024)
    assert sm.wait_my_turn(30)
    sm.put_message([1, 2, 3])
    sm.release()
    print("created", flush=True)
    sys.stdin.readline()


if __name__ == "__main__":
    globals()[sys.argv[1]](sys.argv[2])
