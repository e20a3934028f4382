"""Async bulk transfer, receiver, in the style of the original author's
shared_objects__transfer_asyncio__receiver.py and ..._uvloop__receiver.py
(our own program): the loop is asyncio's or uvloop's (argv[2])."""

import asyncio
import sys
import time

from ipc_py_objects import *

REGION = sys.argv[1]
LOOP = sys.argv[2]
PAYLOAD = bytes(range(256)) * 1562 + bytes(range(128))

ashared_memory_manager: ASharedMemoryManager = ASharedMemoryManager(SharedMemory(REGION))


async def receiver():
    async with ashared_memory_manager as asmm:
        print("Receiver is ready.")
        ashared_memory_context_manager: ASharedMemoryContextManager = asmm()

        done = False
        received = intact = 0
        async with ashared_memory_context_manager.if_has_messages() as shared_memory:
            flags = shared_memory.value.take_message()
            flags[0] = True
            done = flags[1]

        start = time.perf_counter()
        while not done:
            async with ashared_memory_context_manager.if_has_messages() as shared_memory:
                while shared_memory.value.has_messages():
                    data, offset = shared_memory.value.take_message_2()
                    shared_memory.value.destroy_obj(offset)
                    received += 1
                    intact += data == PAYLOAD
                    flags[0] = True
                    done = flags[1]
        seconds = time.perf_counter() - start
        print(f"received {received} messages of {len(PAYLOAD)} bytes, {intact} intact, "
              f"{received * len(PAYLOAD) / seconds / 2**30:.2f} GiB/s")
        print("Receiver is done.")


if __name__ == "__main__":
    ensure_adjusted_pythonhashseed(pythonhashseed=0)
    print("Receiver is starting its work.")
    if LOOP == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(receiver())
    print("Receiver has finished its work.")
