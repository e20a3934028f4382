"""Custom objects projected onto shared fields, enums, numpy arrays and torch
tensors, in one process (the cross-process cases are in test_live_processes.py)."""

import dataclasses
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from ipc_py_objects import (
    ForceGeneralObjectCopy,
    ForceGeneralObjectInplace,
    ForceStaticObjectCopy,
    ForceStaticObjectInplace,
    InvalidOffsetError,
    ObjectInUseError,
    SharedMemory,
    UnknownClassError,
    intenum_dict_to_list,
    list_to_intenum_dict,
)
from shared_types import Color, Company, Employee, Frozen, Metric, Mixed, Plain, Point, Slotted

def put(sm, value):
    mapped, offset = sm.put_message_2(value)
    taken = sm.take_message()
    return mapped, taken, offset


# ---- static objects (the default) ---------------------------------------------------------


def test_a_dataclass_is_shared_field_by_field(held):
    original = Employee("ann", 3, Company("acme", 10, ["a"]))
    mapped, taken, offset = put(held, original)
    # As in the reference package, a plain put maps the object in place.
    assert mapped is original and isinstance(original, Employee)
    assert isinstance(mapped, Employee) and isinstance(taken, Employee)
    assert type(mapped).__mro__[1] is Employee and type(taken).__mro__[1] is Employee
    assert mapped == taken and repr(taken) == "Employee(name='ann', years_of_employment=3, " \
        "company=Company(name='acme', employees=10, tags=['a']))"
    mapped.increase_years_of_employment()
    taken.name += " smith"
    assert taken.years_of_employment == 4 and mapped.name == "ann smith"
    assert taken.company.hire(5) == 15 and mapped.company.employees == 15
    mapped.company.tags.append("b")
    assert taken.company.tags == ["a", "b"]
    assert dataclasses.asdict(taken)["company"]["tags"] == ["a", "b"]
    # New attributes stay local to the object that got them.
    mapped.local_only = 1
    assert not hasattr(taken, "local_only")
    with pytest.raises(AttributeError, match="fixed set of fields"):
        del mapped.name
    held.destroy_obj(offset)
    with pytest.raises(InvalidOffsetError):
        taken.name


def test_a_field_stores_every_number_over_every_number(held):
    # A number over a number is written without the encoder: each kind and
    # each edge of an int's cheap forms (0, a digit's 2**30, int64's ends)
    # reads back equal and of its type, through the same view and another
    # one, whatever the field held before; past int64 the field takes a
    # block, and a number over it frees that again.
    mapped, taken, offset = put(held, Point(1.5, 2.5))
    values = [0, 1, -1, 2**30 - 1, 2**30, -(2**30), 2**31, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1,
              10**30, 257, -6, 0.0, -0.0, 3.25, float("inf"), None, True, False, "text", 7]
    for before in values:
        for value in values:
            mapped.x = before
            mapped.x = value
            for view in (mapped, taken):
                got = view.x
                assert type(got) is type(value) and (got == value or got is value), (before, value)
                if isinstance(value, float):
                    assert str(got) == str(value)  # -0.0 stays -0.0
            assert taken.y == 2.5
    held.destroy_obj(offset)
    with pytest.raises(InvalidOffsetError):
        mapped.x = 1


def test_slots_classes_with_and_without_dict(held):
    mapped, taken, offset = put(held, [Slotted(1, 2), Mixed(3, 4, [5])])
    s, m = taken
    assert s.total() == 3 and s.private() == "p"
    s.x = 10
    assert mapped[0].total() == 12
    assert m.total() == 7 and m.z == [5]
    m.z.append(6)
    assert mapped[1].z == [5, 6]
    with pytest.raises(AttributeError):
        s.new_attribute = 1  # a slots class takes no new attributes, shared or not
    held.destroy_obj(offset)


