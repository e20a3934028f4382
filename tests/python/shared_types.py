"""Classes the object tests share with the processes they start (importable by name)."""

from dataclasses import dataclass, field
from enum import Enum, IntEnum


class Metric(IntEnum):
    income = 0
    employees = 1
    avg_salary = 2
    websites = 3


class Color(Enum):
    red = "r"
    green = (0, 255, 0)


@dataclass
class Company:
    name: str
    employees: int
    tags: list = field(default_factory=list)

    def hire(self, n=1):
        self.employees += n
        return self.employees


@dataclass
class Employee:
    name: str
    years_of_employment: int
    company: Company = None

    def increase_years_of_employment(self):
        self.years_of_employment += 1


class Slotted:
    __slots__ = ("x", "y", "__private")

    def __init__(self, x, y):
        self.x = x
        self.y = y
        self.__private = "p"

    def total(self):
        return self.x + self.y

    def private(self):
        return self.__private


class Plain:
    kind = "class attribute"

    def __init__(self, **attrs):
        self.__dict__.update(attrs)

    def describe(self):
        return f"{self.kind}: {sorted(vars(self))}"


class Mixed(Slotted):
    """Slots from a base and a __dict__ of its own."""

    def __init__(self, x, y, z):
        super().__init__(x, y)
        self.z = z


@dataclass(slots=True)
class Point:
    x: float
    y: float

    def norm2(self):
        return self.x * self.x + self.y * self.y


@dataclass(frozen=True)
class Frozen:
    label: str
    size: int
