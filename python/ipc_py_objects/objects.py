"""How the types that are not plain built-ins are stored and rebuilt.

The C codec stores None, bool, numbers, str, bytes, the datetime types, tuple,
list, dict, set and frozenset by itself. For anything else it asks
``describe(obj)`` here, which answers with the parts to store (see
``encode_described`` in python/src/encode.c), or raises ``TypeError``. Reading
back, the codec calls ``rebuild_object``, ``rebuild_enum``, ``rebuild_ndarray``
and ``rebuild_pickled``.

Custom class instances are projected onto shared fields. A *static* object
(the default) stores its attributes as a fixed run of values; each process
reads it through one generated subclass of the user's class per set of
field names, whose attributes are C data descriptors over those values. A
*general* object (``ForceGeneralObjectCopy``/``Inplace``) stores its
attributes in a shared dict, so attributes added later are shared too.

What the format cannot describe but pickles (a namedtuple, an exception, a
``Fraction``, an instance of a class that says how to rebuild itself with
``__reduce__``) is stored pickled and read back as a copy.

Trust: a region names classes (objects, enum members) and holds pickles, and
a pickle runs whatever code it names. So the codec passes ``trusted`` to the
rebuild hooks: whether no other user can write the region (or its handle was
opened with ``trust=True``). An untrusted region is never unpickled, and the
only classes it can name are those this process knows already (it put or
read an object of that class before, or registered it with
``register_class``): looking one up by name would import the module the
region chose. Whatever the trust, a class is only looked up, never called
on the region's say-so: an object is made without ``__init__`` and only for
a class written in Python, an enum member only by the enum machinery's own
lookup, and field names of Python's own form (``__del__``) are refused.
"""

from __future__ import annotations

import ast
import copyreg
import dataclasses
import enum
import functools
import importlib
import pickle
import sys
import typing
from collections.abc import Iterator, Mapping, MutableMapping, MutableSequence, MutableSet, Sequence, Set
from typing import Any, Dict, List, Optional, Type

from . import _ipo
from .containers import SharedDict, SharedList, SharedMapping, SharedSet
from .errors import RegionCorruptedError, UnknownClassError, UntrustedRegionError

__all__ = [
    "FastLimitedSet",
    "FastLimitedDict",
    "ForceStaticObjectCopy",
    "ForceStaticObjectInplace",
    "ForceGeneralObjectCopy",
    "ForceGeneralObjectInplace",
    "intenum_dict_to_list",
    "intenum_list_to_dict",
    "list_to_intenum_dict",
    "register_class",
]

# Where a mapped instance keeps its reference to the shared block: a slot of
# the generated class, or its __dict__ when the class changed in place.
_REF = "_ipo_ref"


# ---- wrappers ------------------------------------------------------------------------


class _Wrapper:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    @property
    def obj(self) -> Any:
        """The wrapped object, by the original package's name for it."""
        return self.value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class FastLimitedSet(_Wrapper):
    """Stores a set compactly; it is read back as a plain ``set`` copy, so
    later changes are not shared (and its hash is the reader's own)."""

    __slots__ = ()


class FastLimitedDict(_Wrapper):
    """Stores a dict compactly; it is read back as a plain ``dict`` copy, so
    later changes are not shared."""

    __slots__ = ()


class ForceStaticObjectCopy(_Wrapper):
    """Shares the object's current attributes; the mapped object is a new one
    and the original is left as it was."""

    __slots__ = ()


class ForceStaticObjectInplace(_Wrapper):
    """Shares the object's current attributes; the object itself becomes the
    mapped object (its class changes). A plain put does this too, when the
    object allows it (else it copies)."""

    __slots__ = ()


class ForceGeneralObjectCopy(_Wrapper):
    """Shares the object's attributes in a shared dict, attributes added later
    included; the mapped object is a new one."""

    __slots__ = ()