def test_slotted_and_frozen_dataclasses(held):
    point = Point(3.0, 4.0)
    mapped, taken, offset = put(held, [point, Frozen("f", 2)])
    p, f = taken
    assert p.norm2() == 25.0 and p == Point(3.0, 4.0)
    p.x = 0.0
    assert mapped[0].norm2() == 16.0
    assert f == Frozen("f", 2) and hash(f) == hash(Frozen("f", 2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.size = 3
    held.destroy_obj(offset)
    # The original was mapped in place, inside the list too: it went with it.
    with pytest.raises(InvalidOffsetError):
        point.norm2()
    point = Point(3.0, 4.0)
    mapped, taken, offset = put(held, point)
    assert mapped is point and taken.norm2() == 25.0
    taken.y = 0.0
    assert point.norm2() == 9.0
    held.destroy_obj(offset)


def test_a_plain_class_keeps_its_class_attributes_local(held):
    mapped, taken, offset = put(held, Plain(a=1, b="two"))
    assert taken.describe() == "class attribute: ['a', 'b']" or taken.a == 1
    assert taken.kind == "class attribute" and taken.b == "two"
    held.destroy_obj(offset)


def test_static_inplace_changes_the_original(held):
    original = Employee("bo", 1)
    mapped, offset = held.put_message_2(ForceStaticObjectInplace(original))
    assert mapped is original and isinstance(original, Employee)
    taken = held.take_message()
    original.increase_years_of_employment()
    assert taken.years_of_employment == 2
    slotted = Slotted(1, 2)
    mapped_slotted, offset2 = held.put_message_2(ForceStaticObjectInplace(slotted))
    assert mapped_slotted is slotted
    other = held.take_message()
    slotted.y = 5
    assert other.total() == 6 and slotted.total() == 6
    held.destroy_obj(offset)
    held.destroy_obj(offset2)


def test_one_generated_class_per_user_class(held):
    a, ta, oa = put(held, ForceStaticObjectCopy(Company("a", 1)))
    b, tb, ob = put(held, ForceStaticObjectCopy(Company("b", 2, ["x"])))
    assert type(a) is type(b) is type(ta) is type(tb)
    held.destroy_obj(oa)
    held.destroy_obj(ob)


def test_an_object_put_twice_maps_onto_its_first_block(held):
    company = Company("twice", 1)
    mapped, taken, offset = put(held, [company, company])
    assert type(company) is not Company and taken[0] == taken[1]  # mapped in place
    company.employees = 5
    assert taken[0].employees == 5 and taken[1].employees == 1
    held.destroy_obj(offset)


def test_an_object_stored_into_a_live_container_is_mapped_at_once(held):
    """A store into a live list, dict or field maps a custom object in place
    as a put does, when the store is done: not later, at some unrelated put."""
    box, offset = held.put_message_2([None])
    held.take_message()
    company = Company("stored", 1)
    box[0] = company
    assert type(company) is not Company and isinstance(company, Company)
    company.employees = 7
    assert box[0].employees == 7
    employee = Employee("cy", 2)
    box.append(employee)
    assert type(employee) is not Employee
    worker = Employee("di", 1)
    mapped_worker, worker_offset = held.put_message_2(worker)
    held.take_message()
    boss_company = Company("owned", 3)
    worker.company = boss_company  # a field of a mapped object
    assert type(boss_company) is not Company
    boss_company.hire(2)
    assert worker.company.employees == 5
    table, table_offset = held.put_message_2({})
    held.take_message()
    point = Point(1.0, 2.0)
    table["p"] = point
    assert type(point) is not Point and table["p"].norm2() == 5.0
    # A copy leaves the original alone; an unrelated put later does not map it.
    kept = Company("copied", 1)
    box.append(ForceStaticObjectCopy(kept))
    held.put_message_2("unrelated")
    held.destroy_obj(held.take_message_2()[1])
    assert type(kept) is Company
    for off in (offset, worker_offset, table_offset):
        held.destroy_obj(off)


def test_objects_read_again_and_blocks_reused(held):
    """The codec remembers how it made an object, by block and by class:
    a block reused by another object, or a class with other fields, must
    not be read as the one remembered."""
    mapped, taken, offset = put(held, ForceStaticObjectCopy(Employee("e", 1, Company("c", 2))))
    assert [taken.company.name for _ in range(3)] == ["c", "c", "c"]
    assert type(taken.company) is type(mapped.company)
    held.destroy_obj(offset)
    first = offset
    # Another class in the freed memory: its root block lands on the same
    # offset (the allocator reuses the freed range), with a new generation.
    offsets = []
    for _ in range(3):
        mapped, taken, offset = put(held, ForceStaticObjectCopy(Company("d", 3, ["t"])))
        offsets.append(offset)
        assert isinstance(taken, Company) and taken.name == "d" and taken.tags == ["t"]
        held.destroy_obj(offset)
    assert first in offsets
    a, ta, oa = put(held, ForceStaticObjectCopy(Plain(a=1)))
    b, tb, ob = put(held, ForceStaticObjectCopy(Plain(b=2)))
    assert ta.a == 1 and tb.b == 2 and not hasattr(ta, "b") and not hasattr(tb, "a")
    assert type(ta) is not type(tb)  # one generated class per set of fields
    held.destroy_obj(oa)
    held.destroy_obj(ob)


def test_static_copy_leaves_the_original(held):
    original = Company("c", 1)
    mapped, taken, offset = put(held, ForceStaticObjectCopy(original))
    assert mapped is not original and type(original) is Company
    mapped.employees = 2
    assert taken.employees == 2 and original.employees == 1
    held.destroy_obj(offset)


def test_general_objects_share_added_attributes(held):
    for wrapper in (ForceGeneralObjectCopy, ForceGeneralObjectInplace):
        original = Plain(a=1)
        mapped, taken, offset = put(held, wrapper(original))
        assert (mapped is original) == (wrapper is ForceGeneralObjectInplace)
        mapped.added = [1]
        taken.added.append(2)
        assert mapped.added == [1, 2]
        assert taken.describe() == "class attribute: []" or taken.kind == "class attribute"
        del taken.a
        with pytest.raises(AttributeError):
            mapped.a
        held.destroy_obj(offset)
    mapped, taken, offset = put(held, ForceGeneralObjectCopy(Slotted(1, 2)))
    taken.x = 5
    assert mapped.total() == 7
    held.destroy_obj(offset)


def test_general_inplace_needs_a_dict(held):
    with pytest.raises(TypeError, match="ForceGeneralObjectCopy"):
        held.put_message(ForceGeneralObjectInplace(Slotted(1, 2)))


def test_a_mapped_object_put_again_is_copied(held):
    mapped, taken, offset = put(held, Employee("c", 1))
    holder, _, offset2 = put(held, [mapped])
    holder[0].years_of_employment = 9
    assert holder[0].years_of_employment == 9  # a live copy: projected again, not pickled
    assert mapped.years_of_employment == 1
    assert pickle.loads(pickle.dumps(taken)) == Employee("c", 1)
    assert type(pickle.loads(pickle.dumps(taken))) is Employee
    held.destroy_obj(offset)
    held.destroy_obj(offset2)


def test_a_class_that_cannot_be_imported_is_named(held):
    script = f"""
import sys
sys.path.insert(0, {os.path.dirname(__file__)!r})
from ipc_py_objects import SharedMemory, wait_my_turn, UnknownClassError
sm = SharedMemory({held.name!r})
sm.init_consumer(10)
with wait_my_turn(sm, 10):
    try:
        sm.take_message()
    except UnknownClassError as exc:
        print(exc)
sm.close()
"""

    class Local:
        def __init__(self):
            self.v = 1

    _, offset = held.put_message_2(Local())
    held.release()
    try:
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    finally:
        held.wait_my_turn()
    # The message stays queued for a process that can read it, as this one can.
    assert held.take_message().v == 1
    held.destroy_obj(offset)
    assert "test_objects:test_a_class_that_cannot_be_imported_is_named.<locals>.Local" not in out.stdout
    assert "cannot rebuild a shared object of class 'test_objects." in out.stdout, out.stderr
    assert "Local'" in out.stdout


# ---- enums and IntEnum-indexed lists ----------------------------------------------------------


def test_enum_members_keep_their_class(held):
    mapped, taken, offset = put(held, [Metric.employees, Color.green, {Metric.income: Color.red}])
    assert taken[0] is Metric.employees and taken[1] is Color.green
    assert taken[2][0] is Color.red and taken[2][Metric.income] is Color.red
    held.destroy_obj(offset)


def test_intenum_dict_to_list_and_back(held):
    values = intenum_dict_to_list({Metric.websites: ["a.com"], Metric.avg_salary: 3000.0,
                                   Metric.employees: 10})
    assert values == [None, 10, 3000.0, ["a.com"]]
    mapped, taken, offset = put(held, values)
    taken[Metric.avg_salary] += 1.5
    assert mapped[Metric.avg_salary] == 3001.5
    assert list_to_intenum_dict(taken, Metric) == {
        Metric.income: None, Metric.employees: 10, Metric.avg_salary: 3001.5,
        Metric.websites: ["a.com"]}
    assert intenum_dict_to_list({}) == []
    held.destroy_obj(offset)


# ---- numpy and torch ----------------------------------------------------------------------------


@pytest.mark.parametrize("array", [
    np.arange(24, dtype=np.float32).reshape(2, 3, 4),
    np.array([1 + 2j, 3], dtype=np.complex128),
    np.array([True, False]),
    np.array(7, dtype=np.int16),
    np.zeros((0, 3), dtype=np.float64),
    np.array([b"ab", b"c"]),
    np.array(["é", "x"]),
    np.array([(1, [2.0, 3.0])], dtype=[("a", "<i4"), ("b", ">f8", (2,))]),
    np.arange(10, dtype=np.int64)[::3],
    np.asfortranarray(np.arange(6).reshape(2, 3)),
    np.array(["2020-01-01"], dtype="datetime64[D]"),
])
def test_numpy_arrays_round_trip_zero_copy(held, array):
    mapped, taken, offset = put(held, array)
    for got in (mapped, taken):
        assert type(got) is np.ndarray and got.dtype == array.dtype and got.shape == array.shape
        assert np.array_equal(got, array)
        assert got.ctypes.data % 64 == 0
    if array.size:
        # Both are views of the same shared bytes.
        taken.reshape(-1)[0] = array.reshape(-1)[-1]
        assert mapped.reshape(-1)[0] == array.reshape(-1)[-1]
    del mapped, taken, got
    held.destroy_obj(offset)


def test_an_array_in_use_cannot_be_destroyed(held):
    mapped, taken, offset = put(held, np.ones(1000))
    with pytest.raises(ObjectInUseError):
        held.destroy_obj(offset)
    del mapped, taken
    held.destroy_obj(offset)


def test_arrays_inside_containers_and_objects(held):
    mapped, taken, offset = put(held, {"a": np.arange(3), "c": Company("x", 1, [np.ones(2)])})
    taken["a"][1] = 100
    assert mapped["a"].tolist() == [0, 100, 2]
    assert taken["c"].tags[0].sum() == 2
    plain = pickle.loads(pickle.dumps(taken))
    assert plain["a"].tolist() == [0, 100, 2]
    held.destroy_obj(offset)


def test_object_arrays_are_refused(held):
    with pytest.raises(TypeError, match="dtype object"):
        held.put_message(np.array([object()]))


def test_an_array_block_claiming_object_dtype_is_not_read():
    """What a region says an array holds is checked before numpy reads its
    bytes: pointers from shared memory would crash the reader."""
    from ipc_py_objects import objects

    for descr in ("'|O'", "[('a', '<i8'), ('b', '|O')]"):
        with pytest.raises(TypeError, match="holds Python objects"):
            objects.rebuild_ndarray(descr, (1,), bytes(16), False, False)


def test_torch_tensors_over_shared_arrays(held):
    torch = pytest.importorskip("torch")
    tensor = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    mapped, taken, offset = put(held, tensor)
    assert isinstance(taken, torch.Tensor) and torch.equal(taken, tensor)
    taken[0, 0] = 42
    assert mapped[0, 0].item() == 42
    buffer = held.get_obj_buffer(offset)
    assert len(buffer) == 6 * 8
    buffer.release()
    del mapped, taken
    held.destroy_obj(offset)


def test_the_package_works_without_numpy_and_torch():
    script = """
import sys
sys.modules['numpy'] = None
sys.modules['torch'] = None
import os
from ipc_py_objects import SharedMemory, wait_my_turn
with SharedMemory('ipo-test-nonumpy-%d' % os.getpid(), create=True, size=1 << 20) as sm:
    with wait_my_turn(sm):
        assert sm.put_message([1, {'a': 2}]) == [1, {'a': 2}]
print('ok')
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr
