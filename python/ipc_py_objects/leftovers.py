"""cleanup(): removing what dead processes left in /dev/shm.

A process that dies without closing its region leaves files behind: the
region itself when nobody is left in it, the hidden file of a creation it
was making, its doorbell. The next participant of the same region, a new
creator of the same name, and the next attach or create of any name (for
hidden creation files) remove most of them as they go; ``cleanup()``
removes all of them at once, for a tool or a supervisor to call.
"""

from __future__ import annotations

from typing import List, NamedTuple

from . import _ipo

__all__ = ["cleanup", "Leftover"]


class Leftover(NamedTuple):
    """A file a dead process left: ``kind`` is ``"region"`` (a region whose
    every participant is dead), ``"creating"`` (the hidden file of a
    creation whose creator died) or ``"doorbell"`` (a dead participant's
    doorbell); ``path`` is where it is (or was)."""

    kind: str
    path: str


def cleanup(dry_run: bool = False) -> List[Leftover]:
    """Removes this user's leftovers of dead processes from /dev/shm and the
    doorbell directory, and returns them; with ``dry_run=True``, removes
    nothing and returns what it would remove.

    Only what no live process uses is touched: a region while any of its
    participants lives (a consumer whose creator died included), a creation
    whose creator lives, a doorbell whose owner lives are left alone, and
    so is every file of another user, whatever this process may do.
    """
    return [Leftover(kind, path) for kind, path in _ipo._cleanup(dry_run=bool(dry_run))]
