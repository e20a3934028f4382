"""The Python side of examples/c_service/echo_service.c: asks, prints the answers.

    build/c/ipo_echo_service echo &   # or: make demo-c
    python examples/c_service/peer.py echo
"""

import sys

from ipc_py_objects import SharedMemory, wait_my_turn, wait_my_turn_when_has_messages


def ask(requests, replies, value, time_limit=10.0):
    """Puts a request, then sleeps until the service's reply is queued."""
    with wait_my_turn(requests, time_limit=time_limit):
        requests.put_message(value)
    with wait_my_turn_when_has_messages(replies, time_limit=time_limit):
        answer, offset = replies.take_message_2()
        replies.destroy_obj(offset)
    return answer


def connect(name, time_limit=30.0):
    """The service's request and reply regions, once it has made them."""
    requests, replies = SharedMemory(f"{name}-in"), SharedMemory(f"{name}-out")
    for region in (requests, replies):
        if not region.init_consumer(time_limit=time_limit):
            raise SystemExit(f"peer: no region {region.name!r} within {time_limit} s: is the service running?")
    return requests, replies


def main(name: str) -> None:
    requests, replies = connect(name)
    with requests, replies:
        for value in ("hello from Python", 41, "grüße, 世界", 2**40, b"bytes get None"):
            print(f"peer: asked {value!r}, the C service answered {ask(requests, replies, value)!r}")
        with wait_my_turn(requests):
            requests.put_message("quit")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "ipo_echo")
