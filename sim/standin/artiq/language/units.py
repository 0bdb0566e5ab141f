# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.language.units``: SI unit multipliers."""

__all__ = []

_prefixes = {"p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}


def _register(base: str, prefixes: str) -> None:
    for p in prefixes:
        p = "" if p == "_" else p
        globals()[p + base] = _prefixes[p]
        __all__.append(p + base)


_register("s", "pnum_")
_register("Hz", "m_kMG")
_register("dB", "_")
_register("V", "um_k")
_register("A", "um_")
_register("W", "num_")
