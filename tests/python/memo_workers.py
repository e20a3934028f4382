"""The other process of test_memo.py: ``python -m memo_workers <region name>``.
It reads orders on stdin, one a line; for each it takes a turn, changes the
shared object's fields as told, and answers 'done' on stdout once the turn
is given back, so the parent reads the fields again in a turn of its own."""

import sys

from ipc_py_objects import SharedMemory, wait_my_turn
from shared_types import Company

LIMIT = 30.0


def main(name):
    with SharedMemory(name) as sm:
        sm.init_consumer(LIMIT)
        employee = None
        for line in sys.stdin:
            order = line.strip()
            with wait_my_turn(sm, LIMIT):
                if order == "take":
                    employee = sm.take_message()
                elif order == "new strings":
                    employee.name = "bob"
                    employee.company.name = "globex"
                elif order == "strings again":
                    # Freed and made again: the new blocks may land on the
                    # offsets the old ones had, with a newer generation.
                    employee.name = None
                    employee.name = "eve"
                    employee.company.name = None
                    employee.company.name = "umbrella"
                elif order == "new company":
                    employee.company = None
                    employee.company = Company("initech", 7, ["x"])
                elif order == "numbers":
                    employee.years_of_employment = 2.5
                    employee.company.employees = 1.25
                elif order == "equal tuple":
                    employee.company = ("t", 1)
                elif order == "other tuple":
                    employee.company = ("t", True)
                elif order == "big int":
                    employee.years_of_employment = 10**6 + 7
                elif order == "new item":
                    employee.company.tags[0] = "item two"
                elif order == "item again":
                    # Freed and made again, as "strings again", for a str
                    # kept by its block (decode.c).
                    employee.company.tags[0] = None
                    employee.company.tags[0] = "item 3"
                elif order == "end":
                    employee = None
                    return
            print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
