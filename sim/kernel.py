# SPDX-License-Identifier: LGPL-3.0-or-later
"""Running ARTIQ kernels as host Python with compiled-ARTIQ timing semantics.

ARTIQ's compiler turns ``with parallel:`` into: remember the start time; for each *top-level
statement* of the body, rewind to the start, execute it, and track the latest end; finally continue
at the latest end (``artiq/compiler/transforms/artiq_ir_generator.py::visit_With``). The host
time-manager hook cannot see statement boundaries, so kernel functions are rewritten once: every
top-level statement of a ``parallel``/``interleave`` body is wrapped in ``with sequential:``. The
same rewrite folds constant unit expressions (``1 * us``) as ARTIQ's compiler does
(:mod:`sim.kernel_fold`). The rewritten function is compiled from the function's source at its own
lines, with the original's defaults, annotations and closure cells, and cached per function object.

:data:`STATE` also serves as the stand-in's ``KernelHooks``: ``Core.run`` installs it with
``artiq.language.core.set_kernel_hooks`` while a kernel runs, so that a ``@kernel`` called from a
kernel runs here directly and an ``@rpc`` call is charged by :func:`sim.syscalls.call_rpc`.
"""

from __future__ import annotations
import __future__

import ast
import copy
import functools
import inspect
import operator
import sys
import threading
import types
from typing import Any, Callable

from sim.kernel_builtins import provide
from sim.kernel_fold import UnitFolder, foldable_units
from sim.syscalls import bind_hot, call_rpc

__all__ = ["STATE", "host_function", "transform_function", "kernel_source_function"]

_PARALLEL_NAMES = frozenset(("parallel", "interleave"))
_SEQ_NAME = "__ionlink_sequential__"
# ast.FunctionDef has a `type_params` field from Python 3.12 on (PEP 695)
_TYPE_PARAMS: dict[str, Any] = {"type_params": []} if sys.version_info >= (3, 12) else {}
#: the ``from __future__`` flags a rewritten function keeps from its module
_FUTURE_FLAGS = functools.reduce(
    operator.or_, (getattr(__future__, f).compiler_flag for f in __future__.all_feature_names)
)


class _State(threading.local):
    """Nesting depth of simulated kernels on this thread (a kernel calling a kernel is one kernel),
    and the hooks the stand-in's decorators call (see the module docstring)."""

    depth = 0
    #: kernel wrapper -> its host function (:func:`host_function`), shared by all threads: the
    #: stand-in's wrappers look themselves up here before calling :meth:`nested`
    hosted: dict[Any, Callable] = {}

    @staticmethod
    def nested(wrapper: Callable, obj: Any, args: tuple, kwargs: dict) -> Any:
        """A kernel called from a running kernel is part of the same kernel (the first call of
        each wrapper: the next ones find its function in :attr:`hosted`)."""
        return host_function(wrapper)(obj, *args, **kwargs)

    rpc = staticmethod(call_rpc)


STATE = _State()
_cache: dict[Any, Callable] = {}


def _is_parallel_item(item: ast.withitem) -> bool:
    expr = item.context_expr
    if isinstance(expr, ast.Name):
        return expr.id in _PARALLEL_NAMES
    if isinstance(expr, ast.Attribute):
        return expr.attr in _PARALLEL_NAMES
    return False


class _ParallelRewriter(ast.NodeTransformer):
    def __init__(self) -> None:
        self.changed = False

    def visit_With(self, node: ast.With) -> ast.AST:
        self.generic_visit(node)
        if len(node.items) == 1 and _is_parallel_item(node.items[0]):
            self.changed = True
            node.body = [
                ast.copy_location(
                    ast.With(
                        items=[ast.withitem(context_expr=ast.Name(id=_SEQ_NAME, ctx=ast.Load()))],
                        body=[stmt],
                    ),
                    stmt,
                )
                for stmt in node.body
            ]
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        return node

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        self.generic_visit(node)
        return node


def transform_function(function: Callable) -> Callable:
    """Return ``function`` with statement-level ``parallel`` semantics and its unit expressions
    folded (itself if it has neither)."""
    try:
        return _cache[function]
    except KeyError:
        pass
    result = _transform(function)
    _cache[function] = result
    return result


