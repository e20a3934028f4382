"""ipc_py_objects: share live Python objects between processes at memory speed.

``from ipc_py_objects import *`` gives the latest API, today the same as
``from ipc_py_objects.versions.v_1 import *``.
"""

from .versions.v_1 import *  # noqa: F401,F403
from .versions.v_1 import __all__ as __all__

__version__ = "0.1.0"
