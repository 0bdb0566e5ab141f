# SPDX-License-Identifier: LGPL-3.0-or-later
"""The physics world the RTIO engine queries for input edges.

:class:`PhysicsWorld` reads what the kernel played (TTL levels, AD9910 states) through the engine's
read-only :class:`~sim.physics.view.PhyView`, lazily and in time order, both nodes merged, and
turns it into physics: cooling/heating, optical pumping, excitation and photon emission through
the Bell-state analyser (:mod:`sim.physics.bsa`), qubit rotations, dephasing, fluorescence
readout. Detector and PMT clicks become short pulses on their input channels.

Known approximations: an excitation is fired when its pulse is complete and joined with the other
node's excitation if they start within ``JOIN_WINDOW_TAU`` lifetimes; excitations whose partner
is later than the requested ``t_end`` are fired alone. During an entangler run (see
:meth:`PhysicsWorld.commit_cycle`) the world skips its own processing of all beams.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any

import numpy as np

from sim.physics.period_tracking import PeriodTracking
from sim.rtio.channels import Kind
from sim.rtio.views import NEVER

from .attempts import CycleModel
from .beam_rf import BeamLight, beam_level
from .circuit import CircuitRecord
from .circuit_world import CIRCUIT_ROLES, CircuitWorld
from .click_law import ClickLaw
from .cycle_world import THERMAL_KEY_TOL, EntanglerRuns
from .detection_mapping import DetectionMapping
from .detectors import ClickChannel, ClickRecord
from .excitation_rounds import JOIN_WINDOW_TAU, ExcitationRounds
from .ions import (
    IonPair,
    Thermal,
    apply_local,
    has_coherence,
    is_diagonal,
    measure_z,
)
from .lab import Lab, LabError
from .planned import PlannedWindows, linear_step
from .polarisation import PolarisationRecord, PolarisationTracking
from .quiet import QuietAttempts
from .quiet_skip import QuietSkips
from .readout import fluorescence_rates, poisson_click_mu
from .transients import QuietTransients
from .view import PhyView

__all__ = ["JOIN_WINDOW_TAU", "THERMAL_KEY_TOL", "PhysicsWorld", "WorldRecord"]

_ROLES = ("cool", "repump", "pump", "excite", "detect", "qubit", "ref")
_NO_WIRES: Mapping[int, Sequence[Sequence[int]]] = MappingProxyType({})
_ORDER = {r: i for i, r in enumerate(_ROLES + CIRCUIT_ROLES)}


@dataclass
class WorldRecord:
    """What the ions and the optics keep between experiments: processed time (mu), the joint
    density matrix, each ion's n̄, the beams as last seen, AOM excitations in progress, readout
    bits, coherence origins (s), staged excitations, intervals owned by entangler runs, and each
    input channel's :class:`ClickRecord`."""

    t_mu: int
    rho: np.ndarray
    thermal_n: list[float]
    on: list[dict[str, float]]
    aom_since: list[int | None]
    bright: list[int]
    coh_t0_s: list[float]
    staged: list[tuple[int, int, int]]
    owned: list[tuple[int, int]]
    clicks: dict[int, ClickRecord]
    polarisation: PolarisationRecord | None = None
    circuit: CircuitRecord | None = None