class ForceGeneralObjectInplace(_Wrapper):
    """As ForceGeneralObjectCopy, but the object itself becomes the mapped one."""

    __slots__ = ()


_OBJECT_WRAPPERS = {
    ForceStaticObjectCopy: (False, False),
    ForceStaticObjectInplace: (False, True),
    ForceGeneralObjectCopy: (True, False),
    ForceGeneralObjectInplace: (True, True),
}


class ForceMapping(Mapping):
    """A dict stored as a read-only ``Mapping``: built like a dict
    (``ForceMapping(d)``, ``ForceMapping(a=1)``), read back as a read-only
    live view. In the original package a dict subclass; here a Mapping over
    a dict, since the codec refuses subclasses of the value types."""

    __slots__ = ("_data",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._data: Dict[Any, Any] = dict(*args, **kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"ForceMapping({self._data!r})"


# The original package's other names for the wrappers.
FStaticObjectCopy = forcestaticobjectcopy = fstaticobjectcopy = ForceStaticObjectCopy
FStaticObjectInplace = forcestaticobjectinplace = fstaticobjectinplace = ForceStaticObjectInplace
FGeneralObjectCopy = forcegeneralobjectcopy = fgeneralobjectcopy = ForceGeneralObjectCopy
FGeneralObjectInplace = forcegeneralobjectinplace = fgeneralobjectinplace = ForceGeneralObjectInplace
FMapping = forcemapping = fmapping = ForceMapping


# ---- IntEnum-indexed lists -------------------------------------------------------------


def _enum_size(enum_class: Type[enum.IntEnum]) -> int:
    """One place per member value: the largest value plus one."""
    return max((int(member) for member in enum_class), default=-1) + 1


def intenum_dict_to_list(
    mapping: Mapping[Any, Any], int_enum_class: Optional[Type[enum.IntEnum]] = None, *, default: Any = None
) -> List[Any]:
    """``{Enum.b: 2, Enum.a: 1}`` -> ``[1, 2, default...]``: a list indexed by
    the members of an IntEnum, one place per member (as long as the largest
    member plus one; for the usual 0..n-1 members, ``len(int_enum_class)``,
    as in the original package). The enum is ``int_enum_class``, or else the
    class of the mapping's first key. Members left out get ``default``."""
    if int_enum_class is not None and not (
        isinstance(int_enum_class, enum.EnumMeta) and issubclass(int_enum_class, int)
    ):
        raise TypeError(f"int_enum_class must be an IntEnum class, not {int_enum_class!r}")
    if int_enum_class is None:
        if not mapping:
            return []
        first = type(next(iter(mapping)))
        int_enum_class = first if isinstance(first, enum.EnumMeta) else None
    size = _enum_size(int_enum_class) if int_enum_class is not None else 0
    size = max([size, *(int(key) + 1 for key in mapping)])
    values = [default] * size
    for key, value in mapping.items():
        index = int(key)
        if index < 0:
            raise ValueError(f"an IntEnum-indexed list has no place for {key!r}: it is negative")
        values[index] = value
    return values


def intenum_list_to_dict(
    data_list: Sequence[Any], int_enum_class: Optional[Type[enum.IntEnum]] = None
) -> Dict[Any, Any]:
    """The inverse of intenum_dict_to_list, as the original package has it:
    ``{index: item}``, or ``{int_enum_class(index): item}`` with the enum.
    A place that no member has (an enum with gaps) is left out while it
    holds None, and a ValueError otherwise."""
    if int_enum_class is None:
        return dict(enumerate(data_list))
    members = {int(member): member for member in int_enum_class}
    result: Dict[Any, Any] = {}
    for index, item in enumerate(data_list):
        member = members.get(index)
        if member is not None:
            result[member] = item
        elif item is not None:
            raise ValueError(f"{int_enum_class.__name__} has no member {index}, and place {index} "
                             f"holds {item!r}")
    return result


def list_to_intenum_dict(values: Sequence[Any], enum_class: Type[enum.IntEnum]) -> Dict[Any, Any]:
    """``{member: values[member]}`` for every member of ``enum_class`` that
    the list is long enough to hold (intenum_list_to_dict with the enum, but
    a short list is no error)."""
    return {member: values[member] for member in enum_class if 0 <= int(member) < len(values)}


# ---- classes by name -------------------------------------------------------------------

# Classes this process put, read or registered, by key: the sender can read
# its own objects back even when their class cannot be imported (defined in
# a function, say), and an untrusted region can name only these.
_known_classes: dict[str, type] = {}


def _class_key(cls):
    key = f"{cls.__module__}:{cls.__qualname__}"
    _known_classes.setdefault(key, cls)
    return key


_T = typing.TypeVar("_T", bound=type)


def register_class(cls: _T) -> _T:
    """Lets any region name ``cls``: objects and enum members of it are read
    from regions other users can write too (by default such a region can
    name only the classes this process put or read before), without
    importing anything. Returns ``cls``, so it serves as a decorator.

    Only classes written in Python and enums can be registered (the kinds a
    region can hold); a class is known by ``module:qualname``, and another
    class already known by that name is a ``ValueError``."""
    if not isinstance(cls, type):
        raise TypeError(f"register_class() takes a class, not {type(cls).__name__!r}")
    if not (isinstance(cls, enum.EnumMeta) or _is_user_class(cls)):
        raise TypeError(
            f"cannot register '{cls.__module__}.{cls.__qualname__}': only classes written in Python "
            f"and enums are stored by name in a region"
        )
    key = f"{cls.__module__}:{cls.__qualname__}"
    known = _known_classes.setdefault(key, cls)
    if known is not cls:
        raise ValueError(f"another class is known by the name '{key}' already: {known!r}")
    return cls


def _untrusted(what):
    return UntrustedRegionError(
        f"refusing to {what}: other users can write this region (its mode lets the group or "
        f"others write, or another user owns it), so what it holds could run their code in this "
        f"process. Open it with SharedMemory(..., trust=True) if you trust every user who can "
        f"write it, or register the classes it may name with ipc_py_objects.register_class()"
    )


def _split_key(key):
    """(module, qualname) of a stored class name, or RegionCorruptedError:
    our writers store `module:qualname`, so anything else was written by
    another hand."""
    if not isinstance(key, str) or key.count(":") != 1:
        raise RegionCorruptedError(f"a shared object names its class by {key!r}, which is not "
                                   f"'module:qualname'")
    module_name, _, qualname = key.partition(":")
    if not module_name or not qualname:
        raise RegionCorruptedError(f"a shared object names its class by {key!r}, which is not "
                                   f"'module:qualname'")
    return module_name, qualname


def _resolve(key, trusted):
    module_name, qualname = _split_key(key)
    cls = _known_classes.get(key)
    if cls is not None:
        return cls
    if not trusted:
        raise _untrusted(f"import class '{module_name}.{qualname}', which a shared object names")
    try:
        found = importlib.import_module(module_name)
        # Looked up in the namespaces themselves: getattr would run a
        # module's __getattr__ or a metaclass's descriptors on names the
        # region chose.
        for part in qualname.split("."):
            found = vars(found)[part]
    except Exception as exc:
        raise UnknownClassError(
            f"cannot rebuild a shared object of class '{module_name}.{qualname}': that class "
            f"cannot be imported in this process ({type(exc).__name__}: {exc}). Define it at the "
            f"top level of a module that every process imports"
        ) from exc
    if not isinstance(found, type):
        raise UnknownClassError(f"'{module_name}.{qualname}' names a {type(found).__name__}, not a class")
    # Not known yet: the caller makes it known once it has checked that it
    # is a class of the kind the block holds. Else a trusted region naming
    # subprocess.Popen as an enum would let every region name it.
    return found


def _known(key, cls):
    """Remembers a class a trusted region named, after its checks."""
    _known_classes.setdefault(key, cls)


def _is_own_name(name):
    """Names of Python's own form (__del__, __class__, __reduce_ex__):
    Python looks many of them up on the type and calls what it finds."""
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _check_field_names(names):
    """The field names of a shared object, as read from a region: str, none
    of Python's own form nor the link's, none twice. Our writers store no
    other (a put refuses such attributes), and a generated class makes each
    name a descriptor on the type: `__del__` there would be called."""
    if not isinstance(names, tuple):
        raise RegionCorruptedError(f"a shared object's field names are a {type(names).__name__}, not a tuple")
    for name in names:
        if not isinstance(name, str) or _is_own_name(name) or name == _REF:
            raise RegionCorruptedError(f"a shared object has a field named {name!r}: refusing it "
                                       f"(a region names no fields of Python's own form)")
    if len(set(names)) != len(names):
        raise RegionCorruptedError(f"a shared object names a field twice: {names!r}")
    return names


# ---- custom objects ----------------------------------------------------------------------


# Bases that hold no state of their instances, whatever they are made of
# (typing.Generic is written in C from Python 3.12).
_STATELESS_BASES = frozenset({object, typing.Generic})


def _is_user_class(cls):
    """Classes made by a class statement all the way down to object: their
    instances are made of attributes, which is what can be projected. A type
    written in C (a lock, a compiled pattern, the region handle) holds state
    of its own, even when it is a heap type that allows subclasses."""
    return cls is not object and all(
        base in _STATELESS_BASES or _ipo._python_class(base) for base in cls.__mro__
    )


def _rebuilds_itself(cls):
    """Whether a user class says how its instances are rebuilt (its own
    ``__reduce__`` or ``__reduce_ex__``, as Fraction has, or a copyreg
    entry): projecting its attributes would bypass that, so it is pickled
    instead."""
    if cls in copyreg.dispatch_table:
        return True
    return any("__reduce__" in klass.__dict__ or "__reduce_ex__" in klass.__dict__
               for klass in cls.__mro__ if klass not in _STATELESS_BASES)


def _slot_names(cls):
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        for name in slots:
            if name in ("__dict__", "__weakref__", _REF):
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{klass.__name__.lstrip('_')}{name}"
            yield name


def _attributes(obj):
    """The object's own attributes, in order: __dict__ first, then slots."""
    cls = type(obj)
    user_class = cls.__dict__.get("__ipo_user_class__")
    if user_class is not None:
        names = cls.__ipo_names__
        if names is None:
            return user_class, dict(_ref_of(obj).items())
        return user_class, {name: getattr(obj, name) for name in names}
    attributes = {}
    instance_dict = getattr(obj, "__dict__", None)
    if isinstance(instance_dict, dict):
        attributes.update(instance_dict)
    for name in _slot_names(cls):
        if name not in attributes:
            try:
                attributes[name] = object.__getattribute__(obj, name)
            except AttributeError:
                pass  # an unset slot
    return cls, attributes


def _describe_object(obj, general, inplace):
    """inplace: True (asked for: refused when impossible), False, or None (the
    default: in place when the object allows it, else a copy)."""
    cls, attributes = _attributes(obj)
    if not _is_user_class(cls):
        raise TypeError(
            f"cannot put an object of type '{cls.__module__}.{cls.__qualname__}' into shared memory: "
            f"only classes written in Python (dataclasses and the like) are projected onto shared fields"
        )
    if inplace is not False:
        why = None
        if cls is not type(obj):
            inplace = False  # already mapped: it stays the view it is
        elif not hasattr(obj, "__dict__") and not any(name in attributes for name in _slot_names(cls)):
            why = (f"cannot change a '{cls.__qualname__}' object in place: it has no __dict__ and no "
                   f"set slot to keep its link to shared memory in. Use ForceStaticObjectCopy")
        elif general and not hasattr(obj, "__dict__"):
            why = (f"cannot change a '{cls.__qualname__}' object in place as a general object: it has "
                   f"no __dict__. Use ForceGeneralObjectCopy")
        if why is not None:
            if inplace:
                raise TypeError(why)
            inplace = False
        elif inplace is None:
            inplace = True
    for name in attributes:
        if _is_own_name(name) or name == _REF:
            raise TypeError(
                f"cannot share attribute {name!r} of a '{cls.__qualname__}' object: names of "
                f"Python's own form are not stored (a reader would refuse them)"
            )
    key = _class_key(cls)
    adopt = obj if inplace else None
    if adopt is not None:
        # The class the object will take, made now: whatever can fail in
        # making it (a metaclass, __init_subclass__) fails the put before
        # anything is queued.
        if general:
            _general_class(cls, True)
        else:
            _static_class(cls, tuple(attributes), True)
    if general:
        return ("object", key, None, list(attributes.items()), adopt)
    return ("object", key, tuple(attributes), tuple(attributes.values()), adopt)


def _ref_of(obj):
    try:
        return object.__getattribute__(obj, _REF)
    except AttributeError:
        return object.__getattribute__(obj, "__dict__")[_REF]


def _ref_location(cls, user_class, names):
    """(ref_offset, ref_key) for the Field descriptors of a generated class."""
    member = cls.__dict__.get(_REF)
    if member is not None:
        return _ipo._member_offset(member), _REF
    if user_class.__dictoffset__ != 0:
        return 0, _REF
    # A class with slots only, changed in place: its first field's slot is
    # shadowed by a Field, so the reference lives in that slot's storage.
    member = _stash_slot(user_class, names)
    if member is None:
        raise TypeError(f"no place to keep the shared reference of a '{cls.__qualname__}'")
    return _ipo._member_offset(member), _REF


def _stash_slot(cls, names):
    """The member descriptor of the first field that is a slot of cls."""
    for name in names:
        for klass in cls.__mro__:
            member = klass.__dict__.get(name)
            if member is not None and type(member).__name__ == "member_descriptor":
                return member
    return None


_generated: dict[tuple, type] = {}


def _same_user_class(obj, user_class):
    cls = type(obj)
    return cls is user_class or cls.__dict__.get("__ipo_user_class__") is user_class


def _dataclass_eq(user_class):
    """A dataclass's __eq__ wants the very same class on both sides; a mapped
    object and a plain one of the user's class compare by fields here."""
    names = [f.name for f in dataclasses.fields(user_class) if f.compare]

    def fields_equal(self, other):
        return all(getattr(self, n) == getattr(other, n) for n in names)

    def __eq__(self, other):
        if not _same_user_class(other, user_class):
            return NotImplemented
        # All fields of one moment: one turn, even outside a block.
        return _ref_of(self)._in_turn(fields_equal, self, other)

    return __eq__


def _class_namespace(user_class, names, inplace):
    namespace = {
        "__slots__": () if inplace else (_REF,),
        "__module__": user_class.__module__,
        "__qualname__": user_class.__qualname__,
        "__ipo_user_class__": user_class,
        "__ipo_names__": names,
        "__reduce_ex__": _reduce_mapped,
    }
    params = getattr(user_class, "__dataclass_params__", None)
    if params is not None and params.eq:
        namespace["__eq__"] = _dataclass_eq(user_class)
        namespace["__hash__"] = user_class.__hash__
    return namespace


def _static_class(user_class, names, inplace):
    """The generated class of a static object: one per user class, set of
    field names and kind (copy or in place), made once per process."""
    cache_key = (user_class, names, inplace, False)
    cls = _generated.get(cache_key)
    if cls is not None:
        return cls
    namespace = _class_namespace(user_class, names, inplace)
    cls = type(user_class.__name__, (user_class,), namespace)
    offset, key = _ref_location(cls, user_class, names)
    for index, name in enumerate(names):
        setattr(cls, name, _ipo.Field(index, name, offset, key))
    if not inplace:
        # The codec makes further instances itself, with the link in this slot.
        cls.__ipo_ref_offset__ = offset
    _generated[cache_key] = cls
    return cls


def _reduce_mapped(self, protocol):
    """A mapped object pickles as a plain instance of the user's class, with
    its fields as they were at one moment (read in one turn)."""
    cls, attributes = _ref_of(self)._in_turn(_attributes, self)
    return (_plain_instance, (cls, attributes))


def _plain_instance(cls, attributes):
    obj = object.__new__(cls)
    for name, value in attributes.items():
        object.__setattr__(obj, name, value)
    return obj


class _GeneralMixin:
    """Attributes of a general object live in a shared dict."""

    __slots__ = ()

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        try:
            return _ref_of(self)[name]
        except KeyError:
            raise AttributeError(
                f"'{type(self).__qualname__}' object has no attribute '{name}'"
            ) from None

    def __setattr__(self, name, value):
        _ref_of(self)[name] = value

    def __delattr__(self, name):
        try:
            del _ref_of(self)[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self):
        ref = _ref_of(self)
        return sorted(set(object.__dir__(self)) | set(ref._in_turn(list, ref)))


def _general_class(user_class, inplace):
    cache_key = (user_class, None, inplace, True)
    cls = _generated.get(cache_key)
    if cls is None:
        namespace = _class_namespace(user_class, None, inplace)
        # The methods are copied in rather than inherited: a second base
        # would change the layout, and __class__ assignment (in place) needs
        # the layout of the user's class.
        for name in ("__getattr__", "__setattr__", "__delattr__", "__dir__"):
            namespace[name] = _GeneralMixin.__dict__[name]
        cls = type(user_class.__name__, (user_class,), namespace)
        _generated[cache_key] = cls
    return cls


def rebuild_object(key, names, state, copy, trusted):
    """The codec's hook for an OBJECT block. `state` is a view of the shared
    fields (an ObjectRef for a static object, a SharedDict for a general one),
    or, with `copy`, their plain values."""
    user_class = _resolve(key, trusted)
    if names is not None:
        _check_field_names(names)
    if not _is_user_class(user_class) or isinstance(user_class, enum.EnumMeta):
        # Only what describe() projects is rebuilt: a region that names a
        # type written in C (a lock type, say) gets no instance of it made.
        raise UnknownClassError(
            f"a shared object names class '{user_class.__module__}.{user_class.__qualname__}', "
            f"which is not a class written in Python: refusing to make one"
        )
    _known(key, user_class)
    if copy:
        if names is None:
            attributes = dict(state)
            _check_field_names(tuple(attributes))
        else:
            attributes = dict(zip(names, state))
        return _plain_instance(user_class, attributes)
    cls = _general_class(user_class, False) if names is None else _static_class(user_class, names, False)
    obj = object.__new__(cls)
    object.__setattr__(obj, _REF, state)
    return obj


def _adopt_one(obj, ref, names):
    """Turns one object into the view of its shared fields (`ref`): its class
    changes, its attributes now live there. Returns how to undo it, or None
    when nothing changed."""
    user_class = type(obj)
    if "__ipo_user_class__" in user_class.__dict__:
        return None  # put twice in one message: it maps onto the first block; the second is a copy
    instance_dict = getattr(obj, "__dict__", None)
    if names is None:
        cls = _general_class(user_class, True)
    else:
        cls = _static_class(user_class, names, True)
    if isinstance(instance_dict, dict):
        saved = dict(instance_dict)
        instance_dict.clear()
        instance_dict[_REF] = ref

        def undo():
            instance_dict.clear()
            instance_dict.update(saved)
    else:
        slot = _stash_slot(user_class, names)
        saved = slot.__get__(obj, user_class)  # a set slot: describe() made sure
        slot.__set__(obj, ref)

        def undo():
            slot.__set__(obj, saved)
    try:
        # object's own setattr: a frozen dataclass refuses its instances' one.
        object.__setattr__(obj, "__class__", cls)
    except BaseException:
        undo()
        raise

    def undo_all():
        object.__setattr__(obj, "__class__", user_class)
        undo()

    return undo_all


def adopt(adoptions):
    """Maps the objects a put or store collected in place, each onto its
    shared block: all of them, or (when one fails) none, so that a put that
    fails leaves every object as it was. Each entry is (object, view of its
    fields, field names or None for a general object, the root's offset)."""
    done = []
    try:
        for obj, ref, names, _root in adoptions:
            undo = _adopt_one(obj, ref, names)
            if undo is not None:
                done.append(undo)
    except BaseException:
        for undo in reversed(done):
            undo()
        raise


# ---- enums -------------------------------------------------------------------------------


def rebuild_enum(key, value, trusted):
    cls = _resolve(key, trusted)
    if not (isinstance(cls, enum.EnumMeta) and issubclass(cls, enum.Enum)):
        # The value is one the region chose: only an enum's lookup of its
        # own members may be given it.
        raise UnknownClassError(
            f"a shared enum member names class '{cls.__module__}.{cls.__qualname__}', "
            f"which is not an enum: refusing to call it"
        )
    _known(key, cls)
    # The enum machinery's own lookup (by value, then the class's
    # _missing_), not whatever __call__ a metaclass of the enum's defines.
    return enum.EnumMeta.__call__(cls, value)


# ---- pickled objects ------------------------------------------------------------------------


def _pickled(obj):
    """What the format cannot describe, as a pickle; TypeError naming the
    type when it does not pickle either."""
    cls = type(obj)
    try:
        data = pickle.dumps(obj, protocol=5)
    except Exception as exc:
        raise TypeError(
            f"cannot put an object of type '{cls.__module__}.{cls.__qualname__}' into shared "
            f"memory: the format cannot describe it, and it cannot be pickled either "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return ("pickle", data)


def rebuild_pickled(data, trusted):
    """The codec's hook for a PICKLE block: a copy of the object."""
    if not trusted:
        raise _untrusted("unpickle a shared object")
    try:
        return pickle.loads(data)
    except (ImportError, AttributeError) as exc:
        raise UnknownClassError(
            f"cannot rebuild a pickled shared object: what it names cannot be found in this "
            f"process ({type(exc).__name__}: {exc}). Define it at the top level of a module "
            f"that every process imports"
        ) from exc


# ---- numpy and torch -----------------------------------------------------------------------


def _numpy_type(obj):
    numpy = sys.modules.get("numpy")
    return numpy if numpy is not None and isinstance(obj, numpy.ndarray) else None


def _describe_ndarray(numpy, array):
    if array.dtype.hasobject:
        raise TypeError(
            "cannot put a numpy array of dtype object into shared memory: its items are Python "
            "objects, not data. Put a list, or an array of a numeric or bytes dtype"
        )
    if not array.flags.c_contiguous:
        array = array.copy(order="C")  # (ascontiguousarray would make a 0-d array 1-d)
    descr = numpy.lib.format.dtype_to_descr(array.dtype)
    data = memoryview(array.reshape(-1).view(numpy.uint8)) if array.size else b""
    return ("ndarray", repr(descr), tuple(array.shape), data)


@functools.lru_cache(maxsize=256)
def _dtype(descr):
    import numpy

    dtype = numpy.lib.format.descr_to_dtype(ast.literal_eval(descr))
    if dtype.hasobject:
        # Never put (describe refuses them), so the region was written by
        # something else: an array of object pointers read from shared
        # bytes would dereference whatever they say.
        raise TypeError(f"a shared numpy array claims dtype {descr}, which holds Python objects: "
                        f"refusing to read it")
    return dtype


def rebuild_ndarray(descr, shape, buffer, is_tensor, copy):
    numpy = sys.modules.get("numpy")
    if numpy is None:
        import numpy

    dtype = _dtype(descr)
    # One constructor over the buffer gives the array its dtype and shape at
    # once (frombuffer, then reshape, cost twice as much: `d[k] += 1` reads
    # the array each time); it refuses a shape the buffer cannot hold.
    array = numpy.ndarray(shape, dtype, buffer)
    if copy:
        array = array.copy()
    if is_tensor:
        import torch

        return torch.from_numpy(array)
    return array


def _torch_tensor(obj):
    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(obj, torch.Tensor) else None


# ---- the codec's entry point ---------------------------------------------------------------


def describe(obj):
    """How to store an object the C codec does not know by its exact type."""
    cls = type(obj)
    if isinstance(obj, _ipo.Region):
        raise TypeError(
            f"cannot put a '{cls.__qualname__}' (a region handle) into shared memory: give the "
            f"other process its name, and it opens the region with SharedMemory(name)"
        )
    if isinstance(obj, SharedList):
        return ("list", obj)
    if isinstance(obj, (SharedDict, SharedMapping)):
        return ("dict", list(obj.items()), isinstance(obj, SharedMapping))
    if isinstance(obj, SharedSet):
        return ("set", list(obj), False)
    if isinstance(obj, _ipo.ObjectRef):
        raise TypeError("an ObjectRef is an internal link and cannot be put into shared memory")
    if cls in _OBJECT_WRAPPERS:
        general, inplace = _OBJECT_WRAPPERS[cls]
        return _describe_object(obj.value, general, inplace)
    if cls is FastLimitedDict:
        flat = []
        for key, value in dict(obj.value).items():
            flat.append(key)
            flat.append(value)
        return ("fldict", flat)
    if cls is FastLimitedSet:
        return ("flset", list(obj.value))
    if isinstance(obj, enum.Enum):
        return ("enum", _class_key(cls), obj.value)
    numpy = _numpy_type(obj)
    if numpy is not None:
        return _describe_ndarray(numpy, obj)
    torch = _torch_tensor(obj)
    if torch is not None:
        if obj.device.type != "cpu":
            raise TypeError(f"cannot put a torch tensor on '{obj.device}' into shared memory: move it to the CPU")
        return ("tensor", obj.detach().numpy())
    if isinstance(obj, (list, MutableSequence)) and not isinstance(obj, (str, bytes, bytearray, tuple)):
        return ("list", list(obj))
    if isinstance(obj, Mapping):
        return ("dict", list(obj.items()), not isinstance(obj, MutableMapping))
    if isinstance(obj, Set):
        return ("set", list(obj), not isinstance(obj, MutableSet))
    # A mapped object's generated class pickles as a plain instance: what
    # counts is whether the user's class rebuilds itself.
    user_class = cls.__dict__.get("__ipo_user_class__", cls)
    if _is_user_class(cls) and not isinstance(obj, type) and not _rebuilds_itself(user_class):
        # As the reference package: a plain put changes the object in place,
        # so the object the sender keeps is the shared one.
        return _describe_object(obj, False, None)
    # The rest (a namedtuple, an exception, a range, a class that pickles
    # itself) as the seed's "pickable classes instances": a copy.
    return _pickled(obj)


_ipo._register(
    SharedList=SharedList,
    SharedDict=SharedDict,
    SharedMapping=SharedMapping,
    SharedSet=SharedSet,
    describe=describe,
    rebuild_object=rebuild_object,
    rebuild_enum=rebuild_enum,
    rebuild_ndarray=rebuild_ndarray,
    rebuild_pickled=rebuild_pickled,
    adopt=adopt,
)
