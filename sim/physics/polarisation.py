# SPDX-License-Identifier: LGPL-3.0-or-later
"""Polarisation of each node's photon path: the fibre's drifting birefringence, the motorised
compensator and the reference light (the physics world's part, mixed into
:class:`~sim.physics.world.PhysicsWorld`).

Fibre drift: a random walk of the fibre's rotation on the Poincaré sphere. Lab time is cut into
steps of ``fibre.drift_step_s``; at every step boundary the rotation is multiplied by a rotation
whose vector has independent normal components of σ = ``drift_rad_per_sqrt_s``·√step (rad). The
steps come from generators seeded with (drift seed, node, block of 1024 steps), so the rotation
at a lab time depends only on the seed and that time — not on the host, nor on what was asked
before. At lab time 0 (power-up) the fibre is compensated: the identity.

The photon then passes the compensator (QWP–HWP–QWP, :mod:`drivers.polarisation`), whose plate
angles are hardware state: set through :meth:`PolarisationTracking.set_plates` (the simulated
waveplate controller) from a lab time on, kept between experiments in :class:`PolarisationRecord`.
The path's Jones matrix enters the analyser's round table (:class:`~sim.physics.bsa.NodeEmission`)
for the excitation's start time; with no drift and the plates at 0° it is exactly the identity,
so such a lab gives the same numbers as one without this model.

Reference light (``[nodes.X.reference]``): while its TTL is high, the analyser's detectors click
as a Poisson process at rate × efficiency × ½ (beam splitter) × the H or V share of the light's
polarisation after the path (its ``ref`` plate, then fibre and compensator), taken at the start of
each processed segment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drivers.polarisation import (
    PLATES,
    compensator,
    jones_from_rotation_vector,
    reference_input,
)

from .bsa import IDENTITY_JONES
from .lab import Fibre, Lab
from .readout import poisson_click_mu

__all__ = ["BLOCK_STEPS", "FibreWalk", "PolarisationRecord", "PolarisationTracking"]

BLOCK_STEPS = 1024
_SEED_TAG = 0x0F1B5E  # separates the drift's generators from every other use of the seed
Jones = tuple[complex, complex, complex, complex]


class FibreWalk:
    """The seeded random walk of one fibre's rotation (see the module docstring).

    :param fibre: the lab's drift parameters. :param seed: drift seed. :param node: node index.
    """

    def __init__(self, fibre: Fibre, seed: int, node: int) -> None:
        self.sigma = fibre.drift_rad_per_sqrt_s * math.sqrt(fibre.drift_step_s)
        self.step_s = fibre.drift_step_s
        self.seed = seed
        self.node = node
        self._cum: list[np.ndarray] = [np.eye(2, dtype=complex)]

    @property
    def drifts(self) -> bool:
        """Whether the rotation changes at all."""
        return self.sigma > 0

    def step_index(self, t_s: float) -> int:
        """Index of the step in effect at lab time ``t_s`` (0 without drift)."""
        return max(int(math.floor(t_s / self.step_s)), 0) if self.drifts else 0

    def step_start_s(self, index: int) -> float:
        """Lab time at which step ``index`` begins, in s."""
        return index * self.step_s

    def _block(self, b: int) -> np.ndarray:
        ss = np.random.SeedSequence([self.seed, self.node, _SEED_TAG, b])
        return np.random.default_rng(ss).normal(0.0, self.sigma, size=(BLOCK_STEPS, 3))

    def jones(self, index: int) -> np.ndarray:
        """The fibre's Jones matrix during step ``index``."""
        if not self.drifts:
            return self._cum[0]
        cum = self._cum
        block: tuple[int, np.ndarray] | None = None
        while len(cum) <= index:
            i = len(cum) - 1  # the increment leading from step i to i + 1
            b = i // BLOCK_STEPS
            if block is None or block[0] != b:
                block = (b, self._block(b))
            cum.append(jones_from_rotation_vector(block[1][i % BLOCK_STEPS]) @ cum[-1])
        return cum[index]