class PhysicsWorld(
    CircuitWorld,
    PeriodTracking,
    ClickLaw,
    QuietTransients,
    QuietSkips,
    QuietAttempts,
    PlannedWindows,
    PolarisationTracking,
    EntanglerRuns,
    BeamLight,
    DetectionMapping,
    ExcitationRounds,
):
    """Physics of the two-node link behind the RTIO engine.

    Its entangler-run interface is :class:`~sim.fastforward.CycleWorld` (:meth:`cycle_model`,
    :meth:`commit_cycle`, :meth:`commit_timeout`, in :mod:`.cycle_world`); the fast-forward's
    part of it (:class:`~sim.physics.period_tracking.PeriodTracking`) is mixed in.

    :param lab: the lab description. :param rng: the one random generator used throughout.
    :param mu_s: one machine unit in s (1 ns on Kasli).
    :param drift_seed: seed of the fibres' birefringence drift (:mod:`.polarisation`).
    """

    def __init__(
        self, lab: Lab, rng: np.random.Generator, *, mu_s: float = 1e-9, drift_seed: int = 0
    ) -> None:
        self.lab = lab
        self.rng = rng
        self.mu_s = mu_s
        self.ions = IonPair(
            tuple(
                Thermal(
                    n.motion.initial_n,
                    n.motion.heating_rate_per_s,  # type: ignore[arg-type]
                    n.motion.doppler_n,
                    n.motion.cooling_time_s,
                )
                for n in lab.nodes
            )
        )
        self.view: PhyView | None = None
        self._t = 0
        self._beam_ch: list[dict[str, int]] = [{}, {}]
        self._dds: list[tuple[int, int]] = []
        self._channels: dict[int, ClickChannel] = {}
        self._det_ch: list[int] = []
        self._pmt_ch: list[int] = []
        self._ent_ch: set[int] = set()
        self._owned: list[tuple[int, int]] = []
        self._on: list[dict[str, float]] = [
            dict.fromkeys(_ROLES + CIRCUIT_ROLES, False) for _ in range(2)
        ]
        self._aom_since: list[int | None] = [None, None]
        self._bright: list[int] = [0, 0]
        self._coh_t0: list[float] = [0.0, 0.0]
        self._staged: list[tuple[int, int, int]] = []  # (node, start_mu, stop_mu)
        self._diag: np.ndarray | None = None  # the ions' rho object last found diagonal
        self._plans: dict[tuple, tuple] = {}  # deterministic windows → superoperator plans
        self._models: dict[Any, CycleModel] = {}
        # (node, order, role, ch, ent, the beam's DDS: (spi, cs, beam) or None)
        self._beams: list[tuple[int, int, str, int, bool, Any]] = []
        self._beam_channels: list[int] = []
        self._beam_rf: list[dict[str, Any]] = [{}, {}]  # per node: role → its DDS (attached)
        self._beam_watch: Any = None  # the beams' outputs, for quiet_until (made on first use)
        self._run_key = 0  # thermal key of the last run's cycle model
        # an excitation's (node, length, stop given, path Jones) → (pulse statistics, emission)
        self._emissions: dict[tuple, tuple] = {}
        self._tables: dict[tuple, Any] = {}  # (both excitations' keys, overlap) → round table
        self._acceptances = tuple(d.efficiency for d in lab.bsa.detectors)
        # the period between two entangler runs, for fast-forwarding identical timeouts
        self._init_period_tracking()
        self._init_circuit()
        self._init_mapping()
        self._init_quiet_attempts()  # ... and quiet CPU attempts (.quiet)
        self._init_click_law()  # ... whose click passes are drawn in law (.click_law)
        self._init_polarisation(drift_seed)

    # ---- engine protocol -------------------------------------------------------------------
    def attach(self, view: PhyView) -> None:
        """Resolve every device of the lab through the engine's view and set up input channels.

        :raises LabError: a lab device the engine does not know or of the wrong kind.
        """
        self.view = view

        def ttl(name: str, what: str) -> int:
            try:
                kind, ch, extra = view.resolve_device(name)
            except KeyError:
                raise LabError(
                    f"lab {self.lab.name}: {what}: device '{name}' unknown to the engine"
                ) from None
            if kind == Kind.AD9910 and "sw" in extra:
                return ttl(extra["sw"], what)
            if kind not in (Kind.TTL_OUT, Kind.TTL_INOUT):
                raise LabError(f"lab {self.lab.name}: {what}: '{name}' is a {kind}")
            return ch

        for k, node in enumerate(self.lab.nodes):
            if node.reference is not None:
                self._beam_ch[k]["ref"] = ttl(node.reference.device, f"{node.name}.reference")
            for role in _ROLES[:-2]:
                self._beam_ch[k][role] = ttl(getattr(node, role).device, f"{node.name}.{role}")
            self._beam_ch[k]["qubit"] = ttl(node.qubit.switch, f"{node.name}.qubit_drive")
            _kind, spi, extra = view.resolve_device(node.qubit.dds)
            self._dds.append((spi, int(extra.get("cs", 0))))
            ch = ttl(node.readout.pmt, f"{node.name}.pmt")
            self._pmt_ch.append(ch)
            self._channels[ch] = ClickChannel(
                self.rng, 0.0, 0.0, node.readout.pulse_width_s, mu_s=self.mu_s
            )
        for det in self.lab.bsa.detectors:
            ch = ttl(det.device, "bsa detector")
            self._det_ch.append(ch)
            self._channels[ch] = ClickChannel(
                self.rng,
                det.dark_rate_hz,
                det.dead_time_s,
                det.pulse_width_s,
                det.afterpulse_prob,
                det.afterpulse_delay_s,
                self.mu_s,
            )
        self._ent_ch = {ttl(o, "entangler output") for o in self.lab.entangler.outputs}
        self._attach_circuit(ttl)
        rf = self._beam_rf = self._attach_beam_rf(view)
        self._beams = [
            (k, _ORDER[role], role, ch, ch in self._ent_ch, rf[k].get(role))
            for k in range(2)
            for role, ch in self._beam_ch[k].items()
        ]
        self._beam_channels = [b[3] for b in self._beams]
        self._rf_beams = [(i, *b[:5], b[5]) for i, b in enumerate(self._beams) if b[5] is not None]
        self._beam_watch = None
        # the beams' DDSs' changes (BeamLight._rf_latest); None: no beam on a DDS
        keys = [(b[6].spi, b[6].cs) for b in self._rf_beams]
        self._rf_watch = view.dds_watch(keys) if keys else None

    def input_edges(self, channel: int, t_end_mu: int) -> list[tuple[int, int]]:
        """New level transitions (t_mu, level) on input ``channel`` with t < t_end_mu."""
        if t_end_mu > self._t:  # (most reads ask for what the world has processed already)
            self.advance(t_end_mu, lazy=True)
        ch = self._channels.get(channel)
        return ch.drain(t_end_mu) if ch is not None else []

    def quiet_until(self, channel: int, t_need_mu: int) -> int:
        """A time (mu) up to which :meth:`input_edges` of ``channel`` finds nothing and moves
        nothing, as long as no output is submitted meanwhile: no edge is queued before it, and
        no output changes a beam from where the world stands to it while nothing random acts
        (so :meth:`advance` would leave the window for later). It may stop short of
        ``t_need_mu`` as soon as that is clearly not reached (its cheap checks first)."""
        t = self._t
        ch = self._channels.get(channel)
        h = NEVER if ch is None else ch.quiet_until()
        if h < t_need_mu or self.view is None:
            return h
        if self._staged or not self._deterministic([]):
            return t if t < h else h
        watch = self._beam_watch  # (:meth:`_next_beam_output`, inline)
        t = self._next_beam_output(t) if watch is None else watch.next_from(t)
        if t > h:
            t = h
        rf = self._rf_watch  # (a change of a beam's light: BeamLight._next_rf_change)
        return t if rf is None or rf.latest() < self._t else self._next_rf_change(self._t, t)

    def _next_beam_output(self, t_mu: int) -> int:
        """The earliest timestamp ``>= t_mu`` of an output submitted so far to a beam (mu),
        ``NEVER`` if none (the world must be attached)."""
        watch = self._beam_watch
        if watch is None:
            assert self.view is not None
            watch = self._beam_watch = self.view.output_watch(self._beam_channels)
        return watch.next_from(t_mu)

    def reset(self) -> None:
        """``core.reset()``: nothing physical changes (ions and lasers keep their state)."""

    # ---- state -----------------------------------------------------------------------------
    def save_state(self) -> WorldRecord:
        """The physical state as a :class:`WorldRecord` (caches are left out)."""
        return WorldRecord(
            self._t,
            self.ions.rho.copy(),
            [th.n for th in self.ions.thermal],
            [dict(on) for on in self._on],
            list(self._aom_since),
            list(self._bright),
            list(self._coh_t0),
            list(self._staged),
            list(self._owned),
            {ch: c.save_state() for ch, c in self._channels.items()},
            self._save_polarisation(self._t),
            None if self.circuit is None else self.circuit.save(),
        )

    def load_state(self, rec: WorldRecord) -> None:
        """Continue from a :class:`WorldRecord` (of a world of the same lab, attached)."""
        self._t = rec.t_mu
        self.ions.rho = np.array(rec.rho, dtype=complex)
        for th, n in zip(self.ions.thermal, rec.thermal_n):
            th.n = n
        self._on = [{**dict.fromkeys(_ROLES + CIRCUIT_ROLES, False), **on} for on in rec.on]
        self._aom_since, self._bright = list(rec.aom_since), list(rec.bright)
        self._coh_t0, self._staged = list(rec.coh_t0_s), list(rec.staged)
        self._owned = list(rec.owned)
        self._start_mark = self._start_closed = None  # (no pass started in this world)
        for ch, click in rec.clicks.items():
            if ch in self._channels:
                self._channels[ch].load_state(click)
        self._load_polarisation(getattr(rec, "polarisation", None))
        if self.circuit is not None and rec.circuit is not None:
            self.circuit.load(rec.circuit)

    @property
    def rho(self) -> np.ndarray:
        """Joint two-ion density matrix (copy), basis |j_A j_B⟩."""
        return self.ions.rho.copy()

    @property
    def processed_mu(self) -> int:
        """Time up to which outputs have been turned into physics, in mu."""
        return self._t

    @property
    def wires(self) -> Mapping[int, Sequence[Sequence[int]]]:
        """No cables (:class:`~sim.physics.view.World`): the physics reads outputs through
        :meth:`advance`."""
        return _NO_WIRES

    # ---- timeline processing -----------------------------------------------------------------
    def advance(self, t_end_mu: int, *, lazy: bool = False) -> None:
        """Turn all outputs with timestamp < ``t_end_mu`` into physics (idempotent).

        ``lazy`` (the engine asking for input edges): a window in which nothing is played and
        nothing random acts, so that no edge can come from it, is left for later
        (:attr:`processed_mu` stays behind); its evolution composes with the next window's."""
        if self.view is None or t_end_mu <= self._t:
            return
        t_end_mu = int(t_end_mu)  # (a read's timeout may be an int64: world times stay ints)
        if self._q_post is not None and t_end_mu > self._q_asked:
            self._q_asked = t_end_mu  # (asked after a round: how far its pass's reads went)
        t0 = self._t
        levels = self.view.ttl_levels_many(self._beam_channels, t0, t_end_mu)
        if not levels and lazy and not self._staged and self._deterministic([]):
            return  # (below, without building anything: the common case of an input read)
        events = self._beam_events(levels, t0, t_end_mu)
        if len(events) > 1:
            events.sort()
        elif lazy and not events and not self._staged and self._deterministic(events):
            return  # nothing happens before t_end: evolved later in one step (segments compose)
        if not self._staged and self._deterministic(events):
            if events and self._q_post is not None:
                self._q_post_planned()
            self._advance_planned(events, t0, t_end_mu)
            return
        self._advance_events(events, t0, t_end_mu)

    def _beam_events(
        self, levels: list[tuple[int, int, int]], t0: int, t_end: int
    ) -> list[tuple[int, int, int, str, float]]:
        """The beam events ``(t, node, order, role, level)`` in [``t0``, ``t_end``) of
        ``levels`` (the beams' :meth:`~sim.physics.view.PhyView.ttl_levels_many` there),
        unsorted, without the entangler's outputs in the intervals its runs own. A beam on a DDS
        switched on has the level of its light (:mod:`.beam_rf`: 1 the lab's, 0 none) in place
        of the TTL's, and an event at each change of its light while it stays on
        (:meth:`~.beam_rf.BeamLight._rf_events`)."""
        owned = self._owned
        if owned:  # runs that ended before t0 can no longer hide an output
            owned = self._owned = [w for w in owned if w[1] > t0]
        events: list[tuple[int, int, int, str, float]] = []
        beams = self._beams
        for t, i, lvl in levels:
            k, order, role, ch, ent, rf = beams[i]
            if ent and owned and any(a <= t < b for a, b in owned):
                continue
            events.append((t, k, order, role, lvl if not lvl or rf is None else self._light(rf, t)))
        rf = self._rf_watch
        if rf is not None and rf.latest() >= t0:  # (else nothing of their DDSs changes from t0)
            self._rf_events(events, levels, t0, t_end, owned)
        return events

    def settle(self, t_mu: int) -> bool:
        """Turn the beam outputs submitted with timestamp ``<= t_mu`` into physics now, if only
        cooling, repumping and pumping act up to them and nothing is staged: the world then
        stands at the last of them (:attr:`processed_mu`; the outputs *at* it are processed
        too, and meet an unchanged beam when a later :meth:`advance` finds them again, which
        then makes no segment boundary: the same segments as advancing over them later). False
        (nothing done) when something else would act. Draws nothing."""
        t0 = self._t
        if self.view is None or t_mu < t0:
            return True
        if self._next_beam_output(t0) > t_mu:
            if self._rf_watch is None or self._next_rf_change(t0, t_mu + 1) > t_mu:
                return True  # (the common case, a call's start after a click: nothing played)
            levels = []  # (no output to a beam: a change of a beam's RF)
        else:
            levels = self.view.ttl_levels_many(self._beam_channels, t0, t_mu + 1)
        events = self._beam_events(levels, t0, t_mu + 1)
        if not events:
            return True
        events.sort()
        if self._staged or not self._deterministic(events):
            return False
        if self._q_post is not None:
            self._q_post_planned()
        self._advance_planned(events, t0, events[-1][0])
        return True

    def _advance_events(
        self, events: list[tuple[int, int, int, str, float]], t0: int, t_end_mu: int
    ) -> None:
        """:meth:`advance` over a window with something random: event by event."""
        self._note_unplanned()
        t_prev = t0
        on = self._on
        for t, k, _, role, lvl in events:
            if self._staged:
                self._flush_staged(t)
            elif on[k][role] == beam_level(lvl):
                continue  # no change of any beam: nothing happens at t
            if t > t_prev:  # (an empty segment evolves nothing)
                self._evolve(t_prev, t)
                t_prev = t
            post = self._q_post  # (a round fired in this pass: what follows it, for its law)
            if post is not None:
                post.append((t, k, role, lvl))
            self._event(t, k, role, beam_level(lvl))
        if self._staged:
            self._flush_staged(None)
        self._evolve(t_prev, t_end_mu)
        self._t = t_end_mu

    def _event(self, t: int, k: int, role: str, level: float) -> None:
        was = self._on[k][role]
        self._on[k][role] = level
        node = self.lab.nodes[k]
        if role in CIRCUIT_ROLES:
            self._circuit_event(t, k, role, level, was)
        elif role == "detect":
            if level and not was:
                # imperfect state mapping (shelving) before the fluorescence: one draw a detection
                self._bright[k] = self._net_measure(k, measure_z) ^ self._mapping_error(t, k)
            elif was and not level:
                self._detect_dark(t, k)
        elif role == "excite":
            if node.excite.mode == "pulsed" and level and not was:
                self._stage(k, t, t)
            elif node.excite.mode == "aom":
                if level and not was:
                    self._aom_since[k] = t
                elif not level and was and self._aom_since[k] is not None:
                    self._stage(k, self._aom_since[k], t)  # type: ignore[arg-type]
                    self._aom_since[k] = None

    def _evolve(self, t_a: int, t_b: int) -> None:
        """Continuous physics on [t_a, t_b) with the beams as they are."""
        if t_b <= t_a:
            return
        mu = self.mu_s
        dt = (t_b - t_a) * mu
        ions = self.ions
        # a diagonal rho has no coherence to dephase, and cooling, pumping and fluorescence keep it
        # diagonal: one check per segment (the object is remembered) instead of one per ion
        diag = ions.rho is self._diag or is_diagonal(ions.rho)
        circuit = self.circuit
        attached = circuit is not None and circuit.attached
        for k, node in enumerate(self.lab.nodes):
            on = self._on[k]
            th = ions.thermal[k]
            cool = on["cool"]
            coherent = attached or (not diag and has_coherence(ions.rho, k))
            if coherent or cool or on["pump"]:
                # (otherwise the segment rule is the identity on the network pair)
                if circuit is not None and circuit.attached:  # (node 0's drive may attach it)
                    step = partial(
                        linear_step,
                        k=k,
                        node=node,
                        on=on,
                        t_a_s=t_a * mu,
                        t_b_s=t_b * mu,
                        coh_t0_s=self._coh_t0[k],
                        coherent=coherent,
                    )
                    self._net_apply(step)
                else:  # the pair alone (what _net_apply does then, without a partial)
                    ions.rho = linear_step(
                        ions.rho, k, node, on, t_a * mu, t_b * mu, self._coh_t0[k], coherent
                    )
            if cool:
                th.cool(dt * cool)  # (a beam's light level: 1, True, the lab's rate)
            else:
                th.heat(dt)
            if on["pump"]:
                self._coh_t0[k] = t_b * mu
            if on["detect"]:
                bright, dark = fluorescence_rates(node.readout, node.motion, th.n)
                light = on["detect"]
                if light != 1:  # the detection beam at another light level than the lab's
                    bright = dark + (bright - dark) * light
                rate = bright if self._bright[k] else dark
                clicks = poisson_click_mu(self.rng, rate, t_a, t_b, mu)
                if clicks:  # (none: nothing to queue)
                    self._channels[self._pmt_ch[k]].add_sorted_arrivals(clicks)
            if on["qubit"]:
                self._rotate(k, t_a, t_b)
                diag = False
            if on["ref"]:
                self._reference_clicks(k, t_a, t_b)
            if on["memory"]:
                self._memory_drive(k, t_a, t_b)
        self._diag = ions.rho if diag else None

    def _rotate(self, k: int, t_a: int, t_b: int) -> None:
        """Qubit drive on [t_a, t_b): split at DDS updates, one unitary per piece."""
        for u in self._drive_unitaries(self.lab.nodes[k].qubit, self._dds[k], t_a, t_b):
            self._net_apply(partial(apply_local, u=u, ion=k))
