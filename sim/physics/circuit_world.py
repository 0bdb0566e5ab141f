# SPDX-License-Identifier: LGPL-3.0-or-later
"""The physics world's part for memory ions (mixed into
:class:`~sim.physics.world.PhysicsWorld`): the memory drive and the entangling gate as beams the
world reads from the timeline, the joint network–memory state while they are entangled
(:mod:`sim.physics.circuit`), and the memories' exposure to the network ions' light.

Crosstalk exposure: the time each crosstalk beam of the node's network ion gives light, read
from the timeline when the memory is next touched, weighted by its light level
(:mod:`.beam_rf`: a beam on an AD9910 gives none while its DDS sends no RF, whatever its switch;
the crosstalk rates scale with the beam's light as its other rates do); during an entangler run,
the run's length times the fraction of each cycle in which the entangler holds that node's
pump/excitation outputs high, the pump's at its light at the run's start.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .circuit import Circuit
from .ions import rotation_unitary
from .lab import LabError

__all__ = ["CIRCUIT_ROLES", "CircuitWorld"]

CIRCUIT_ROLES = ("memory", "gate")
#: frequency step of an AD9910 at 1 GHz (2^-32 of the clock): a DDS set to the lab's resonance
#: lands within it; that residue is not a detuning (over seconds of lab time it would turn the
#: drive's phase against the qubit frame and the entangling gate's fixed axis)
DDS_RESOLUTION_HZ = 1e9 / 2**32


class CircuitWorld:
    """Memory ions and entangling gates of the two nodes (mixed into the physics world)."""

    lab: Any
    ions: Any
    rng: np.random.Generator
    mu_s: float
    view: Any
    _t: int
    _on: list[dict[str, float]]
    _beam_ch: list[dict[str, int]]
    _ent_ch: set[int]
    _beam_rf: list[dict[str, Any]]
    _light: Callable[[Any, int], float]  # from BeamLight

    def _init_circuit(self) -> None:
        nodes = self.lab.nodes
        mems = [n.memory for n in nodes]
        self.circuit: Circuit | None = None
        if any(m is not None for m in mems):
            self.circuit = Circuit(
                tuple(m.t2_s if m else math.inf for m in mems),  # type: ignore[arg-type]
                tuple(m.crosstalk.dephasing_per_s if m else 0.0 for m in mems),  # type: ignore
                tuple(m.crosstalk.depolarising_per_s if m else 0.0 for m in mems),  # type: ignore
                self.mu_s,
                tuple(m.t2_star_s if m else math.inf for m in mems),  # type: ignore[arg-type]
                self.rng,
            )
        self._mem_dds: list[tuple[int, int] | None] = [None, None]
        self._gate_since: list[int | None] = [None, None]
        #: per node, (switch channel, role) of each crosstalk beam
        self._xt_beams: list[list[tuple[int, str]]] = [[], []]
        self._xt_level: dict[int, bool] = {}
        self._run_light = [0.0, 0.0]  # fraction of each entangler cycle with crosstalk light
        # per entangler output: the nodes whose memory its light reaches and the beam's role
        # (as often as a crosstalk beam of that node is wired to it)
        self._xt_outputs: dict[int, tuple[tuple[int, str], ...]] = {}
        if self.circuit is not None:
            for i, ch_dev in enumerate(self.lab.entangler.outputs):
                self._xt_outputs[i] = tuple(
                    (k, b)
                    for k, m in enumerate(mems)
                    if m is not None
                    for b in m.crosstalk.beams
                    if getattr(nodes[k], b).device == ch_dev
                )
        #: (node, role) of the crosstalk beams wired to the entangler's outputs
        self._xt_run_roles = sorted({kb for kbs in self._xt_outputs.values() for kb in kbs})
        self._run_light_key: Any = None

    def _attach_circuit(self, ttl: Callable[[str, str], int]) -> None:
        """Resolve the memory drives' and gates' devices (``ttl`` is the world's resolver)."""
        assert self.view is not None
        for k, node in enumerate(self.lab.nodes):
            m = node.memory
            if m is not None and m.drive is not None:
                self._beam_ch[k]["memory"] = ttl(m.drive.switch, f"{node.name}.memory drive")
                _kind, spi, extra = self.view.resolve_device(m.drive.dds)
                self._mem_dds[k] = (spi, int(extra.get("cs", 0)))
                self._xt_beams[k] = [
                    (self._beam_ch[k][b], b) for b in m.crosstalk.beams if b in self._beam_ch[k]
                ]
            if node.gate is not None:
                self._beam_ch[k]["gate"] = ttl(node.gate.switch, f"{node.name}.gate")

    # ---- what the world asks ----------------------------------------------------------------
    def _circuit_busy(self) -> bool:
        """Whether a window must be processed in detail for the memories (a memory drive or
        gate on, or the memory entangled with the network ions)."""
        c = self.circuit
        if c is None:
            return False
        if c.full is not None:  # attached
            return True
        a, b = self._on
        return bool(a["memory"] or a["gate"] or b["memory"] or b["gate"])

    def _net_apply(self, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        """A linear map of the network pair's state, applied to the joint state if attached."""
        c = self.circuit
        if c is not None and c.attached:
            self.ions.rho = c.network_map(fn)
        else:
            self.ions.rho = fn(self.ions.rho)

    def _net_measure(self, k: int, measure: Callable[..., Any]) -> int:
        """Z measurement of network ion ``k`` (``measure`` is the two-ion rule)."""
        c = self.circuit
        if c is not None and c.attached:
            bit, self.ions.rho = c.measure_network(k, self.rng)
        else:
            bit, self.ions.rho = measure(self.ions.rho, k, self.rng)
        return bit

    def _check_excitation(self) -> None:
        c = self.circuit
        if c is not None and c.attached:
            raise LabError(
                f"lab {self.lab.name}: a network ion was excited while entangled with its memory "
                "ion by an entangling gate (not modelled): read, cool or pump the network ion "
                "before exciting it (Startup's cooling separates them)"
            )

    # ---- events and segments ----------------------------------------------------------------
    def _circuit_event(self, t: int, k: int, role: str, level: float, was: float) -> None:
        if role != "gate" or self.circuit is None:
            return
        if level and not was:
            self._gate_since[k] = t
        elif not level and was and self._gate_since[k] is not None:
            gate = self.lab.nodes[k].gate
            frac = (t - self._gate_since[k]) * self.mu_s / gate.duration_s  # type: ignore
            p = min(frac * 16 / 15 * (1 - gate.fidelity), 1.0)
            # the memories decohere during the gate too: half of it before the gate's unitary,
            # half after (symmetric splitting; a phase flip in the gate's first half undoes
            # its action on the memory, in the second half it does not)
            t_mid = (t + self._gate_since[k]) // 2  # type: ignore[operator]
            self._gate_since[k] = None
            self._sync_memory(t_mid)
            self.ions.rho = self.circuit.entangle(self.ions.rho, k, math.pi / 4 * frac, p, t_mid)

    def _memory_drive(self, k: int, t_a: int, t_b: int) -> None:
        """Memory drive of node ``k`` on [t_a, t_b): one unitary per DDS piece, the memories'
        decoherence over the window half before and half after it (as the gate's)."""
        c = self.circuit
        m = self.lab.nodes[k].memory
        dds = self._mem_dds[k]
        if c is None or m is None or dds is None:
            return
        t_mid = (t_a + t_b) // 2
        self._sync_memory(t_mid)
        for u in self._drive_unitaries(m.drive, dds, t_a, t_b):
            c.rotate(k, u, t_mid)

    def _drive_unitaries(self, drive: Any, dds: tuple[int, int], t_a: int, t_b: int) -> list:
        """The propagators of a qubit drive on [t_a, t_b), split at the DDS's updates."""
        assert self.view is not None
        spi, cs = dds
        att0, att_changes = self.view.dds_attenuation(spi, cs, t_a, t_b)
        # an attenuator not written since power-up: taken at the lab's (not modelled)
        att = drive.attenuation_db if att0 is None else att0
        st = self.view.dds_state_at(spi, cs, t_a)
        cuts = [(t_a, st, att)]
        states = self.view.dds_states(spi, cs, t_a + 1, t_b)
        if att_changes:  # (rare: the attenuator set during the pulse)
            events: list[tuple[int, Any, float | None]] = [(x.t_mu, x, None) for x in states]
            events += [(t, None, a) for t, a in att_changes]
            for t, new_state, new_att in sorted(events, key=lambda e: e[0]):
                st = st if new_state is None else new_state
                att = att if new_att is None else new_att
                cuts.append((t, st, att))
        else:
            cuts += [(s.t_mu, s, att) for s in states]
        out = []
        for i, (ts, st, att) in enumerate(cuts):
            te = cuts[i + 1][0] if i + 1 < len(cuts) else t_b
            if st is None or st.amplitude <= 0 or te <= ts:
                continue
            # the RF voltage, so the Rabi frequency, falls by 10^(−ΔdB/20)
            rf = st.amplitude * 10 ** ((drive.attenuation_db - att) / 20)
            omega = 2 * math.pi * drive.rabi_frequency_hz * rf
            detuning_hz = st.frequency_hz - drive.resonance_hz
            if abs(detuning_hz) < DDS_RESOLUTION_HZ:
                detuning_hz = 0.0  # the lab's resonance is what the DDS can be set to
            delta = 2 * math.pi * detuning_hz
            phi = 2 * math.pi * st.phase_turns + delta * ts * self.mu_s
            out.append(rotation_unitary(omega, phi, delta, (te - ts) * self.mu_s))
        return out

    # ---- memory decoherence ------------------------------------------------------------------
    def _sync_memory(self, t_mu: int) -> None:
        """Count the crosstalk light since the memory was last touched, then decohere it."""
        c = self.circuit
        if c is None or self.view is None or t_mu <= c.t_mu:
            return
        for k in range(2):
            on_s = 0.0
            for ch, role in self._xt_beams[k]:
                if ch in self._ent_ch:
                    continue  # the entangler's outputs: counted per run (_runs_exposed)
                on_s += self._lit_s(ch, self._beam_rf[k].get(role), c.t_mu, t_mu)
            c.expose(k, on_s)
        c.sync(t_mu)

    def _lit_s(self, ch: int, rf: Any, t0: int, t1: int) -> float:
        """The light a crosstalk beam (switch channel ``ch``; ``rf``: its
        :class:`~.beam_rf.BeamRF`, None without a DDS: the lab's light while the switch is
        open) gave in [``t0``, ``t1``), in seconds at the lab's light: its open time, each
        stretch weighted by the light level its DDS gives then (:meth:`BeamLight._light`)."""
        view = self.view
        assert view is not None
        events: list[tuple[int, Any]] = list(view.ttl_levels(ch, t0, t1))
        if rf is not None:
            mark = view.dds_changes(rf.spi, rf.cs)
            if mark is None or mark[2] >= t0:
                events += [(t, None) for t in view.dds_change_times(rf.spi, rf.cs, t0, t1)]
                events.sort(key=lambda e: e[0])
        on = self._xt_level.get(ch, False)
        light = (1.0 if rf is None else self._light(rf, t0)) if on else 0.0
        lit_mu = 0.0
        t_prev = t0
        for t, lvl in events:
            lit_mu += (t - t_prev) * light
            if lvl is not None:
                on = bool(lvl)
            light = (1.0 if rf is None else self._light(rf, t)) if on else 0.0
            t_prev = t
        lit_mu += (t1 - t_prev) * light
        self._xt_level[ch] = on
        return lit_mu * self.mu_s

    def memory_state(self, t_mu: int | None = None) -> np.ndarray:
        """The two memory qubits' 4×4 state (basis |m_A m_B⟩) at ``t_mu`` (default: processed
        time), decoherence applied."""
        if self.circuit is None:
            raise LabError(f"lab {self.lab.name}: no node has a memory ion")
        t = self._t if t_mu is None else t_mu
        self._sync_memory(t)
        return self.circuit.memory_state(t)

    def _note_run_light(
        self, outputs: dict[int, tuple[int, int]], cycle_mu: int, t_run: int
    ) -> None:
        """Per node, the fraction of an entangler cycle with its crosstalk outputs high, each
        weighted by its beam's light at the run's start ``t_run`` (mu; :meth:`_xt_light`)."""
        if self.circuit is None:
            return
        roles = self._xt_run_roles
        lights = tuple(self._xt_light(k, b, t_run) for k, b in roles)
        key = (tuple(outputs.items()), cycle_mu, lights)
        if key == self._run_light_key:
            return  # the same configuration as the last run: the same fractions
        light = dict(zip(roles, lights))
        frac = [0.0, 0.0]
        for i, (start, stop) in outputs.items():
            for k, b in self._xt_outputs.get(i, ()):
                frac[k] += max(stop - start, 0) / cycle_mu * light[k, b]
        self._run_light = frac
        self._run_light_key = key

    def _xt_light(self, k: int, role: str, t_mu: int) -> float:
        """The light level of node ``k``'s beam ``role`` at ``t_mu`` (1: the lab's; a beam
        without a DDS always 1)."""
        rf = self._beam_rf[k].get(role)
        return 1 if rf is None else self._light(rf, t_mu)

    def _runs_exposed(self, run_s: float) -> None:
        """Entangler runs of total length ``run_s`` happened: the network ions were pumped
        (the memory separates from them) and their light scattered onto the memories."""
        c = self.circuit
        if c is None:
            return
        c.separate()
        for k in range(2):
            c.expose(k, self._run_light[k] * run_s)

    def repeat_runs(self, k: int, first_run_mu: int, period_mu: int, sig: Any) -> None:
        """The fast-forward's skipped runs
        (:class:`~sim.physics.period_tracking.PeriodTracking`), with the memories' exposure
        during them."""
        super().repeat_runs(k, first_run_mu, period_mu, sig)  # type: ignore[misc]
        self._runs_exposed(k * sig.run_mu * self.mu_s)
