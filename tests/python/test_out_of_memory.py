"""FreeMemoryChunkNotFoundError tells the truth: in a fragmented region, every
error's figures are the allocator's (the size looked for is more than the
most a free chunk holds at that alignment, and that most really fits), and
a list, a dict or the queue that cannot grow by its policy grows by the
least it needs before failing."""

import random

import pytest

from ipc_py_objects import FreeMemoryChunkNotFoundError, SharedMemory, wait_my_turn

KiB = 1024
OBJ_HEADER = 16  # an object's header; payloads of 256 bytes and more start 64 bytes in when they can
SLOT = 16        # a value slot of a list's array or a table entry's part


def fragment(sm, rng):
    """Fills the region with bytes objects of random sizes, then destroys
    about half of them: free chunks of many sizes, none large."""
    offsets = []
    with pytest.raises(FreeMemoryChunkNotFoundError):
        while True:
            offsets.append(sm.put_message_2(b"f" * rng.randrange(100, 12 * KiB))[1])
    while sm.has_messages():
        sm.take_message()
    for off in offsets:
        if rng.random() < 0.5:
            sm.destroy_obj(off)


def check_figures(err, stats_then):
    """The error's own figures agree with each other and with the region's
    statistics taken right after it (single-allocation failures leave the
    region as it was when the allocator refused)."""
    assert err.alignment in (16, 64)
    assert err.requested % 16 == 0
    assert err.largest_free < err.requested, str(err)
    assert err.largest_free <= err.largest_free_chunk
    if err.alignment == 16:
        assert err.largest_free == err.largest_free_chunk
    assert err.largest_free_chunk == stats_then["largest_free_chunk"], str(err)
    assert err.free_bytes == stats_then["free_bytes"]
    assert f"{err.requested} bytes" in str(err) and "largest free chunk" in str(err)


