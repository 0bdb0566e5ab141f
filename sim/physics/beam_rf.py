# SPDX-License-Identifier: LGPL-3.0-or-later
"""The light of the beams made by an AOM on an AD9910 (cooling, repumping, pumping, detection):
how much of the lab's light a beam gives while its switch is open, from the RF its DDS sends.

The lab's rates (cooling time, pumping time, fluorescence) hold at the RF that Startup programs,
the beam's ``frequency_hz``, ``amplitude`` and ``attenuation_db`` (:class:`~.lab_model.Beam`). The
AOM's diffracted light, so the beam's intensity, goes with the RF power: x = (A/A₀)² ×
10^(−(att − att₀)/10) relative to the lab's. The ion scatters at s/(1 + s) with s = s₀·x
(``saturation`` s₀ at the lab's power), so a rate relative to the lab's is
x(1 + s₀)/(1 + s₀x): 1 at the lab's RF, 0 without RF. No RF is an AD9910 without an output
since power-up (Startup not run), amplitude 0, its Urukul RF switch open (CFG RF_SW and the
switch TTL both off), or a frequency more than ``bandwidth_hz`` from ``frequency_hz`` (the AOM
diffracts into another angle, the light misses the ion or the transition); within that band the
detuning is not modelled. An attenuator not written since power-up is taken at the lab's (its
power-up state is not modelled, as for the qubit drive).

The light follows the RF at every time: the level is taken when the beam's switch opens, and
while it stays open every change of the RF (an IO_UPDATE applying another state, an attenuator
write, the CFG RF_SW bit or the switch TTL of the AD9910: the view's ``dds_change_times``) is a
beam event at its time with the new level (only where the level changes); a change while the
switch is closed acts from the next switch-on. The world's beam events carry the level in place of
the TTL level (1: the lab's light, 0: none, else the relative rate), so that every path (event by
event, planned windows, quiet attempts, entangler runs) sees the same beams; the quiet checks stop
at such a change (:meth:`BeamLight._next_rf_change`). The physics reads the DDS through the
engine's declared view (:class:`~.view.PhyView`: ``dds_state_at``, ``dds_attenuation``,
``dds_rf_switch``, ``dds_change_times``). A beam keeps the level it last found with the view's
``dds_changes`` mark of its DDS (:class:`BeamRF`): while the mark stays, the level at a time at or
after the mark's latest time is the one kept (the same answers of those three reads, so the same
level), and nothing is read again. A window that starts after the latest change of the beams'
DDSs (the view's ``dds_watch``: one comparison while no AD9910 changed) has no change of their
light.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.rtio.channels import Kind

from .lab_model import RF_ROLES, Beam, LabError
from .view import DDSState, PhyView

__all__ = ["ASF_STEP", "BeamLight", "BeamRF", "beam_level", "light_level", "relative_power"]

#: one step of the AD9910's amplitude scale factor (14 bits): amplitudes closer than this to the
#: lab's are the lab's (what the DDS can be set to)
ASF_STEP = 1 / 0x3FFF
#: half a step of the Urukul attenuator (1/8 dB)
_ATT_HALF_STEP_DB = 1 / 16


def relative_power(
    beam: Beam, state: DDSState | None, attenuation_db: float | None, switch: bool
) -> float:
    """The RF power at the beam's AOM relative to the lab's (see the module docstring): 0 without
    RF or beyond the bandwidth; ``state`` None: no output since power-up."""
    if not switch or state is None or state.amplitude <= 0:
        return 0.0
    if abs(state.frequency_hz - beam.frequency_hz) > beam.bandwidth_hz:
        return 0.0
    amp = state.amplitude
    if abs(amp - beam.amplitude) <= ASF_STEP:
        amp = beam.amplitude
    att = beam.attenuation_db if attenuation_db is None else attenuation_db
    if abs(att - beam.attenuation_db) < _ATT_HALF_STEP_DB:
        att = beam.attenuation_db
    return (amp / beam.amplitude) ** 2 * 10 ** (-(att - beam.attenuation_db) / 10)


def light_level(beam: Beam, x: float) -> float:
    """The beam's rates relative to the lab's at relative RF power ``x``: x(1 + s₀)/(1 + s₀x);
    exactly 1 at the lab's power, 0 without."""
    if x == 1.0:
        return 1
    if x <= 0.0:
        return 0
    s0 = beam.saturation
    return x * (1 + s0) / (1 + s0 * x)


