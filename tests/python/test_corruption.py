"""Nothing read from a region is trusted: each field of the header, of a
participant slot and of the allocator's root is overwritten with a hostile
value in a live region's file (plain open and mmap of /dev/shm/<name>, as
another program could), then a process that attached before and one that
attaches after work on it: attach, check, read, take, put. Each must end
normally, every step with a result or a clear exception, within bounded
time; a field that the region cannot work with must be reported
(RegionCorruptedError, or IncompatibleRegionError for the identity fields),
and a harmless one must leave the region working."""

import mmap
import os
import struct
import subprocess
import sys

import pytest

WORKERS = os.path.join(os.path.dirname(__file__), "corruption_workers.py")
# The exceptions a damaged region may answer with; anything else (a
# TypeError, a SystemError...) is a bug in how it is read.
CLEAR = {
    "RegionCorruptedError", "IncompatibleRegionError", "InvalidOffsetError",
    "NoMessagesInQueueError", "OperationTimedOutError",
}
DEADLINE = 60  # seconds for one process: far above what a bounded run needs

# Offsets of docs/format.md; the allocator root's are from its alloc_off.
HEADER = {
    "magic": (0, "Q"), "layout_version": (8, "I"), "layout_hash": (12, "I"),
    "total_size": (16, "Q"), "state": (24, "I"), "creator_pid": (28, "I"),
    "owner_uid": (32, "I"), "mode": (36, "I"), "slot_count": (40, "I"),
    "tool_attaches": (44, "I"), "slots_off": (48, "Q"), "alloc_off": (56, "Q"),
    "hash_key[0]": (64, "Q"), "hash_key[1]": (72, "Q"), "attach_count": (80, "Q"),
    "next_gen": (88, "Q"), "sleep_tickets": (96, "Q"), "changes": (104, "Q"),
    "takeovers": (112, "Q"), "hash_key_check": (120, "Q"), "access": (128, "Q"),
    "channels": (144, "Q"),
    "queue.head": (192, "Q"), "queue.tail": (200, "Q"), "queue.ring": (208, "Q"),
    "queue.reserved": (216, "Q"),
}
SLOT = {
    "state": (0, "I"), "pid": (4, "I"), "role": (8, "I"), "generation": (12, "I"),
    "start_time": (16, "Q"), "waiting_for": (24, "I"), "wake_pending": (28, "I"),
    "sleep_ticket": (32, "Q"), "sleepers": (40, "I"),
}
ROOT = {
    "tag_key": (0, "Q"), "heap_start": (8, "Q"), "heap_end": (16, "Q"),
    "free_bytes": (24, "Q"), "used_blocks": (32, "Q"), "free_blocks": (40, "Q"),
    "fl_bitmap": (48, "Q"), "sl_bitmap[3]": (56 + 4 * 3, "I"),
    "free_heads[0][5]": (56 + 4 * 40 + 8 * 5, "Q"),
}

FAR = 1 << 40   # an offset far past any mapping
HUGE = (1 << 64) - 1

