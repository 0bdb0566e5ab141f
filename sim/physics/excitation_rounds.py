# SPDX-License-Identifier: LGPL-3.0-or-later
"""The physics world's excitation rounds (mixed into :class:`~sim.physics.world.PhysicsWorld`).

An excitation pulse of a node is staged when it ends and fired with the other node's if the two
start within ``JOIN_WINDOW_TAU`` lifetimes of each other; one whose partner has not come by then
is fired alone. A round fires both (or one) emissions through the Bell-state analyser
(:func:`~sim.physics.bsa.build_round`'s table, kept by the emissions' keys): its click pattern,
the ions' conditional state, the photons' arrival times on the detectors (s, then mu), and for a
herald the phase of the two photons' arrival-time difference.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .attempts import HERALD_PATTERNS, phase_unitary
from .bsa import ORIGIN_A, ORIGIN_B, build_round
from .photon_modes import node_emission, pulse_stats, thermal_overlap
from .quiet import round_overlap

__all__ = ["JOIN_WINDOW_TAU", "ExcitationRounds"]

#: two nodes' excitations starting within this many lifetimes are one round
JOIN_WINDOW_TAU = 5.0


class ExcitationRounds:
    """The physics world's part (mixed into it): staging and firing excitation rounds."""

    rng: np.random.Generator
    lab: Any
    mu_s: float
    ions: Any
    _staged: list
    _coh_t0: list[float]
    _channels: dict[int, Any]
    _det_ch: list[int]
    _emissions: dict[tuple, tuple]
    _tables: dict[tuple, Any]
    _acceptances: tuple
    _check_excitation: Callable[[], None]  # from CircuitWorld
    path_jones: Callable[[int, int], Any]  # from PolarisationTracking
    _timed: Callable[[float], float]  # from QuietAttempts
    _round_pattern: Callable[..., int]
    _open_fire_source: Callable[..., Any]  # from ClickLaw

    def _stage(self, k: int, start: int, stop: int) -> None:
        # (called at the event that completes the excitation: ``stop`` is its time)
        window = JOIN_WINDOW_TAU * self.lab.nodes[k].species.lifetime_s / self.mu_s
        for i, (k2, s2, e2) in enumerate(self._staged):
            if k2 != k and abs(s2 - start) <= window:
                del self._staged[i]
                self._fire({k: (start, stop), k2: (s2, e2)}, stop)
                return
        self._staged.append((k, start, stop))

    def _flush_staged(self, t_now: int | None) -> None:
        keep = []
        for k, s, e in self._staged:
            window = JOIN_WINDOW_TAU * self.lab.nodes[k].species.lifetime_s / self.mu_s
            if t_now is None or t_now > s + window:
                self._fire({k: (s, e)})
            else:
                keep.append((k, s, e))
        self._staged = keep

    def _fire(self, exc: dict[int, tuple[int, int]], t_event: int | None = None) -> None:
        """One excitation round of one or both nodes through the analyser (``t_event``: the
        time of the beam event that fired both nodes' round, None for one fired alone)."""
        self._check_excitation()
        lab = self.lab
        ems: list[Any] = [None, None]
        stats: list[Any] = [None, None]
        memo = self._emissions
        ekeys: list[tuple | None] = [None, None]
        for k, (s, e) in exc.items():
            node = lab.nodes[k]
            # (the pulse's statistics depend on its length only, and its emission on them and
            # the path's Jones matrix: kept by those)
            ekey = ekeys[k] = (k, e - s, e != 0, self.path_jones(k, s))
            hit = memo.get(ekey)
            if hit is None:
                if len(memo) >= 256:
                    memo.clear()
                st = pulse_stats(node, s, e)
                hit = memo[ekey] = (st, node_emission(node, st, jones=ekey[3]))
            stats[k], ems[k] = hit
        offsets, dt = self._offsets(exc)
        # (mode_overlap's operations, its photon-offset part kept per offset)
        thermal = self.ions.thermal
        m = round_overlap(thermal_overlap(lab, self._timed(dt), tuple([t.n for t in thermal])))
        src = None if t_event is None else self._open_fire_source(exc, t_event, ekeys, stats)
        self._fire_round(exc, ekeys, ems, stats, offsets, dt, m, self.ions.rho, src)

    def _offsets(self, exc: dict[int, tuple[int, int]]) -> tuple[list[float], float]:
        """The photon time offsets (s) of the excitations ``exc`` and their difference; the
        coherence origins set to their starts."""
        offsets = [0.0, 0.0]
        for k, (s, _e) in exc.items():
            node = self.lab.nodes[k]
            offsets[k] = s * self.mu_s + node.excite.delay_s + node.optics.photon_delay_s
            self._coh_t0[k] = s * self.mu_s
        return offsets, (offsets[0] - offsets[1] if len(exc) == 2 else 0.0)

    def _fire_round(
        self,
        exc: dict[int, tuple[int, int]],
        ekeys: list,
        ems: list,
        stats: list,
        offsets: list[float],
        dt: float,
        m: float,
        rho: np.ndarray,
        src: Any,
    ) -> None:
        """The round of :meth:`_fire` from the ions' state ``rho`` at mode overlap ``m``: its
        pattern (:meth:`_round_pattern`), the ions' conditional state, the photons' arrivals on
        the detectors (``src``: the round's :class:`~.click_law.FireSource`, or None)."""
        lab = self.lab
        acc = self._acceptances
        # (the table of these emissions, by their keys: build_round's own cache hashes them)
        tkey = (ekeys[0], ekeys[1], m)
        table = self._tables.get(tkey)
        if table is None:
            if len(self._tables) >= 256:
                self._tables.clear()
            table = self._tables[tkey] = build_round(ems[0], ems[1], m, acc, (0.0,) * 4)
        start = table.start(rho)
        key = (ems[0], ems[1], dt, acc)
        pattern = self._round_pattern(start, key, m, tuple((k, *w) for k, w in exc.items()), src)
        self.ions.rho = start.conditional_state(pattern)
        if pattern == 0:
            return
        r = start.draw_record(self.rng, pattern)
        true_t = [math.nan] * 4
        for i, det in enumerate(lab.bsa.detectors):
            if not pattern >> i & 1:
                continue
            o = int(table.origin[r, i])
            if o not in (ORIGIN_A, ORIGIN_B):
                emitting = sorted(exc)
                o = emitting[int(self.rng.integers(len(emitting)))]
            t = offsets[o] + stats[o].sample_times_one(self.rng)
            true_t[i] = t
            rec = t + (self.rng.normal(0.0, det.jitter_s) if det.jitter_s > 0 else 0.0)
            self._channels[self._det_ch[i]].add_arrivals([math.floor(rec / self.mu_s)])
        if pattern in HERALD_PATTERNS:
            h = next(i for i in range(0, 4, 2) if pattern >> i & 1)
            v = next(i for i in range(1, 4, 2) if pattern >> i & 1)
            wq = 0.5 * (lab.nodes[0].omega_q + lab.nodes[1].omega_q)
            u = phase_unitary(wq * (true_t[h] - true_t[v]))
            self.ions.rho = u @ self.ions.rho @ u.conj().T
