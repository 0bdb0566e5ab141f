# SPDX-License-Identifier: LGPL-3.0-or-later
"""Photon timing: arrival histograms, the gate trade-off and dark-count rates.

The lifetime estimator is :mod:`analysis.lifetime`, HOM visibility :mod:`analysis.hom`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .estimate import DEFAULT_CL, Estimate, poisson_rate

__all__ = [
    "Histogram",
    "IncrementalHistogram",
    "WindowPoint",
    "dark_rates",
    "gate_stop_from_excitation",
    "window_tradeoff",
]


@dataclass(frozen=True)
class Histogram:
    """A histogram: ``len(counts) + 1`` bin ``edges`` (unit stated where it is kept) and
    ``counts``."""

    edges: np.ndarray
    counts: np.ndarray


class IncrementalHistogram:
    """Histogram of integer time tags (mu) with unit bins, filled chunk by chunk.

    Memory is proportional to the tag range, not to the number of tags. Tags outside
    ``[lo, hi)`` (when given) are counted in ``underflow``/``overflow``.

    :param lo: lowest tag kept, in mu (``None``: grows to the data)
    :param hi: one past the highest tag kept, in mu (``None``: grows to the data)
    """

    def __init__(self, lo: int | None = None, hi: int | None = None) -> None:
        self.lo, self.hi = lo, hi
        self.offset: int | None = lo
        self.counts = np.zeros(0 if lo is None or hi is None else hi - lo, dtype=np.int64)
        self.underflow = 0
        self.overflow = 0
        self.total = 0

    def add(self, tags: np.ndarray, *, scratch: bool = False, tmax: int | None = None) -> None:
        """Add a chunk of int64 tags in mu.

        :param scratch: the caller no longer needs ``tags``; it may be overwritten (saves a copy)
        :param tmax: ``tags.max()`` if the caller already has it (saves a pass)
        """
        t = np.asarray(tags)
        if t.size == 0:
            return
        self.total += t.size
        if self.lo is not None and self.hi is not None:
            ok = (t >= self.lo) & (t < self.hi)
            n_ok = int(np.count_nonzero(ok))
            if n_ok != t.size:
                self.underflow += int(np.count_nonzero(t < self.lo))
                self.overflow += t.size - n_ok - int(np.count_nonzero(t < self.lo))
                t = t[ok]
            self.counts += np.bincount(
                (t - self.lo).astype(np.intp, copy=False), minlength=self.counts.size
            )
            return
        tmax = int(t.max()) if tmax is None else int(tmax)
        if (self.offset is None or self.offset == 0) and tmax < (1 << 24):
            try:  # fast path for non-negative tags: no shift needed (bincount rejects negatives)
                c = np.bincount(t if t.dtype == np.intp else t.astype(np.intp))
            except ValueError:
                c = None
            if c is not None:
                self.offset = 0
                if c.size > self.counts.size:
                    self.counts = np.concatenate(
                        [self.counts, np.zeros(c.size - self.counts.size, np.int64)]
                    )
                self.counts[: c.size] += c
                return
        tmin = int(t.min())
        if self.offset is None:
            self.offset = tmin
        if tmin < self.offset:
            self.counts = np.concatenate([np.zeros(self.offset - tmin, np.int64), self.counts])
            self.offset = tmin
        need = tmax - self.offset + 1
        if need > self.counts.size:
            self.counts = np.concatenate([self.counts, np.zeros(need - self.counts.size, np.int64)])
        if scratch and t.dtype == np.intp and t.flags.writeable:
            t = np.subtract(t, self.offset, out=t)
        else:
            t = (t - self.offset).astype(np.intp, copy=False)
        self.counts += np.bincount(t, minlength=self.counts.size)

    def merge(self, other: IncrementalHistogram) -> None:
        """Add what ``other`` (of the same ``lo``, ``hi``) counted, as if its tags had been added
        here (the counts may keep more empty bins below the lowest tag)."""
        if (other.lo, other.hi) != (self.lo, self.hi):
            raise ValueError("histograms of different ranges do not merge")
        self.total += other.total
        self.underflow += other.underflow
        self.overflow += other.overflow
        if other.offset is None or other.counts.size == 0:
            return
        if self.offset is None or self.counts.size == 0:
            self.offset, self.counts = other.offset, other.counts.copy()
            return
        lo = min(self.offset, other.offset)
        hi = max(self.offset + self.counts.size, other.offset + other.counts.size)
        counts = np.zeros(hi - lo, np.int64)
        counts[self.offset - lo : self.offset - lo + self.counts.size] += self.counts
        counts[other.offset - lo : other.offset - lo + other.counts.size] += other.counts
        self.offset, self.counts = lo, counts

    @property
    def edges_mu(self) -> np.ndarray:
        """Bin edges in mu (``len(counts) + 1`` values)."""
        off = 0 if self.offset is None else self.offset
        return np.arange(off, off + self.counts.size + 1, dtype=np.int64)

    def rebinned(self, max_bins: int = 400) -> tuple[np.ndarray, np.ndarray]:
        """(edges_mu, counts) over the occupied range, merged into at most ``max_bins`` equal
        bins."""
        nz = np.flatnonzero(self.counts)
        first = int(nz[0]) if nz.size else 0
        counts = self.counts[first:]
        w = max(1, -(-counts.size // max_bins))
        n = -(-counts.size // w) * w
        c = np.pad(counts, (0, n - counts.size)).reshape(-1, w).sum(axis=1)
        off = (0 if self.offset is None else self.offset) + first
        return off + w * np.arange(c.size + 1, dtype=np.int64), c


@dataclass(frozen=True)
class WindowPoint:
    """One point of the detection-window trade-off curve: the heralds a gate closing earlier
    keeps.

    :param gate_stop_mu: the stop of the gate [start, stop) that keeps them, in mu from the
        excitation pulse start: the convention of ``calib.photon.gate_start_mu``/
        ``gate_stop_mu`` and of ``ionlink-sim budget --detection-gate START STOP``; ``None``
        when the runs do not record where their excitation sat
    :param last_click_mu: the latest click kept, in mu from the attempt cycle's start (the
        origin of ``herald.t_det_mu``); ``None`` when the runs pooled excited at different
        times (their cycle times are then no common scale)
    :param heralds: heralds whose clicks all fall in the gate
    :param fraction: heralds kept / all heralds (rate relative to the full gate)
    :param rate_hz: kept heralds per lab second (``nan`` without lab time)
    :param fidelity: fidelity estimate on the kept heralds (``None`` if it failed)
    """

    gate_stop_mu: int | None
    last_click_mu: int | None
    heralds: int
    fraction: float
    rate_hz: float
    fidelity: Estimate | None


def gate_stop_from_excitation(last_click_mu: int, excite_mu: int) -> int:
    """The stop of the gate [start, stop) in mu from the excitation that keeps a click at
    ``last_click_mu`` (mu from the cycle's start) and none later: the click's 1 ns bin is the
    gate's last."""
    return int(last_click_mu) - int(excite_mu) + 1


def window_tradeoff(
    t_last_mu: np.ndarray,
    gate_stops_mu: np.ndarray,
    fidelity_of: Callable[[np.ndarray], Estimate],
    *,
    excite_mu: int | None = None,
    lab_time_s: float = float("nan"),
) -> list[WindowPoint]:
    """Rate against fidelity as the gate closes earlier (from stored click times).

    :param t_last_mu: per herald, the latest click time of the heralding pair, in mu from the
        attempt cycle's start (``herald.t_det_mu``; −1: none, kept at every stop)
    :param gate_stops_mu: candidate gate stops: with ``excite_mu`` the stops of gates
        [start, stop) in mu from the excitation (``calib.photon.gate_stop_mu``); without, the
        latest click times kept, in mu from the cycle's start
    :param fidelity_of: maps a boolean herald mask to a fidelity estimate; exceptions
        (e.g. too few heralds) give ``fidelity = None`` for that point
    :param excite_mu: the excitation pulse start the run played, mu from the cycle's start
    :param lab_time_s: lab time in s for the absolute rate
    """
    t = np.asarray(t_last_mu)
    n = t.size
    out = []
    for stop in np.asarray(gate_stops_mu, dtype=np.int64):
        last = int(stop) if excite_mu is None else int(stop) + int(excite_mu) - 1
        mask = t <= last
        k = int(np.count_nonzero(mask))
        try:
            fid: Estimate | None = fidelity_of(mask) if k else None
        except ValueError:
            fid = None
        rate = k / lab_time_s if lab_time_s > 0 else float("nan")
        gate_stop = None if excite_mu is None else int(stop)
        out.append(WindowPoint(gate_stop, last, k, k / n if n else float("nan"), rate, fid))
    return out


def dark_rates(counts: np.ndarray, duration_s: float, *, cl: float = DEFAULT_CL) -> list[Estimate]:
    """Dark-count rate per detector in s⁻¹ (Garwood interval) from counts in ``duration_s`` s."""
    return [poisson_rate(int(k), float(duration_s), cl=cl) for k in np.asarray(counts).ravel()]
