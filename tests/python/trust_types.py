"""Classes whose stored names a hostile writer rewrites in test_trust.py.

The names are long on purpose: a rewrite in place must fit the block that
held the old one (``subprocess:Popen`` is 16 bytes)."""

import enum
from dataclasses import dataclass


class CommandLineForTheTrustTests(enum.Enum):
    # A tuple value, so that a reader that called the class named in the
    # region with it would run Popen(("sh", "-c", "touch marker")).
    run = ("sh", "-c", "c" * 200)


class ShellLineForTheTrustTests(enum.Enum):
    # A str value: os.system(value) would run it.
    run = "s" * 200


@dataclass
class ScheduledJobForTheTrustTests:
    command: tuple
    comment: str
