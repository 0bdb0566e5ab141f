# SPDX-License-Identifier: LGPL-3.0-or-later
"""Entangler fast path: the exact per-cycle outcome law of one entangler configuration.

Every cycle of a run is the same experiment (pump, excite, gate) on ions re-pumped each cycle, so
cycles are i.i.d. :class:`CycleModel` holds the exact probability of each gated click pattern
(``pattern_probs``, 16 entries, bit i = gate input i saw ≥ 1 click) and draws one cycle in
detail conditioned on its pattern. The entangler PHY draws the number of cycles to the first
herald (geometric) and the counters (multinomial) from ``pattern_probs`` and builds only the last
cycle, so a run costs O(1) Python work.

Modelling notes: the pre-excitation ion state is the stationary state of the pump/excite cycle;
detector acceptance for a photon = QE × P(arrival + jitter in gate) per node: the part of the
gate's acceptance that differs between the nodes (photons arriving apart) is each node's loss
before the beam splitter, the rest averaged over the emitting nodes (exact for gates and jitters
alike on the four detectors; ``cycle_build._node_acceptance``); the mode overlap is the ungated
one; dead time and afterpulses do not change the gated pattern (afterpulses appear in
``clicks``); photons outside the gates are not drawn for ``clicks``. The law of a configuration
is built from the lab in :mod:`.cycle_build`.
"""

from __future__ import annotations

import cmath
import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from .bsa import (
    ORIGIN_A,
    ORIGIN_B,
    PSI_MINUS,
    PSI_PLUS,
    RoundTable,
)
from .excitation import ExcitationStats
from .lab import Lab
from .photon_modes import MU_S

__all__ = [
    "HERALD_PATTERNS",
    "CycleClick",
    "CycleModel",
    "CycleSample",
    "NodeCycle",
    "phase_unitary",
]

HERALD_PATTERNS = PSI_PLUS + PSI_MINUS


def phase_unitary(phi: float) -> np.ndarray:
    """Local unitary giving |10⟩ the phase e^{iφ} relative to |01⟩: R_z on A by φ/2, on B by
    −φ/2 (diagonal: |00⟩, |01⟩ e^{−iφ/2}, |10⟩ e^{iφ/2}, |11⟩)."""
    return np.diag(_phase_diagonal(phi))


def pick_index(rng: np.random.Generator, n: int) -> int:
    """``int(rng.integers(n))`` for ``n`` ≥ 1: the same value and generator state. For
    ``n`` 2 the bit is drawn as a float32 uniform's half (``integers(2)`` is the top bit of
    one 32-bit output, Lemire's ``(u·2) >> 32``; a float32 uniform is ``(u >> 8)·2⁻²⁴`` of the
    same output), which numpy makes for half the cost; ``n`` 1 draws nothing (``integers(1)``
    neither). Tested against ``integers`` (``tests/physics/test_attempts.py``)."""
    if n == 2:
        return 1 if rng.random(dtype=np.float32) >= 0.5 else 0
    if n == 1:
        return 0
    return int(rng.integers(n))


def _phase_diagonal(phi: float) -> np.ndarray:
    h = cmath.exp(0.5j * phi)
    return np.array([1.0, h.conjugate(), h, 1.0])


@dataclass(eq=False, slots=True)
class CycleSample:
    """One cycle drawn in detail.

    :param pattern: gated click pattern (bit i = input i). :param first_edge: per input, first
        gated click relative to cycle start (mu), −1 if none (as an array: :attr:`first_edge_mu`).
    :param clicks: all clicks ``(input, t_mu)`` relative to cycle start, time-ordered. :param rho:
        two-ion state at the cycle end (heralded state with its detection-time phase).
    :param true_times: per input, true photon/dark arrival time behind each first edge (s from
        cycle start; NaN if none; :attr:`true_times_s`). :param dark_first: per input, whether
        the first gated click was a dark count (:attr:`dark`).
    """

    pattern: int
    first_edge: list[int]
    clicks: list[tuple[int, int]]
    rho: np.ndarray
    true_times: list[float]
    model: CycleModel
    dark_first: list[bool] = field(default_factory=lambda: [False] * 4)

    @property
    def first_edge_mu(self) -> np.ndarray:
        """Shape (4,) int64: :attr:`first_edge`."""
        return np.array(self.first_edge, dtype=np.int64)

    @property
    def true_times_s(self) -> np.ndarray:
        """Shape (4,): :attr:`true_times` (s)."""
        return np.array(self.true_times)

    @property
    def dark(self) -> np.ndarray:
        """Shape (4,) bool: :attr:`dark_first`."""
        return np.array(self.dark_first, dtype=bool)


