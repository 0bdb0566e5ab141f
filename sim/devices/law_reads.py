# SPDX-License-Identifier: LGPL-3.0-or-later
"""The reads of a CPU-heralding pass drawn in law made from the world's edges, not executed
(issue 18, part of step 1 of the eighth session's design in ``docs/performance.md``).

At the loop's fixed point, once :meth:`~sim.physics.quiet_skip.QuietSkips.skip_quiet` armed the
next pass not quiet and :meth:`~sim.physics.click_law.ClickLaw.law_pass` drew its round in law
(its trace played by DMA as always), the driver's ``fetch_pattern`` would read each detector's
first click, then read on until a read times out. :class:`LawReads` makes those reads instead:

* each detector's edges up to its gate's end are drained from the world, and the ones the gate
  registers found as the TTL input PHY finds them (a rising edge that changes the level, at or
  after the gate's opening, at most one a coarse cycle; :func:`sim.rtio.phy.ttl._register`);
* the reads' timeline is made from those events with the engine's rules
  (:meth:`sim.rtio.inputs.InputReads._read`: each read's cost, an event taken once it has
  arrived, else a wait for the next one before the timeout, else the timeout rounded up to the
  coarse cycle), and with it the pattern, the first timestamps and the counter after them;
* each input is then left as those reads leave it: asked for its events up to where they
  asked (:attr:`~sim.rtio.inputs.InputChannel.t_gen`), its detector drained to there (the
  edges after the gate, which the closed gate does not register), its PHY's two gate controls
  consumed (sensitivity 0), the world moved only where it has something to do there (as its
  lazy ``advance`` would).

The edges go to no PHY's edge list; what the PHY keeps of them, its input level and its last
event's coarse cycle, is set as they leave it (a level left high would keep the PHY from
registering the next rising edge). The random draws come in another order (a detector's dark
counts up to its gate's end first, then to where the reads asked), so a seeded run differs from
one with the reads executed; its law is held to ``fast_forward=False``
(``tests/experiments/test_cpu_law_reads.py``), and the reads' timeline to the executed reads', to
the mu. Anything the model does not hold (a waveform file, a tag feed, a drawn cost profile, a
loopback cable to a detector, an input with events buffered or controls not consumed, a gate
that is not one rising-edge window ending where the reads say) runs the reads. Off by default
(``law_reads``, a ``bsa`` device argument).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.rtio.phy.ttl import GATE_OFFSET_MU, INPUT_ARRIVAL_MU
from sim.rtio.phy.ttl_input import TTLInputPhy

__all__ = ["LawReads", "ReadsResult"]


@dataclass(frozen=True, slots=True)
class ReadsResult:
    """What ``fetch_pattern`` returns of a pass whose reads :class:`LawReads` made: the pattern
    and the four first-click timestamps (absolute mu, -1: none)."""

    pattern: int
    timestamps: tuple[int, int, int, int]


class LawReads:
    """``fetch_pattern``'s reads of a pass drawn in law, made from the world's edges (see the
    module docstring), for one driver (its four detector channels, in ``fetch_pattern``'s
    order, and their gate latency)."""

    def __init__(self, engine: Any, world: Any, channels: list[int], latency_mu: int) -> None:
        self.engine = engine
        self.world = world
        self.channels = list(channels)
        self.latency_mu = int(latency_mu)
        self.done = 0  # reads made this way

    def _inputs(self, t_att: int, gate_end_mu: int) -> list[tuple[Any, Any, int]] | None:
        """Per detector: its input, its world channel and its gate's opening (an input
        timestamp, mu), if the model holds: the pass's last two submissions on the channel open
        a rising-edge gate at or after ``t_att`` and close it ``gate_end_mu`` after it, the PHY
        has consumed every control and edge before them, nothing is buffered."""
        eng = self.engine
        t_close = t_att + gate_end_mu
        out = []
        for ch in self.channels:
            st = eng.channels.get(ch)
            inp = eng.inputs.get(ch)
            click = self.world._channels.get(ch)
            if st is None or inp is None or click is None or st.flagged:
                return None
            phy = inp.phy
            if inp.fifo or inp.pending or inp.overflow or not isinstance(phy, TTLInputPhy):
                return None
            raw = st.raw
            n = len(raw)
            if n < 2 or phy.ctrl_idx != n - 2 or phy.edge_idx != len(phy.edges):
                return None
            (t0, a0, d0), (t1, a1, d1) = raw[-2], raw[-1]
            if a0 != 2 or a1 != 2 or d0 != 1 or d1 != 0 or t0 < t_att or t1 != t_close:
                return None
            if not phy.ordered or inp.depth < 8:
                return None
            out.append((inp, click, t0 + GATE_OFFSET_MU))
        return out

    def run(self, t_att: int, gate_end_mu: int) -> ReadsResult | None:
        """``fetch_pattern(t_att + gate_end_mu, …)`` of the pass that started at ``t_att`` and
        whose round :meth:`~sim.physics.click_law.ClickLaw.law_pass` made (its trace played);
        None (nothing done) when the model does not hold."""
        eng, world = self.engine, self.world
        if eng.recorder is not None or eng.tag_tap is not None or world._staged:
            return None
        for other in eng.worlds:  # (a loopback cable to a detector would bring it edges)
            if other is not world and (
                not hasattr(other, "wires") or any(other.wires.get(ch) for ch in self.channels)
            ):
                return None
        costs = eng.costs
        if getattr(costs, "drawn", False) or "_read" in vars(eng):
            return None
        dets = self._inputs(t_att, gate_end_mu)
        if dets is None:
            return None
        t_end = t_att + gate_end_mu  # (the reads' argument: the gates' end less the offset)
        g1 = t_end + GATE_OFFSET_MU
        gated = [self._registered(inp, click, g0, g1) for inp, click, g0 in dets]
        events = [g[0] for g in gated]
        pattern, stamps, counter, gens = self._reads(events, t_end, eng.counter, costs)
        eng.counter = counter
        for (inp, click, _), gen, (_, level, last_c) in zip(dets, gens, gated):
            self._after_gate(inp, click, gen, level, last_c)
        self.done += 1
        return ReadsResult(pattern, stamps)

    def _registered(
        self, inp: Any, click: Any, g0: int, g1: int
    ) -> tuple[list[tuple[int, int]], int, int]:
        """The events (arrival, timestamp) the gate ``[g0, g1)`` (input timestamps, mu) of the
        input ``inp`` registers of its detector's edges before ``g1``, drained from the world
        (``click``): a rising edge at or after ``g0`` that changes the level, at most one a coarse
        cycle (the PHY's rule, :func:`sim.rtio.phy.ttl._register`, from its level and last
        event); with the level and the last event's coarse cycle after them."""
        phy = inp.phy
        level, last_c = phy.level, phy.last_c
        out = []
        for t, new in self._drain(click, g1):
            if not new:
                level = 0
            elif not level:
                level = 1
                if t >= g0:
                    c = t >> 3
                    if c != last_c:
                        last_c = c
                        out.append((t + INPUT_ARRIVAL_MU, t))
        return out, level, last_c

    def _after_gate(self, inp: Any, click: Any, gen: int, level: int, last_c: int) -> None:
        """The input ``inp`` asked for its events up to ``gen`` (arrival, mu), as the reads
        asked it: its world channel ``click`` drained to there (edges the closed gate does not
        register: the world moved only where it has something to do there), its PHY's gate
        controls consumed (sensitivity 0 after the close, no event) and its level and last
        event as after the gate's edges (``level``, ``last_c``) and those (the level of the
        last)."""
        phy = inp.phy
        phy.sens = 0
        phy.ctrl_idx = len(self.engine.channels[inp.channel].raw)
        phy.last_c = last_c
        if gen > inp.t_gen:
            inp.t_gen = gen
            edges = self._drain(click, gen - INPUT_ARRIVAL_MU)
            if edges:
                level = 1 if edges[-1][1] else 0
        phy.level = level

    def _drain(self, click: Any, h: int) -> list[tuple[int, int]]:
        """The world's edges of the detector ``click`` before ``h`` (mu), as its
        ``input_edges`` gives them: the world advanced lazily to ``h`` first where a beam output
        lies before it or something random acts (else it would leave the window for later)."""
        world = self.world
        t = world._t
        if h > t and (
            world._staged or world._next_beam_output(t) < h or not world._deterministic([])
        ):
            world.advance(h, lazy=True)
        return click.drain(h)

    def _reads(
        self, events: list[list[tuple[int, int]]], t_end: int, counter: int, costs: Any
    ) -> tuple[int, tuple[int, int, int, int], int, list[int]]:
        """``fetch_pattern``'s reads of the four inputs whose registered events are ``events``
        (arrival, timestamp), from ``counter``: the pattern, the first timestamps, the counter
        after them and, per input, the time up to which the reads asked it for events
        (:meth:`~sim.rtio.inputs.InputChannel.generate`). The rules of
        :meth:`~sim.rtio.inputs.InputReads._read`."""
        cost = costs.rtio_input
        timeout = t_end + self.latency_mu
        pattern = 0
        stamps = [-1, -1, -1, -1]
        gens = []
        for i, evs in enumerate(events):
            gen = self.engine.inputs[self.channels[i]].t_gen
            k = 0  # events read
            first = True
            while True:
                counter += cost
                if counter + 1 > gen:
                    gen = counter + 1
                if k < len(evs) and evs[k][0] <= counter:
                    ts = evs[k][1]
                    k += 1
                else:
                    if timeout + 1 > gen:
                        gen = timeout + 1
                    if k < len(evs) and evs[k][0] < timeout + 1:
                        if evs[k][0] > counter:
                            counter = evs[k][0]
                        ts = evs[k][1]
                        k += 1
                    else:
                        counter = max(counter, (timeout + 7) & ~7)
                        ts = -1
                    if counter + 1 > gen:
                        gen = counter + 1
                if first:
                    stamps[i] = ts
                    first = False
                    if ts < 0:
                        break
                    pattern |= 1 << i
                elif ts < 0:
                    break
            gens.append(gen)
        return pattern, (stamps[0], stamps[1], stamps[2], stamps[3]), counter, gens