def _transform(function: Callable) -> Callable:
    code = getattr(function, "__code__", None)
    if code is None:
        return function
    parallel = any(name in _PARALLEL_NAMES for name in code.co_names)
    units = foldable_units(code, function.__globals__)
    if not parallel and not units:
        return function
    fdef = _parse_definition(function)
    if fdef is None:
        return function
    if not parallel and not _same_code(_compile(function, copy.deepcopy(fdef)), code):
        return function  # folding alone: only from the source the function was compiled from
    rewriter = _ParallelRewriter()
    if parallel:
        rewriter.visit(fdef)
    folder = UnitFolder(units)
    folder.fold(fdef)
    if not rewriter.changed and not folder.changed:
        return function
    new_code = _compile(function, fdef)
    from artiq.language.core import sequential

    # the original's own cells (a ``nonlocal`` write is seen outside), and the rewriter's name
    cells = dict(zip(code.co_freevars, function.__closure__ or ()))
    cells[_SEQ_NAME] = types.CellType(sequential)
    new: Any = types.FunctionType(
        new_code,
        function.__globals__,
        function.__name__,
        function.__defaults__,
        tuple(cells[n] for n in new_code.co_freevars),
    )
    new.__kwdefaults__ = function.__kwdefaults__
    new.__annotations__ = function.__annotations__
    new.__qualname__ = function.__qualname__
    new.__module__ = function.__module__
    new.__doc__ = function.__doc__
    new.__dict__.update(function.__dict__)
    new.__wrapped_kernel__ = function
    return new


def _parse_definition(function: Callable) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """``function``'s definition from its source, at its own lines and columns, without what the
    definition evaluates (decorators, defaults, annotations: the host function takes the
    original's, which may name class-body or later-bound names); None without a source."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return None
    # an indented definition (a method) is parsed inside a block, keeping its columns
    tree = ast.parse(f"if 1:\n{source}" if source[:1].isspace() else source)
    fdef = tree.body[0]
    if isinstance(fdef, ast.If):
        ast.increment_lineno(fdef, -1)
        fdef = fdef.body[0]
    if not isinstance(fdef, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    fdef.decorator_list = []
    fdef.returns = None
    args = fdef.args
    args.defaults = []
    args.kw_defaults = [None] * len(args.kwonlyargs)
    for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
        if a is not None:
            a.annotation = None
    return fdef


def _same_code(compiled: types.CodeType, code: types.CodeType) -> bool:
    """True if ``compiled`` runs the same instructions on the same constants and names as
    ``code`` (the source file did not change since the function was compiled)."""
    return (compiled.co_code, compiled.co_consts, compiled.co_names) == (
        code.co_code,
        code.co_consts,
        code.co_names,
    )


def _compile(function: Any, fdef: ast.FunctionDef | ast.AsyncFunctionDef) -> types.CodeType:
    """The code of ``fdef`` compiled as ``function``'s: in a scope that binds its free names (and
    the parallel rewriter's), with its lines and its module's future flags."""
    code = function.__code__
    factory = ast.FunctionDef(
        name="__ionlink_factory__",
        args=ast.arguments(
            posonlyargs=[],
            args=[ast.arg(arg=n) for n in [_SEQ_NAME, *code.co_freevars]],
            kwonlyargs=[],
            kw_defaults=[],
            defaults=[],
        ),
        body=[fdef, ast.Return(value=ast.Name(id=fdef.name, ctx=ast.Load()))],
        decorator_list=[],
        returns=None,
        **_TYPE_PARAMS,
    )
    module = ast.Module(body=[factory], type_ignores=[])
    ast.fix_missing_locations(module)
    ast.increment_lineno(module, code.co_firstlineno - 1)
    flags = code.co_flags & _FUTURE_FLAGS
    compiled = compile(module, code.co_filename, "exec", flags=flags, dont_inherit=True)
    (factory_code,) = (c for c in compiled.co_consts if isinstance(c, types.CodeType))
    (inner,) = (c for c in factory_code.co_consts if isinstance(c, types.CodeType))
    return inner


def kernel_source_function(kernel_obj: Callable) -> Callable:
    """The user function behind a ``@kernel`` wrapper, ``@portable`` function or plain function."""
    embedded = getattr(kernel_obj, "artiq_embedded", None)
    if embedded is not None and callable(embedded.function):
        return embedded.function
    return kernel_obj


def host_function(kernel_obj: Callable) -> Callable:
    """The host-executable, time-correct function behind a kernel wrapper (cached)."""
    try:
        return _cache[kernel_obj]
    except KeyError:
        pass
    fn = transform_function(kernel_source_function(kernel_obj))
    g = getattr(fn, "__globals__", None)
    if g is not None:
        provide(g)
        module = sys.modules.get(g.get("__name__", ""))
        if module is not None and vars(module) is g:
            # an imported module (a driver or mixin, not an experiment file, which the runner
            # binds while its kernel runs): its delays and RTIO calls go straight to the engine
            bind_hot(g)
    _cache[kernel_obj] = _State.hosted[kernel_obj] = fn
    return fn
