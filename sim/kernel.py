# SPDX-License-Identifier: LGPL-3.0-or-later
"""Running ARTIQ kernels as host Python with compiled-ARTIQ timing semantics.

ARTIQ's compiler turns ``with parallel:`` into: remember the start time; for each *top-level
statement* of the body, rewind to the start, execute it, and track the latest end; finally continue
at the latest end (``artiq/compiler/transforms/artiq_ir_generator.py::visit_With``). The host
time-manager hook cannot see statement boundaries, so kernel functions are rewritten once: every
top-level statement of a ``parallel``/``interleave`` body is wrapped in ``with sequential:``. The
rewritten function is cached per function object.

:data:`STATE` also serves as the stand-in's ``KernelHooks``: ``Core.run`` installs it with
``artiq.language.core.set_kernel_hooks`` while a kernel runs, so that a ``@kernel`` called from a
kernel runs here directly and an ``@rpc`` call is charged by :func:`sim.syscalls.call_rpc`.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
import threading
from typing import Any, Callable

from sim.kernel_builtins import provide
from sim.syscalls import bind_hot, call_rpc

__all__ = ["STATE", "host_function", "transform_function", "kernel_source_function"]

_PARALLEL_NAMES = frozenset(("parallel", "interleave"))
_SEQ_NAME = "__ionlink_sequential__"
# ast.FunctionDef has a `type_params` field from Python 3.12 on (PEP 695)
_TYPE_PARAMS: dict[str, Any] = {"type_params": []} if sys.version_info >= (3, 12) else {}


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
    """Return ``function`` with statement-level ``parallel`` semantics (itself if it has no such
    block)."""
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
    if not any(name in _PARALLEL_NAMES for name in code.co_names):
        return function
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        return function
    tree = ast.parse(source)
    fdef = tree.body[0]
    if not isinstance(fdef, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return function
    fdef.decorator_list = []
    rewriter = _ParallelRewriter()
    rewriter.visit(fdef)
    if not rewriter.changed:
        return function
    freevars = list(code.co_freevars)
    factory = ast.FunctionDef(
        name="__ionlink_factory__",
        args=ast.arguments(
            posonlyargs=[],
            args=[ast.arg(arg=n) for n in [_SEQ_NAME] + freevars],
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
    compiled = compile(module, code.co_filename, "exec")
    namespace: dict = {}
    exec(compiled, function.__globals__, namespace)
    from artiq.language.core import sequential

    cells = [c.cell_contents for c in (function.__closure__ or ())]
    new = namespace["__ionlink_factory__"](sequential, *cells)
    new.__defaults__ = function.__defaults__
    new.__kwdefaults__ = function.__kwdefaults__
    new.__wrapped_kernel__ = function
    return new


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
