"""Classes that only spawned processes put, so the test process never knows them before it reads one."""

from dataclasses import dataclass
from enum import Enum


@dataclass
class Gadget:
    name: str
    weight: float


class Shade(Enum):
    light = 1
    dark = 2
