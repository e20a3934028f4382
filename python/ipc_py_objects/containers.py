"""Live views of shared lists, dicts and sets.

Each class here sits on a C view type of ``_ipo`` that does the work that must
run at memory speed (indexing, ``in``, ``len``, append, pop, get and set); the
methods written here build the rest of ``list``'s, ``dict``'s and ``set``'s
behaviour out of those. Every operation checks that this process holds access
and that the shared block still exists.

What a view gives back: items that are themselves live containers or objects
come back as views of them; everything else as a copy. Operations that take
an item out of shared memory (``pop``, ``popitem``, ``remove``) give a plain
copy, since the block goes. Operations that make a new container (``+``,
slicing, ``|``, ``copy()``) make a plain ``list``, ``dict`` or ``set``, as
the built-in types do.
"""

from __future__ import annotations

from collections.abc import (
    ItemsView,
    KeysView,
    Mapping,
    MutableMapping,
    MutableSequence,
    MutableSet,
    Set,
    ValuesView,
)
import functools
import reprlib

from . import _ipo

__all__ = ["SharedList", "SharedDict", "SharedMapping", "SharedSet"]

_KEYS, _VALUES, _ITEMS = 0, 1, 2


def _one_turn(method):
    """Runs a method written here over several C operations in one turn of
    the view's region: the turn in progress, or one taken for it (and given
    back) when this thread holds none. So outside a turn too, ``sort``,
    ``==`` or ``update`` see and change the container in one step, as each
    C operation does by itself."""

    def in_one_turn(self, *args, **kwargs):
        return self._in_turn(method, self, *args, **kwargs)

    return functools.wraps(method)(in_one_turn)


def _one_turn_if(accepts):
    """_one_turn for an operator whose answer is NotImplemented when the
    other operand is not one it works with: that answer is given without a
    turn, so ``shared == None`` neither waits for one nor fails in a strict
    region."""

    def decorate(method):
        def in_one_turn(self, other, *args):
            if not accepts(other):
                return NotImplemented
            return self._in_turn(method, self, other, *args)

        return functools.wraps(method)(in_one_turn)

    return decorate


def _is_list(other):
    return isinstance(other, (list, SharedList))


def _is_index(other):
    return hasattr(type(other), "__index__")


def _is_mapping(other):
    return isinstance(other, Mapping)


def _is_set(other):
    return isinstance(other, (set, frozenset, Set))


class SharedList(_ipo.ListView):
    """A list in shared memory: every process that holds access sees every change."""

    __slots__ = ()

    @_one_turn
    def sort(self, *, key=None, reverse=False):
        values = list(self)
        pick = values.__getitem__ if key is None else (lambda i: key(values[i]))
        self._permute(sorted(range(len(values)), key=pick, reverse=reverse))

    @_one_turn
    def copy(self):
        return list(self)

    def __reversed__(self):
        for i in range(len(self) - 1, -1, -1):
            yield self[i]

    def __iadd__(self, other):
        self.extend(other)
        return self

    @_one_turn_if(_is_index)
    def __imul__(self, n):
        n = n.__index__()
        if n <= 0:
            self.clear()
        else:
            # Items are stored by value: repeating makes copies of them.
            items = list(self)
            for _ in range(n - 1):
                self.extend(items)
        return self

    @_one_turn_if(_is_list)
    def __add__(self, other):
        return list(self) + list(other)

    @_one_turn_if(_is_list)
    def __radd__(self, other):
        return list(other) + list(self)

    @_one_turn_if(_is_index)
    def __mul__(self, n):
        return list(self) * n.__index__()

    __rmul__ = __mul__

    @_one_turn_if(_is_list)
    def _compare(self, other, op):
        return op(list(self), list(other))

    def __eq__(self, other):
        return self._compare(other, list.__eq__)

    def __ne__(self, other):
        return self._compare(other, list.__ne__)

    def __lt__(self, other):
        return self._compare(other, list.__lt__)

    def __le__(self, other):
        return self._compare(other, list.__le__)

    def __gt__(self, other):
        return self._compare(other, list.__gt__)

    def __ge__(self, other):
        return self._compare(other, list.__ge__)

    __hash__ = None

    @_one_turn
    @reprlib.recursive_repr("[...]")
    def __repr__(self):
        return repr(list(self))

    def __reduce__(self):
        # Pickled as what it holds: another process has no access to this view.
        return (list, (self._copy_out(),))

    @_one_turn
    def __copy__(self):
        return list(self)

    def __deepcopy__(self, memo):
        return self._copy_out()


MutableSequence.register(SharedList)


class _SharedKeys(KeysView):
    __slots__ = ()

    def __iter__(self):
        return self._mapping._iter(_KEYS)

    def __reversed__(self):
        return self._mapping._iter(_KEYS, True)


class _SharedValues(ValuesView):
    __slots__ = ()

    def __iter__(self):
        return self._mapping._iter(_VALUES)

    def __reversed__(self):
        return self._mapping._iter(_VALUES, True)


class _SharedItems(ItemsView):
    __slots__ = ()

    def __iter__(self):
        return self._mapping._iter(_ITEMS)

    def __reversed__(self):
        return self._mapping._iter(_ITEMS, True)


