#!/bin/sh
# tests/install/wheel.sh — the Python package installed as a library user installs it.
#
#   tests/install/wheel.sh WORK_DIR PYTHON DEV_VENV
#
# In bare venvs of PYTHON (no package in them but pip), with the build
# requirements that pip fetches itself (scikit-build-core; CMake and ninja
# when the machine has none), through pip's cache:
#   - `pip install .` builds and installs the package: tests/install/smoke.py passes;
#   - `pip wheel .` gives a wheel that installs in another bare venv
#     (its dependencies, if any, from the index): smoke.py passes there too;
#   - with no C compiler on PATH, the build stops with one clear sentence.
# WORK_DIR is emptied, but for its CMake build folder, reused between runs
# (the second build of a run is incremental). DEV_VENV (make's .venv) lends
# its scikit-build-core, CMake and ninja to the no-compiler build only.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
abs() { case $1 in /*) echo "$1" ;; */*) echo "$PWD/$1" ;; *) [ -e "$1" ] && echo "$PWD/$1" || command -v "$1" ;; esac; }
work=$(abs "$1") python=$(abs "$2") devvenv=$(abs "$3")
fail() { echo "wheel test: $*" >&2; exit 1; }
pip_q="-q --disable-pip-version-check"

rm -rf "$work/install" "$work/wheel" "$work/dist" "$work/nocc"
mkdir -p "$work/dist"
# Run from outside the tree, so that nothing is imported from the sources.
cd "$work"

"$python" -m venv install
install/bin/python -m pip install $pip_q -Cbuild-dir="$work/cmake" "$src" > install.log 2>&1 \
    || { cat install.log; fail "pip install . failed in a bare venv"; }
install/bin/python "$src/tests/install/smoke.py"

install/bin/python -m pip wheel $pip_q --no-deps -w dist -Cbuild-dir="$work/cmake" "$src" > wheel.log 2>&1 \
    || { cat wheel.log; fail "pip wheel . failed"; }
set -- dist/ipc_py_objects-*.whl
[ $# -eq 1 ] && [ -f "$1" ] || fail "pip wheel . made no single wheel in dist/: $*"
if "$python" -m zipfile -l "$1" | grep -E '\.(h|a|pc|cmake)$'; then fail "the wheel carries C library files"; fi
"$python" -m venv wheel
wheel/bin/python -m pip install $pip_q "$1" > wheel-install.log 2>&1 \
    || { cat wheel-install.log; fail "the wheel does not install in a bare venv"; }
wheel/bin/python "$src/tests/install/smoke.py"

# No C compiler: PATH holds only Python, CMake and ninja (the build backend
# sets CC to Python's own, gcc, which is then not found).
mkdir -p nocc/bin
ln -s "$devvenv/bin/python" "$devvenv/bin/cmake" "$devvenv/bin/ninja" nocc/bin/
if env -i HOME="$HOME" PATH="$work/nocc/bin" nocc/bin/python -m pip wheel $pip_q --no-deps --no-build-isolation \
        -w nocc/dist -Cbuild-dir="$work/nocc/cmake" "$src" > nocc.log 2>&1; then
    fail "built without a C compiler on PATH"
fi
tr -s ' \n' '  ' < nocc.log | grep -q "ipc_py_objects needs a C compiler (gcc or clang) and finds none" \
    || { cat nocc.log; fail "no clear sentence when there is no C compiler"; }
echo "wheel test: without a C compiler, pip says: ipc_py_objects needs a C compiler (gcc or clang) and finds none"