# (where, field, the hostile value from the field's old value and the header,
#  what must happen): "refused" (a consumer cannot attach, and the creator's
#  check() says the region is damaged), "detected" (check() says so; the
#  operations raise or work), "harmless" (everything works).
CASES = [
    ("header", "magic", lambda old, h: old ^ 1, "refused"),
    ("header", "layout_version", lambda old, h: 99, "refused"),
    ("header", "layout_hash", lambda old, h: old ^ 1, "refused"),
    ("header", "total_size", lambda old, h: FAR, "refused"),
    ("header", "state", lambda old, h: 77, "refused"),
    ("header", "creator_pid", lambda old, h: 0xFFFFFFFF, "harmless"),
    ("header", "owner_uid", lambda old, h: old + 12345, "refused"),
    ("header", "mode", lambda old, h: 0o7777, "harmless"),
    ("header", "slot_count", lambda old, h: 0, "refused"),
    ("header", "slot_count", lambda old, h: 5000, "refused"),
    ("header", "slot_count", lambda old, h: 0xFFFFFFFF, "refused"),
    ("header", "tool_attaches", lambda old, h: 0xFFFFFFFF, "harmless"),
    ("header", "slots_off", lambda old, h: FAR, "refused"),
    ("header", "slots_off", lambda old, h: old + 8, "refused"),
    ("header", "slots_off", lambda old, h: HUGE, "refused"),
    ("header", "alloc_off", lambda old, h: FAR, "refused"),
    ("header", "alloc_off", lambda old, h: 0, "refused"),
    ("header", "alloc_off", lambda old, h: HUGE - 7, "refused"),
    ("header", "hash_key[0]", lambda old, h: old ^ 1, "refused"),
    ("header", "hash_key[1]", lambda old, h: old ^ (1 << 63), "refused"),
    ("header", "attach_count", lambda old, h: HUGE, "harmless"),
    ("header", "next_gen", lambda old, h: 0xFFFFFFFF, "harmless"),
    ("header", "next_gen", lambda old, h: HUGE, "harmless"),
    ("header", "sleep_tickets", lambda old, h: HUGE, "harmless"),
    ("header", "changes", lambda old, h: HUGE, "harmless"),
    ("header", "takeovers", lambda old, h: HUGE, "harmless"),
    ("header", "hash_key_check", lambda old, h: old ^ 1, "refused"),
    ("header", "access", lambda old, h: 0xFFFF, "refused"),            # no such slot holds it
    ("header", "access", lambda old, h: 7, "held"),                    # a slot nobody uses holds it
    ("header", "access", lambda old, h: old | (0xFFFF << 16), "harmless"),  # sleepers nobody has
    ("header", "queue.head", lambda old, h: h["queue.tail"] + 5, "detected"),  # tail below head
    ("header", "queue.head", lambda old, h: old + 1, "detected"),      # a moved head
    ("header", "queue.head", lambda old, h: HUGE, "detected"),
    ("header", "queue.tail", lambda old, h: old + 1000, "detected"),   # more than the ring holds
    ("header", "queue.tail", lambda old, h: old - 1, "detected"),      # a moved tail
    ("header", "queue.tail", lambda old, h: h["queue.head"] - 1, "detected"),
    ("header", "queue.ring", lambda old, h: FAR, "refused"),
    ("header", "queue.ring", lambda old, h: old + 16, "detected"),     # inside the heap, no block
    ("header", "queue.ring", lambda old, h: 0, "refused"),
    ("header", "channels", lambda old, h: FAR, "refused"),        # the channel directory (none yet)
    ("header", "queue.reserved", lambda old, h: HUGE, "harmless"),
] + [
    (where, field, value, "harmless")
    for where in ("slot 0", "slot 1")
    for field, value in [
        ("state", lambda old, h: 7), ("pid", lambda old, h: 0xFFFFFFFF),
        ("pid", lambda old, h: 1), ("role", lambda old, h: 9),
        ("generation", lambda old, h: 0xFFFFFFFF), ("start_time", lambda old, h: HUGE),
        ("waiting_for", lambda old, h: 0xFF), ("wake_pending", lambda old, h: 1),
        ("sleep_ticket", lambda old, h: HUGE), ("sleepers", lambda old, h: 0xFFFFFFFF),
    ]
] + [
    ("root", "tag_key", lambda old, h: old ^ 1, "detected"),
    ("root", "heap_start", lambda old, h: FAR, "refused"),
    ("root", "heap_start", lambda old, h: old + 16, "detected"),
    ("root", "heap_start", lambda old, h: 0, "refused"),
    ("root", "heap_end", lambda old, h: FAR, "refused"),
    ("root", "heap_end", lambda old, h: old - 4096, "detected"),
    ("root", "heap_end", lambda old, h: HUGE - 15, "refused"),
    ("root", "free_bytes", lambda old, h: HUGE, "refused"),
    ("root", "used_blocks", lambda old, h: HUGE, "refused"),
    ("root", "free_blocks", lambda old, h: HUGE, "refused"),
    ("root", "fl_bitmap", lambda old, h: HUGE, "refused"),
    ("root", "fl_bitmap", lambda old, h: (1 << 40) - 1, "detected"),
    ("root", "sl_bitmap[3]", lambda old, h: 0xFFFFFFFF, "detected"),
    ("root", "free_heads[0][5]", lambda old, h: FAR, "refused"),
    ("root", "free_heads[0][5]", lambda old, h: h["queue.ring"], "detected"),
]


