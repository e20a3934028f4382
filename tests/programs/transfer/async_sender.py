"""Async bulk transfer, sender, in the style of the original author's
shared_objects__transfer_asyncio__sender.py and ..._uvloop__sender.py (our
own program): the loop is asyncio's or uvloop's (argv[3])."""

import asyncio
import sys

from ipc_py_objects import *

REGION = sys.argv[1]
COUNT = int(sys.argv[2])
LOOP = sys.argv[3]
PAYLOAD = bytes(range(256)) * 1562 + bytes(range(128))  # 400_000 bytes, not zeros

ashared_memory_manager: ASharedMemoryManager = ASharedMemoryManager(SharedMemory(REGION, True, 64 * 1024**2))


async def sender():
    async with ashared_memory_manager as asmm:
        print("Sender is ready.")
        ashared_memory_context_manager: ASharedMemoryContextManager = asmm()

        async with ashared_memory_context_manager as shared_memory:
            flags = shared_memory.value.put_message([False, False])  # [receiver wants more, all sent]

        to_send = COUNT
        while to_send:
            async with ashared_memory_context_manager as shared_memory:
                if flags[0]:
                    try:
                        while to_send:
                            shared_memory.value.put_message(PAYLOAD)
                            to_send -= 1
                            if not to_send:
                                flags[1] = True
                    except FreeMemoryChunkNotFoundError:
                        shared_memory.existence = True
                    finally:
                        flags[0] = False

        while True:
            async with ashared_memory_context_manager as shared_memory:
                if flags[0]:
                    flags[0] = False
                    break
                shared_memory.existence = False

        print("Sender is done.")


if __name__ == "__main__":
    ensure_adjusted_pythonhashseed(pythonhashseed=0)
    print("Sender is starting its work.")
    if LOOP == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(sender())
    print("Sender has finished its work.")
