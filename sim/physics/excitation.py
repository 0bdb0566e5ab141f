# SPDX-License-Identifier: LGPL-3.0-or-later
"""Excitation of a two-level emitter by a square pulse, and the photon arrival-time law.

The pulse (area θ, length t_p) drives |g⟩↔|e⟩ at Rabi frequency Ω = θ/t_p while |e⟩ decays at
Γ = 1/τ. The emission statistics come from the Monte-Carlo-wavefunction (quantum-jump) picture:
the no-jump evolution ψ̃(t) = exp(−i H_eff t) ψ(0) with H_eff = Ω/2 σ_x − iΓ/2 |e⟩⟨e| gives the
first-jump (emission) density Γ|c_e(t)|² during the pulse and the excited population |c_e(t_p)|²
that decays exponentially after it. After a jump during the pulse the ion is addressed again with
probability ``readdress_prob`` and may emit a second photon (double excitation). For t_p ≪ τ and
θ = π this gives p₂ ≈ readdress·Γt_p/2 (the literature's rule of thumb for a square π pulse is
~Γt_p/4, i.e. readdress ≈ ½).
"""

from __future__ import annotations

import cmath
import math
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from .normal import exgauss_cdf, ndtr

__all__ = ["ExcitationStats", "excitation_stats", "pumping_probability"]

_GRID = 256


