# SPDX-License-Identifier: LGPL-3.0-or-later
"""Time-tag analysis that folds batches of tags as they arrive: start–stop arrival histograms,
the cross-correlation of two groups of inputs (g²(τ)) and the HOM dip read from it.

Pure functions of arrays (times in ps, int64, time-ordered; input numbers, int32) and immutable
states: ``state = correlation_update(state, times, channels)`` for each batch gives exactly the
histogram of the concatenated stream, whatever the batch boundaries (the tags within the
correlation window of a batch's end are carried to the next). The I/O edge (a ZeroMQ subscriber)
is :mod:`analysis.tag_consumer`.

g²(τ) normalisation: coincidences in a bin of width Δ divided by N_a·N_b·Δ/T (uncorrelated
Poisson streams give 1), T the span of the stream. HOM dip between the analyser's two output
ports: the coincidences within ±w of τ = 0 against those within ±w of τ = ±k·period (the
neighbouring attempts), with the exact conditional interval of :func:`analysis.hom.hom_visibility`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .estimate import DEFAULT_CL, Estimate
from .hom import hom_visibility

__all__ = [
    "ArrivalState",
    "CorrelationState",
    "arrival_state",
    "arrival_update",
    "correlation_state",
    "correlation_update",
    "cross_differences",
    "g2",
    "hom_dip",
]


@dataclass(frozen=True)
class CorrelationState:
    """Cross-correlation of inputs ``group_a`` (start) and ``group_b`` (stop) so far.

    :param edges_ps: bin edges of τ = t_b − t_a (ps). :param counts: coincidences per bin.
    :param tail_a: tags of group a within the window of the last time seen (carried).
    :param n_a: tags of group a seen; :param n_b: of group b. :param t_first_ps, t_last_ps:
        span of the stream (None before any tag).
    """

    group_a: tuple[int, ...]
    group_b: tuple[int, ...]
    edges_ps: np.ndarray
    counts: np.ndarray
    tail_a: np.ndarray
    tail_b: np.ndarray
    n_a: int = 0
    n_b: int = 0
    t_first_ps: int | None = None
    t_last_ps: int | None = None

    @property
    def max_tau_ps(self) -> int:
        """Half-width of the window, ps."""
        return int(max(abs(self.edges_ps[0]), abs(self.edges_ps[-1])))


def correlation_state(
    group_a: tuple[int, ...], group_b: tuple[int, ...], bin_ps: int, max_tau_ps: int
) -> CorrelationState:
    """An empty correlation of ``group_a`` → ``group_b`` for |τ| ≤ ``max_tau_ps``.

    :raises ValueError: bin or window not positive, or a window not a whole number of bins."""
    if bin_ps <= 0 or max_tau_ps <= 0 or max_tau_ps % bin_ps:
        raise ValueError(f"window {max_tau_ps} ps must be a positive multiple of the bin {bin_ps}")
    edges = np.arange(-max_tau_ps, max_tau_ps + bin_ps, bin_ps, dtype=np.int64)
    empty = np.empty(0, dtype=np.int64)
    return CorrelationState(
        tuple(group_a), tuple(group_b), edges, np.zeros(len(edges) - 1, np.int64), empty, empty
    )


def cross_differences(a: np.ndarray, b: np.ndarray, max_tau_ps: int) -> np.ndarray:
    """Every b − a with |b − a| ≤ ``max_tau_ps`` (a, b sorted, int64)."""
    lo = np.searchsorted(b, a - max_tau_ps, side="left")
    hi = np.searchsorted(b, a + max_tau_ps, side="right")
    n = hi - lo
    if not n.sum():
        return np.empty(0, dtype=np.int64)
    idx = np.repeat(lo, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    return b[idx] - np.repeat(a, n)


def correlation_update(
    state: CorrelationState, times_ps: np.ndarray, channels: np.ndarray
) -> CorrelationState:
    """``state`` with one more batch of tags (later than every earlier batch)."""
    t = np.asarray(times_ps, dtype=np.int64)
    c = np.asarray(channels)
    if not len(t):
        return state
    a = t[np.isin(c, state.group_a)]
    b = t[np.isin(c, state.group_b)]
    w = state.max_tau_ps
    # new pairs: (every recent a, new b) and (carried a, ...) — a new a against carried and
    # new b; a carried a against new b; nothing pairs two carried tags again
    all_b = np.concatenate([state.tail_b, b])
    d = np.concatenate([cross_differences(a, all_b, w), cross_differences(state.tail_a, b, w)])
    hist, _ = np.histogram(d, bins=state.edges_ps)
    end = int(t[-1])
    tail_a = np.concatenate([state.tail_a, a])
    tail_b = all_b
    return replace(
        state,
        counts=state.counts + hist,
        tail_a=tail_a[tail_a >= end - w],
        tail_b=tail_b[tail_b >= end - w],
        n_a=state.n_a + len(a),
        n_b=state.n_b + len(b),
        t_first_ps=int(t[0]) if state.t_first_ps is None else state.t_first_ps,
        t_last_ps=end,
    )


def g2(state: CorrelationState) -> np.ndarray:
    """g²(τ) per bin (NaN before two inputs have tags over a non-zero span)."""
    span = (state.t_last_ps or 0) - (state.t_first_ps or 0)
    width = np.diff(state.edges_ps)
    norm = state.n_a * state.n_b * width / span if span > 0 else np.zeros(len(width))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, state.counts / np.where(norm > 0, norm, 1), np.nan)


def hom_dip(
    state: CorrelationState,
    period_ps: int,
    window_ps: int,
    *,
    side_peaks: int = 1,
    cl: float = DEFAULT_CL,
) -> Estimate:
    """HOM visibility from the coincidences within ±``window_ps`` of τ = 0 against those at
    τ = ±k·``period_ps`` (k = 1 … ``side_peaks``).

    :raises ValueError: the side peaks lie outside the correlation window, or no coincidences
        in them."""
    centres = 0.5 * (state.edges_ps[:-1] + state.edges_ps[1:])
    if side_peaks * period_ps + window_ps > state.max_tau_ps:
        raise ValueError("side peaks outside the correlation window")

    def peak(at: float) -> int:
        return int(state.counts[np.abs(centres - at) <= window_ps].sum())

    k0 = peak(0.0)
    kr = sum(peak(s * k * period_ps) for k in range(1, side_peaks + 1) for s in (-1, 1))
    n_r = 2 * side_peaks
    scale = k0 + kr + 1  # "attempts" per peak: only their ratio enters
    return hom_visibility(
        np.array([0, period_ps]), np.array([k0, kr]), np.array([scale, n_r * scale]), cl=cl
    )


@dataclass(frozen=True)
class ArrivalState:
    """Start–stop histogram: each ``click`` tag's delay after the latest ``start`` tag.

    :param last_start_ps: the latest start tag so far (None before one).
    :param n_click: click tags seen (those in ``counts`` followed a start within the range)."""

    start: tuple[int, ...]
    click: tuple[int, ...]
    edges_ps: np.ndarray
    counts: np.ndarray
    last_start_ps: int | None = None
    n_click: int = 0


def arrival_state(
    start: tuple[int, ...], click: tuple[int, ...], bin_ps: int, range_ps: int
) -> ArrivalState:
    """An empty arrival histogram over [0, ``range_ps``) in bins of ``bin_ps``."""
    if bin_ps <= 0 or range_ps <= 0:
        raise ValueError("bin and range must be positive")
    edges = np.arange(0, range_ps + bin_ps, bin_ps, dtype=np.int64)
    return ArrivalState(tuple(start), tuple(click), edges, np.zeros(len(edges) - 1, np.int64))


def arrival_update(state: ArrivalState, times_ps: np.ndarray, channels: np.ndarray) -> ArrivalState:
    """``state`` with one more batch of tags."""
    t = np.asarray(times_ps, dtype=np.int64)
    c = np.asarray(channels)
    starts = t[np.isin(c, state.start)]
    clicks = t[np.isin(c, state.click)]
    n_click = state.n_click + len(clicks)
    if state.last_start_ps is not None:
        starts = np.concatenate([[state.last_start_ps], starts])
    if not len(starts):
        return replace(state, n_click=n_click)
    i = np.searchsorted(starts, clicks, side="right") - 1
    ok = i >= 0
    hist, _ = np.histogram(clicks[ok] - starts[i[ok]], bins=state.edges_ps)
    return replace(
        state, counts=state.counts + hist, last_start_ps=int(starts[-1]), n_click=n_click
    )
