"""What the figures were measured on: CPU model, cores, kernel, Python, and
the versions of the packages measured."""

import importlib.metadata
import os
import platform
import subprocess

PACKAGES = ("ipc_py_objects", "uvloop", "faster-fifo", "iceoryx2", "pyzmq", "UltraDict", "shared-memory-dict")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def reference_version(python):
    try:
        out = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('InterProcessPyObjects'))"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def describe(reference=None):
    versions = {name: _version(name) for name in PACKAGES}
    if reference:
        versions["InterProcessPyObjects"] = reference_version(reference)
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": {k: v for k, v in versions.items() if v},
    }


def one_line(m):
    return f"{m['cpu']}, {m['cores']} cores, {m['kernel']}, {m['python']}"
