# SPDX-License-Identifier: LGPL-3.0-or-later
"""The per-herald records of a link experiment while it runs, held compactly, with the running
sums its live figures need.

One herald is 11 machine words (``array`` columns of int64, ``t_wall`` float64: 88 bytes), not
a dozen Python objects; a long run's host memory grows by what it records and no more. The
running sums (heralds per ψ sign, attempts after the first herald, and per analysis setting the
counts of each readout parity and ψ sign) let a live update cost the same at the millionth
herald as at the first: nothing is recomputed over all heralds. Host code only (RPC side).
"""

from __future__ import annotations

from array import array
from typing import Sequence

import numpy as np

from drivers.bsa import psi_of_pattern

__all__ = ["HeraldRecords", "INT_COLUMNS"]

#: int64 columns, one value per herald (``t_det_mu`` has four: gate inputs 0..3, -1 if none)
INT_COLUMNS = ("setting", "pattern", "attempts", "t_lab_mu", "counts_a", "counts_b")


class HeraldRecords:
    """Columns of the heralds recorded so far, and running sums for the live figures.

    :param thresholds: readout thresholds of nodes A and B (counts above: bright, bit 1).
    :param n_settings: number of analysis settings.
    """

    def __init__(self, thresholds: tuple[int, int], n_settings: int) -> None:
        self._cols = {k: array("q") for k in INT_COLUMNS}
        self._int_cols = tuple(self._cols[k] for k in INT_COLUMNS)
        self._t_det = array("q")
        self._t_wall = array("d")
        self.thresholds = thresholds
        self.psi_plus = 0
        self.psi_minus = 0
        self.attempts_after_first = 0
        self.n_settings = n_settings
        self._tally = [0] * (n_settings * 6)  # flat [setting, ψ + 1, parity] (see tally)
        self._final = False  # columns were handed out as views: no more heralds

    @property
    def tally(self) -> np.ndarray:
        """Heralds per analysis setting, ψ + 1 (ψ = -1, 0, +1) and readout parity (0 even, 1
        odd): a new int64 array of shape (n_settings, 3, 2)."""
        return np.array(self._tally, dtype=np.int64).reshape(self.n_settings, 3, 2)

    def __len__(self) -> int:
        return len(self._t_wall)

    def append(
        self,
        setting: int,
        pattern: int,
        t_det_mu: Sequence[int],
        attempts: int,
        t_lab_mu: int,
        t_wall: float,
        counts_a: int,
        counts_b: int,
    ) -> None:
        """One herald (``t_det_mu``: the four gate inputs' timestamps, mu, -1 where none).

        :raises RuntimeError: after :meth:`column` (the records are final)"""
        if self._final:
            raise RuntimeError("herald records are final: their columns were taken")
        setting, pattern, attempts = int(setting), int(pattern), int(attempts)
        if len(self._t_wall):
            self.attempts_after_first += attempts
        c = self._int_cols  # in the order of INT_COLUMNS
        c[0].append(setting)
        c[1].append(pattern)
        c[2].append(attempts)
        c[3].append(int(t_lab_mu))
        c[4].append(int(counts_a))
        c[5].append(int(counts_b))
        self._t_det.extend(map(int, t_det_mu))
        self._t_wall.append(float(t_wall))
        psi = psi_of_pattern(pattern)
        if psi > 0:
            self.psi_plus += 1
        elif psi < 0:
            self.psi_minus += 1
        odd = (counts_a > self.thresholds[0]) != (counts_b > self.thresholds[1])
        if not 0 <= setting < self.n_settings:
            raise IndexError("analysis setting {} out of range".format(setting))
        self._tally[(setting * 3 + psi + 1) * 2 + (1 if odd else 0)] += 1

    def column(self, key: str) -> np.ndarray:
        """One column as a read-only view of its memory: int64, ``t_wall`` float64, ``t_det_mu``
        int64 of shape (n, 4). No copy, so that writing a long run's results does not double
        their size at the end (the peak memory of 10⁵ heralds fell by 8 MB); while a view is
        alive its memory cannot grow, so the records take no more heralds after this (``append``
        raises ``RuntimeError``): take the columns once the records are final."""
        if key == "t_wall":
            col = np.frombuffer(self._t_wall, dtype=np.float64)
        elif key == "t_det_mu":
            col = np.frombuffer(self._t_det, dtype=np.int64).reshape(len(self), 4)
        else:
            col = np.frombuffer(self._cols[key], dtype=np.int64)
        col.flags.writeable = False
        self._final = True
        return col

    def t_det_rows(self, start: int) -> list[list[int]]:
        """Detector timestamps (mu) of the heralds from index ``start`` on, one row of 4 each."""
        flat = self._t_det[4 * start :].tolist()
        return [flat[i : i + 4] for i in range(0, len(flat), 4)]

    def first_last_t_lab(self) -> tuple[int, int]:
        """Lab time (mu) of the first and of the last herald (requires one)."""
        t = self._cols["t_lab_mu"]
        return t[0], t[-1]

    def nbytes(self) -> int:
        """Bytes the columns hold (their allocation may be up to ≈ 1/8 larger)."""
        cols = [*self._cols.values(), self._t_det, self._t_wall]
        return sum(len(a) * a.itemsize for a in cols)
