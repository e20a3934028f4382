"""The participants of test_kill_restart: ``python -m kill_restart_workers
<role> <region> <incarnation> <seed>``. Each reports on stdout, line by line,
what it has done, and prints each line before it goes on (a write to a
pipe, done once print returns), so a kill cannot unsay a line; it can only
keep the next one from being said. Lines:

- ``released N``: a producer's turn that put messages up to sequence number
  N was released (printed after release() returned);
- ``taking P N``: a consumer is about to take message (P, N), the oldest,
  in the turn it holds; ``got P N``: it took it (printed still holding the
  turn, before it looks at the message's containers);
- ``takeover T``: this process took a turn over from a dead holder
  (``turn_cut_short``) at time.monotonic() T;
- ``wait S``: a wait for a turn took S seconds (printed past WAIT_NOTE).

- ``slot K``: the participant slot it attached to (first).

SIGTERM ends a worker after the turn it is in or waits for."""

import os
import random
import signal
import sys
import time

from ipc_py_objects import OperationTimedOutError, SharedMemory, wait_my_turn_when_has_messages

LIMIT = 20.0      # a wait for a turn longer than this fails the worker (exit 3)
WAIT_NOTE = 0.5   # waits longer than this are reported, for the bound on progress
BACKLOG = 400     # producers put nothing while this many messages are queued

stopping = False


def stop(signum, frame):
    global stopping
    stopping = True


def say(line):
    print(line, flush=True)


def turn_began(sm, since):
    """What a turn's start tells the test: a long wait, a takeover."""
    waited = time.monotonic() - since
    if sm.turn_cut_short:
        say(f"takeover {time.monotonic()!r}")
    if waited > WAIT_NOTE:
        say(f"wait {waited:.3f}")


def expected_items(seq):
    return list(range(seq, seq + seq % 7))


def verify(sm, m, offset):
    """A message's live containers are whole: each one either as put or as
    a checker changed it (a -1 inserted in the middle, a mark counted), and
    the region's check of the message passes. A change cut short by a kill
    is either there or not (each change is whole; a turn is not a
    transaction), so the two containers are verified apart."""
    sm.check(offset)
    seq = m["seq"]
    items = list(m["items"])
    assert [x for x in items if x != -1] == expected_items(seq), (m["p"], seq, items)
    index = dict(m["index"])
    assert index.get("seq") == seq and index.get("k") == seq % 7, (m["p"], seq, index)
    assert set(index) <= {"seq", "k", "marks"} and index.get("marks", 1) >= 1, (m["p"], seq, index)


def producer(sm, me, rng):
    seq = 0
    while not stopping:
        since = time.monotonic()
        if not sm.wait_my_turn(LIMIT):
            say("stuck")
            os._exit(3)
        turn_began(sm, since)
        full = sm._queue_length() >= BACKLOG
        if not full:
            for _ in range(rng.randrange(1, 5)):
                seq += 1
                sm.put_message({"p": me, "seq": seq, "items": expected_items(seq),
                                "index": {"seq": seq, "k": seq % 7}})
        sm.release()
        say(f"released {seq}")
        if full:
            time.sleep(0.005)  # pacing while the consumers catch up


def check_head(sm, rng):
    """A checker's look at the oldest message, which stays queued: its
    containers are whole, and changed in place (a -1 inserted in the middle
    of its list or removed from it, a mark counted in its dict) for the
    consumer that takes it to verify."""
    m, offset = sm.read_message_2()
    verify(sm, m, offset)
    items = m["items"]
    if -1 in items and rng.random() < 0.5:
        del items[items.index(-1)]
    else:
        items.insert(len(items) // 2, -1)
    m["index"]["marks"] = m["index"].get("marks", 0) + 1


def consumer(sm, me, rng, checker):
    while not stopping:
        since = time.monotonic()
        try:
            with wait_my_turn_when_has_messages(sm, LIMIT):
                turn_began(sm, since)
                if checker:
                    check_head(sm, rng)
                for _ in range(rng.randrange(1, 9)):
                    if not sm.has_messages():
                        break
                    head = sm.read_message()
                    say(f"taking {head['p']} {head['seq']}")
                    m, offset = sm.take_message_2()
                    assert (m["p"], m["seq"]) == (head["p"], head["seq"]), (head, m)
                    say(f"got {m['p']} {m['seq']}")
                    verify(sm, m, offset)
                    del head, m
                    sm.destroy_obj(offset)
        except OperationTimedOutError:
            say("stuck")
            os._exit(3)


def main():
    role, name, me, seed = sys.argv[1:5]
    signal.signal(signal.SIGTERM, stop)
    rng = random.Random(f"{seed}-{me}")
    sm = SharedMemory(name)
    assert sm.init_consumer(LIMIT)
    say(f"slot {sm.consumer_id + 1}")  # for the test to tell the holder from the access word
    if role == "producer":
        producer(sm, me, rng)
    else:
        consumer(sm, me, rng, checker=role == "checker")
    sm.close()


if __name__ == "__main__":
    main()
