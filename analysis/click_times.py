# SPDX-License-Identifier: LGPL-3.0-or-later
"""The heralds' click and lab times as the fidelity summary uses them: quantiles of integer times
from their histogram, the scale on which runs' click times are pooled for the gate trade-off (their
excitation, when every run says where it sat), the gates the runs played, and the herald rate
against lab time. Pure functions of arrays and the runs' totals."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import photons as ph
from .remote_runs import RunTotals

__all__ = [
    "HIST_RANGE",
    "ExcitationFrame",
    "excitation_frame",
    "histogram",
    "joined",
    "played_gates",
    "quantiles",
    "quantiles_of_counts",
    "rate_vs_lab_time",
    "shifted",
]

#: integer ranges up to this wide are histogrammed (unit bins) for quantiles and lookups
HIST_RANGE = 1 << 22


def joined(parts: list[np.ndarray]) -> np.ndarray:
    """``np.concatenate(parts)``; the array itself (not a copy) if there is one."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def rate_vs_lab_time(
    t_lab: list[tuple[int, np.ndarray]], lab_s: list[float]
) -> ph.Histogram | None:
    """Heralds per bin of lab time (edges in s from the first herald) from ``herald.t_lab_mu``
    (1 mu = 1 ns).

    Each run's times start at its first herald; later runs follow the earlier runs' lab time.
    """
    per_run: dict[int, list[np.ndarray]] = {}
    for i, t in t_lab:
        per_run.setdefault(i, []).append(t)
    x = np.empty(sum(t.size for _, t in t_lab))
    pos, offset = 0, 0.0
    for i in sorted(per_run):
        chunks = [t for t in per_run[i] if t.size]
        span = 0.0
        if chunks:  # chunk by chunk, in order, into x
            t0 = min(int(t.min()) for t in chunks)
            for t in chunks:
                seg = x[pos : pos + t.size]
                np.multiply(t - t0, 1e-9, out=seg)
                np.add(seg, offset, out=seg)
                pos += t.size
            span = float(max(int(t.max()) for t in chunks) - t0) * 1e-9
        offset += max(lab_s[i], span)
    if x.size > 1 and not bool(np.all(x[1:] >= x[:-1])):  # (a run's lab times are in order)
        x = np.sort(x)
    if x.size < 2 or x[-1] <= x[0]:
        return None
    c, e = histogram(x, min(60, max(5, x.size // 20)))
    return ph.Histogram(e - e[0], c)


def histogram(x: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.histogram(x, bins)``; for sorted ``x`` (wall-clock times) by bisection at the edges."""
    if x.size > 1 and bool(np.all(x[1:] >= x[:-1])):
        e = np.histogram_bin_edges(x[[0, -1]], bins=bins)  # same edges as np.histogram(x, bins)
        idx = np.searchsorted(x, e, side="left")
        idx[-1] = x.size  # last bin is closed
        return np.diff(idx), e
    return np.histogram(x, bins=bins)


def quantiles(t: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """``np.quantile(t, qs)`` (linear method) of integer ``t``, from a histogram when the range is
    small."""
    tmin, tmax = int(t.min()), int(t.max())
    if tmax - tmin >= HIST_RANGE:
        return np.quantile(t, qs)
    return quantiles_of_counts(np.bincount((t - tmin).astype(np.intp, copy=False)), tmin, qs)


def quantiles_of_counts(counts: np.ndarray, tmin: int, qs: np.ndarray) -> np.ndarray:
    """:func:`quantiles` of the integers whose histogram is ``counts`` (unit bins from ``tmin``,
    first and last bin non-empty)."""
    cum = np.cumsum(counts)
    n = int(cum[-1])
    virtual = (n - 1) * qs  # numpy's virtual index for the linear method
    prev = np.floor(virtual).astype(np.int64)
    nxt = np.minimum(prev + 1, n - 1)
    gamma = virtual - prev
    a = (tmin + np.searchsorted(cum, np.clip(prev, 0, n - 1), side="right")).astype(
        float
    )  # order statistics
    b = (tmin + np.searchsorted(cum, nxt, side="right")).astype(float)
    return np.where(gamma >= 0.5, b - (b - a) * (1 - gamma), a + (b - a) * gamma)


@dataclass(frozen=True)
class ExcitationFrame:
    """The common time scale of the runs' click times for the gate trade-off.

    :param shifts: per run, mu added to its click times (its excitation then falls on
        ``excite_mu``); all 0 when its excitation is unknown
    :param excite_mu: the excitation start on that scale (``None``: a run does not say)
    :param cycle: the scale is every run's own cycle time (no run shifted)
    :param notes: what the report should say about it
    """

    shifts: list[int]
    excite_mu: int | None
    cycle: bool
    notes: list[str]


def excitation_frame(runs: list[RunTotals]) -> ExcitationFrame:
    """The scale on which the runs' click times are pooled for the gate trade-off: aligned on
    their excitation when every run says where it sat (:attr:`RunTotals.played`), so that gate
    stops read as the calibration's (mu from the excitation); else their cycle times, as
    recorded, with a note."""
    excites = [None if r.played is None else r.played.excite_mu for r in runs]
    known = [e for e in excites if e is not None]
    if len(known) < len(runs):
        bare = [r for r, e in zip(runs, excites) if e is None]
        why = [
            "its excitation time was not read"
            if r.played is None
            else r.played.unknown or "it does not say"
            for r in bare
        ]
        more = f" (and {len(bare) - 1} more run(s))" if len(bare) > 1 else ""
        return ExcitationFrame(
            [0] * len(runs),
            None,
            True,
            [
                "detection-window trade-off: gate stops are the latest click times kept, in mu "
                "from the attempt cycle's start (herald.t_det_mu), not the gate's [start, stop) "
                "from the excitation (calib.photon.gate_start_mu/gate_stop_mu, ionlink-sim budget "
                f"--detection-gate): {os.path.basename(bare[0].path)}{more} records no "
                f"excitation time to convert them ({why[0]})"
            ],
        )
    ref = max(known)
    shifts = [ref - e for e in known]
    notes = []
    if any(shifts):
        at: dict[int, list[str]] = {}
        for r, e in zip(runs, known):
            at.setdefault(e, []).append(os.path.basename(r.path))
        shown = "; ".join(f"{e} mu: {', '.join(v)}" for e, v in sorted(at.items()))
        notes.append(
            "detection-window trade-off: the runs excited at different times of their cycles "
            f"({shown}); their clicks are pooled by their time after the excitation"
        )
    return ExcitationFrame(shifts, ref, not any(shifts), notes)


def shifted(t_last: list[np.ndarray], run_of: list[int], shifts: list[int]) -> list[np.ndarray]:
    """The chunks of click times (−1: none) with their run's shift added to every click."""
    if not any(shifts):
        return t_last
    return [np.where(t >= 0, t + shifts[i], t) if shifts[i] else t for t, i in zip(t_last, run_of)]


def played_gates(runs: list[RunTotals]) -> tuple[tuple[tuple[int, int], ...], int]:
    """The gates [start, stop) (mu from the excitation) the runs played, each once in the order
    of the runs, and how many runs record none."""
    gates = [None if r.played is None else r.played.gate_mu for r in runs]
    return tuple(dict.fromkeys(g for g in gates if g is not None)), gates.count(None)