class _MappingBase(_ipo.DictView):
    """What a shared dict and a read-only shared Mapping have in common."""

    __slots__ = ()

    def keys(self):
        return _SharedKeys(self)

    def values(self):
        return _SharedValues(self)

    def items(self):
        return _SharedItems(self)

    def __reversed__(self):
        return self._iter(_KEYS, True)

    @_one_turn
    def copy(self):
        return dict(self._iter(_ITEMS))

    @_one_turn_if(_is_mapping)
    def __eq__(self, other):
        return dict(self._iter(_ITEMS)) == dict(other.items())

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    @_one_turn_if(_is_mapping)
    def __or__(self, other):
        merged = dict(self._iter(_ITEMS))
        merged.update(other)
        return merged

    @_one_turn_if(_is_mapping)
    def __ror__(self, other):
        merged = dict(other)
        merged.update(self._iter(_ITEMS))
        return merged

    __hash__ = None

    @_one_turn
    @reprlib.recursive_repr("{...}")
    def __repr__(self):
        return repr(dict(self._iter(_ITEMS)))

    def __reduce__(self):
        return (dict, (self._copy_out(),))

    @_one_turn
    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self._copy_out()


class SharedDict(_MappingBase):
    """A dict in shared memory. Keys hash the same in every process, whatever
    its PYTHONHASHSEED; insertion order is kept."""

    __slots__ = ()

    @_one_turn
    def update(self, other=(), /, **kwargs):
        if isinstance(other, Mapping):
            for key in other.keys():
                self[key] = other[key]
        elif hasattr(other, "keys"):
            for key in other.keys():
                self[key] = other[key]
        else:
            for key, value in other:
                self[key] = value
        for key, value in kwargs.items():
            self[key] = value

    def __ior__(self, other):
        self.update(other)
        return self


class SharedMapping(_MappingBase):
    """A read-only Mapping in shared memory."""

    __slots__ = ()


MutableMapping.register(SharedDict)
Mapping.register(SharedMapping)


class SharedSet(_ipo.SetView):
    """A set in shared memory, with the stable hash of SharedDict's keys."""

    __slots__ = ()

    @_one_turn
    def copy(self):
        return set(self)

    # -- the operators: plain sets out, as set's own ---------------------------------
    @_one_turn_if(_is_set)
    def _binary(self, other, op, reflected=False):
        other_set = set(other)
        return op(other_set, set(self)) if reflected else op(set(self), other_set)

    def __or__(self, other):
        return self._binary(other, set.__or__)

    def __and__(self, other):
        return self._binary(other, set.__and__)

    def __sub__(self, other):
        return self._binary(other, set.__sub__)

    def __xor__(self, other):
        return self._binary(other, set.__xor__)

    def __ror__(self, other):
        return self._binary(other, set.__or__, True)

    def __rand__(self, other):
        return self._binary(other, set.__and__, True)

    def __rsub__(self, other):
        return self._binary(other, set.__sub__, True)

    def __rxor__(self, other):
        return self._binary(other, set.__xor__, True)

    def __eq__(self, other):
        return self._binary(other, set.__eq__)

    def __ne__(self, other):
        return self._binary(other, set.__ne__)

    def __le__(self, other):
        return self._binary(other, set.__le__)

    def __lt__(self, other):
        return self._binary(other, set.__lt__)

    def __ge__(self, other):
        return self._binary(other, set.__ge__)

    def __gt__(self, other):
        return self._binary(other, set.__gt__)

    __hash__ = None

    # -- the named forms take any iterables, as set's do -----------------------------
    @_one_turn
    def union(self, *others):
        return set(self).union(*others)

    @_one_turn
    def intersection(self, *others):
        return set(self).intersection(*others)

    @_one_turn
    def difference(self, *others):
        return set(self).difference(*others)

    @_one_turn
    def symmetric_difference(self, other):
        return set(self).symmetric_difference(other)

    @_one_turn
    def issubset(self, other):
        return set(self).issubset(other)

    @_one_turn
    def issuperset(self, other):
        return set(self).issuperset(other)

    @_one_turn
    def isdisjoint(self, other):
        return set(self).isdisjoint(other)

    # -- in place: changes made in shared memory --------------------------------------
    @_one_turn
    def update(self, *others):
        for other in others:
            for item in list(other):
                self.add(item)

    @_one_turn
    def intersection_update(self, *others):
        keep = set(self).intersection(*others)
        for item in list(self):
            if item not in keep:
                self.discard(item)

    @_one_turn
    def difference_update(self, *others):
        for other in others:
            for item in list(other):
                self.discard(item)

    @_one_turn
    def symmetric_difference_update(self, other):
        other = set(other)
        for item in other:
            if item in self:
                self.discard(item)
            else:
                self.add(item)

    def __ior__(self, other):
        if not _is_set(other):
            return NotImplemented
        self.update(other)
        return self

    def __iand__(self, other):
        if not _is_set(other):
            return NotImplemented
        self.intersection_update(other)
        return self

    def __isub__(self, other):
        if not _is_set(other):
            return NotImplemented
        if other is self:
            self.clear()
        else:
            self.difference_update(other)
        return self

    def __ixor__(self, other):
        if not _is_set(other):
            return NotImplemented
        if other is self:
            self.clear()
        else:
            self.symmetric_difference_update(other)
        return self

    @_one_turn
    def __repr__(self):
        return repr(set(self))

    def __reduce__(self):
        return (set, (self._copy_out(),))

    @_one_turn
    def __copy__(self):
        return set(self)

    def __deepcopy__(self, memo):
        return self._copy_out()


MutableSet.register(SharedSet)