class CycleClick(NamedTuple):
    """A click of one cycle among several: cycle index, gate input, time from the cycle start
    (mu), whether it is the input's first gated click of that cycle (what the counters count)."""

    cycle: int
    input: int
    t_mu: int
    gated: bool


class _ClickTables(NamedTuple):
    """Per gate input: gate (s from the cycle start; NaN: none), acceptance, dark-click
    probability, jitter (s); per record and input: photons, their origin."""

    gates: list[tuple[float, float]]
    accept: list[float]
    dark: list[float]
    photons: list[list[int]]
    origin: list[list[int]]
    jitter: list[float]


def _click_order(c: tuple[int, int]) -> tuple[int, int]:
    return c[1], c[0]


#: per herald pattern: its H and its V detector (the first of each that clicked)
_HV = {
    q: (
        next(i for i in range(0, 4, 2) if q >> i & 1),
        next(i for i in range(1, 4, 2) if q >> i & 1),
    )
    for q in HERALD_PATTERNS
}


@dataclass(eq=False)
class NodeCycle:
    """One node's part of a cycle: its excitation statistics (None: not excited), when its
    photon leaves, and the probability that the pumping prepared it."""

    stats: ExcitationStats | None
    offset_s: float  # pulse start + beam delay + photon delay, s from cycle start
    p_pumped: float


