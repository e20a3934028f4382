/* tests/fuzz/fuzz_decode.c — libFuzzer target: the Python extension's decoder reading a patched region. */
/* The extension's C code (python/src/) is compiled into this program with
 * the fuzzer's coverage and the sanitizers, and registered as the built-in
 * module ipc_py_objects._ipo before the interpreter starts; the package's
 * Python files come from the source tree. tests/fuzz/decode_harness.py
 * makes a region of every kind of object once; each input patches a copy
 * of it (records of offset u16 little-endian times 4, length u8 + 1 up to
 * 16, bytes), and the harness reads every message, walks its views, checks
 * the region, puts and takes. Python exceptions are answers; a crash or a
 * sanitizer report is a finding. IPO_SOURCE_DIR is the source tree. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

PyMODINIT_FUNC PyInit__ipo(void);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static PyObject *run;

static __attribute__((noreturn)) void die(const char *what)
{
    if (PyErr_Occurred())
        PyErr_Print();
    fprintf(stderr, "fuzz_decode: cannot %s\n", what);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (PyImport_AppendInittab("ipc_py_objects._ipo", PyInit__ipo) < 0)
        die("register the extension");
    /* Python's allocator off, so that the sanitizer sees every block. */
    setenv("PYTHONMALLOC", "malloc", 1);
    Py_Initialize();
    PyObject *path = PySys_GetObject("path"); /* borrowed */
    PyObject *python_dir = PyUnicode_FromString(IPO_SOURCE_DIR "/python");
    PyObject *fuzz_dir = PyUnicode_FromString(IPO_SOURCE_DIR "/tests/fuzz");
    if (!path || !python_dir || !fuzz_dir || PyList_Insert(path, 0, python_dir) < 0 ||
        PyList_Insert(path, 0, fuzz_dir) < 0)
        die("set sys.path");
    Py_DECREF(python_dir);
    Py_DECREF(fuzz_dir);
    PyObject *harness = PyImport_ImportModule("decode_harness");
    if (!harness)
        die("import decode_harness");
    PyObject *done = PyObject_CallMethod(harness, "setup", NULL);
    if (!done)
        die("set the region up");
    Py_DECREF(done);
    run = PyObject_GetAttrString(harness, "run");
    Py_DECREF(harness);
    if (!run)
        die("find run()");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    PyObject *input = PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)size);
    if (!input)
        die("make the input");
    PyObject *result = PyObject_CallOneArg(run, input);
    Py_DECREF(input);
    /* The harness answers every exception itself: one that escapes (a
     * SystemError from C code that returned NULL without one) is a bug. */
    if (!result)
        die("run an input: an exception escaped the harness");
    Py_DECREF(result);
    return 0;
}
