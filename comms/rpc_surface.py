# SPDX-License-Identifier: LGPL-3.0-or-later
"""The public methods of an object as a pc_rpc target that any server can describe.

sipyco's server answers ``get_rpc_method_list`` by turning each annotation into its
``__name__``, which string annotations (``from __future__ import annotations``) and unions
(``int | None``) lack: the request then fails. :func:`rpc_surface` wraps an object's methods in
functions with the same parameters and docstrings and no annotations, so a typed object can be
served by sipyco's server as well as by :mod:`comms.pc_rpc`.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any, Callable, Iterable

__all__ = ["rpc_surface"]


def _plain(method: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return method(*args, **kwargs)

    signature = inspect.signature(method)
    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[
            p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()
        ],
        return_annotation=inspect.Signature.empty,
    )
    call.__annotations__ = {}
    call.__doc__ = method.__doc__
    call.__name__ = getattr(method, "__name__", "call")
    return call


def rpc_surface(target: Any, names: Iterable[str] | None = None) -> SimpleNamespace:
    """An object with ``target``'s public methods (or those in ``names``), unannotated."""
    if names is None:
        names = [n for n, m in inspect.getmembers(target, callable) if not n.startswith("_")]
    surface = SimpleNamespace(**{name: _plain(getattr(target, name)) for name in names})
    surface.__doc__ = inspect.getdoc(target)
    return surface
