"""The other process of test_keys.py: ``python -m keys_workers <region name>``,
run with a PYTHONHASHSEED of its own. It reads orders on stdin, one a line;
for each it takes a turn, changes the shared dict as told, and answers
'done' on stdout once the turn is given back."""

import sys

from ipc_py_objects import SharedMemory, wait_my_turn

LIMIT = 30.0
KEYS = ["key1", ("key", 2), "é-key", (("nested", 1), b"b")]


def main(name):
    with SharedMemory(name) as sm:
        sm.init_consumer(LIMIT)
        table = None
        for line in sys.stdin:
            order = line.strip()
            with wait_my_turn(sm, LIMIT):
                if order == "take":
                    table = sm.take_message()
                elif order == "values":
                    # New keys objects each time: found by value.
                    for i, k in enumerate(KEYS):
                        table[k] = f"child {i}"
                elif order == "rebuild":
                    # Emptied and filled again, past a resize of its table.
                    table.clear()
                    for i in range(200):
                        table[f"filler {i}"] = i
                    for i, k in enumerate(reversed(KEYS)):
                        table[k] = 100 + i
                elif order == "end":
                    table = None
                    return
            print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