def field_at(buf, where):
    """The table of fields of `where` and the offset they count from."""
    if where == "header":
        return HEADER, 0
    alloc_off = struct.unpack_from("Q", buf, HEADER["alloc_off"][0])[0]
    slots_off = struct.unpack_from("Q", buf, HEADER["slots_off"][0])[0]
    if where == "root":
        return ROOT, alloc_off
    return SLOT, slots_off + 64 * int(where.split()[1])


def overwrite(name, where, field, value):
    """Writes the hostile value into the region's file, as another program
    holding it open could."""
    with open(f"/dev/shm/{name}", "r+b") as f, mmap.mmap(f.fileno(), 0) as buf:
        header = {k: struct.unpack_from(fmt, buf, off)[0] for k, (off, fmt) in HEADER.items()}
        table, base = field_at(buf, where)
        off, fmt = table[field]
        old = struct.unpack_from(fmt, buf, base + off)[0]
        new = value(old, header) & ((1 << (8 * struct.calcsize(fmt))) - 1)
        struct.pack_into(fmt, buf, base + off, new)


def steps(output):
    """{step: "ok ..." or "ExceptionName: message"} from a worker's output."""
    found = {}
    for line in output.splitlines():
        step, _, rest = line.partition(": ")
        found[step] = rest
    return found


def assert_clear(who, found, stderr):
    for step, outcome in found.items():
        if not outcome.startswith("ok"):
            assert outcome.split(":")[0] in CLEAR, f"{who} {step}: {outcome}\n{stderr}"


@pytest.mark.parametrize(
    "where, field, value, expect", CASES,
    ids=[f"{w} {f} {i}" for i, (w, f, _, _) in enumerate(CASES)],
)
def test_hostile_field(region_name, where, field, value, expect):
    creator = subprocess.Popen(
        [sys.executable, WORKERS, "creator", region_name],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert creator.stdout.readline().strip() == "ready"
        overwrite(region_name, where, field, value)
        consumer = subprocess.run(
            [sys.executable, WORKERS, "consumer", region_name],
            capture_output=True, text=True, timeout=DEADLINE,
        )
        out, err = creator.communicate("go\n", timeout=DEADLINE)
    finally:
        if creator.poll() is None:
            creator.kill()
            creator.wait()
    # Normal exits, every step answered with a result or a clear exception.
    assert consumer.returncode == 0, f"consumer exit {consumer.returncode}\n{consumer.stderr}"
    assert creator.returncode == 0, f"creator exit {creator.returncode}\n{err}"
    theirs, mine = steps(consumer.stdout), steps(out)
    assert "attach" in theirs, consumer.stdout + consumer.stderr
    assert "turn" in mine, out + err
    assert_clear("consumer", theirs, consumer.stderr)
    assert_clear("creator", mine, err)

    if expect == "refused":
        assert theirs["attach"].split(":")[0] in (
            "RegionCorruptedError", "IncompatibleRegionError"), theirs
    if expect in ("refused", "detected"):
        # The first process to check says the region is damaged (what it
        # did next may have mended it: taking an unreadable message drops it).
        checks = [found["check"] for found in (theirs, mine) if found.get("turn") == "ok True"]
        # (A damaged access word may leave nobody a turn to check in.)
        assert checks or expect == "refused", (theirs, mine)
        assert not checks or checks[0].startswith("RegionCorruptedError"), (theirs, mine)
    if expect == "held":
        # A slot that nobody occupies holds access: waits end at their limit.
        assert theirs.get("turn", "ok False") == "ok False", theirs
        assert mine["turn"] == "ok False", mine
    if expect == "harmless":
        for who, found in (("consumer", theirs), ("creator", mine)):
            assert all(outcome.startswith("ok") for outcome in found.values()), (who, found)
