"""The benchmark suite (`ipc-py-objects bench`, `python -m ipc_py_objects.bench`):
ipc_py_objects against every peer that is installed, in one sitting. The
peers are not dependencies of the package: `pip install 'ipc_py_objects[bench]'`."""


def run(argv=None):
    """Runs the suite with command-line arguments `argv` (sys.argv[1:] when
    None); returns the exit status."""
    from .suite import run as run_suite

    return run_suite(argv)
