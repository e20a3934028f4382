"""The seed-compatible API, version 1: ``from ipc_py_objects.versions.v_1 import *``."""

from ...aio import (
    ASMCM,
    ASMM,
    ASharedMemoryContextManager,
    ASharedMemoryManager,
    ValueHolder,
)
from ...containers import SharedDict, SharedList, SharedMapping, SharedSet
from ...containers import __all__ as _containers_all
from ...errors import *  # noqa: F401,F403
from ...errors import __all__ as _errors_all
from ...objects import __all__ as _objects_all
from ...objects import (
    FastLimitedDict,
    FastLimitedSet,
    ForceGeneralObjectCopy,
    ForceGeneralObjectInplace,
    ForceStaticObjectCopy,
    ForceStaticObjectInplace,
    intenum_dict_to_list,
    list_to_intenum_dict,
)
from ...shared_memory import (
    SharedMemory,
    get_in_line,
    wait_my_turn,
    wait_my_turn_when_has_messages,
)

__all__ = [
    "ASharedMemoryManager",
    "ASharedMemoryContextManager",
    "ASMM",
    "ASMCM",
    "ValueHolder",
    "SharedMemory",
    "get_in_line",
    "wait_my_turn",
    "wait_my_turn_when_has_messages",
    *_objects_all,
    *_containers_all,
    *_errors_all,
]
