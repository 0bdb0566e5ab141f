# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.language.types``: inert type markers used in kernel annotations."""

from __future__ import annotations

__all__ = [
    "TNone",
    "TTuple",
    "TBool",
    "TInt32",
    "TInt64",
    "TFloat",
    "TStr",
    "TBytes",
    "TByteArray",
    "TList",
    "TArray",
    "TRange32",
    "TRange64",
    "TVar",
]


class _Type:
    def __init__(self, name: str, *params):
        self.name = name
        self.params = params

    def __repr__(self) -> str:
        if not self.params:
            return self.name
        return "{}({})".format(self.name, ", ".join(repr(p) for p in self.params))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Type) and (self.name, self.params) == (other.name, other.params)

    def __hash__(self) -> int:
        return hash((self.name, repr(self.params)))


TNone = _Type("TNone")
TBool = _Type("TBool")
TInt32 = _Type("TInt32")
TInt64 = _Type("TInt64")
TFloat = _Type("TFloat")
TStr = _Type("TStr")
TBytes = _Type("TBytes")
TByteArray = _Type("TByteArray")
TRange32 = _Type("TRange32")
TRange64 = _Type("TRange64")


def TTuple(elts: list) -> _Type:
    """A tuple type; ``elts`` is a list of element types."""
    return _Type("TTuple", tuple(elts))


def TList(elt: _Type) -> _Type:
    """A list type with element type ``elt``."""
    return _Type("TList", elt)


def TArray(elt: _Type, num_dims: int = 1) -> _Type:
    """A numpy array type with element type ``elt``."""
    return _Type("TArray", elt, num_dims)


def TVar() -> _Type:
    """A type variable."""
    return _Type("TVar")
