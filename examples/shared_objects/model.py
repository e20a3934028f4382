"""The classes both sides of the shared-objects example import.

A receiver needs the classes of the objects it reads importable under the
same module name as the sender's: here, `model`.
"""

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class Role(IntEnum):
    engineer = 0
    manager = 1
    accountant = 2


class Metric(IntEnum):
    """Indices of a metrics list: a list indexed by IntEnum members is the
    fastest shared record (one slot per field, numbers stored inline)."""

    revenue = 0
    headcount = 1
    avg_salary = 2
    healthy = 3
    contacts = 4
    websites = 5


class Employee:
    """A plain class (no dataclass, a __dict__): its attributes are shared."""

    def __init__(self, name: str, age: int, role: Role, years: int = 0):
        self.name = name
        self.age = age
        self.role = role
        self.years = years

    def celebrate_anniversary(self) -> None:
        # Runs in the receiver; the sender sees both changes.
        self.years += 1
        self.age += 1

    def __repr__(self) -> str:
        return f"Employee({self.name!r}, age={self.age}, role={self.role!r}, years={self.years})"


@dataclass
class Company:
    company_id: int
    contacts: tuple
    websites: list
    revenue: float
    lead: Employee
    metrics: list


@dataclass
class Report:
    reviewed: bool
    counter: int
    title: str
    data: dict[Any, Any]
    company: Company
