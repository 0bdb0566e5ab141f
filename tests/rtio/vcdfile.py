# SPDX-License-Identifier: LGPL-3.0-or-later
"""A VCD file read back with pyvcd's tokenizer, for tests: header, variables by full dotted name
(aliases included), value changes per variable."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vcd.reader import TokenKind, tokenize


@dataclass
class VCDFile:
    """``vars``: full name (scopes joined by dots) → (identifier, var type, size); ``changes``:
    identifier → [(time, value)] in file order (``$dumpvars`` values at time 0)."""

    date: str = ""
    timescale: str = ""
    comment: str = ""
    vars: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    changes: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)

    def of(self, name: str) -> list[tuple[int, Any]]:
        """Value changes of the variable ``name`` (KeyError if the file has no such variable)."""
        return self.changes.get(self.vars[name][0], [])

    def rising(self, name: str) -> list[int]:
        """Times at which a 1-bit wire goes to 1."""
        return [t for t, v in self.of(name) if str(v) == "1"]

    def same(self, a: str, b: str) -> bool:
        """Whether two names are the same variable (aliases)."""
        return self.vars[a][0] == self.vars[b][0]


def read_vcd(path: str | Path) -> VCDFile:
    out = VCDFile()
    scope: list[str] = []
    t = 0
    with open(path, "rb") as f:
        for tok in tokenize(f):
            kind = tok.kind
            if kind is TokenKind.DATE:
                out.date = tok.date
            elif kind is TokenKind.TIMESCALE:
                out.timescale = f"{int(tok.timescale.magnitude)} {tok.timescale.unit.value}"
            elif kind is TokenKind.COMMENT:
                out.comment = tok.comment
            elif kind is TokenKind.SCOPE:
                scope.append(tok.scope.ident)
            elif kind is TokenKind.UPSCOPE:
                scope.pop()
            elif kind is TokenKind.VAR:
                v = tok.var
                out.vars[".".join(scope + [v.reference])] = (v.id_code, v.type_.value, v.size)
            elif kind is TokenKind.CHANGE_TIME:
                t = tok.time_change
            elif kind in (TokenKind.CHANGE_SCALAR, TokenKind.CHANGE_VECTOR, TokenKind.CHANGE_REAL):
                c = tok.data
                out.changes.setdefault(c.id_code, []).append((t, c.value))
    return out
