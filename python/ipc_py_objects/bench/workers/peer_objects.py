"""Nested objects and str attributes, in one process: the seed's receiver
statements on a shared object (ours, access held) and on the same plain
Python object (the limit). Each run reports every statement's rate and,
as its figure, their geometric mean, so the suite's table puts the two side
by side (benchmarks/bench_objects.py has every statement, and the original
package)."""

import math
import os
import timeit
from dataclasses import dataclass

# (name, statement, setup before each timing)
STATEMENTS = (
    ("chained attribute get", "k = thing.company_info.income", ""),
    ("chained attribute set", "thing.company_info.income = 3_000_000.0", ""),
    ("chained method call", "thing.company_info.some_employee.increase_years_of_employment()", ""),
    ("attribute get str", "k = thing.str_value", ""),
    ("attribute set str", "thing.str_value = 'Hello. '", ""),
    ("attribute set str, a new str each time", "thing.str_value = other; other, spare = spare, other",
     "other, spare = 'Hello. ', 'Hello! '"),
    ("attribute += str", "thing.str_value += '!'", "thing.str_value = 'Hello. '"),
)


class Employee:
    def __init__(self, name, age, years_of_employment=0):
        self.name = name
        self.age = age
        self.years_of_employment = years_of_employment

    def increase_years_of_employment(self):
        self.years_of_employment += 1
        self.age += 1


@dataclass
class CompanyInfo:
    company_id: int
    income: float
    some_employee: Employee


@dataclass
class SharedThing:
    int_value: int
    str_value: str
    company_info: CompanyInfo


def build():
    return SharedThing(18, "Hello, ", CompanyInfo(1, 1_000_000.0, Employee("John Doe", 30, 2)))


def rates(thing, number):
    out = {}
    for name, stmt, setup in STATEMENTS:
        timer = timeit.Timer(stmt, "thing = _thing\n" + (setup or "pass"), globals={"_thing": thing})
        # `+= str` grows the str: a bounded count, so it stays short.
        n = min(number, 2000) if "+=" in stmt else number
        out[name] = n / min(timer.repeat(3, n))
    return out


def figure(statements):
    mean = math.exp(sum(math.log(v) for v in statements.values()) / len(statements))
    return {"objects": {"value": mean, "statements": statements}}


class Plain:
    local = True

    def __init__(self, ctx, **_):
        pass

    def objects_local(self, params):
        return figure(rates(build(), params["number"]))


class Ipo:
    local = True

    def __init__(self, ctx, **_):
        pass

    def objects_local(self, params):
        from ipc_py_objects import SharedMemory, wait_my_turn

        sm = SharedMemory(f"ipo_bench_objects_{os.getpid()}", create=True, size=16 * 1024 * 1024)
        try:
            with wait_my_turn(sm):
                sm.put_message(build())
                thing = sm.take_message()
                return figure(rates(thing, params["number"]))
        finally:
            sm.close()
