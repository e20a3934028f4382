"""A fully annotated program over the whole public API, for mypy --strict
(tests/python/test_typing.py): every call here must type-check as written,
and every name comes from the star import, as in the original's programs."""

import asyncio
import enum
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

from ipc_py_objects import *


class Slot(enum.IntEnum):
    first = 0
    second = 1


@dataclass
class Reading:
    value: float
    ok: bool


def sync_side(name: str) -> Tuple[int, Optional[int]]:
    sm: SharedMemory = SharedMemory(name, True, 8 * 1024**2, QueueType.fifo, True, None, 5.0, True)
    with sm:
        if not sm.wait_consumer_ready(0.0):
            pass
        with wait_my_turn(sm, 1.0, None) as held:
            mapped: List[Any] = held.put_message(intenum_dict_to_list({Slot.second: 2.5}, Slot))
            obj, offset = sm.put_message_2(ForceStaticObjectCopy(Reading(1.0, True)))
            sm.put_message(fmapping({"a": 1}))
            first: Any = sm.take_message(QueueType.lifo)
            popped, where = sm.pop_message_2(None, QueueType.fifo)
            back = intenum_list_to_dict(mapped, Slot)
            assert isinstance(back, dict) and first is not None and popped is not None
            sm.destroy_obj(offset)
        with get_in_line(sm) as got:
            taken: bool = got
        with WaitMyTurnWhenHasMessages(sm, 0.5) as region:
            region.get_message(None, QueueType.lifo)
        guard: WaitMyTurn[SharedMemory] = WaitMyTurn(sm)
        limit: Optional[float] = guard.time_limit
        ok: bool = sm.wait_my_turn(0.1) and sm.is_in_line()
        sm.release()
        ensure_adjusted_pythonhashseed(pythonhashseed=0)
        return offset, where


async def async_side(name: str) -> bool:
    manager: ASharedMemoryManager = ASharedMemoryManager(SharedMemory(name), False, 10.0)
    saving: bool = manager.save_cpu_time
    async with manager as asmm:
        cm: ASharedMemoryContextManager = asmm(None)
        async with cm.if_has_messages(True) as shared_memory:
            holder: ValueHolder[SharedMemory] = shared_memory
            message: Any = holder.value.take_message()
            shared_memory.existence = False
        async with cm as shared_memory:
            done = bool(shared_memory)
        with manager.save_cpu():
            pass
        async with await_my_turn(manager.shared_memory, 1.0) as region:
            region.has_messages()
        turned: bool = await manager.shared_memory.await_my_turn(0.5)
        return done and saving and turned and message is not None


def run(name: str) -> None:
    try:
        sync_side(name)
    except (FreeMemoryChunkNotFoundError, NoMessagesInQueueError, OperationTimedOutError,
            WrongObjectTypeError) as error:
        print(error)
    print(asyncio.run(async_side(name)))