@dataclass
class PolarisationRecord:
    """What the polarisation paths keep between experiments: the drift seed, each node's plate
    angles (deg) in effect at the last processed time, and later changes ``(t_mu, node,
    angles)``."""

    seed: int
    plates: list[dict[str, float]]
    changes: list[tuple[int, int, dict[str, float]]] = field(default_factory=list)


def _normalised(u: np.ndarray) -> Jones:
    """Row-major tuple of ``u`` with its global phase removed (det 1, first non-zero entry with a
    positive real part), rounded for use as a cache key; the identity exactly."""
    u = u / np.sqrt(np.linalg.det(u))
    flat = u.reshape(4)
    lead = flat[np.argmax(np.abs(flat) > 1e-9)]
    if lead.real < 0 or (lead.real == 0 and lead.imag < 0):
        flat = -flat
    out = tuple(complex(round(c.real, 12), round(c.imag, 12)) for c in flat)
    if out == (1, 0, 0, 1):
        return IDENTITY_JONES
    return out  # type: ignore[return-value]


class PolarisationTracking:
    """The world's polarisation paths (mixed into the physics world; see the module docstring)."""

    lab: Lab
    mu_s: float
    rng: np.random.Generator
    _channels: dict[int, Any]
    _det_ch: list[int]

    def _init_polarisation(self, seed: int) -> None:
        self._walks = [FibreWalk(n.fibre, seed, k) for k, n in enumerate(self.lab.nodes)]
        self._drift_seed = seed
        self._plates: list[dict[str, float]] = [dict.fromkeys(PLATES, 0.0) for _ in range(2)]
        self._plate_changes: list[tuple[int, int, dict[str, float]]] = []
        self._jones_memo: dict[tuple, Jones] = {}
        self._run_jones: tuple[Jones, Jones] | None = None  # the last cycle model's paths
        #: both paths while neither drifts nor has a plate move (:meth:`jones_pair`)
        self._fixed_jones: tuple[Jones, Jones] | None = None
        self._ref_rates: dict[tuple, list[float]] = {}  # reference light's rate per detector

    # ---- the controller's side ---------------------------------------------------------------
    def set_plates(self, node: int, angles: dict[str, float], t_mu: int) -> None:
        """From lab time ``t_mu`` on, node ``node``'s plates are at ``angles`` (deg; the plates
        not named keep their angles)."""
        unknown = set(angles) - set(PLATES)
        if unknown:
            raise KeyError(f"no waveplate {sorted(unknown)[0]!r} (have {', '.join(PLATES)})")
        now = dict(self.plates_at(node, t_mu))
        now.update({p: float(a) for p, a in angles.items()})
        self._plate_changes.append((t_mu, node, now))
        self._plate_changes.sort(key=lambda c: c[0])

    def plates_at(self, node: int, t_mu: int) -> dict[str, float]:
        """Node ``node``'s plate angles (deg) in effect at lab time ``t_mu``."""
        cur = self._plates[node]
        for t, k, angles in self._plate_changes:
            if t > t_mu:
                break
            if k == node:
                cur = angles
        return cur

    def fibre_jones(self, node: int, t_mu: int) -> np.ndarray:
        """The fibre's own Jones matrix at lab time ``t_mu`` (no compensator)."""
        walk = self._walks[node]
        return walk.jones(walk.step_index(t_mu * self.mu_s))

    def path_jones(self, node: int, t_mu: int) -> Jones:
        """Jones matrix (normalised tuple) of node ``node``'s path to the analyser at ``t_mu``."""
        walk = self._walks[node]
        step = walk.step_index(t_mu * self.mu_s)
        plates = self.plates_at(node, t_mu)
        key = (node, step, plates["qwp1"], plates["hwp"], plates["qwp2"])
        j = self._jones_memo.get(key)
        if j is None:
            if step == 0 and not (plates["qwp1"] or plates["hwp"] or plates["qwp2"]):
                j = IDENTITY_JONES
            else:
                j = _normalised(compensator(plates) @ walk.jones(step))
            if len(self._jones_memo) > 4096:
                self._jones_memo.clear()
            self._jones_memo[key] = j
        return j

    def jones_pair(self, t_mu: int) -> tuple[Jones, Jones]:
        """Both nodes' path Jones matrices at ``t_mu``."""
        fixed = self._fixed_jones
        if fixed is not None and not self._plate_changes:
            return fixed
        pair = self.path_jones(0, t_mu), self.path_jones(1, t_mu)
        if not self._plate_changes and not any(w.drifts for w in self._walks):
            self._fixed_jones = pair  # (no drift, no plate move: the same at every time)
        return pair

    def next_polarisation_change_mu(self, t_mu: int) -> int | None:
        """The first lab time after ``t_mu`` at which a path's Jones matrix may change (a drift
        step or a plate move), in mu; None if never."""
        cands = [t for t, _, _ in self._plate_changes if t > t_mu]
        for w in self._walks:
            if w.drifts:
                nxt = w.step_start_s(w.step_index(t_mu * self.mu_s) + 1)
                cands.append(int(math.ceil(nxt / self.mu_s)))
        return min(cands) if cands else None

    def runs_in_polarisation(self, max_runs: int, first_run_mu: int, period_mu: int) -> int:
        """How many of ``max_runs`` runs, starting at ``first_run_mu`` every ``period_mu``, start
        before the next change of the paths after ``first_run_mu``."""
        if self._run_jones is not None and self.jones_pair(first_run_mu) != self._run_jones:
            return 0
        nxt = self.next_polarisation_change_mu(first_run_mu)
        if nxt is None:
            return max_runs
        if period_mu <= 0:
            return min(max_runs, 1)
        return min(max_runs, max(0, -(-(nxt - first_run_mu) // period_mu)))

    # ---- reference light ---------------------------------------------------------------------
    def _reference_clicks(self, node: int, t_a: int, t_b: int) -> None:
        """Detector clicks of node ``node``'s reference light on [t_a, t_b) (mu)."""
        ref = self.lab.nodes[node].reference
        if ref is None or t_b <= t_a:
            return
        key = (self.path_jones(node, t_a), self.plates_at(node, t_a)["ref"])
        rates = self._ref_rates.get(key)
        if rates is None:
            path = np.array(key[0], dtype=complex).reshape(2, 2)
            out = path @ reference_input(key[1])
            share = (abs(out[0]) ** 2, abs(out[1]) ** 2)  # H, V
            rates = [
                ref.rate_hz * 0.5 * share[i % 2] * det.efficiency
                for i, det in enumerate(self.lab.bsa.detectors)
            ]
            if len(self._ref_rates) > 1024:
                self._ref_rates.clear()
            self._ref_rates[key] = rates
        mu = self.mu_s
        for i, rate in enumerate(rates):
            clicks = poisson_click_mu(self.rng, rate, t_a, t_b, mu)
            if clicks:
                self._channels[self._det_ch[i]].add_sorted_arrivals(clicks)

    # ---- state -------------------------------------------------------------------------------
    def _save_polarisation(self, t_mu: int) -> PolarisationRecord:
        """The plates in effect at ``t_mu`` and the changes after it."""
        return PolarisationRecord(
            self._drift_seed,
            [dict(self.plates_at(k, t_mu)) for k in range(2)],
            [(t, k, dict(a)) for t, k, a in self._plate_changes if t > t_mu],
        )

    def _load_polarisation(self, rec: PolarisationRecord | None) -> None:
        if rec is None:
            return
        self._init_polarisation(rec.seed)
        self._plates = [{**dict.fromkeys(PLATES, 0.0), **p} for p in rec.plates]
        self._plate_changes = [(t, k, dict(a)) for t, k, a in rec.changes]