@dataclass(eq=False)
class CycleModel:
    """Exact law of one entangler cycle (see module docstring).

    :param pattern_probs: shape (16,), probability per cycle of each gated pattern.
    """

    lab: Lab
    table: RoundTable
    rho0: np.ndarray
    nodes: tuple[NodeCycle, NodeCycle]
    gates_s: np.ndarray  # (4, 2), s from cycle start; NaN = no gate
    cycle_mu: int
    pattern_probs: np.ndarray
    _rec_cache: dict[int, list[float]] = field(default_factory=dict)
    _allowed_cache: dict[tuple[int, ...], tuple[tuple[int, ...], list[float]]] = field(
        default_factory=dict
    )
    # conditional states by pattern, and the "ungated" detector parameters
    _state_cache: dict[object, Any] = field(default_factory=dict)

    @property
    def single_fire_probs(self) -> np.ndarray:
        """P(input i saw ≥ 1 gated click) per cycle, shape (4,)."""
        bits = (np.arange(16)[:, None] >> np.arange(4)) & 1
        return self.pattern_probs @ bits

    def herald_probability(self, allowed: Sequence[int] = HERALD_PATTERNS) -> float:
        """Probability per cycle that the gated pattern is one of ``allowed``."""
        return float(self.pattern_probs[list(allowed)].sum())

    def _pattern_cdf(self, allowed: Sequence[int]) -> tuple[tuple[int, ...], list[float]]:
        """(allowed patterns, cumulative probabilities) for drawing a pattern in ``allowed``."""
        key = tuple(allowed)
        hit = self._allowed_cache.get(key)
        if hit is None:
            p = self.pattern_probs[list(key)]
            if p.sum() <= 0:
                raise ValueError("none of the allowed patterns can occur in this configuration")
            hit = (key, np.cumsum(p).tolist())
            self._allowed_cache[key] = hit
        return hit

    def _draw_pattern_record(
        self, rng: np.random.Generator, allowed: Sequence[int]
    ) -> tuple[int, int]:
        """One cycle's gated pattern (conditioned on ``allowed``) and its output record."""
        pats, pcdf = self._pattern_cdf(allowed)
        j = bisect_right(pcdf, rng.random() * pcdf[-1])
        pattern = pats[min(j, len(pats) - 1)]
        cdf = self._rec_cache.get(pattern)
        if cdf is None:
            cdf = np.cumsum(self.table.record_probs(pattern, self.rho0)).tolist()
            self._rec_cache[pattern] = cdf
        r = min(bisect_right(cdf, rng.random() * cdf[-1]), len(cdf) - 1)
        return pattern, r

    def sample(self, rng: np.random.Generator, allowed: Sequence[int]) -> CycleSample:
        """Draw one cycle conditioned on its gated pattern being in ``allowed``."""
        pattern, r = self._draw_pattern_record(rng, allowed)
        first = [-1, -1, -1, -1]
        true_t = [math.nan] * 4
        clicks: list[tuple[int, int]] = []
        dark = [False] * 4
        for i in range(4):
            if pattern >> i & 1:
                t_true, t_rec, dark[i] = self._draw_click(rng, i, r)
                first[i] = f = math.floor(t_rec / MU_S)
                true_t[i] = t_true
                clicks.append((i, f))
        clicks += self._ungated(rng, first)
        clicks.sort(key=_click_order)
        if pattern in HERALD_PATTERNS:
            rho = self._apply_phase(self._conditional_state(pattern, copy=False), pattern, true_t)
        else:
            rho = self._conditional_state(pattern)
        return CycleSample(pattern, first, clicks, rho, true_t, self, dark)

    def first_edge(self, rng: np.random.Generator, allowed: Sequence[int], i: int) -> int:
        """First gated click of input ``i`` (mu from cycle start, −1 if none) in one cycle drawn
        conditioned on its pattern being in ``allowed``: the same law as
        ``sample(rng, allowed).first_edge_mu[i]``, without drawing the rest of the cycle."""
        pattern, r = self._draw_pattern_record(rng, allowed)
        if not pattern >> i & 1:
            return -1
        return math.floor(self._draw_click(rng, i, r)[1] / MU_S)

    def plain_cycle_clicks(
        self, rng: np.random.Generator, counts: np.ndarray, n_cycles: int
    ) -> list[CycleClick]:
        """Clicks of ``n_cycles`` cycles whose gated patterns have the counts ``counts`` (16,;
        e.g. the non-herald cycles of a run, whose counts the entangler drew), for the waveform
        only: the clicking cycles are placed at random among the ``n_cycles``, each drawn in
        detail conditioned on its pattern (gated first edges, dark counts outside the gate,
        afterpulses); the cycles without a gated click get the dark counts outside the gates."""
        counts = np.asarray(counts, dtype=np.int64).copy()
        counts[0] = 0
        pats = np.repeat(np.arange(16), counts)
        m = len(pats)
        cycles = rng.choice(n_cycles, size=m, replace=False) if m else np.zeros(0, np.int64)
        out: list[CycleClick] = []
        for c, q in zip(cycles.tolist(), pats.tolist()):
            s = self.sample(rng, (q,))
            out += [
                CycleClick(c, i, t, bool(q >> i & 1) and t == s.first_edge[i]) for i, t in s.clicks
            ]
        n0 = n_cycles - m
        if n0 <= 0:
            return out
        taken = set(cycles.tolist())
        t_cyc = self.cycle_mu * MU_S
        for i, mean, g0, g1, _, _ in self._ungated_params:
            n = int(rng.poisson(mean * n0)) if mean > 0 else 0
            if n:
                for c, t in zip(
                    rng.integers(n_cycles, size=n).tolist(), (rng.random(n) * t_cyc).tolist()
                ):
                    if c not in taken and not g0 <= t < g1:
                        out.append(CycleClick(c, i, int(t / MU_S), False))
        return out

    def _conditional_state(self, pattern: int, copy: bool = True) -> np.ndarray:
        """Post-cycle ion state given the gated pattern (before the detection-time phase); a
        copy, or (``copy`` False) the cached array itself, not to be modified."""
        rho = self._state_cache.get(pattern)
        if rho is None:
            rho, _ = self.table.conditional_state(pattern, self.rho0)
            self._state_cache[pattern] = rho
        return rho.copy() if copy else rho

    def post_state(
        self, excluded: Sequence[int] = HERALD_PATTERNS, copy: bool = True
    ) -> np.ndarray:
        """Ion state at the end of a cycle whose gated pattern is not in ``excluded`` (averaged
        over those patterns; e.g. the last cycle of a run that timed out). Cached: a copy, or
        (``copy`` False) the cached array itself, not to be modified."""
        key = ("post",) + tuple(sorted(set(excluded)))
        rho = self._state_cache.get(key)
        if rho is None:
            keep = [q for q in range(16) if q not in set(excluded)]
            out = (self.table.superops[keep].sum(axis=0) @ self.rho0.reshape(16)).reshape(4, 4)
            p = float(np.real(np.trace(out)))
            rho = out / p if p > 0 else self.rho0.copy()
            self._state_cache[key] = rho
        return rho.copy() if copy else rho

    def _apply_phase(self, rho: np.ndarray, pattern: int, true_t: Sequence[float]) -> np.ndarray:
        """Detection-time phase φ = ω_q (t_H − t_V) on the heralded state."""
        h, v = _HV[pattern]
        d = _phase_diagonal(self._omega_q * (true_t[h] - true_t[v]))
        return rho * (d[:, None] * d.conj())  # u rho u† for the diagonal u

    @cached_property
    def _omega_q(self) -> float:
        """The nodes' mean qubit angular frequency (rad/s), of the detection-time phase."""
        return 0.5 * (self.lab.nodes[0].omega_q + self.lab.nodes[1].omega_q)

    @cached_property
    def _emitting(self) -> list[int]:
        """The nodes that emit in a cycle."""
        return [k for k in (0, 1) if self.nodes[k].stats is not None]

    @cached_property
    def _click_tables(self) -> _ClickTables:
        """The tables :meth:`_draw_click` reads, as Python lists (the same values)."""
        t = self.table
        return _ClickTables(
            [(g0, g1) for g0, g1 in np.asarray(self.gates_s, dtype=float).tolist()],
            np.asarray(t.accept, dtype=float).tolist(),
            np.asarray(t.dark, dtype=float).tolist(),
            np.asarray(t.photons).astype(np.int64).tolist(),  # (records can be thousands)
            np.asarray(t.origin).astype(np.int64).tolist(),
            [det.jitter_s for det in self.lab.bsa.detectors],
        )

    def _draw_click(self, rng: np.random.Generator, i: int, r: int) -> tuple[float, float, bool]:
        """(true, recorded time, is dark) of input i's first gated click in record r (s)."""
        tab = self._click_tables
        g0, g1 = tab.gates[i]
        a, d = tab.accept[i], tab.dark[i]
        n = tab.photons[r][i]
        p_ph = 1 - (1 - a) ** n
        # which of photon only, dark only, both made the record's click (weights as drawn)
        w0, w1, w2 = p_ph * (1 - d), (1 - p_ph) * d, p_ph * d
        u = rng.random() * (w0 + w1 + w2)
        kind = 0 if u < w0 else 1 if u < w0 + w1 else 2
        if kind == 0:
            return self._photon_time(rng, i, tab.origin[r][i]) + (False,)
        t = g0 + rng.random() * (g1 - g0)
        if kind == 1:
            return t, t, True
        t_ph, rec = self._photon_time(rng, i, tab.origin[r][i])
        return (t_ph, rec, False) if rec < t else (t, t, True)  # the earlier (the dark on a tie)

    def _photon_time(self, rng: np.random.Generator, i: int, origin: int) -> tuple[float, float]:
        if origin not in (ORIGIN_A, ORIGIN_B):
            emitting = self._emitting
            origin = emitting[pick_index(rng, len(emitting))] if emitting else ORIGIN_A
        nc = self.nodes[origin]
        tab = self._click_tables
        g0, g1 = tab.gates[i]
        sigma = tab.jitter[i]
        assert nc.stats is not None
        # rejection: emission time (+ jitter) until it falls in the gate; the gate accepts most
        # photons, so draws one at a time (a batch is used once the acceptance looks low)
        # (σ·z is ``rng.normal(0.0, σ)``: the same draw and value, without its argument checks)
        for _ in range(8):
            t = nc.offset_s + nc.stats.sample_time(rng)
            rec = t + sigma * rng.standard_normal() if sigma > 0 else t
            if g0 <= rec < g1:
                return t, rec
        for _ in range(50):
            ts = nc.offset_s + nc.stats.sample_times(rng, 64)
            recs = ts + rng.normal(0.0, sigma, 64) if sigma > 0 else ts
            ok = np.nonzero((recs >= g0) & (recs < g1))[0]
            if ok.size:
                return float(ts[ok[0]]), float(recs[ok[0]])
        t0 = g0 + rng.random() * (g1 - g0)  # practically unreachable: acceptance < 1e-4
        return t0, t0

    def _ungated(self, rng: np.random.Generator, first: Sequence[int]) -> list[tuple[int, int]]:
        """Dark counts outside the gates and afterpulses (waveform only)."""
        out = []
        t_cyc = self.cycle_mu * MU_S
        for i, dark_mean, g0, g1, p_ap, ap_delay_s in self._ungated_params:
            n = rng.poisson(dark_mean) if dark_mean > 0 else 0
            if n:
                for t in rng.random(n) * t_cyc:
                    if not g0 <= t < g1:
                        out.append((i, int(t / MU_S)))
            if first[i] >= 0 and p_ap > 0 and rng.random() < p_ap:
                t_ap = int(first[i]) + int(rng.exponential(ap_delay_s) / MU_S) + 1
                if t_ap < self.cycle_mu:
                    out.append((i, t_ap))
        return out

    @property
    def _ungated_params(self) -> list[tuple[int, float, float, float, float, float]]:
        """Per detector: (input, mean dark counts outside the gate per cycle, gate start, stop
        (s; an empty window if no gate), afterpulse probability, afterpulse delay)."""
        hit: list[tuple[int, float, float, float, float, float]] | None
        hit = self._state_cache.get("ungated")
        if hit is None:
            t_cyc = self.cycle_mu * MU_S
            hit = []
            for i, det in enumerate(self.lab.bsa.detectors):
                g0, g1 = self.gates_s[i]
                if np.isnan(g0):
                    g0 = g1 = 0.0
                mean = det.dark_rate_hz * max(t_cyc - (g1 - g0), 0.0)
                hit.append(
                    (
                        i,
                        float(mean),
                        float(g0),
                        float(g1),
                        float(det.afterpulse_prob),
                        float(det.afterpulse_delay_s),
                    )
                )
            self._state_cache["ungated"] = hit
        return hit
