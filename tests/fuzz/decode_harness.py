"""The Python half of fuzz_decode: a region holding every kind of object the
codec writes, restored before each input and patched by it; then every
message is read as a program would (views walked, copies taken), the region
checked, a message put and taken. Any exception is an answer; only a crash,
a hang or a sanitizer report is a finding. fuzz_decode.c calls setup() once
and run(data) for each input (see its comment for the input's layout); the
Python-level fuzz test (tests/python/test_decode_fuzz.py) calls them too.

The region is created with mode 0o660, so the codec does not trust it: a
patched class name can name only classes this process put itself, and no
pickle is loaded. A fuzzer must not import and call what random bytes name.
"""

import datetime
import decimal
import enum
import mmap
import os
import struct
import uuid
from dataclasses import dataclass

from ipc_py_objects import SharedMemory

SIZE = 1 << 18
ACCESS_WORD = (128, 136)  # the fuzzer of the region itself covers it: here it stays ours


class Colour(enum.IntEnum):
    red = 1
    green = 2


@dataclass
class Point:
    x: int
    y: float
    label: str
    tags: list


class Free:
    """A general object: its attributes in a shared dict."""

    def __init__(self):
        self.name = "free"
        self.items = {"a": (1, 2), "b": [3.5, None]}


def messages():
    zone = datetime.timezone(datetime.timedelta(hours=2), "two")
    return [
        {"temp": 21.5, "tags": ["x", "y", 3], "nested": {"k": (1, 2.0, "three")}, 7: b"seven"},
        [1, "two", [3, [4, 5]], (6, 7), {8, 9}, frozenset({10, 11}), None, True, 2**80],
        ("tuple", b"bytes", bytearray(b"array"), 1.5 + 2j, decimal.Decimal("-1.5E+3"), slice(1, 9, 2)),
        datetime.datetime(2024, 5, 6, 7, 8, 9, 10, tzinfo=zone),
        (datetime.date(2020, 1, 2), datetime.time(3, 4, 5, tzinfo=datetime.timezone.utc),
         datetime.timedelta(days=-3, seconds=5)),
        Point(1, 2.5, "p", ["q", 2]),
        Colour.green,
        Free(),
        {frozenset({1, 2}): "frozen key", (1, "a"): {"deep": [[[["deeper"]]]]}},
        "a str with ünïcödé",
    ]


class Harness:
    def __init__(self):
        self.name = f"ipo-fuzz-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.sm = SharedMemory(self.name, create=True, size=SIZE, mode=0o660, close_timeout=0)
        self.sm.wait_my_turn()
        for message in messages():
            self.sm.put_message(message)
        self.file = open(f"/dev/shm/{self.name}", "r+b")
        self.buf = mmap.mmap(self.file.fileno(), 0)
        self.pristine = bytes(self.buf)
        os.unlink(f"/dev/shm/{self.name}")  # nothing left behind, whatever happens

    def patch(self, data):
        """Records of offset (u16 little-endian, times 4), length (u8, 1 to
        16) and that many bytes, written over the pristine image."""
        self.buf[:] = self.pristine
        i = 0
        while len(data) - i >= 4:
            at = struct.unpack_from("<H", data, i)[0] * 4
            n = data[i + 2] % 16 + 1
            chunk = data[i + 3:i + 3 + n]
            i += 3 + n
            if at + len(chunk) <= ACCESS_WORD[0] or ACCESS_WORD[1] <= at < SIZE - len(chunk):
                self.buf[at:at + len(chunk)] = chunk

    def run(self, data):
        self.patch(data)
        sm = self.sm
        answer(sm.check)
        for _ in range(len(messages()) + 1):
            value = answer(sm.read_message)
            walk(value, 0)
            value = answer(sm.take_message)
            walk(value, 0)
            del value
        answer(lambda: sm.put_message({"after": [1, 2, 3]}))
        walk(answer(sm.take_message), 0)
        answer(sm.check)


def answer(func):
    try:
        return func()
    except Exception:  # noqa: BLE001  (every exception is an answer)
        return None


def walk(value, depth):
    """Reads everything a value shows, views included, as a program would."""
    try:
        walk_in(value, depth)
    except Exception:  # noqa: BLE001  (an attribute read may raise too)
        pass


def walk_in(value, depth):
    if depth > 20 or value is None:
        return
    answer(lambda: repr(value))
    if isinstance(value, (str, bytes, bytearray, int, float, complex)):
        return
    if hasattr(value, "items") and callable(value.items):
        for pair in answer(lambda: list(value.items())) or ():
            walk(pair[1], depth + 1)
        answer(lambda: len(value))
        return
    if hasattr(value, "__iter__"):
        for item in answer(lambda: list(value)) or ():
            walk(item, depth + 1)
        answer(lambda: len(value))
        return
    for name in answer(lambda: list(vars(value))) or ():
        walk(answer(lambda: getattr(value, name)), depth + 1)


_harness = None


def setup():
    global _harness
    _harness = Harness()


def run(data):
    _harness.run(bytes(data))