def probe_fit(sm, err):
    """An object whose block is exactly the reported most fits; 16 bytes
    more does not (the report is neither too small nor too large)."""
    assert err.alignment == 16
    exact = err.largest_free - OBJ_HEADER
    if exact >= 0:
        off = sm.put_message_2(b"p" * exact)[1]
        sm.take_message()
        sm.destroy_obj(off)
    with pytest.raises(FreeMemoryChunkNotFoundError) as again:
        sm.put_message(b"p" * (exact + 16))
    assert again.value.requested == err.largest_free + 16


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_error_in_a_fragmented_region_tells_the_truth(region_name, seed):
    rng = random.Random(seed)
    counts = {"bytes": 0, "list": 0, "dict": 0, "queue": 0, "nested": 0}
    with SharedMemory(region_name, create=True, size=1024 * KiB) as sm, wait_my_turn(sm):
        fragment(sm, rng)
        # Single allocations: a bytes object of one block, its size random.
        for _ in range(30):
            largest = sm.stats()["largest_free_chunk"]
            try:
                off = sm.put_message_2(b"b" * rng.randrange(largest // 2, largest * 2))[1]
            except FreeMemoryChunkNotFoundError as err:
                check_figures(err, sm.stats())
                probe_fit(sm, err)
                counts["bytes"] += 1
            else:
                sm.take_message()
                sm.destroy_obj(off)
        # A live list grows until no array one slot longer fits.
        lst, lst_off = sm.put_message_2([])
        sm.take_message()
        with pytest.raises(FreeMemoryChunkNotFoundError) as info:
            while True:
                lst.append(len(lst))
        check_figures(info.value, sm.stats())
        assert info.value.requested == OBJ_HEADER + SLOT * (len(lst) + 1), "not the smallest growth"
        counts["list"] += 1
        # A live dict grows until no table for one more entry fits.
        d, d_off = sm.put_message_2({})
        sm.take_message()
        with pytest.raises(FreeMemoryChunkNotFoundError) as info:
            while True:
                d[len(d)] = None
        check_figures(info.value, sm.stats())
        counts["dict"] += 1
        sm.destroy_obj(lst_off)
        sm.destroy_obj(d_off)
        # The queue grows until neither a message nor a longer ring fits.
        queued = []
        with pytest.raises(FreeMemoryChunkNotFoundError) as info:
            while True:
                queued.append(sm.put_message_2(None)[1])
        check_figures(info.value, sm.stats())
        counts["queue"] += 1
        while sm.has_messages():
            sm.take_message()
        for off in queued:
            sm.destroy_obj(off)
        # Nested values: the failing allocation is one of many; the figures
        # are still those of the moment it was refused, so they agree with
        # each other (the region has at least that room after the clean-up).
        for _ in range(10):
            value = [b"n" * rng.randrange(1, 16 * KiB) for _ in range(rng.randrange(20, 100))]
            try:
                off = sm.put_message_2(value)[1]
            except FreeMemoryChunkNotFoundError as err:
                assert err.largest_free < err.requested
                assert err.largest_free <= err.largest_free_chunk <= sm.stats()["largest_free_chunk"]
                counts["nested"] += 1
            else:
                sm.take_message()
                sm.destroy_obj(off)
        sm.check()
    assert counts["bytes"] >= 3 and counts["nested"] >= 1, counts


def fill_leaving(sm, payload):
    """Fills a fresh region (one free chunk) so that its largest free chunk
    holds `payload` bytes: one filler object, resized until it does."""
    size = sm.stats()["largest_free_chunk"] - payload
    for _ in range(4):
        off = sm.put_message_2(b"\0" * size)[1]
        sm.take_message(1)  # the newest: messages queued before stay
        now = sm.stats()["largest_free_chunk"]
        if now == payload:
            return off
        sm.destroy_obj(off)
        size += now - payload
    raise AssertionError(f"could not leave a chunk of {payload} bytes")


def test_a_list_grows_by_one_slot_when_half_again_does_not_fit(region_name):
    n = 1000
    with SharedMemory(region_name, create=True, size=1024 * KiB) as sm, wait_my_turn(sm):
        lst, _ = sm.put_message_2(list(range(n)))
        sm.take_message()
        one_more = OBJ_HEADER + SLOT * (n + 1)
        fill_leaving(sm, one_more + 32)
        assert sm.stats()["largest_free_chunk"] < 64 + SLOT * (n + n // 2 + 4)
        lst.append(n)  # the old policy asked for half again, and failed
        assert len(lst) == n + 1 and lst[n] == n
        sm.check()


def test_a_dict_takes_the_smallest_table_when_a_doubled_one_does_not_fit(region_name):
    # 85 live entries fill a table of 128 index slots; doubling asks for
    # room for 171 (an index of 512), the least for 86 (an index of 256).
    def table(index):
        return OBJ_HEADER + 32 + 4 * index + 48 * (index * 2 // 3)

    with SharedMemory(region_name, create=True, size=1024 * KiB) as sm, wait_my_turn(sm):
        d, _ = sm.put_message_2({i: None for i in range(85)})
        sm.take_message()
        fill_leaving(sm, table(256) + 64)
        assert sm.stats()["largest_free_chunk"] < table(512)
        d[85] = None
        assert len(d) == 86 and 85 in d and 0 in d
        sm.check()


def test_the_queue_grows_by_one_entry_when_doubling_does_not_fit(region_name):
    with SharedMemory(region_name, create=True, size=1024 * KiB) as sm, wait_my_turn(sm):
        for i in range(63):
            sm.put_message(i)
        # 1136 bytes are left for the 64th message (a block of 32 bytes),
        # then a ring of 65 entries (16 + 16 * 65 bytes: an offset and a
        # put time each, and a block header) and the 65th message's block;
        # a ring of 128 does not fit.
        fill_leaving(sm, 1136)
        sm.put_message(63)
        sm.put_message(64)
        sm.check()

        def take(queue_type=0):
            value, off = sm.take_message_2(queue_type)
            sm.destroy_obj(off)
            return value

        assert [take() for _ in range(65)] == list(range(65))
        # The ring of 65 keeps working across its wrap, at both ends.
        for i in range(200):
            sm.put_message(i)
            assert take() == i
        sm.put_message("a")
        sm.put_message("b")
        assert take(1) == "b"
        assert take() == "a"
        sm.check()
