# SPDX-License-Identifier: LGPL-3.0-or-later
"""Repeated passes that are not logged: a fast-forward's repeats retired as they are made.

Without a waveform file the engine's history is read only from where its worlds have turned
outputs into physics and, on an input, from the first gate control its PHY has not consumed;
:func:`~sim.rtio.retire.retire_history` drops the rest every so often (:mod:`sim.rtio.retire`).
The passes :meth:`~sim.rtio.capture.PeriodCapture.repeat_period` repeats lie before the RTIO
counter at their end, and a skipping party that makes their physics in closed form
(:class:`~sim.devices.bsa.AttemptSkipper`) leaves every world past them. A channel's submissions
in such passes are then never read:

* a TTL output whose level view has turned everything before them into levels, one pass of which
  leaves the view as it found it, with every world past them: the worlds read levels only from
  where they stand, and the view's state after the passes is the one it has;
* a TTL input's gate controls (:class:`~sim.rtio.phy.ttl_input.TTLInputPhy`), on a channel on
  which the skipping party says the passes bring no input edge (its ``quiet_inputs``), while the
  PHY has consumed every control and edge before them: it applies them at once
  (:meth:`~sim.rtio.phy.ttl_input.TTLInputPhy.absorb_controls`), as its next read would.

Such a channel's repeats are counted (``n_outputs``) but not logged, which is what retiring them at
once would leave; everything else (a waveform file recorded, a PHY of another kind, a channel
wired to a loopback, a sample request, a world behind) is logged as before. The timeline is
unchanged: the same seed gives the same results whether the repeats are logged or not (tested).
What changes is what :mod:`~sim.rtio.peek` shows of the last few milliseconds of a run without a
waveform file (retiring already drops what lies further back).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sim.rtio.channels import ChannelState, Kind
from sim.rtio.phy.ttl import TTLOutPhy
from sim.rtio.phy.ttl_input import TTLInputPhy

__all__ = ["QuietSkipper", "UnloggedPlan", "unlogged_channels"]


class QuietSkipper(Protocol):
    """What this module asks of the party that skipped the passes (an entangler PHY's
    fast-forward, the CPU loop's attempt skipper)."""

    def quiet_inputs(self) -> Collection[int]:
        """The input channels to which the skipped passes brought no edge."""
        ...


class Period(Protocol):
    """What this module reads of a :class:`~sim.rtio.capture.Period` (declared here: the capture
    imports this module)."""

    counter1: int

    @property
    def by_channel(self) -> dict[int, list[tuple[int, int, Any]]]: ...


@dataclass(frozen=True, slots=True)
class _Channel:
    """A channel of a pass that may go unlogged: its state, its submissions in the pass, the
    timestamp of its last (mu, in the pass), whether they set the output (addresses 0, 1), and
    the sensitivity its last gate control sets (None: no control)."""

    ch: int
    st: ChannelState
    events: list
    last_ts: int
    levels: bool
    sens: int | None


@dataclass(frozen=True, slots=True)
class UnloggedPlan:
    """What of a pass may go unlogged, whatever its repeats (:func:`plan_of`): its channels of
    the kinds that can, and on which inputs it must be quiet."""

    channels: tuple[_Channel, ...]


def plan_of(engine: Any, period: Period) -> UnloggedPlan:
    """The channels of ``period`` that may go unlogged: TTL outputs and inputs, with no PHY or a
    plain TTL one, no sample request, not wired to a loopback (wires are only ever added: a plan
    made before a wire is checked against it, :func:`unlogged_channels`)."""
    out = []
    for ch, evs in period.by_channel.items():
        st = engine.channels[ch]
        if st.kind != Kind.TTL_OUT and st.kind != Kind.TTL_INOUT:
            continue
        phy = st.phy
        if not (phy is None or isinstance(phy, (TTLOutPhy, TTLInputPhy))):
            continue
        addrs = [a for _, a, _ in evs]
        if 3 in addrs:
            continue
        controls = [d for _, a, d in evs if a == 2]
        sens = controls[-1] & 3 if controls else None
        out.append(_Channel(ch, st, evs, evs[-1][0], 0 in addrs or 1 in addrs, sens))
    return UnloggedPlan(tuple(out))


def unlogged_channels(
    engine: Any, period: Period, shifts: Sequence[int], skipper: QuietSkipper
) -> list[int]:
    """The channels whose submissions in ``period`` repeated at ``shifts`` (just skipped by
    ``skipper``) need not be logged (see the module docstring); their inputs' PHYs have taken their
    gate controls. None while a waveform file is recorded. The period's :func:`plan_of` is kept by
    the engine (``_unlogged_plans``)."""
    if engine.recorder is not None:
        return []
    plans = engine._unlogged_plans
    plan = plans.get(period)
    if plan is None:
        if len(plans) >= 256:
            plans.clear()
        plan = plans[period] = plan_of(engine, period)
    # (the passes lie before the counter at their end: :attr:`~sim.rtio.capture.Period.regular`)
    last = shifts[-1]
    horizon = period.counter1 + last
    wired: set[int] = set()
    for world in engine.worlds:
        processed = world.processed_mu
        if processed < horizon:
            horizon = processed
        for dest, wires in world.wires.items():
            wired.add(dest)
            wired.update(w[0] for w in wires)
    quiet_inputs = skipper.quiet_inputs()
    horizon -= last  # (compared with the pass's timestamps)
    out: list[int] = []
    for c in plan.channels:
        st = c.st
        n_before = len(st.log)
        if c.ch in wired:
            continue
        if c.levels:
            view = st.level_view
            if view is None or c.last_ts >= horizon or not view.skip_repeat(c.events, n_before):
                continue
        if c.sens is not None:
            if c.ch not in quiet_inputs or not st.phy.absorb_controls(c.sens, n_before):
                continue
        out.append(c.ch)
    return out
