"""``python -m ipc_py_objects``: the ``ipc-py-objects`` command."""

import sys

from .cli import main

sys.exit(main())
