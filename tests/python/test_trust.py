"""No code runs from region bytes: a class a region names is looked up, never
called on its say-so; an enum member only through the enum machinery of a
class that is an Enum; objects only as classes the reader knows, and
imported by name only from regions no other user can write. Tested with a
region that another user (``nobody``) rewrites with plain open and mmap,
and with hand-damaged names."""

import enum
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

import trust_types
from ipc_py_objects import (
    SharedMemory,
    UnknownClassError,
    UntrustedRegionError,
    RegionCorruptedError,
    register_class,
    wait_my_turn,
)

MiB = 1024 * 1024

# Run as another user with the system's Python: open /dev/shm/<name>, find
# each str block holding an old text (its 16-byte header before it: type 8
# at byte 0, the length at byte 8) and write the new text and length.
REWRITE = textwrap.dedent("""
    import mmap, os, struct, sys
    fd = os.open(sys.argv[1], os.O_RDWR)
    m = mmap.mmap(fd, os.fstat(fd).st_size)
    pairs = sys.argv[2:]
    for old, new in zip(pairs[::2], pairs[1::2]):
        old, new = old.encode(), new.encode()
        at = m.find(old)
        assert at >= 16, old
        head = at - 16
        assert m[head] == 8 and struct.unpack_from("<Q", m, head + 8)[0] == len(old), old
        assert m.find(old, at + 1) == -1, old
        m[at:at + len(new)] = new
        struct.pack_into("<Q", m, head + 8, len(new))
    m.flush()
    print("rewritten", len(pairs) // 2)
""")


NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def nobody_python():
    """A Python that user nobody can run (the system's; this one may live
    in root's home), or a skip when there is none or this is not root."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to write a region as another user")
    for python in ("/usr/bin/python3", os.path.realpath(sys.executable)):
        probe = subprocess.run([*NOBODY, python, "-c", "pass"], capture_output=True, timeout=60)
        if probe.returncode == 0:
            return python
    pytest.skip("no Python that user nobody may run")


def as_nobody(*args):
    """Runs the rewrite as user nobody, with plain open and mmap."""
    done = subprocess.run([*NOBODY, nobody_python(), "-c", REWRITE, *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def as_me(*args):
    """The same rewrite by this user (a region only this user can write,
    damaged by a bug or a program of this user's)."""
    done = subprocess.run([sys.executable, "-c", REWRITE, *args], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(autouse=True)
def known_classes_restored():
    """Classes become known to the process (put, read, registered): each
    test starts from the same set and leaves it as it was."""
    from ipc_py_objects import objects

    saved = dict(objects._known_classes)
    yield
    objects._known_classes.clear()
    objects._known_classes.update(saved)


@pytest.fixture
def marker(tmp_path):
    """Where the hostile payloads would leave a file if anything ran them."""
    path = tmp_path / "ran"
    yield path
    assert not path.exists(), "a payload from the region ran"


def shell(marker):
    return f"touch {marker}"


@pytest.fixture
def open_to_all(region_name):
    """A region of root's with mode 0666 (any user can write it), its
    creator's handle (trust decided by the file: not trusted) and a consumer
    that says trust=True."""
    shared = SharedMemory(region_name, create=True, size=4 * MiB, mode=0o666)
    trusting = SharedMemory(region_name, mode=0o666, trust=True)
    try:
        trusting.init_consumer(10)
        yield shared, trusting
    finally:
        trusting.close()
        shared.close()


def read_both(shared, trusting):
    """Reads the oldest message through the untrusting and the trusting
    handle, then discards it: the two errors."""
    with wait_my_turn(shared):
        with pytest.raises(UntrustedRegionError) as untrusted:
            shared.read_message()
    with wait_my_turn(trusting):
        try:
            trusting.read_message()
        except Exception as exc:
            trusted = exc
        else:
            trusted = None
        trusting.discard_message()
    return untrusted.value, trusted


def test_another_user_renames_an_enum_to_popen(open_to_all, marker):
    shared, trusting = open_to_all
    cls = trust_types.CommandLineForTheTrustTests
    with wait_my_turn(shared):
        shared.put_message(cls.run)
    path = f"/dev/shm/{shared.name}"
    as_nobody(path, f"{cls.__module__}:{cls.__qualname__}", "subprocess:Popen", "c" * 200, shell(marker))
    untrusted, trusted = read_both(shared, trusting)
    assert "import class 'subprocess.Popen'" in str(untrusted)
    # Trusted by its reader's say-so, the class is imported but not called.
    assert isinstance(trusted, UnknownClassError)
    assert "'subprocess.Popen', which is not an enum" in str(trusted)


def test_another_user_renames_an_enum_to_os_system(open_to_all, marker):
    shared, trusting = open_to_all
    cls = trust_types.ShellLineForTheTrustTests
    with wait_my_turn(shared):
        shared.put_message(cls.run)
    as_nobody(f"/dev/shm/{shared.name}", f"{cls.__module__}:{cls.__qualname__}", "os:system",
              "s" * 200, shell(marker))
    untrusted, trusted = read_both(shared, trusting)
    assert "import class 'os.system'" in str(untrusted)
    assert isinstance(trusted, UnknownClassError) and "not a class" in str(trusted)


def test_another_user_renames_an_object_class(open_to_all, marker):
    shared, trusting = open_to_all
    cls = trust_types.ScheduledJobForTheTrustTests
    key = f"{cls.__module__}:{cls.__qualname__}"
    for name, fill in (("os:system", "j"), ("subprocess:Popen", "k")):
        with wait_my_turn(shared):
            shared.put_message(cls(("sh", "-c", fill * 200), "o" * 100))
        as_nobody(f"/dev/shm/{shared.name}", key, name, fill * 200, shell(marker))
        untrusted, trusted = read_both(shared, trusting)
        assert f"import class '{name.replace(':', '.')}'" in str(untrusted)
        if name == "os:system":
            assert isinstance(trusted, UnknownClassError) and "not a class" in str(trusted)
        else:
            # Trusted on its reader's say-so, Popen is an importable class
            # written in Python: an object of it may be made (never through
            # __init__), and nothing runs.
            assert trusted is None or isinstance(trusted, UnknownClassError)


def test_another_user_renames_a_field_to_a_special_method(open_to_all, marker):
    shared, trusting = open_to_all
    job = trust_types.ScheduledJobForTheTrustTests(("sh", "-c", "q" * 200), "r" * 100)
    with wait_my_turn(shared):
        shared.put_message(job)
    # "command" and "__del__" have the same length; the class stays one
    # this process knows (it put one), so only the name can stop it.
    as_nobody(f"/dev/shm/{shared.name}", "command", "__del__", "q" * 200, shell(marker))
    with wait_my_turn(shared):
        with pytest.raises(RegionCorruptedError, match="'__del__'"):
            shared.read_message()
    with wait_my_turn(trusting):
        with pytest.raises(RegionCorruptedError, match="'__del__'"):
            trusting.take_message()


# ---- the same rules in a region only this user can write ----------------------------------


@pytest.fixture
def mine(region_name):
    with SharedMemory(region_name, create=True, size=4 * MiB) as sm:  # 0600: trusted
        yield sm


def test_a_trusted_region_still_calls_no_class_it_names(mine, marker):
    cls = trust_types.CommandLineForTheTrustTests
    with wait_my_turn(mine):
        mine.put_message(cls.run)
    as_me(f"/dev/shm/{mine.name}", f"{cls.__module__}:{cls.__qualname__}", "subprocess:Popen",
          "c" * 200, shell(marker))
    with wait_my_turn(mine):
        with pytest.raises(UnknownClassError, match="'subprocess.Popen', which is not an enum"):
            mine.take_message()
        mine.discard_message()
    # Imported and refused, Popen did not become a class regions may name.
    from ipc_py_objects import objects

    assert "subprocess:Popen" not in objects._known_classes


def test_a_field_named_as_a_special_method_is_refused(mine, marker):
    job = trust_types.ScheduledJobForTheTrustTests(("sh", "-c", "q" * 200), "r" * 100)
    with wait_my_turn(mine):
        mine.put_message(job)
    # "command" and "__del__" have the same length; the class stays one
    # this process knows (it put one), so only the name can stop it: made
    # a descriptor of the generated class, __del__ would be called.
    as_me(f"/dev/shm/{mine.name}", "command", "__del__", "q" * 200, shell(marker))
    with wait_my_turn(mine):
        for read in (mine.read_message, mine.take_message):
            with pytest.raises(RegionCorruptedError, match="'__del__'"):
                read()
        mine.discard_message()
        mine.check()


@pytest.mark.parametrize("name", ["no-colon-here", "a:b:c", ":QualnameOnly"])
def test_a_class_name_that_is_not_module_colon_qualname_is_refused(mine, name):
    cls = trust_types.ShellLineForTheTrustTests
    with wait_my_turn(mine):
        mine.put_message(cls.run)
    as_me(f"/dev/shm/{mine.name}", f"{cls.__module__}:{cls.__qualname__}", name)
    with wait_my_turn(mine):
        with pytest.raises(RegionCorruptedError, match="not 'module:qualname'"):
            mine.take_message()
        mine.discard_message()


def test_an_attribute_of_python_s_own_form_is_not_put(mine):
    job = trust_types.ScheduledJobForTheTrustTests(("a",), "b")
    job.__dict__["__call_me__"] = 1
    with wait_my_turn(mine):
        with pytest.raises(TypeError, match="'__call_me__'"):
            mine.put_message(job)
        assert not mine.has_messages()
        mine.check()
    assert job.__dict__["__call_me__"] == 1  # left as it was


def test_an_enum_member_is_found_by_the_enum_machinery_not_a_metaclass_call(mine):
    calls = []

    class Meta(enum.EnumMeta):
        def __call__(cls, *args, **kwargs):
            calls.append(args)
            return super().__call__(*args, **kwargs)

    class Tone(enum.Enum, metaclass=Meta):
        low = 1
        high = 2

    with wait_my_turn(mine):
        mine.put_message(Tone.high)
        assert mine.take_message() is Tone.high
    assert calls == []


# ---- register_class --------------------------------------------------------------------------


def test_register_class_lets_a_region_others_write_name_a_class(spawn, region_name):
    import codec_workers
    from conftest import join_all
    import foreign_types

    shared = SharedMemory(region_name, create=True, size=4 * MiB, mode=0o660)
    try:
        results = spawn.Queue()
        for registered in (False, True):
            child = spawn.Process(target=codec_workers.put_foreign, args=(region_name, 0o660, results))
            child.start()
            assert results.get(timeout=60) == "done"
            join_all([child], 60)
            with wait_my_turn(shared):
                if not registered:
                    # Its module imported here is not enough: the region
                    # chose the name.
                    with pytest.raises(UntrustedRegionError, match="register_class"):
                        shared.take_message()
                    shared.discard_message()
                    with pytest.raises(UntrustedRegionError):
                        shared.take_message()
                    shared.discard_message()
                    assert shared.take_message() == "after"
                    assert register_class(foreign_types.Gadget) is foreign_types.Gadget
                    register_class(foreign_types.Shade)
                else:
                    gadget = shared.take_message()
                    assert isinstance(gadget, foreign_types.Gadget) and gadget.weight == 1.5
                    assert shared.take_message() is foreign_types.Shade.dark
                    assert shared.take_message() == "after"
    finally:
        shared.close()


def test_register_class_refuses_what_a_region_cannot_hold():
    import threading

    with pytest.raises(TypeError, match="takes a class"):
        register_class(trust_types.ShellLineForTheTrustTests.run)
    with pytest.raises(TypeError, match="only classes written in Python"):
        register_class(type(threading.Lock()))

    @register_class
    class Once:
        pass

    assert register_class(Once) is Once  # again: the same class, no error
    first = Once

    class Once:  # noqa: F811  (another class of the same name)
        pass

    with pytest.raises(ValueError, match="known by the name"):
        register_class(Once)
    assert register_class(first) is first
