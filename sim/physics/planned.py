# SPDX-License-Identifier: LGPL-3.0-or-later
"""Windows in which nothing random acts (only cooling, repumping and pumping light): the ions'
evolution over such a window is one linear map of rho, built from the same segment rule the
detailed evolution uses (:func:`linear_step`) and memoised by the window's relative timing, beams
and coherence origins. Mixed into :class:`~sim.physics.world.PhysicsWorld`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from .beam_rf import beam_level
from .excitation import pumping_probability
from .ions import Thermal, dephase, depolarise_qubit, is_diagonal, reset_qubit

__all__ = ["LINEAR_ROLES", "PlannedWindows", "ShiftedEvents", "linear_step", "thermal_steps"]

LINEAR_ROLES = ("cool", "repump", "pump")  # roles whose physics has no randomness


def linear_step(
    rho: np.ndarray,
    k: int,
    node: Any,
    on: dict[str, float],
    t_a_s: float,
    t_b_s: float,
    coh_t0_s: float,
    coherent: bool = True,
) -> np.ndarray:
    """The deterministic part of one segment [t_a, t_b) for ion ``k`` with the beams ``on``:
    dephasing (T2, exponential or Gaussian from the coherence origin ``coh_t0_s``; skipped when
    ``coherent`` is False), scattering of the cooling light, optical pumping (at the beams' light
    levels, :mod:`.beam_rf`: True or 1 the lab's rate). Linear in ``rho``; ``rho`` may be a stack
    (n, 4, 4) of matrices, each then given the same element-wise operations as alone."""
    if coherent:
        if node.dephasing == "exponential":
            f = math.exp(-(t_b_s - t_a_s) / node.t2_s)
        else:
            f = math.exp(-(((t_b_s - coh_t0_s) ** 2) - ((t_a_s - coh_t0_s) ** 2)) / node.t2_s**2)
        rho = dephase(rho, k, f)
    cool, pump = on["cool"], on["pump"]
    if cool:
        p = pumping_probability((t_b_s - t_a_s) * cool, node.pumping_time_s)
        rho = depolarise_qubit(rho, k, p)
    if pump:
        rho = reset_qubit(rho, k, pumping_probability((t_b_s - t_a_s) * pump, node.pumping_time_s))
    return rho


def thermal_steps(
    thermal: Sequence[Thermal], ops: Sequence[tuple[int, bool, float]]
) -> tuple[tuple[tuple[bool, float], ...], ...]:
    """Per ion, the thermal ops ``(ion, cool, dt_s)`` addressed to it, in order, with their
    factors computed: ``(True, e)`` for cooling (n̄ ← n_D + (n̄ − n_D)·e), ``(False, h)`` for
    heating (n̄ ← n̄ + h). Applied in order they give the values of :meth:`Thermal.cool` and
    :meth:`Thermal.heat` called one by one (the same operations; the ions' rates are fixed)."""
    return tuple(
        tuple(
            (True, math.exp(-dt / th.cooling_time_s))
            if cool
            else (False, th.heating_rate_per_s * max(dt, 0.0))
            for kk, cool, dt in ops
            if kk == k
        )
        for k, th in enumerate(thermal)
    )


class ShiftedEvents:
    """A replayed window's beam events ``(t, node, order, role, level)`` (mu), made when
    iterated from ``rel``, events relative to ``t0``: ``(t, node, order, role, level)`` (a
    :class:`~sim.fastforward.StartPass`'s) or ``(t, node, role, level)`` (a plan key's, order
    0). Only a window that has no plan yet or starts a marked pass needs them."""

    __slots__ = ("rel", "t0", "ordered")

    def __init__(self, rel: tuple, t0: int, ordered: bool) -> None:
        self.rel = rel
        self.t0 = t0
        self.ordered = ordered

    def __iter__(self) -> Iterator[tuple[int, int, int, str, float]]:
        t0 = self.t0
        if self.ordered:
            return iter([(t + t0, k, o, role, lvl) for t, k, o, role, lvl in self.rel])
        return iter([(t + t0, k, 0, role, lvl) for t, k, role, lvl in self.rel])


class PlannedWindows:
    """The physics world's deterministic windows (mixed into it)."""

    lab: Any
    ions: Any
    mu_s: float
    _on: list[dict[str, float]]
    _t: int
    _diag: Any
    _coh_t0: list[float]
    _plans: dict[Any, Any]
    #: replayed windows' (events as the key holds them, (length, beams, offsets), key, plan),
    #: by the identity of those events (:meth:`_advance_planned`'s ``rel``)
    _replay_plans: dict[int, tuple[tuple, tuple, tuple, Any]]
    _note_window: Any
    _circuit_busy: Any

    # ---- windows without randomness: one linear map -------------------------------------------
    def _deterministic(self, events: list[tuple[int, int, int, str, float]]) -> bool:
        """True when only cooling, repumping and pumping act in the window (no excitation,
        detection or qubit drive): the ions' evolution is then a fixed linear map of rho."""
        if self._circuit_busy():
            return False
        for on in self._on:
            if on["detect"] or on["qubit"] or on["excite"] or on.get("ref"):
                return False
        for e in events:
            if e[3] not in LINEAR_ROLES:
                return False
        return True

    def _advance_planned(
        self, events: Iterable[tuple[int, int, int, str, float]], t0: int, t1: int, rel: Any = None
    ) -> None:
        """:meth:`advance` for a deterministic window: the same segment physics as
        :meth:`_evolve`, applied as one memoised superoperator (cooling between entangler runs
        repeats with the same relative timing, so the map is built once). ``rel``: the events
        as the plan key holds them, ``(t − t0, node, role, level)``, a tuple the caller keeps
        (a replayed window's, :class:`ShiftedEvents` then ``events``): the key and plan are
        then found by that tuple's identity (:attr:`_replay_plans`), without building and
        hashing the key."""
        mu = self.mu_s
        on_a, on_b = self._on
        on0 = (
            on_a["cool"],
            on_a["repump"],
            on_a["pump"],
            on_b["cool"],
            on_b["repump"],
            on_b["pump"],
        )
        ions = self.ions
        # a diagonal rho has nothing to dephase (and stays diagonal): the plan then needs no
        # coherence origins, and one plan serves every such window with these events
        diag = ions.rho is self._diag or is_diagonal(ions.rho)
        offs = (
            None
            if diag
            else tuple(
                0 if node.dephasing == "exponential" else round(t0 - self._coh_t0[k] / mu)
                for k, node in enumerate(self.lab.nodes)
            )
        )
        hit = False
        if rel is None:
            key = (
                t1 - t0,
                tuple([(t - t0, k, role, lvl) for t, k, _, role, lvl in events]),
                on0,
                offs,
            )
            plan = self._plans.get(key)
        else:
            memo = self._replay_plans.get(id(rel))
            hit = memo is not None and memo[0] is rel and memo[1] == (t1 - t0, on0, offs)
            if hit:
                key, plan = memo[2], memo[3]  # type: ignore[index]
            else:
                key = (t1 - t0, rel, on0, offs)
                plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(list(events), t0, t1, offs)
            if len(self._plans) >= 256:
                self._plans.clear()
            self._plans[key] = plan
        if rel is not None and not hit:
            if len(self._replay_plans) >= 256:
                self._replay_plans.clear()
            self._replay_plans[id(rel)] = (rel, (t1 - t0, on0, offs), key, plan)
        sop, thermal_ops, coh_rel, final_on, steps = plan
        self._note_window(t0, key, thermal_ops, t1, events)
        ions.rho = (sop @ ions.rho.reshape(16)).reshape(4, 4)
        self._diag = ions.rho if diag else None
        for th, ion_steps in zip(ions.thermal, steps):
            n, d = th.n, th.doppler_n
            for cool, x in ion_steps:
                n = d + (n - d) * x if cool else n + x
            th.n = n
        for k, c_rel in enumerate(coh_rel):
            if c_rel is not None:
                self._coh_t0[k] = (t0 + c_rel) * mu
        on = self._on
        for k, levels in final_on:
            on[k].update(levels)
        self._t = t1

    def _plan(
        self,
        events: list[tuple[int, int, int, str, float]],
        t0: int,
        t1: int,
        offs: tuple[int, ...] | None,
    ) -> tuple:
        """(superoperator (16, 16), thermal ops, pump-reset coherence origins, final beams (per
        node, its linear roles' levels),
        the thermal ops per ion as :func:`thermal_steps`) of a deterministic window, from the
        segment rules of :meth:`_evolve` applied to a basis.
        ``offs`` None: for diagonal states only (the diagonal basis, no dephasing)."""
        mu = self.mu_s
        coherent = offs is not None
        cols = list(range(16)) if coherent else [0, 5, 10, 15]
        # the basis matrices as one stack (n, 4, 4): each segment's operations are element-wise
        # (products with real factors, sums), so each matrix gets the bits it would alone
        stack = np.eye(16, dtype=complex).reshape(16, 4, 4)[cols]
        on = [dict(o) for o in self._on]
        coh = [(t0 - offs[k]) * mu if coherent else 0.0 for k in range(2)]  # type: ignore[index]
        coh_rel: list[int | None] = [None, None]
        thermal_ops: list[tuple[int, bool, float]] = []
        t_prev = t0
        for t, k_ev, _, role, lvl in events + [(t1, -1, 0, "", 0)]:
            if k_ev >= 0 and on[k_ev][role] == beam_level(lvl):
                continue  # no change of any beam: no segment boundary (as in advance)
            if t > t_prev:
                dt = (t - t_prev) * mu
                for k, node in enumerate(self.lab.nodes):
                    stack = linear_step(
                        stack, k, node, on[k], t_prev * mu, t * mu, coh[k], coherent
                    )
                    cool = on[k]["cool"]  # (cooling at its light level: time scaled)
                    thermal_ops.append((k, bool(cool), dt * cool if cool else dt))
                    if on[k]["pump"]:
                        coh[k] = t * mu
                        coh_rel[k] = t - t0
                t_prev = t
            if k_ev >= 0:
                on[k_ev][role] = beam_level(lvl)
        sop = np.zeros((16, 16), dtype=complex)
        sop[:, cols] = stack.reshape(len(cols), 16).T
        final_on = tuple((k, {r: on[k][r] for r in LINEAR_ROLES}) for k in range(2))
        return sop, thermal_ops, coh_rel, final_on, thermal_steps(self.ions.thermal, thermal_ops)
