"""The classes the original-style example shares: an IntEnum, a plain class
with a method, an IntEnum for list places, and two dataclasses, one inside
the other (the same kinds, in the same roles, as the original's example)."""

__all__ = [
    "Shift",
    "Operator",
    "StationMetrics",
    "StationInfo",
    "SharedJob",
]

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Dict, Hashable, List, Tuple


class Shift(IntEnum):
    early = 0
    late = 1
    night = 2


class Operator:
    def __init__(self, name: str, age: int, shift: Shift, shifts_done: int = 0):
        self.name = name
        self.age = age
        self.shift = shift
        self.shifts_done = shifts_done

    def log_shift(self) -> None:
        self.shifts_done += 1
        self.age += 1

    def __repr__(self) -> str:
        return f"Operator(name={self.name}, age={self.age}, shift={self.shift!r}, shifts_done={self.shifts_done})"


class StationMetrics(IntEnum):
    output = 0
    staff = 1
    avg_load = 2
    yearly_output = 3
    healthy = 4
    contacts = 5
    urls = 6


@dataclass
class StationInfo:
    station_id: int
    contacts: Tuple[str, str]
    urls: List[str]
    output: float
    staff: int
    on_duty: Operator
    metrics: List


@dataclass
class SharedJob:
    job_done: bool
    counter: int
    label: str
    readings: Dict[Hashable, Any]
    station: StationInfo
