# SPDX-License-Identifier: LGPL-3.0-or-later
"""PYON v2 (JSON with ``__jsonclass__`` hooks), as sipyco writes it, with a v1 (Python-literal)
fallback.

PYON v2 is one-line JSON (``separators=(",", ":")``). Values JSON cannot hold are encoded as
``{"__jsonclass__": [name, args]}`` with names ``tuple``, ``dict`` (non-string keys), ``complex``,
``bytes``, ``set``, ``slice``, ``Fraction``, ``OrderedDict``, ``nparray`` and ``npscalar``.

The one PYON codec of the project: the simulator (datasets, results, arguments), the analysis
(``expid``) and the network protocols of :mod:`comms` use it. It imports only numpy.
"""

from __future__ import annotations

import ast
import base64
import json
from collections import OrderedDict
from fractions import Fraction
from typing import Any

import numpy

__all__ = ["decode", "encode"]


def _jc(name: str, args: Any) -> dict:
    return {"__jsonclass__": [name, args]}


def _prepare(x: Any) -> Any:
    """Turn ``x`` into plain JSON-compatible structures (sipyco's wrapping: tuples, sets and
    non-string-keyed dicts carry their items as the single constructor argument)."""
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int) and not isinstance(x, numpy.generic):
        return x
    if isinstance(x, float):  # includes numpy.float64, which JSON writes as a plain float
        return float(x)
    if isinstance(x, list):
        return [_prepare(v) for v in x]
    if isinstance(x, tuple):
        return _jc("tuple", [[_prepare(v) for v in x]])
    if isinstance(x, dict):  # OrderedDict too: sipyco writes it as a plain dict
        if all(isinstance(k, str) for k in x):
            return {k: _prepare(v) for k, v in x.items()}
        return _jc("dict", [[[_prepare(k), _prepare(v)] for k, v in x.items()]])
    return _prepare_class(x)


def _prepare_class(x: Any) -> Any:
    """``x``, of a type JSON has no literal for, as a ``__jsonclass__`` object."""
    if isinstance(x, complex):
        return _jc("complex", [x.real, x.imag])
    if isinstance(x, (bytes, bytearray)):
        return _jc("bytes", [base64.b64encode(bytes(x)).decode()])
    if isinstance(x, (set, frozenset)):
        return _jc("set", [[_prepare(v) for v in x]])
    if isinstance(x, slice):
        return _jc("slice", [_prepare(x.start), _prepare(x.stop), _prepare(x.step)])
    if isinstance(x, Fraction):
        return _jc("Fraction", [x.numerator, x.denominator])
    if isinstance(x, numpy.ndarray):
        if x.dtype.hasobject:
            raise TypeError("PYON cannot encode numpy arrays of dtype object")
        data = base64.b64encode(numpy.ascontiguousarray(x).tobytes()).decode()
        return _jc("nparray", [list(x.shape), x.dtype.str, data])
    if isinstance(x, numpy.generic):
        return _jc("npscalar", [x.dtype.str, base64.b64encode(x.tobytes()).decode()])
    raise TypeError(f"`{x!r}` ({type(x)}) is not PYON-serializable")


def encode(x: Any, pretty: bool = False) -> str:
    """Encode ``x`` as a PYON v2 string (one line unless ``pretty``)."""
    prepared = _prepare(x)
    if pretty:
        return json.dumps(prepared, indent=4)
    return json.dumps(prepared, separators=(",", ":"))


def _hook(obj: dict) -> Any:
    jc = obj.get("__jsonclass__")
    if jc is None or len(obj) != 1:
        return obj
    name, args = jc
    if name == "tuple":
        return tuple(args[0])
    if name == "dict":
        return {_hashable(k): v for k, v in args[0]}
    if name == "OrderedDict":
        return OrderedDict((_hashable(k), v) for k, v in args[0])
    if name == "complex":
        return complex(*args)
    if name == "bytes":
        return base64.b64decode(args[0])
    if name == "set":
        return {_hashable(v) for v in args[0]}
    if name == "slice":
        return slice(*args)
    if name == "Fraction":
        return Fraction(*args)
    if name == "nparray":
        shape, dtype, data = args
        return numpy.frombuffer(base64.b64decode(data), dtype=dtype).copy().reshape(shape)
    if name == "npscalar":
        dtype, data = args
        return numpy.frombuffer(base64.b64decode(data), dtype=dtype)[0]
    raise ValueError(f"unknown PYON class {name!r}")


def _hashable(k: Any) -> Any:
    return tuple(_hashable(v) for v in k) if isinstance(k, list) else k


_V1_NAMES = {
    "null": None,
    "true": True,
    "false": False,
    "None": None,
    "True": True,
    "False": False,
    "nan": float("nan"),
    "inf": float("inf"),
    "NaN": float("nan"),
    "Infinity": float("inf"),
}


def _decode_v1(s: str) -> Any:
    """PYON v1: Python literal syntax, plus the ``Fraction``/``OrderedDict``/``nparray`` calls."""
    tree = ast.parse(s.strip(), mode="eval")
    return _eval_v1(tree.body)


def _eval_v1(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _V1_NAMES:
            return _V1_NAMES[node.id]
        raise ValueError(f"unknown name {node.id!r} in PYON v1")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _eval_v1(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
        return ast.literal_eval(node)
    if isinstance(node, ast.List):
        return [_eval_v1(e) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_eval_v1(e) for e in node.elts)
    if isinstance(node, ast.Set):
        return {_eval_v1(e) for e in node.elts}
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise ValueError("unsupported PYON v1 expression: ** in a dict")
        return {_eval_v1(k): _eval_v1(v) for k, v in zip(node.keys, node.values) if k is not None}
    if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
        return _eval_v1_call(node, node.func)
    raise ValueError("unsupported PYON v1 expression")


def _eval_v1_call(node: ast.Call, func: ast.Name | ast.Attribute) -> Any:
    """A PYON v1 constructor call (``Fraction(...)``, ``nparray(...)``...)."""
    fname = func.id if isinstance(func, ast.Name) else func.attr
    args = [_eval_v1(a) for a in node.args]
    if fname == "Fraction":
        return Fraction(*args)
    if fname == "OrderedDict":
        return OrderedDict(*args)
    if fname == "slice":
        return slice(*args)
    if fname in ("set", "frozenset"):
        return set(*args)
    if fname == "nparray":
        shape, dtype, data = args
        return numpy.frombuffer(base64.b64decode(data), dtype=dtype).copy().reshape(shape)
    if fname == "npscalar":
        dtype, data = args
        return numpy.frombuffer(base64.b64decode(data), dtype=dtype)[0]
    raise ValueError("unsupported PYON v1 expression")


def decode(s: str | bytes, v1_fallback: bool = True) -> Any:
    """Decode a PYON v2 string; unless ``v1_fallback`` is false (the network protocols, which
    speak v2 only), text that is not JSON is read as PYON v1.

    :raises ValueError: text that is not PYON (``json.JSONDecodeError`` is a ``ValueError``).
    """
    if isinstance(s, (bytes, bytearray)):
        s = s.decode()
    try:
        return json.loads(s, object_hook=_hook)
    except json.JSONDecodeError:
        if not v1_fallback:
            raise
        return _decode_v1(s)
