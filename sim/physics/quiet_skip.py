# SPDX-License-Identifier: LGPL-3.0-or-later
"""Quiet CPU-heralding attempts skipped in law (mixed into the physics world, with
:class:`~sim.physics.quiet.QuietAttempts`, which says what a quiet pass is, and
:class:`~sim.physics.transients.QuietTransients`, the chain after a click).

From a known quiet pass ``ref`` (seen before from where the world is now), pass j to come is
quiet with probability ``P0_j · exp(−Λ·T)``: ``P0_j`` the probability of the round's empty
pattern at the mode overlap of the ions heated (no cooling light in an attempt) up to that pass's
excitation, ``Λ·T`` the detectors' expected dark counts in its window. :meth:`QuietSkips.skip_quiet`
draws how many in a row are quiet, moves the world over them in closed form, and arms the next
one not quiet (:meth:`QuietSkips._arm`): its round non-empty, or empty with at least one dark
count; that pass is then made in law (:mod:`.click_law`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .bsa import build_round
from .click_law import LawPass
from .quiet import KnownQuiet, QuietFire, QuietPass

__all__ = ["QuietSkips"]


def queue_dark_counts(rng: Any, dets: list[Any], windows: list[int], weights: list[float]) -> None:
    """Queue at least one dark count on the detectors ``dets``, each in its window (``windows``,
    mu from where it has drawn them to), its expected number ``weights``: the number by the
    inverse CDF of the truncated Poisson law, the detectors by their weights, the times
    uniform."""
    dark_mean = sum(weights)
    e_dark = math.exp(-dark_mean)
    target = e_dark + rng.random() * (1.0 - e_dark)
    n, pk = 1, dark_mean * e_dark
    c = e_dark + pk
    while c < target and n < 1000:
        n += 1
        pk *= dark_mean / n
        c += pk
    which = rng.choice(len(dets), size=n, p=[w / dark_mean for w in weights])
    for i in which.tolist():
        d = dets[i]
        d.add_arrivals([d.dark_to_mu + int(rng.random() * windows[i])])


def _heated_overlap(lab: Any, timed: float, n0: list, heat: list, dt_mu: int) -> float:
    """The mode overlap, rounded as the round tables are keyed, of an excitation with the
    photon-offset part ``timed`` (:func:`~sim.physics.photon_modes.timed_overlap`) after the ions
    heated from n̄ ``n0`` at ``heat`` quanta per mu for ``dt_mu`` (no cooling light in an
    attempt). ``round_overlap(thermal_overlap(lab, timed, heated n̄))``, the same operations
    in one frame (a click's skip asks for a handful; tests/physics/test_draw_shortcuts.py)."""
    m = timed
    for node, n, h in zip(lab.nodes, n0, heat):
        m /= 1 + (n + h * dt_mu) / node.motion.n_mode
    if type(m) is float:  # (the common case, checked first: cheaper than np.floating's check)
        return round(m, 4)
    if isinstance(m, np.floating):
        return round(float(m) * 1e4) / 1e4
    return round(m, 4)


class QuietSkips:
    """The physics world's part (mixed into it)."""

    rng: np.random.Generator
    lab: Any
    mu_s: float
    ions: Any
    _t: int
    _coh_t0: list[float]
    _diag: Any
    _note_unplanned: Callable[[], None]
    jones_pair: Callable[[int], tuple]  # from PolarisationTracking
    _plate_changes: list
    next_polarisation_change_mu: Callable[[int], int | None]
    _q_p0: dict[Any, float]  # (the rest of the state: QuietAttempts)
    _q_paths: tuple | None
    _q_known: dict[QuietPass, KnownQuiet]
    _q_now: tuple | None
    _q_rates: list[float]
    _q_force: bool | None
    _q_last_at: tuple | None
    _q_law: Any
    _timed: Callable[[float], float]
    _detectors: Callable[[], list]
    quiet_signature_now: Callable[[int], QuietPass | None]

    def _p_empty(self, fire: QuietFire, overlap: float) -> float:
        """P(empty pattern) of ``fire``'s round with mode overlap ``overlap``."""
        p0 = self._q_p0.get((fire, overlap))  # the same round (by identity) asked again
        if p0 is not None:
            return p0
        key = (fire.key, overlap, fire.rho0.tobytes())
        p0 = self._q_p0.get(key)
        if p0 is None:
            em_a, em_b, _, acc = fire.key
            p = build_round(em_a, em_b, overlap, acc, (0.0,) * 4).pattern_probs(fire.rho0)
            p0 = float(p[0] / p.sum())
            if len(self._q_p0) > 4096:
                self._q_p0.clear()
            self._q_p0[key] = p0
        self._q_p0[(fire, overlap)] = p0
        return p0

    def _passes_in_polarisation(
        self, fire: QuietFire, t_fire: int, max_passes: int, period_mu: int
    ) -> int:
        """How many of ``max_passes`` passes, whose excitations start at ``t_fire`` every
        ``period_mu``, see the photon paths (fibre drift, plate moves) of ``fire``'s round."""
        pair, change = self._paths_at(t_fire)
        for e, p in zip(fire.key[:2], pair):
            if e is not None and e.jones != p:
                return 0
        if change is None:
            return max_passes
        return min(max_passes, -(-(change - t_fire) // period_mu))

    def _paths_at(self, t_mu: int) -> tuple[tuple, int | None]:
        """Both paths' Jones matrices at ``t_mu`` and the next lab time they may change (mu,
        None: never), as :meth:`jones_pair` and :meth:`next_polarisation_change_mu` say; the
        answer holds from where it was asked until that change (remembered while no plate
        move was added)."""
        changes = self._plate_changes
        c = self._q_paths
        if (
            c is not None
            and c[0] is changes
            and c[1] == len(changes)
            and c[2] <= t_mu
            and (c[3] is None or t_mu < c[3] - 1)  # (a ns short of it: the change is rounded up)
        ):
            return c[4], c[3]
        pair = self.jones_pair(t_mu)
        change = self.next_polarisation_change_mu(t_mu)
        self._q_paths = (changes, len(changes), t_mu, change, pair)
        return pair, change

    def skip_quiet(self, max_passes: int, period_mu: int, ref: QuietPass, t_next_mu: int) -> int:
        """The loop will make the quiet pass ``ref`` (seen before, from where the world is now)
        from ``t_next_mu``, and if the world is where ``ref`` left it, again every
        ``period_mu`` (at most ``max_passes`` times; once from elsewhere: a transient). Draw how
        many of them are quiet, advance the world over those, and arm the next one to be drawn
        not quiet. Returns the number skipped (0: the next one is not quiet, or nothing is known
        of ``ref``)."""
        known = self._q_known.get(ref)
        now = self.quiet_signature_now(t_next_mu)
        if known is None or now is None or max_passes <= 0:
            return 0
        signed = self._q_now  # (as signed now: the detectors' last clicks, which skips keep)
        assert signed is not None
        marks = signed[4]
        if now is not ref and (now.hkey != ref.hkey or now != ref):
            max_passes = 1  # a transient: one pass leads from here to where ref ends
        mu, fire = self.mu_s, known.fire
        dets = self._detectors()
        rates = self._q_rates
        # each detector's dark-count window of the first pass (a period from the second on)
        windows = [t_next_mu + period_mu + r - d.dark_to_mu for r, d in zip(ref.dark_rel, dets)]
        if min(windows) < 0:
            return 0
        e_dark = math.exp(-sum([r * w for r, w in zip(rates, windows)]) * mu)
        # the excitation of the first pass to come (ref's, relative to its end)
        t_fire = known.fire_rel + t_next_mu + period_mu
        max_passes = self._passes_in_polarisation(fire, t_fire, max_passes, period_mu)
        if max_passes <= 0:
            return 0
        if max_passes == 1:  # (a transient's pass: one draw, as random(1) would make it)
            m0 = self._overlap_at(fire.key[2], t_fire)
            p0 = self._p_empty(fire, m0)
            k = 1 if self.rng.random() < p0 * e_dark else 0
            if k:
                self._move_on(t_next_mu + period_mu, ref, known, marks)
            else:
                self._q_now = None
                self._arm(p0, dets, rates, windows)
                self._q_law = LawPass(t_next_mu, known, m0)
            return k
        overlap = self._overlap_law(fire.key[2], t_fire, period_mu)

        def p_empty(j: int) -> float:
            return self._p_empty(fire, overlap(j))

        e_dark_period = math.exp(-sum(rates) * period_mu * mu)
        k = self._count_quiet(max_passes, p_empty, overlap, e_dark, e_dark_period)
        if k:
            self._move_on(t_next_mu + k * period_mu, ref, known, marks)
        if k < max_passes:
            self._q_now = None
            win = windows if k == 0 else [period_mu] * len(dets)
            self._arm(p_empty(k), dets, rates, win)
            self._q_law = LawPass(t_next_mu + k * period_mu, known, overlap(k))
        return k

    def _overlap_at(self, dt_s: float, t_fire: int) -> float:
        """``_overlap_law(dt_s, t_fire, period)(0)``: the mode overlap of the excitation at
        ``t_fire`` (mu), the ions heated from where the world is (the same operations)."""
        thermal, mu = self.ions.thermal, self.mu_s
        n0 = [th.n for th in thermal]
        heat = [th.heating_rate_per_s * mu for th in thermal]  # per mu
        return _heated_overlap(self.lab, self._timed(dt_s), n0, heat, t_fire - self._t)

    def _overlap_law(self, dt_s: float, t_fire: int, period_mu: int) -> Callable[[int], float]:
        """The mode overlap (rounded as the round tables are keyed) of the excitation of pass
        ``j`` to come, at ``t_fire + j·period_mu`` (mu), photon time offset ``dt_s``: the ions
        heat from where the world is (no cooling light in an attempt); memoised by ``j``."""
        lab, mu = self.lab, self.mu_s
        timed = self._timed(dt_s)
        thermal = self.ions.thermal
        n0 = [th.n for th in thermal]
        heat = [th.heating_rate_per_s * mu for th in thermal]  # per mu
        t0 = self._t  # where n0 holds (the world moves on after the draw)
        memo: dict[int, float] = {}

        def overlap(j: int) -> float:
            m = memo.get(j)
            if m is None:
                m = memo[j] = _heated_overlap(lab, timed, n0, heat, t_fire + j * period_mu - t0)
            return m

        return overlap

    def _count_quiet(
        self,
        max_passes: int,
        p_empty: Callable[[int], float],
        overlap: Callable[[int], float],
        e_dark: float,
        e_dark_period: float,
    ) -> int:
        """How many of ``max_passes`` (> 1) passes in a row are quiet: pass j with probability
        ``p_empty(j)`` times ``e_dark`` (the first) or ``e_dark_period`` (the others)."""
        u = self.rng.random(max_passes)
        if u[0] >= p_empty(0) * e_dark:
            return 0
        if overlap(1) == overlap(max_passes - 1):
            # monotone in time: one law from the second pass on
            bad = np.nonzero(u[1:] >= p_empty(1) * e_dark_period)[0]
            return 1 + int(bad[0]) if bad.size else max_passes
        for j in range(1, max_passes):
            if u[j] >= p_empty(j) * e_dark_period:
                return j
        return max_passes

    def _move_on(self, t_end: int, ref: QuietPass, known: KnownQuiet, marks: tuple) -> None:
        """The world after quiet passes ``ref`` ending with the cursor at ``t_end`` (mu): heated
        in closed form, ``ref``'s ion state, coherence origins and dark-count horizons
        (``marks``: the detectors' last clicks, which quiet passes leave as they are)."""
        mu = self.mu_s
        t_world = t_end + ref.t_rel
        dt_s = (t_world - self._t) * mu
        for th in self.ions.thermal:
            th.heat(dt_s)
        self._t = t_world
        horizons = tuple([t_end + r for r in ref.dark_rel])
        dets = self._detectors()
        for d, t in zip(dets, horizons):
            d.dark_to_mu = t
        t_s = t_end * mu
        self._coh_t0 = [t_s + c for c in known.coh_rel]
        rho = self.ions.rho = known.rho.copy()
        self._diag = None
        self._note_unplanned()
        # the last round is now the last skipped pass's (ref's, ending at t_end): the world's own
        # signature (quiet_signature_now) then equals ref, and a following skip is not taken for
        # a transient; untouched until the next pass, it is ref itself. Its QuietFire is made
        # only if asked for (_last_fire): a chain of skips replaces it before
        self._q_last_at = (known.fire, ref.exc, t_end)
        self._q_now = (
            t_end,
            t_world,
            rho,
            horizons,
            marks,
            ref,
        )

    def _arm(self, p0: float, dets: list[Any], rates: list[float], windows: list[int]) -> None:
        """The next pass is not quiet: its round is non-empty (empty with probability ``p0``),
        or it is empty and at least one dark count falls in the detectors' ``windows`` (mu, from
        where each has drawn them to)."""
        rng = self.rng
        weights = [r * w * self.mu_s for r, w in zip(rates, windows)]
        dark_mean = sum(weights)  # expected dark counts in the pass's windows
        e_dark = math.exp(-dark_mean)
        q = p0 * e_dark
        if rng.random() * (1.0 - q) < 1.0 - p0:
            self._q_force = True
            return
        self._q_force = False
        queue_dark_counts(rng, dets, windows, weights)
        for d, w in zip(dets, windows):
            d.dark_to_mu += w
