# SPDX-License-Identifier: LGPL-3.0-or-later
"""What pc_rpc's servers and clients share: the banner and feature, the target choice, the
identification check, the request and reply messages and how exceptions travel
(:mod:`comms.pc_rpc` describes the protocol)."""

from __future__ import annotations

import builtins
import traceback
from typing import Any

from comms import pyon

__all__ = [
    "AutoTarget",
    "BANNER",
    "FEATURE",
    "GenericRemoteException",
    "IncompatibleServer",
    "call_request",
    "check_identification",
    "choose_target",
    "encode_line",
    "pack_exception",
    "raise_packed",
    "reply_value",
]

#: First line a client sends.
BANNER = b"ARTIQ pc_rpc\n"
#: The one feature spoken: PYON v2.
FEATURE = "pyon_v2"


class AutoTarget:
    """Target name for clients: the server's only target (``ValueError`` if it has several)."""


class IncompatibleServer(Exception):
    """The server does not offer the requested target, or does not speak PYON v2."""


class GenericRemoteException(Exception):
    """A remote exception of a class that is not a Python builtin (its message names it)."""

    parent_traceback: list[str]


def choose_target(wanted: Any, offered: list[str]) -> str:
    """The target to select: ``wanted``, or the only one offered for :class:`AutoTarget`."""
    if wanted is AutoTarget:
        if len(offered) != 1:
            raise ValueError("Server has multiple targets: " + " ".join(sorted(offered)))
        return offered[0]
    if wanted not in offered:
        raise IncompatibleServer("valid target name(s): " + " ".join(sorted(offered)))
    return str(wanted)


def check_identification(ident: Any) -> tuple[list[str], str | None]:
    """``(targets, description)`` of a server identification that offers PYON v2."""
    if not isinstance(ident, dict) or "targets" not in ident:
        raise IncompatibleServer("not a pc_rpc server (no identification)")
    if FEATURE not in ident.get("features", []):
        raise IncompatibleServer("server does not offer PYON v2 (sipyco older than 1.6)")
    return list(ident["targets"]), ident.get("description")


def pack_exception(exc: BaseException) -> dict:
    """The ``exception`` field of a failed reply."""
    cls = type(exc)
    tb = traceback.format_tb(exc.__traceback__)
    if getattr(builtins, cls.__name__, None) is cls:
        return {"class": cls.__name__, "message": str(exc), "traceback": tb}
    message = traceback.format_exception_only(cls, exc)[0].rstrip()
    return {"class": "GenericRemoteException", "message": message, "traceback": tb}


def raise_packed(packed: dict) -> None:
    """Raise the exception a failed reply carries (builtin class, else generic)."""
    cls = getattr(builtins, str(packed.get("class")), None)
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        cls = GenericRemoteException
    exc = cls(packed.get("message", ""))
    exc.parent_traceback = packed.get("traceback", [])  # type: ignore[attr-defined]
    raise exc


def reply_value(reply: Any) -> Any:
    """The return value of a reply, or raise what it carries."""
    if not isinstance(reply, dict):
        raise ValueError("malformed pc_rpc reply: {!r}".format(reply))
    if reply.get("status") == "ok":
        return reply.get("ret")
    if reply.get("status") == "failed":
        raise_packed(reply.get("exception", {}))
    raise ValueError("malformed pc_rpc reply: {!r}".format(reply))


def call_request(name: str, args: tuple, kwargs: dict) -> dict:
    """The request that calls ``name(*args, **kwargs)``."""
    return {"action": "call", "name": name, "args": args, "kwargs": kwargs}


def encode_line(obj: Any) -> bytes:
    """``obj`` as one PYON v2 line."""
    return (pyon.encode(obj) + "\n").encode()