def beam_level(lvl: float) -> float:
    """A beam's state from an event's level: a bool for a TTL level or the lab's light (1), the
    light level itself otherwise (the world keeps the beams so: ``on[role]``)."""
    return bool(lvl) if lvl == 0 or lvl == 1 else lvl


@dataclass(eq=False, slots=True)
class BeamRF:
    """A beam driven by an AD9910: its SPI channel and chip select, and the level it last found
    (:meth:`BeamLight._light`) with the view's ``dds_changes`` mark then (None: none kept)."""

    spi: int
    cs: int
    beam: Beam
    mark: tuple[int, int, int] | None = None
    level: float = 0


def _within(t: int, owned: list[tuple[int, int]]) -> bool:
    """Whether ``t`` lies in one of the intervals ``owned`` ([start, end), mu)."""
    return any(a <= t < b for a, b in owned)


class BeamLight:
    """The beams' RF, resolved at attach and read at their switch-on and at every change while
    their switch is open (mixed into the world)."""

    lab: Any
    view: PhyView | None
    _on: list[dict[str, float]]
    _owned: list[tuple[int, int]]
    #: the beams on an AD9910: (index in the world's beams, node, order, role, switch channel,
    #: entangler output, :class:`BeamRF`)
    _rf_beams: list[tuple[int, int, int, str, int, bool, BeamRF]] = []
    #: the view's ``dds_watch`` of their DDSs (None: no beam on a DDS); the world's callers
    #: of :meth:`_rf_events` ask it first (one comparison while no AD9910 changed)
    _rf_watch: Any = None
    _rf_detect_t: list[list[int]]

    def _attach_beam_rf(self, view: PhyView) -> list[dict[str, BeamRF]]:
        """Per node, role → :class:`BeamRF` of each beam driven by an AD9910 (its ``dds``, or
        its ``device`` when that is one).

        :raises LabError: a ``dds`` the engine does not know or that is not an AD9910."""
        out: list[dict[str, BeamRF]] = []
        for node in self.lab.nodes:
            rf: dict[str, BeamRF] = {}
            for role in RF_ROLES:
                beam = getattr(node, role)
                name = beam.dds or beam.device
                try:
                    kind, spi, extra = view.resolve_device(name)
                except KeyError:
                    raise LabError(
                        f"lab {self.lab.name}: {node.name}.beams.{role}.dds: device '{name}' "
                        "unknown to the engine"
                    ) from None
                if kind == Kind.AD9910:
                    rf[role] = BeamRF(spi, int(extra.get("cs", 0)), beam)
                elif beam.dds is not None:
                    raise LabError(
                        f"lab {self.lab.name}: {node.name}.beams.{role}.dds: '{name}' is a "
                        f"{kind}, not an AD9910"
                    )
            out.append(rf)
        return out

    def _rf_events(
        self,
        events: list[tuple[int, int, int, str, float]],
        levels: list[tuple[int, int, int]],
        t0: int,
        t_end: int,
        owned: list[tuple[int, int]],
    ) -> None:
        """Add to ``events`` (``(t, node, order, role, level)``) the changes of light in
        [``t0``, ``t_end``) of the beams on an AD9910 whose switch is open then: at each of the
        view's ``dds_change_times`` where the beam's level differs from its level before
        (``levels``: the beams' TTL level changes in the window, as for ``_beam_events``;
        ``owned``: the intervals entangler runs own, where their outputs are hidden). The caller
        has found a change of a beam's DDS possible from ``t0`` on (:meth:`_rf_latest`)."""
        view = self.view
        assert view is not None
        for i, k, order, role, ch, ent, rf in self._rf_beams:
            mark = view.dds_changes(rf.spi, rf.cs)
            if mark is not None and mark[2] < t0:
                continue  # (the common case: nothing of its DDS changes from t0 on)
            times = view.dds_change_times(rf.spi, rf.cs, t0, t_end)
            if not times:
                continue
            # the switch's outputs and the levels of their events (made from them, in order)
            ttl = [
                (t, lvl)
                for t, j, lvl in levels
                if j == i and not (ent and owned and _within(t, owned))
            ]
            lit = [e[4] for e in events if e[1] == k and e[2] == order]
            switch = view.ttl_level_at(ch, t0 - 1)
            level = self._on[k][role]
            n = 0
            for tc in times:
                while n < len(ttl) and ttl[n][0] <= tc:  # (the switch's outputs up to tc first)
                    switch, level = ttl[n][1], lit[n]
                    n += 1
                if (
                    not switch
                    or (n and ttl[n - 1][0] == tc)
                    or (ent and owned and _within(tc, owned))
                ):
                    continue  # (closed, or its switch-on at tc read the light there already)
                new = self._light(rf, tc)
                if new != level:
                    events.append((tc, k, order, role, new))
                    level = new
                    if role == "detect":
                        self._rf_detect_t[k].append(tc)  # (sim.physics.detection_mapping)

    def _next_rf_change(self, t_from: int, t_to: int) -> int:
        """The earliest time in [``t_from``, ``t_to``) (mu) at which the light of a beam on an
        AD9910 changes while its switch stays as it is at ``t_from`` (no output to the beams
        in the window: the caller's), ``t_to`` if none."""
        view = self.view
        assert view is not None
        best = t_to
        if t_to <= t_from or self._rf_latest() < t_from:
            return best
        for _, k, _, role, ch, ent, rf in self._rf_beams:
            level = self._on[k][role]
            if not level and not view.ttl_level_at(ch, t_from):
                continue  # (switch closed: nothing changes until it opens)
            best = self._first_light_change(rf, level, t_from, best, self._owned if ent else ())
        return best

    def _first_light_change(
        self, rf: BeamRF, level: float, t_from: int, t_to: int, owned: Any = ()
    ) -> int:
        """The first of the view's ``dds_change_times`` of ``rf``'s DDS in [``t_from``,
        ``t_to``) at which its light (:meth:`_light`) differs from ``level``, leaving out those
        in the intervals ``owned``; ``t_to`` if none."""
        view = self.view
        assert view is not None
        mark = view.dds_changes(rf.spi, rf.cs)
        if mark is not None and mark[2] < t_from:
            return t_to  # (nothing of its DDS changes from t_from on)
        for tc in view.dds_change_times(rf.spi, rf.cs, t_from, t_to):
            if owned and _within(tc, owned):
                continue
            if self._light(rf, tc) != level:
                return tc
        return t_to

    def _rf_latest(self) -> int:
        """A time (mu) after which no DDS of a beam changes (of those recorded so far: the
        view's ``dds_watch`` of them, made at attach; ``-(1 << 62)`` without one)."""
        watch = self._rf_watch
        return -(1 << 62) if watch is None else int(watch.latest())

    def _light(self, rf: BeamRF, t_mu: int) -> float:
        """The light level of a beam whose switch opens at ``t_mu`` (:func:`light_level` of the
        RF its DDS sends then): the level kept when the view's mark of its DDS is the one it
        was found with and ``t_mu`` is at or after the mark's latest time, as was the time it
        was found at (see the module docstring)."""
        view = self.view
        assert view is not None
        mark = view.dds_changes(rf.spi, rf.cs)
        if mark is None or t_mu < mark[2]:
            return self._light_read(view, rf, t_mu)
        if rf.mark is not mark and rf.mark != mark:
            rf.level = self._light_read(view, rf, t_mu)
            rf.mark = mark
        return rf.level

    @staticmethod
    def _light_read(view: PhyView, rf: BeamRF, t_mu: int) -> float:
        """:meth:`_light` read from the view."""
        spi, cs, beam = rf.spi, rf.cs, rf.beam
        state = view.dds_state_at(spi, cs, t_mu)
        if state is None or state.amplitude <= 0:
            return 0
        att, _ = view.dds_attenuation(spi, cs, t_mu, t_mu + 1)
        x = relative_power(beam, state, att, view.dds_rf_switch(spi, cs, t_mu))
        return light_level(beam, x)
