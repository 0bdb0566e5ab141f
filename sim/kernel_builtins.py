# SPDX-License-Identifier: LGPL-3.0-or-later
"""Names ARTIQ's compiler provides to every kernel without an import, for kernels run as host
Python: ``int32(x)`` and ``int64(x)`` convert to a fixed-width integer, truncating a float
towards zero and wrapping an integer that does not fit modulo 2^32 / 2^64 (as the compiled
conversion keeps the low bits: ``int32(0x87654321)`` is negative).
"""

from __future__ import annotations

from typing import Any

import numpy

__all__ = ["int32", "int64", "KERNEL_BUILTINS", "provide"]


def _wrap(x: Any, bits: int) -> int:
    v = int(x)  # floats truncate towards zero
    half = 1 << (bits - 1)
    return ((v + half) % (1 << bits)) - half


def int32(x: Any = 0) -> numpy.int32:
    """``x`` as a 32-bit integer (wrapped, floats truncated)."""
    return numpy.int32(_wrap(x, 32))


def int64(x: Any = 0) -> numpy.int64:
    """``x`` as a 64-bit integer (wrapped, floats truncated)."""
    return numpy.int64(_wrap(x, 64))


KERNEL_BUILTINS = {"int32": int32, "int64": int64}


def provide(module_globals: dict) -> None:
    """Give a kernel's module the builtins it does not define or import itself."""
    for name, value in KERNEL_BUILTINS.items():
        module_globals.setdefault(name, value)