@dataclass(frozen=True, eq=False)
class ExcitationStats:
    """Emission statistics of one excitation pulse applied to the addressed state.

    :param p_emit: probability of at least one spontaneous emission (any decay channel).
    :param p_double: probability of at least two emissions during/after the pulse.
    :param pulse_length_s: t_p, in s. :param lifetime_s: τ, in s.
    :param bin_edges_s: grid over the pulse, s from pulse start (length N+1).
    :param bin_probs: probability that the first emission falls in each bin, given emission.
    :param p_after: probability, given emission, that it happens after the pulse.
    """

    p_emit: float
    p_double: float
    pulse_length_s: float
    lifetime_s: float
    bin_edges_s: np.ndarray
    bin_probs: np.ndarray
    p_after: float

    def sample_times(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """First-emission times given emission, in s from the pulse start, shape (n,)."""
        after = rng.random(n) < self.p_after
        t = self.pulse_length_s + rng.exponential(self.lifetime_s, n)
        n_in = int((~after).sum())
        if n_in:
            cdf = self._bin_cdf
            k = np.searchsorted(cdf, rng.random(n_in), side="right").clip(0, len(cdf) - 1)
            lo = self.bin_edges_s[k]
            t[~after] = lo + rng.random(n_in) * (self.bin_edges_s[k + 1] - lo)
        return t

    def sample_times_one(self, rng: np.random.Generator) -> float:
        """``sample_times(rng, 1)[0]`` as a float: the same generator calls and value, without
        arrays (a detailed attempt's photon)."""
        after = rng.random() < self.p_after
        t = self.pulse_length_s + rng.exponential(self.lifetime_s)
        if not after:
            cdf, edges = self._bin_lists
            k = min(bisect_right(cdf, rng.random()), len(cdf) - 1)
            lo = edges[k]
            t = lo + rng.random() * (edges[k + 1] - lo)
        return t

    def sample_time(self, rng: np.random.Generator) -> float:
        """One first-emission time given emission (the law of :meth:`sample_times`), in s
        (τ times a standard exponential is ``rng.exponential(τ)``: the same draw and value)."""
        if rng.random() < self.p_after:
            return self.pulse_length_s + self.lifetime_s * rng.standard_exponential()
        cdf, edges = self._bin_lists
        k = min(bisect_right(cdf, rng.random()), len(cdf) - 1)
        return edges[k] + rng.random() * (edges[k + 1] - edges[k])

    @cached_property
    def _bin_lists(self) -> tuple[list[float], list[float]]:
        return self._bin_cdf.tolist(), self.bin_edges_s.tolist()

    @cached_property
    def _bin_cdf(self) -> np.ndarray:
        cdf = np.cumsum(self.bin_probs)
        return cdf / cdf[-1]

    def arrival_cdf(self, x_s: np.ndarray | float, offset_s: float, jitter_s: float) -> np.ndarray:
        """P(offset + emission time + N(0, jitter²) ≤ x), given emission.

        :param x_s: time(s) in s, same origin as ``offset_s`` (the pulse start + photon delay).
        """
        x = np.asarray(x_s, dtype=float) - offset_s
        out = self.p_after * exgauss_cdf(x - self.pulse_length_s, jitter_s, self.lifetime_s)
        if self.p_after < 1.0:
            mids = 0.5 * (self.bin_edges_s[1:] + self.bin_edges_s[:-1])
            if jitter_s > 0:
                c = ndtr((x[..., None] - mids) / jitter_s)
            else:
                c = (x[..., None] >= mids).astype(float)
            out = out + (1 - self.p_after) * (c * self.bin_probs).sum(axis=-1)
        return out

    def gate_probability(
        self, start_s: float, stop_s: float, offset_s: float, jitter_s: float
    ) -> float:
        """P(arrival ∈ [start, stop)) given emission (times in s, same origin as ``offset_s``)."""
        if stop_s <= start_s:
            return 0.0
        c = self.arrival_cdf(np.array([start_s, stop_s]), offset_s, jitter_s)
        return float(max(c[1] - c[0], 0.0))

    def gated_phase_mean(self, start_s: float, stop_s: float, omega: float) -> complex:
        """E[exp(iωt) | start ≤ t < stop] over the first-emission time t (s from the pulse
        start; the law of :meth:`sample_times`, the detectors' jitter left out): the mean phase
        factor a detection-time phase ω·t keeps over the photons a gate accepts (closed form:
        the exponential after the pulse, each in-pulse bin uniform). 1 if no photon falls in
        the gate."""
        num, den = 0j, 0.0
        tau, t_p = self.lifetime_s, self.pulse_length_s
        a, b = max(start_s - t_p, 0.0), stop_s - t_p
        if self.p_after > 0 and b > a:
            k = complex(1.0 / tau, -omega)
            # ∫ exp(-s/τ + iωs) ds / τ over [a, b) (s after the pulse), t = t_p + s
            num += (
                self.p_after
                * cmath.exp(1j * omega * t_p)
                * ((cmath.exp(-k * a) - cmath.exp(-k * b)) / (k * tau))
            )
            den += self.p_after * (math.exp(-a / tau) - math.exp(-b / tau))
        if self.p_after < 1.0:
            edges = self.bin_edges_s
            for lo, hi, w in zip(edges[:-1], edges[1:], self.bin_probs / self.bin_probs.sum()):
                lo2, hi2 = max(lo, start_s), min(hi, stop_s)
                if hi2 <= lo2 or w <= 0:
                    continue
                share = (1 - self.p_after) * w / (hi - lo)  # density over the bin
                if omega == 0:
                    num += share * (hi2 - lo2)
                else:
                    num += (
                        share
                        * (cmath.exp(1j * omega * hi2) - cmath.exp(1j * omega * lo2))
                        / (1j * omega)
                    )
                den += share * (hi2 - lo2)
        return num / den if den > 0 else 1.0 + 0j


def _expm2(a: np.ndarray) -> np.ndarray:
    """Matrix exponential of a 2×2 complex matrix (closed form)."""
    tr = 0.5 * (a[0, 0] + a[1, 1])
    b = a - tr * np.eye(2)
    s = np.sqrt(-np.linalg.det(b) + 0j)
    sh = np.sinh(s) / s if abs(s) > 1e-12 else 1.0 + s * s / 6
    return np.exp(tr) * (np.cosh(s) * np.eye(2) + sh * b)


@lru_cache(maxsize=256)
def excitation_stats(
    area_rad: float, length_s: float, lifetime_s: float, readdress_prob: float = 0.5
) -> ExcitationStats:
    """Emission statistics of a resonant square pulse (cached).

    :param area_rad: pulse area θ = Ω t_p, in rad. :param length_s: t_p, in s (0 = instantaneous).
    :param lifetime_s: τ, in s. :param readdress_prob: see :class:`Species`.
    """
    if length_s <= 0 or area_rad <= 0:
        p = math.sin(area_rad / 2) ** 2
        return ExcitationStats(p, 0.0, 0.0, lifetime_s, np.zeros(2), np.array([1.0]), 1.0)
    gam = 1.0 / lifetime_s
    om = area_rad / length_s
    dt = length_s / _GRID
    h = np.array([[0.0, om / 2], [om / 2, -0.5j * gam]], dtype=complex)
    u = _expm2(-1j * h * dt)
    c = np.empty((_GRID + 1, 2), dtype=complex)
    c[0] = (1.0, 0.0)
    for k in range(_GRID):
        c[k + 1] = u @ c[k]
    pe = np.abs(c[:, 1]) ** 2
    pg = np.abs(c[:, 0]) ** 2
    p_any = 1.0 - pg  # P(≥1 emission) from |g⟩ with remaining length t_k
    jump = gam * 0.5 * (pe[1:] + pe[:-1]) * dt  # first-jump probability per bin
    p_after_abs = pe[-1]
    p_emit = float(jump.sum() + p_after_abs)
    rem = 0.5 * (p_any[::-1][1:] + p_any[::-1][:-1])  # remaining length t_p − t_mid
    p_double = float(readdress_prob * (jump * rem).sum())
    if p_emit <= 0:
        return ExcitationStats(0.0, 0.0, length_s, lifetime_s, np.zeros(2), np.array([1.0]), 1.0)
    edges = np.linspace(0.0, length_s, _GRID + 1)
    probs = jump / max(jump.sum(), 1e-300)
    return ExcitationStats(
        p_emit,
        min(p_double, p_emit),
        length_s,
        lifetime_s,
        edges,
        probs,
        float(p_after_abs / p_emit),
    )


def pumping_probability(duration_s: float, pumping_time_s: float) -> float:
    """Probability that optical pumping of ``duration_s`` prepares |0⟩: 1 − exp(−t/t_pump)."""
    if duration_s <= 0:
        return 0.0
    return float(-math.expm1(-duration_s / pumping_time_s))
