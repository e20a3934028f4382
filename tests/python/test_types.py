"""Round trips of the copied types (complex, Decimal, slice, date and time
types, tuple), exact to the bit, and whole trees freed by destroy_obj."""

import datetime as dt
import decimal
import math
import struct
from zoneinfo import ZoneInfo

import pytest

from ipc_py_objects import SharedMemory, wait_my_turn

MiB = 1024 * 1024
D = decimal.Decimal
UTC = dt.timezone.utc


@pytest.fixture
def sm(region_name):
    region = SharedMemory(region_name, create=True, size=8 * MiB)
    yield region
    region.close()


def round_trip(sm, value):
    with wait_my_turn(sm):
        before = sm.stats()
        sm.put_message(value)
        got, offset = sm.take_message_2()
        sm.destroy_obj(offset)
        after = sm.stats()
        # The whole tree went back: nothing of it is left in the region.
        assert after["free_bytes"] == before["free_bytes"]
        assert after["used_blocks"] == before["used_blocks"]
        sm.check()
    return got


def same(a, b):
    """Equal, of the same type, and for floats the same bits, all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, decimal.Decimal):
        return str(a) == str(b)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, slice):
        return same((a.start, a.stop, a.step), (b.start, b.stop, b.step))
    if isinstance(a, (dt.datetime, dt.time)):
        return a == b and a.fold == b.fold and repr(a) == repr(b)
    return a == b and repr(a) == repr(b)


VALUES = [
    1 + 2j, complex(-0.0, math.inf), complex(math.nan, -math.inf), 0j,
    D("1.10"), D("-0"), D("NaN123"), D("-sNaN7"), D("Infinity"), D("-Infinity"), D("1E+400"),
    D("0.000001"), D(2**200), D("-1.000000000000000000000000000000000000001"),
    slice(1, 10, 2), slice(None), slice("a", (1, 2), None), slice(2**100, -1.5, None),
    dt.date(2024, 2, 29), dt.date.min, dt.date.max,
    dt.datetime(2024, 5, 6, 7, 8, 9, 123456), dt.datetime.min, dt.datetime.max,
    dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
    dt.datetime(2021, 11, 7, 1, 30, fold=1),
    dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30), "X")),
    dt.datetime(2021, 10, 31, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Berlin")),
    dt.time(23, 59, 59, 999999), dt.time(1, 2, tzinfo=dt.timezone(dt.timedelta(hours=5))),
    dt.time(1, 2, fold=1), dt.time(0, 0, tzinfo=ZoneInfo("UTC")),
    dt.timedelta(days=-1, seconds=5, microseconds=7), dt.timedelta.min, dt.timedelta.max, dt.timedelta(0),
    UTC, dt.timezone(dt.timedelta(hours=-1, microseconds=-1)), dt.timezone(dt.timedelta(hours=3), "Ürümqi"),
    ZoneInfo("America/New_York"),
    (), (1,), ((), ((),)), (None, True, False, 0, -1, 2**63 - 1, -(2**63), 2**64, -0.0, math.inf),
    ("", "\U0001F600", b"", bytearray(b"b"), 2**200, 1.5, (1 + 1j, D("2.5"), slice(3))),
    tuple(range(1000)), tuple(str(i) * (i % 50) for i in range(300)),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: f"{type(v).__name__}-{repr(v)[:30]}")
def test_round_trip_is_exact(sm, value):
    assert same(round_trip(sm, value), value)


def test_nan_payload_inside_a_tuple(sm):
    nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_0000_0ABC))[0]
    got = round_trip(sm, (nan, complex(nan, 1.0)))
    assert struct.pack("<d", got[0]) == struct.pack("<d", nan)
    assert struct.pack("<d", got[1].real) == struct.pack("<d", nan)


def test_deep_nesting(sm):
    value = ()
    for _ in range(200):
        value = (value, 1)
    assert same(round_trip(sm, value), value)


def test_too_deep_nesting_is_refused_and_leaves_nothing(sm):
    value = ()
    for _ in range(100_000):
        value = (value,)
    with wait_my_turn(sm):
        before = sm.stats()
        with pytest.raises(RecursionError):
            sm.put_message(value)
        after = sm.stats()
        assert after["used_blocks"] == before["used_blocks"]
        assert after["messages"] == 0
        sm.check()


def test_a_tuple_that_does_not_fit_leaves_nothing(region_name):
    from ipc_py_objects import FreeMemoryChunkNotFoundError

    with SharedMemory(region_name, create=True, size=MiB) as sm, wait_my_turn(sm):
        before = sm.stats()
        with pytest.raises(FreeMemoryChunkNotFoundError):
            sm.put_message(tuple(b"x" * 100_000 for _ in range(20)))
        after = sm.stats()
        assert after["used_blocks"] == before["used_blocks"]
        assert after["free_bytes"] == before["free_bytes"]
        sm.check()


class Plus3(dt.tzinfo):
    def utcoffset(self, when):
        return dt.timedelta(hours=3)


def keyless_zone():
    with open("/usr/share/zoneinfo/UTC", "rb") as f:
        return ZoneInfo.from_file(f)


def local_zone():
    class Local(dt.tzinfo):  # not importable by name, so it does not pickle
        def utcoffset(self, when):
            return dt.timedelta(hours=1)

    return Local()


# A time zone of another class is pickled (the datetime itself is not); one
# that does not pickle is refused, as is a ZoneInfo made from a file (its
# pickle would need the file).
@pytest.mark.parametrize("value", [
    dt.datetime(2024, 1, 1, tzinfo=local_zone()),
    dt.time(1, tzinfo=local_zone()),
    keyless_zone(),
], ids=["unpicklable-tzinfo-datetime", "unpicklable-tzinfo-time", "zoneinfo-without-key"])
def test_unsupported_time_zones(sm, value):
    with wait_my_turn(sm):
        with pytest.raises(TypeError, match="cannot put|cannot pickle|tzinfo"):
            sm.put_message(value)
        assert sm.stats()["used_blocks"] == 1
        assert not sm.has_messages()
        sm.check()


@pytest.mark.parametrize("value", [
    dt.datetime(2024, 1, 1, 12, 30, tzinfo=Plus3()),
    dt.time(1, 2, 3, tzinfo=Plus3()),
], ids=["datetime", "time"])
def test_a_time_zone_of_another_class_is_pickled(sm, value):
    got = round_trip(sm, value)
    assert got == value and type(got) is type(value)
    assert type(got.tzinfo) is Plus3 and got.utcoffset() == dt.timedelta(hours=3)
