# SPDX-License-Identifier: LGPL-3.0-or-later
"""The physics world's side of the entangler's fast path (mixed into
:class:`~sim.physics.world.PhysicsWorld`): the exact cycle law of a configuration, cached per
configuration, thermal factor and polarisation paths, and the commits by which an entangler run
takes over the ions (:class:`~sim.fastforward.CycleWorld`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sim.rtio.phy.dds_timeline import STAMPS

from .attempts import CycleModel, CycleSample
from .cycle_build import build_cycle_model
from .lab import Lab

__all__ = ["THERMAL_KEY_TOL", "EntanglerRuns"]

THERMAL_KEY_TOL = 1e-6  # relative resolution of the mode overlap's thermal factor (fast path)


class EntanglerRuns:
    """Cycle laws and run commits of the physics world (see the module docstring)."""

    lab: Lab
    mu_s: float
    ions: Any
    _t: int
    _models: dict[Any, CycleModel]
    _run_key: int
    _run_jones: Any
    _owned: list[tuple[int, int]]
    _det_ch: list[int]
    _channels: dict[int, Any]
    _coh_t0: list[float]
    _staged: list[tuple[int, int, int]]
    advance: Callable[..., None]
    jones_pair: Callable[[int], Any]
    _close_period: Callable[[bool, int, int], None]
    _note_run_light: Callable[[dict[int, tuple[int, int]], int, int], None]  # (CircuitWorld)
    _runs_exposed: Callable[[float], None]
    _n_modes: tuple[float, ...] | None = None
    #: the last windows given to :meth:`cycle_model` (outputs, gates, cycle), their key part
    _windows_key: tuple[dict, dict, int, tuple] | None = None
    #: the last model given: (its windows memo, thermal key, paths, model, pumping light)
    _last_model: tuple[tuple, int, Any, CycleModel, tuple] | None = None
    _beam_rf: list[dict[str, Any]]  # from BeamLight (attached)
    _light: Callable[[Any, int], float]
    _first_light_change: Callable[..., int]
    view: Any
    #: the time (mu) the last cycle law's pumping light was taken at
    _law_t: int = 0
    #: :meth:`_pump_marks` of the last light looked up
    _pump_kept: tuple[int, int] | None = None

    def cycle_model(
        self,
        outputs: dict[int, tuple[int, int]],
        gates: dict[int, tuple[int, int]],
        cycle_mu: int,
        *,
        t_start_mu: int | None = None,
    ) -> CycleModel:
        """Exact per-cycle law of an entangler configuration (cached per configuration).

        :param outputs: entangler output 0..3 → (start_mu, stop_mu) in the cycle (8 ns quantised).
        :param gates: gate input 0..3 → (start_mu, stop_mu) relative to cycle start (1 ns).
        :param cycle_mu: cycle length, in mu.
        :param t_start_mu: the run's start: the outputs before it are turned into physics first,
            so that the model sees the ions' motional state at the run start.
        """
        if t_start_mu is not None:
            self.advance(t_start_mu)
        t_run = self._t if t_start_mu is None else t_start_mu
        self._note_run_light(outputs, cycle_mu, t_run)
        jones = self.jones_pair(t_run)
        self._run_jones = jones
        last = self._last_model
        kept = self._pump_kept
        if last is not None and kept is not None and kept[0] == STAMPS.last and t_run >= kept[1]:
            pump = last[4]  # (what _light would answer: the levels kept with unchanged marks)
        else:
            pump = self._run_pump_light(t_run)
            self._pump_kept = self._pump_marks(t_run)
        self._law_t = t_run
        # the ions' temperatures enter the cycle law only through the thermal factor
        # Π 1/(1 + n̄/n_mode) of the mode overlap: models are cached per configuration and that
        # factor (to THERMAL_KEY_TOL; built with the n̄ of the first run that needs them)
        thermal = self.ions.thermal
        self._run_key = self._thermal_key([th.n for th in thermal])
        memo = self._windows_key
        if memo is None or memo[0] != outputs or memo[1] != gates or memo[2] != cycle_mu:
            # the windows' part of the key, made again only when they change
            part = (tuple(sorted(outputs.items())), tuple(sorted(gates.items())), cycle_mu)
            memo = self._windows_key = (dict(outputs), dict(gates), cycle_mu, part)
        if (
            last is not None
            and last[0] is memo
            and last[1] == self._run_key
            and last[2] == jones
            and last[4] == pump
        ):
            return last[3]  # (the last run's law: no key to build and hash)
        key = (*memo[3], self._run_key, jones, pump)
        model = self._models.get(key)
        if model is None:
            n_bars = tuple(float(f"{t.n:.6g}") for t in thermal)
            model = build_cycle_model(
                self.lab,
                outputs,
                gates,
                cycle_mu,
                n_bars,  # type: ignore[arg-type]
                jones,
                pump,
            )
            self._models[key] = model
        self._last_model = (memo, self._run_key, jones, model, pump)
        return model

    def _run_pump_light(self, t_mu: int) -> tuple[float, float]:
        """Each node's pumping light in an entangler run starting at ``t_mu`` (its pump beam's
        light level, :mod:`.beam_rf`: 1 the lab's, 1 too for a beam without a DDS)."""
        rf = self._beam_rf
        return tuple(  # type: ignore[return-value]
            1 if "pump" not in rf[k] else self._light(rf[k]["pump"], t_mu) for k in range(2)
        )

    def _pump_marks(self, t_mu: int) -> tuple[int, int] | None:
        """After :meth:`_run_pump_light` at ``t_mu``: ``(the DDS stamp now, t_mu)`` if each
        node's pumping light there was the level its beam keeps with the view's mark of its DDS
        (:meth:`~.beam_rf.BeamLight._light`: a mark, at or before ``t_mu``), else None. While no
        DDS or CPLD draws a stamp the marks stay the same objects, and a run at or after
        ``t_mu`` finds the same levels without looking them up (:meth:`cycle_model`)."""
        view = self.view
        for rf in self._beam_rf:
            pump = rf.get("pump")
            if pump is None:
                continue
            mark = view.dds_changes(pump.spi, pump.cs) if view is not None else None
            if mark is None or mark is not pump.mark or t_mu < mark[2]:
                return None
        return STAMPS.last, t_mu

    def _pump_light_change(self, t_from: int, t_to: int) -> int:
        """The earliest time in [``t_from``, ``t_to``) (mu) at which a node's pumping light as
        :meth:`_run_pump_light` takes it differs from the last cycle law's (at ``t_from``
        already if it does there), ``t_to`` if never: a run after it needs a law of its own.
        (Its caller asks the beams' DDS watch first: a change since the law's light was taken.)"""
        last = self._last_model
        if last is None or self.view is None or t_to <= t_from:
            return t_to
        best = t_to
        for k, rf in enumerate(self._beam_rf):
            pump = rf.get("pump")
            if pump is None:
                continue
            if self._light(pump, t_from) != last[4][k]:
                return t_from
            best = self._first_light_change(pump, last[4][k], t_from, best)
        return best

    def _thermal_key(self, n_bars: Any) -> int:
        modes = self._n_modes
        if modes is None:  # the nodes' n_mode, read once
            modes = self._n_modes = tuple(node.motion.n_mode for node in self.lab.nodes)
        f = 1.0
        for n, n_mode in zip(n_bars, modes):
            f /= 1 + n / n_mode
        return round(f / THERMAL_KEY_TOL)

    def commit_cycle(
        self,
        sample: CycleSample,
        t_cycle_start_mu: int,
        *,
        t_run_start_mu: int | None = None,
        deliver_clicks: bool = False,
    ) -> None:
        """Make ``sample`` (the last cycle of an entangler run) the ions' state at its end.

        Processes all outputs before the run first; the run interval itself is owned by the
        entangler (no world processing, no dark counts of its own on the detectors).
        """
        t_run0 = t_cycle_start_mu if t_run_start_mu is None else t_run_start_mu
        self.commit_state(sample.rho, t_run0, t_cycle_start_mu + sample.model.cycle_mu)
        if deliver_clicks:
            for i, t in sample.clicks:
                self._channels[self._det_ch[i]].add_arrivals([t_cycle_start_mu + t])

    def commit_timeout(
        self, model: CycleModel, excluded: tuple[int, ...], t_run_start_mu: int, t_end_mu: int
    ) -> None:
        """Commit a run that ended without a pattern in ``excluded`` (a timeout): the ions are in
        the model's non-herald state at ``t_end_mu`` and heated over the run."""
        rho = model.post_state(excluded, copy=False)  # commit_state copies it
        self.commit_state(rho, t_run_start_mu, t_end_mu, timeout=True)

    def commit_state(
        self, rho: np.ndarray, t_run_start_mu: int, t_end_mu: int, *, timeout: bool = False
    ) -> None:
        """An entangler run owns [t_run_start, t_end): outputs before it are processed first, the
        ions heat over it and are in ``rho`` at its end (no world processing or detector dark
        counts of the world's own inside it). ``timeout``: ``rho`` depends only on the run's
        configuration (a run that timed out), so the period may repeat identically."""
        self.advance(t_run_start_mu)
        t_run0, t_end = t_run_start_mu, t_end_mu
        self._close_period(timeout, t_run0, t_end)
        self._owned.append((t_run0, t_end))
        channels = self._channels
        length = t_end - t_run0
        period = max(length, 1)
        for ch in self._det_ch:
            channels[ch].suppress_periodic(t_run0, period, 1, length)  # (suppress, one call less)
        run_s = (t_end - t_run0) * self.mu_s
        for th in self.ions.thermal:
            th.heat(run_s)
        self._runs_exposed(run_s)
        self.ions.rho = rho.copy()
        self._coh_t0 = [t_end * self.mu_s] * 2
        self._staged.clear()
        self._t = max(self._t, t_end)
