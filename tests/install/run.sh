#!/bin/sh
# tests/install/run.sh — installs the C libraries under a temporary prefix and
# builds and runs tests/install/consumer.c against that copy, as a user would.
#
#   tests/install/run.sh BUILD_DIR WORK_DIR PYTHON CMAKE
#
# BUILD_DIR is a configured and built tree of this project (make build-c's);
# WORK_DIR is emptied and receives the prefix and the consumer's builds;
# PYTHON has ipc_py_objects installed (the Python peer); CMAKE is a CMake of
# 3.20 or later (with ninja beside it or on PATH). Checks that:
#   - exactly the public headers are installed, and each compiles alone;
#   - nothing of the tests is installed (crash-point libraries, programs);
#   - pkg-config and find_package(IpcPyObjects) give the version of pyproject.toml;
#   - the consumer built through pkg-config (shared libraries) and through
#     find_package (IpcPyObjects::uv shared, IpcPyObjects::uv_static) answers
#     a Python peer.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
# Relative paths are the caller's: made absolute before anything changes directory.
abs() { case $1 in /*) echo "$1" ;; */*) echo "$PWD/$1" ;; *) [ -e "$1" ] && echo "$PWD/$1" || command -v "$1" ;; esac; }
build=$(abs "$1") work=$(abs "$2") python=$(abs "$3") cmake=$(abs "$4")
ninja=$(dirname "$cmake")/ninja
[ -x "$ninja" ] || ninja=$(command -v ninja)
fail() { echo "install test: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
"$cmake" --install "$build" --prefix "$prefix" > "$work/install.log"

# What is installed: the headers of core/include and loop/include, nothing else.
want=$(cd "$src" && ls core/include/ipo loop/include/ipo | grep '\.h$' | sort | tr '\n' ' ')
have=$(ls "$prefix/include/ipo" | sort | tr '\n' ' ')
[ "$want" = "$have" ] || fail "installed headers [$have], expected the public ones [$want]"
extra=$(find "$prefix" \( -name '*crash*' -o -name 'test_*' -o -name '*spin_wait*' -o -name '*internal.h' \
            -o -name sleepers.h -o -name '*echo*' -o -name '*fuzz*' \) -print)
[ -z "$extra" ] || fail "test-only files installed: $extra"

pcdir=$(dirname "$(find "$prefix" -name ipc-py-objects.pc)")
libdir=$(dirname "$pcdir")
for lib in ipo_core ipo_loop ipo_uv; do
    [ -f "$libdir/lib$lib.a" ] && [ -f "$libdir/lib$lib.so" ] || fail "lib$lib.a or lib$lib.so not in $libdir"
done
export PKG_CONFIG_PATH="$pcdir"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$src/pyproject.toml")
for pc in ipc-py-objects-core ipc-py-objects ipc-py-objects-uv; do
    got=$(pkg-config --modversion $pc) || fail "pkg-config does not find $pc in $pcdir"
    [ "$got" = "$version" ] || fail "$pc is version $got, pyproject.toml says $version"
done

# Each public header compiles on its own, warnings as errors: a user may
# include any one first.
for h in $have; do
    printf '#include <ipo/%s>\n' "$h" > "$work/header.c"
    cc -std=gnu11 -Wall -Wextra -Werror -fsyntax-only $(pkg-config --cflags ipc-py-objects-uv) "$work/header.c" \
        || fail "<ipo/$h> does not compile alone"
done
echo "install test: $(echo $have | wc -w) public headers, static and shared libipo_core, libipo_loop, libipo_uv, 3 pkg-config files, version $version"

# Through pkg-config, as a Makefile would: shared libraries, found at run
# time through the rpath a program outside the system's paths sets.
cc -std=gnu11 -Wall -Wextra -Werror -o "$work/consumer_pkgconfig" "$src/tests/install/consumer.c" \
    $(pkg-config --cflags --libs ipc-py-objects-uv) -Wl,-rpath,"$libdir"

# Through find_package, as a CMake project would.
"$cmake" -S "$src/tests/install" -B "$work/cmake" -G Ninja -DCMAKE_MAKE_PROGRAM="$ninja" \
    -DCMAKE_PREFIX_PATH="$prefix" > "$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail "find_package build did not configure"; }
"$cmake" --build "$work/cmake" > "$work/build.log" 2>&1 || { cat "$work/build.log"; fail "find_package build failed"; }
ldd "$work/cmake/consumer_shared" | grep -q "libipo_uv.so" || fail "consumer_shared does not link libipo_uv.so"
! ldd "$work/cmake/consumer_static" | grep -q "libipo_" || fail "consumer_static links a shared libipo_*"

"$python" "$src/tests/install/peer.py" "$work/consumer_pkgconfig" "pkg-config"
"$python" "$src/tests/install/peer.py" "$work/cmake/consumer_shared" "find_package IpcPyObjects::uv"
"$python" "$src/tests/install/peer.py" "$work/cmake/consumer_static" "find_package IpcPyObjects::uv_static"
