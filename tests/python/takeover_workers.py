"""Processes that the takeover tests kill: each attaches to the region named
on its command line and reports on stdout what it has done, line by line,
so that the test knows what a kill may have cut short."""

import sys

from ipc_py_objects import SharedMemory, _ipo


def hold(name: str) -> None:
    """Takes a turn, puts a message, says so, and keeps the turn until told
    (a line on stdin) to release, or until killed."""
    sm = SharedMemory(name, create=False)
    assert sm.init_consumer(30)
    assert sm.wait_my_turn(30)
    sm.put_message(["held", 1, 2, 3])
    print("held", flush=True)
    sys.stdin.readline()
    sm.release()
    print("released", flush=True)
    sys.stdin.readline()
    sm.close()


def hold_as_tool(name: str) -> None:
    """As hold, attached as the command line's check attaches (a tool, not
    counted as a consumer), and keeps the turn until killed."""
    sm = _ipo.Region(name, create=False, tool=True)
    assert sm.init_consumer(30)
    assert sm.wait_my_turn(30)
    print("held", flush=True)
    sys.stdin.readline()


def view(name: str) -> None:
    """Takes the message the test put (bytes), keeps a buffer of it (a
    pin), says its offset, and then keeps the turn ("hold") or releases it
    ("free") as argv[3] says, until killed or told to go."""
    sm = SharedMemory(name, create=False)
    assert sm.init_consumer(30)
    assert sm.wait_my_turn(30)
    _, offset = sm.take_message_2()
    buffer = sm.get_obj_buffer(offset)
    assert bytes(buffer[:4]) == b"pin!"
    slot = sm.stats()["slot"]
    if sys.argv[3] == "free":
        sm.release()
    print(f"viewing {offset} {slot}", flush=True)
    sys.stdin.readline()
    buffer.release()
    print("let go", flush=True)
    sys.stdin.readline()


def wait_then_hold(name: str) -> None:
    """Waits for a turn the test holds (asleep, so with a doorbell), then
    keeps it, saying its slot, until killed."""
    sm = SharedMemory(name, create=False)
    assert sm.init_consumer(30)
    print("waiting", flush=True)
    assert sm.wait_my_turn(30)
    print(f"held {sm.stats()['slot']}", flush=True)
    sys.stdin.readline()


def view_then_close(name: str) -> None:
    """Takes the message the test put, keeps a buffer of it, and closes its
    handle while the buffer lives (the mapping stays for the buffer): says
    so, then lets the buffer go when told."""
    sm = SharedMemory(name, create=False)
    assert sm.init_consumer(30)
    assert sm.wait_my_turn(30)
    _, offset = sm.take_message_2()
    buffer = sm.get_obj_buffer(offset)
    sm.release()
    sm.close()
    print(f"closed {offset}", flush=True)
    sys.stdin.readline()
    assert bytes(buffer[:4]) == b"pin!"  # never another object's bytes
    buffer.release()
    print("let go", flush=True)
    sys.stdin.readline()


def attach(name: str) -> None:
    """Attaches, says which slot it got, and stays until told to go."""
    sm = SharedMemory(name, create=False)
    assert sm.init_consumer(30)
    assert sm.wait_my_turn(30)
    slot = sm.stats()["slot"]
    sm.release()
    print(f"slot {slot}", flush=True)
    sys.stdin.readline()
    sm.close()


def churn(name: str) -> None:
    """Turn after turn of puts and of changes to a shared list and dict (the
    state message, which the test put and each turn puts back last),
    reporting each released turn's last sequence number: every message of a
    released turn must survive a kill."""
    worker = int(sys.argv[3])
    sm = SharedMemory(name, create=False)
    assert sm.init_consumer(30)
    seq = 0
    print("ready", flush=True)
    while True:
        assert sm.wait_my_turn(30)
        state, old = sm.take_message_2(1)  # the newest: the state, put back last
        for _ in range(8):
            seq += 1
            sm.put_message({"worker": worker, "seq": seq, "pad": list(range(seq % 40))})
            state["list"].insert(len(state["list"]) // 2, [seq])
            if len(state["list"]) > 50:
                del state["list"][:25]
            state["dict"][f"k{seq % 64}"] = [seq] * (seq % 7)
            if seq % 3 == 0:
                state["dict"].pop(f"k{(seq * 7) % 64}", None)
        sm.put_message(state)  # a copy (a view is stored by value) ...
        sm.destroy_obj(old)  # ... so the old one goes
        sm.release()
        print(f"released {seq}", flush=True)


# What `replace` stores: inline values (one store over the same type, the
# turn note over another) and values with children (the note, the old child
# released), so that a kill can cut every kind of replace short.
REPLACEMENTS = [1, 2.5, None, True, "text", (1, "t"), [1, 2], {"a": 1}, b"bytes", 10**30, 3.5, 7]


def replace(name: str) -> None:
    """Turn after turn of values replaced in place in a shared list, a
    shared dict and a mapped object's field (the state message, which stays
    queued), reporting each released turn."""
    sm = SharedMemory(name, create=False)
    assert sm.init_consumer(30)
    i = 0
    print("ready", flush=True)
    while True:
        assert sm.wait_my_turn(30)
        state = sm.read_message()
        for _ in range(40):
            i += 1
            value = REPLACEMENTS[i % len(REPLACEMENTS)]
            state["list"][i % 8] = value
            state["dict"][f"k{i % 8}"] = value
            state["company"].name = value
        sm.release()
        print(f"released {i}", flush=True)


if __name__ == "__main__":
    globals()[sys.argv[1]](sys.argv[2])
