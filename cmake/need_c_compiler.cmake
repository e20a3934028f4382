# cmake/need_c_compiler.cmake — stops with one clear sentence when no C compiler is there.
#
# Included before project(): project() would look for a compiler itself and,
# finding none, print a page of CMake's own diagnostics, which pip then wraps
# in its own. Someone typing `pip install .` wants to know what to install.
# The search is the one project() makes first: $CC when set (pip's build
# backend, scikit-build-core, sets it from Python's own build configuration),
# else cc, gcc or clang on PATH. A compiler named by -DCMAKE_C_COMPILER is
# left to CMake.
if(NOT CMAKE_C_COMPILER)
  if(NOT "$ENV{CC}" STREQUAL "")
    # CC may carry flags ("gcc -m64"): the program is its first word.
    separate_arguments(_ipo_cc UNIX_COMMAND "$ENV{CC}")
    list(GET _ipo_cc 0 _ipo_cc)
    set(_ipo_cc_names "${_ipo_cc}")
    set(_ipo_cc_said "${_ipo_cc}, as $CC says")
  else()
    set(_ipo_cc_names cc gcc clang)
    set(_ipo_cc_said "cc, gcc, clang")
  endif()
  find_program(_IPO_C_COMPILER NAMES ${_ipo_cc_names})
  set(_ipo_cc_found "${_IPO_C_COMPILER}")
  unset(_IPO_C_COMPILER CACHE)  # look again next time (NO_CACHE needs CMake 3.21)
  if(NOT _ipo_cc_found)
    message(FATAL_ERROR
      "ipc_py_objects needs a C compiler (gcc or clang) and finds none "
      "(it looked on PATH for ${_ipo_cc_said}). Install one: apt-get install gcc "
      "(Debian, Ubuntu), dnf install gcc (Fedora), apk add build-base (Alpine).")
  endif()
endif()
