# SPDX-License-Identifier: LGPL-3.0-or-later
"""Exceptions leaving a kernel, as ARTIQ's host receives them from the core device.

ARTIQ's firmware sends the host the whole chain of a kernel's nested exceptions (an exception
raised while handling another, and so on), oldest first; the host (``comm_kernel``) raises the
*first* of the chain, with its message formatted with the exception's parameters (on failure it
logs ``Couldn't format exception message`` with the error and keeps the message as it is), and
attaches the core device's traceback as ``artiq_core_exception``. That traceback prints as
``Core Device Traceback:``, one ``Traceback (most recent call first):`` block per exception of
the chain ending in ``Name(id): message`` (separated by ``During handling of the above exception,
another exception occurred:``), then ``End of Core Device Traceback``. Names and ids as ARTIQ
shows them: ``artiq.coredevice.exceptions.RTIOUnderflow(0)`` for the core device's own exceptions,
``ValueError(0)`` for Python's, ``module.Class(n)`` with a per-process id for the experiment's own.

The firmware numbers the exceptions it can raise itself (the compiler's embedding map preallocates
the same list); :func:`exception_by_id` raises the one of an id, as the firmware's exception-id
test syscall does.
"""

from __future__ import annotations

import builtins
import logging
import os
import traceback as _traceback
from dataclasses import dataclass

__all__ = [
    "KernelTraceback",
    "host_exception",
    "exception_by_id",
    "FIRMWARE_EXCEPTIONS",
]

logger = logging.getLogger("artiq.coredevice.comm_kernel")

#: The exceptions the core-device firmware raises by number (the order is the protocol's).
FIRMWARE_EXCEPTIONS = (
    "RTIOUnderflow",
    "RTIOOverflow",
    "RTIODestinationUnreachable",
    "DMAError",
    "I2CError",
    "CacheError",
    "SPIError",
    "SubkernelError",
    "AssertionError",
    "AttributeError",
    "IndexError",
    "IOError",
    "KeyError",
    "NotImplementedError",
    "OverflowError",
    "RuntimeError",
    "TimeoutError",
    "TypeError",
    "ValueError",
    "ZeroDivisionError",
    "LinAlgError",
    "UnwrapNoneError",
    "CXPError",
)
_CORE_DEVICE_EXCEPTIONS = frozenset(FIRMWARE_EXCEPTIONS[:8] + FIRMWARE_EXCEPTIONS[21:])
_SIM_DIR = os.path.dirname(os.path.abspath(__file__))
_user_ids: dict[type, int] = {}


def _exception_class(name: str) -> type:
    from sim.rtio import errors

    if name in _CORE_DEVICE_EXCEPTIONS:
        return getattr(errors, name)
    if name == "LinAlgError":
        from numpy.linalg import LinAlgError

        return LinAlgError
    return getattr(builtins, name)


def exception_by_id(exception_id: int) -> None:
    """Raise the firmware's exception number ``exception_id``, its name as the message."""
    name = FIRMWARE_EXCEPTIONS[exception_id]
    raise _exception_class(name)(name)


def _name_and_id(cls: type) -> tuple[str, int]:
    if cls.__name__ in _CORE_DEVICE_EXCEPTIONS and _exception_class(cls.__name__) is cls:
        return "artiq.coredevice.exceptions." + cls.__name__, 0
    if cls.__module__ == "builtins" or cls.__name__ in FIRMWARE_EXCEPTIONS:
        return cls.__name__, 0
    exception_id = _user_ids.setdefault(cls, len(FIRMWARE_EXCEPTIONS) + len(_user_ids))
    return "{}.{}".format(cls.__module__, cls.__qualname__), exception_id


@dataclass
class _Frame:
    filename: str
    line: int
    function: str
    source: str


@dataclass
class _ChainLink:
    name: str
    exception_id: int
    message: str
    frames: list[_Frame]  # most recent call first


def _kernel_frames(exc: BaseException) -> list[_Frame]:
    """The frames of ``exc``'s traceback outside the simulator and ARTIQ's language module."""
    frames = []
    for fs in _traceback.extract_tb(exc.__traceback__):
        path = os.path.abspath(fs.filename)
        if path.startswith(_SIM_DIR) or path.endswith(os.path.join("language", "core.py")):
            continue
        frames.append(_Frame(fs.filename, fs.lineno or 0, fs.name, (fs.line or "").strip()))
    return frames[::-1]


class KernelTraceback:
    """The core device's traceback of a kernel's exception chain (``artiq_core_exception``)."""

    def __init__(self, chain: list[_ChainLink]):
        self.chain = chain
        first = chain[0]
        self.name, self.id, self.message = first.name, first.exception_id, first.message

    @staticmethod
    def _block(link: _ChainLink) -> str:
        lines = ["Traceback (most recent call first):"]
        for f in link.frames:
            lines.append('  File "{}", line {}, in {}'.format(f.filename, f.line, f.function))
            lines.append("    " + (f.source or "<unknown>"))
        lines.append("{}({}): {}".format(link.name, link.exception_id, link.message))
        return "\n".join(lines)

    def __str__(self) -> str:
        between = "\n\nDuring handling of the above exception, another exception occurred:\n\n"
        blocks = between.join(self._block(link) for link in self.chain)
        return "Core Device Traceback:\n" + blocks + "\n\nEnd of Core Device Traceback\n"


def _message_and_params(exc: BaseException) -> tuple[str, tuple]:
    args = exc.args
    if args and isinstance(args[0], str):
        params = tuple(args[1:4]) + (0,) * (3 - len(args[1:4]))
        return args[0], params
    return str(exc), (0, 0, 0)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised while handling, oldest first."""
    chain = [exc]
    while True:
        cur = chain[-1]
        nxt = cur.__cause__ or (None if cur.__suppress_context__ else cur.__context__)
        if nxt is None or nxt in chain:
            return chain[::-1]
        chain.append(nxt)


def host_exception(exc: Exception) -> BaseException:
    """The exception ARTIQ's host raises for ``exc`` leaving a kernel: the first of its chain,
    its message formatted with its parameters, with ``artiq_core_exception`` attached."""
    chain = _chain(exc)
    links = []
    for e in chain:
        message, params = _message_and_params(e)
        try:
            formatted = message.format(*params)
        except Exception:
            formatted = message
            if e is chain[0]:
                logger.error("Couldn't format exception message", exc_info=True)
        name, exception_id = _name_and_id(type(e))
        links.append(_ChainLink(name, exception_id, formatted, _kernel_frames(e)))
    first = chain[0]
    message, _ = _message_and_params(first)
    if links[0].message != message and first.args and isinstance(first.args[0], str):
        first.args = (links[0].message,)
    try:
        first.artiq_core_exception = KernelTraceback(links)  # type: ignore[attr-defined]
    except AttributeError:  # an exception class with __slots__: raised as it is
        pass
    return first
