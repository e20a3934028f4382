"""Names that programs written for the original package use and that need no work here.

The original package hashes dict and set keys with Python's ``hash()``, which
differs between processes unless ``PYTHONHASHSEED`` is fixed; its programs
start with ``ensure_adjusted_pythonhashseed()``, which restarts the
interpreter with a fixed seed. Our keys hash the same in every process
whatever the seed (docs/format.md, "The stable hash"), so the call is
accepted and does nothing: no restart, no environment change.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = ["ensure_adjusted_pythonhashseed", "Offset", "Size"]

# What the original's signatures call an object's offset and a size in bytes.
Offset = int
Size = int


def ensure_adjusted_pythonhashseed(
    *run_args: Any,
    pythonhashseed: Optional[int] = None,
    add_command_line_parameter: bool = False,
    **kwargs: Any,
) -> None:
    """Accepted for the original's programs; nothing to adjust here: shared
    dict and set keys hash the same in every process, whatever PYTHONHASHSEED."""
    return None
