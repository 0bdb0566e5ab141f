# SPDX-License-Identifier: LGPL-3.0-or-later
"""Constant folding of unit expressions in kernels run as host Python.

ARTIQ's compiler embeds a kernel's module globals as constants and folds constant arithmetic, so
``delay(1 * us)`` compiles to a constant duration. Run as host Python, the same expression is a
global lookup and a float multiplication on every call. :class:`UnitFolder` replaces each maximal
constant expression made of numeric literals and ARTIQ's unit names (``us``, ``ns``, ``MHz``...)
with its value, computed by the same Python operators on the same objects (so bit-identical).

A unit name is folded only where it is the unit: the kernel's module global of that name *is*
``artiq.language.units``' object when the kernel is first run, the name is bound nowhere in the
kernel (argument, assignment, import, nested scope) and no ``global`` statement of the module
names it (no function can rebind it later).
"""

from __future__ import annotations

import ast
import linecache
import operator
import re
from typing import Any, Callable

__all__ = ["unit_names", "foldable_units", "UnitFolder"]

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def unit_names() -> dict[str, float]:
    """ARTIQ's unit names with their values (``artiq.language.units``, stand-in or real)."""
    from artiq.language import units

    names = getattr(units, "__all__", None) or [n for n in vars(units) if not n.startswith("_")]
    return {n: getattr(units, n) for n in names if isinstance(getattr(units, n, None), float)}


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name a function binds or declares anywhere, nested scopes included."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    return bound


def _declared_global(filename: str, module_globals: dict, name: str) -> bool:
    """True if a ``global`` statement of the module's source may name ``name`` (a textual,
    conservative check: any line starting with ``global`` that contains the word)."""
    pattern = re.compile(rf"^\s*global\b.*\b{re.escape(name)}\b")
    return any(pattern.match(line) for line in linecache.getlines(filename, module_globals))


def foldable_units(code: Any, module_globals: dict) -> dict[str, float]:
    """The unit names a kernel's code reads as globals that are the units' own objects (the
    candidates; :class:`UnitFolder` also checks that the kernel binds none of them)."""
    read = set(code.co_names)
    return {
        n: v
        for n, v in unit_names().items()
        if n in read
        and module_globals.get(n, None) is v
        and not _declared_global(code.co_filename, module_globals, n)
    }


class UnitFolder(ast.NodeTransformer):
    """Replace constant expressions of literals and unit names in a function with their values.

    :param units: candidate unit names and values (:func:`foldable_units`); those the function
        binds anywhere are dropped by :meth:`fold`.
    """

    def __init__(self, units: dict[str, float]) -> None:
        self.units = dict(units)
        self.changed = False

    def fold(self, fdef: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """Fold ``fdef`` in place (:attr:`changed` says whether anything was folded)."""
        for name in _bound_names(fdef):
            self.units.pop(name, None)
        if self.units:
            self.generic_visit(fdef)

    def _value(self, node: ast.AST) -> tuple[bool, Any, bool]:
        """``(constant, value, has_unit)`` of an expression."""
        if isinstance(node, ast.Constant):
            v = node.value
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
            return ok, v, False
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in self.units:
            return True, self.units[node.id], True
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            lok, lv, lu = self._value(node.left)
            if lok:
                rok, rv, ru = self._value(node.right)
                if rok:
                    try:
                        return True, _BINARY[type(node.op)](lv, rv), lu or ru
                    except ArithmeticError:
                        pass
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            ok, v, u = self._value(node.operand)
            if ok:
                return True, _UNARY[type(node.op)](v), u
        return False, None, False

    def _folded(self, node: ast.expr) -> ast.AST | None:
        ok, value, has_unit = self._value(node)
        if ok and has_unit:
            self.changed = True
            return ast.copy_location(ast.Constant(value=value), node)
        return None

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        folded = self._folded(node)
        return folded if folded is not None else self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        folded = self._folded(node)
        return folded if folded is not None else self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        folded = self._folded(node)
        return folded if folded is not None else node
