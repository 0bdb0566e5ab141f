# SPDX-License-Identifier: LGPL-3.0-or-later
"""A CPU-heralding cooling block drawn in law (issue 18, step 2 of the eighth session's design in
``docs/performance.md``): the passes of ``attempts_until_herald_mu`` from the loop's fixed point
to the next pass that the world has to make in detail, drawn at once.

Where :meth:`~sim.physics.quiet_skip.QuietSkips.skip_quiet` has armed the next pass *not quiet*
from the loop's fixed point (:class:`~sim.fastforward_loop.FastForwardLoop`, the world at the
fixed point's quiet pass ``ref``), :class:`BlockLaw` draws the passes that follow as independent
draws of one law, the fixed point's (each pass starts from the pumped state ``ref`` leaves):

* a pass is quiet with probability ``q = P0 · exp(−Λ·T)`` (the round's empty pattern from the
  world's round table at ``ref``'s ions' state and mode overlap, no dark count in its window), so
  the quiet passes before the next pass that is not are one geometric draw;
* a pass that is not quiet is, by one draw: a round pattern (the table's law without the empty
  pattern) with or without a dark count in its window, or an empty round with dark counts;
* a round with *one* detector's click and no dark count is made here (a *click in law*): the
  photon's record, origin, emission time and jitter drawn as the world's round draws them
  (:meth:`~sim.physics.world.PhysicsWorld._fire_round`), the detector's dead time and afterpulses
  as :class:`~sim.physics.detectors.ClickChannel` makes them, the gate's registration as the TTL
  PHY's, and the reads' timeline (``fetch_pattern``) by
  :meth:`~sim.devices.law_reads.LawReads._reads`: the pass takes that much longer than a quiet one;
* anything else (two or more clicks: every herald; a dark count; the block's last pass) is handed
  to the world armed exactly as drawn (:meth:`~sim.physics.quiet_skip.QuietSkips._arm`'s dark
  counts, the round's pattern forced), which then makes it in detail with the kernel's reads.

The engine makes the passes in law in one call (:func:`sim.rtio.repeat_at.repeat_at`: the same DMA
trace at each pass's start, unlogged where nothing reads it) and the world moves over them in
closed form (:meth:`~sim.physics.quiet_skip.QuietSkips._move_on`: heated, ``ref``'s state and
horizons; the detectors' last clicks as the clicks in law leave them). A click after the gate (a
late photon, an afterpulse) is a click no gate registers, drained by these reads or the next
pass's; one that would reach the next pass's gate, or a dark count in a click pass's longer
window, stays queued on its detector, and the block ends there.

What the pass-by-pass world keeps and this law leaves out, as the gateware path's cycle law and
the budget do: after a click the ions start the next pass from the pumped state, not from the
state the click projected them to (the ninth session's three transient passes); the passes'
ions' temperature is the block start's (the block is drawn only where the mode overlap, to the
round tables' 4 decimals, and the photon paths stay the same over it). On by default
(``law_block``, a ``bsa`` device argument; off: the pass-by-pass path); never with a waveform
file, a drawn cost profile, a tag feed or anything the model does not hold (the pass-by-pass path
runs then).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

import numpy as np

from sim.devices.block_draws import Draws, detector_clicks
from sim.devices.law_reads import LawReads
from sim.physics.bsa import ORIGIN_A, ORIGIN_B, build_round
from sim.physics.click_law import LawPass
from sim.physics.quiet_skip import queue_dark_counts
from sim.rtio.phy.ttl import GATE_OFFSET_MU, INPUT_ARRIVAL_MU
from sim.rtio.repeat_at import repeat_at, repeat_possible

__all__ = ["BlockLaw"]

#: a block's passes with a click take at most this much longer than a quiet one (mu), for the
#: bound on the time a block may span (the mode overlap and photon paths checked up to there)
MAX_CLICK_EXTRA_MU = 4096


@dataclass(frozen=True, slots=True)
class _Model:
    """The fixed point's law and timeline (see the module docstring), kept per fixed point."""

    step: int  # a quiet pass's length (mu)
    q: float  # P(quiet)
    classes: list  # (pattern, dark) of a pass that is not quiet, in cdf order
    cdf_any: list  # ... their cumulative law given not quiet
    cdf_nonempty: list  # ... given a non-empty round (the classes with pattern 0 last)
    records: dict  # detector → cumulative law of the round's records given its click alone
    origin: list  # the records' origin per detector (0 A, 1 B, else either)
    offsets: tuple  # photon time offsets per node relative to the pass start (s)
    emitting: list
    stats: tuple
    gates: tuple  # per detector (first, end) of the registered input timestamps, rel. (mu)
    pb_counter: int  # counter after the playback, relative to the pass start
    t_end: int  # the reads' argument relative to the pass start
    jitters: tuple  # the detectors' timing jitter (s)
    dark_hz: float  # the detectors' dark-count rate together (s⁻¹)
    margin: int  # the slack re-established after the reads (mu)
    get_counter: int  # the counter read's cost (mu)
    #: a pass's length, the counter's lead over the fixed point's at the next start and the
    #: probability of no dark count in its longer window, by the start's place in the coarse
    #: cycle, the detector and its registered events (:meth:`BlockLaw._length`)
    timeline: dict = field(default_factory=dict, compare=False)


class BlockLaw:
    """The cooling block in law for one driver (see the module docstring)."""

    def __init__(self, engine: Any, world: Any, channels: list[int], latency_mu: int) -> None:
        self.engine = engine
        self.world = world
        self.channels = list(channels)
        self.reads = LawReads(engine, world, channels, latency_mu)
        #: the counter relative to a pass's start → the cursor and counter after its playback
        self._playback: dict[int, tuple[int, int] | None] = {}
        self._models: dict[tuple, _Model | None] = {}
        self.blocks = 0  # calls that drew passes in law
        self.passes = 0  # passes made in law
        self.clicks = 0  # ... of which clicks in law
        self.handed = 0  # passes handed to the world armed
        self.read_last = False
        self.lead = 0
        self.draws = Draws(world.rng)

    def note_playback(self, t_att: int, counter0: int) -> None:
        """A pass's DMA playback started at ``t_att`` with the counter at ``counter0`` and has
        just ended (learnt: the reads' timeline starts there)."""
        key = counter0 - t_att
        rel = (self.engine.now - t_att, self.engine.counter - t_att)
        known = self._playback.get(key, rel)
        if len(self._playback) >= 64:
            self._playback.clear()
        self._playback[key] = rel if known == rel else None

    def _model(
        self, loop: Any, ref: Any, known: Any, overlap: float, gate_end: int, margin: int
    ) -> _Model | None:
        period = loop._fixed.known.period
        key = (period, known, overlap, gate_end, margin)
        if key in self._models:
            return self._models[key]
        model = self._make_model(period, known, overlap, gate_end, margin)
        if len(self._models) >= 64:
            self._models.clear()
        self._models[key] = model
        return model

    def _make_model(
        self, period: Any, known: Any, overlap: float, gate_end: int, margin: int
    ) -> _Model | None:
        eng, world = self.engine, self.world
        src = known.fire.src
        if src is None or not src.ok or src.end_rel is None:
            return None
        played = self._playback.get(period.counter0 - period.now0)
        if played is None:
            return None
        pb_now, pb = played
        gates = []
        for ch in self.channels:
            ctl = [(t, d) for t, a, d in period.by_channel.get(ch, ()) if a == 2]
            if len(ctl) != 2 or ctl[0][1] != 1 or ctl[1][1] != 0:
                return None
            if ctl[1][0] - period.now0 != gate_end:
                return None
            gates.append((ctl[0][0] - period.now0 + GATE_OFFSET_MU, gate_end + GATE_OFFSET_MU))
        step = period.length
        costs = eng.costs
        # the timeline: a quiet pass's reads, then the slack re-established after them from the
        # counter read (a multiple of 8): the same syscalls after a click's reads, so a pass's
        # length follows from its reads' end, as long as the cursor after the playback is not
        # what sets it (the reads' timeout is rounded up to the coarse cycle: absolute times)
        t0 = period.now0
        quiet = self.reads._reads([[], [], [], []], gate_end + t0, pb + t0, costs)[2]
        x = quiet + costs.get_counter
        if step <= pb_now or x & 7 or (x & ~7) + margin - t0 != step:
            return None
        fire = known.fire
        em_a, em_b, _, acc = fire.key
        tkey = (src.ekeys[0], src.ekeys[1], overlap)
        table = world._tables.get(tkey)
        if table is None:
            table = build_round(em_a, em_b, overlap, acc, (0.0,) * 4)
        records = {}
        for i in range(4):
            cdf = np.cumsum(table.record_probs(1 << i, fire.rho0))
            records[i] = (cdf / cdf[-1]).tolist() if cdf[-1] > 0 else None
        p = table.pattern_probs(fire.rho0)
        p = [float(x) for x in p / p.sum()]
        rates = [d.dark_rate_hz for d in world._detectors()]
        e_dark = math.exp(-sum(rates) * step * world.mu_s)
        q = p[0] * e_dark
        classes = [(k, False) for k in range(1, 16)] + [(k, True) for k in range(1, 16)]
        weights = [p[k] * e_dark for k in range(1, 16)] + [
            p[k] * (1 - e_dark) for k in range(1, 16)
        ]
        nonempty = list(accumulate(weights))
        classes.append((0, True))
        weights.append(p[0] * (1 - e_dark))
        total = list(accumulate(weights))
        if total[-1] <= 0 or nonempty[-1] <= 0 or q >= 1:
            return None
        mu = world.mu_s
        offsets = [0.0, 0.0]
        for k, s, _e in src.exc_rel:
            node = world.lab.nodes[k]
            offsets[k] = (src.start_rel + s) * mu + node.excite.delay_s + node.optics.photon_delay_s
        return _Model(
            step,
            q,
            classes,
            [c / total[-1] for c in total],
            [c / nonempty[-1] for c in nonempty],
            records,
            table.origin.tolist(),
            tuple(offsets),
            sorted(k for k, _, _ in src.exc_rel),
            tuple(src.stats),
            tuple(gates),
            pb,
            gate_end,
            tuple(d.jitter_s for d in world.lab.bsa.detectors),
            sum(rates),
            margin,
            costs.get_counter,
        )

    def run(
        self, loop: Any, skipper: Any, n: int, max_attempts: int, gate_end: int, margin: int
    ) -> tuple[int, int] | None:
        """From the pass armed not quiet at the cursor, the block's passes in law up to the next
        one the world makes in detail (armed) or the block's end (see the module docstring).
        Returns ``(attempts, start of the last pass)`` after them, or None (nothing done: the
        pass-by-pass path goes on)."""
        eng, world = self.engine, self.world
        law = world._q_law
        fixed = loop._fixed
        t0 = eng.now
        if (
            fixed is None
            or law is None
            or law.t_start != t0
            or world._q_force is not True
            or max_attempts - n < 2
            or eng.recorder is not None
            or eng.tag_tap is not None
            or world._staged
            or getattr(eng.costs, "drawn", False)
        ):
            return None
        ref = fixed.known.content
        known = world._q_known.get(ref)
        if known is None or law.known is not known:
            return None
        model = self._model(loop, ref, known, law.overlap, gate_end, margin)
        if model is None or not self._holds(model, ref, known, law.overlap, max_attempts - n):
            return None
        period = fixed.known.period
        if not repeat_possible(eng, period):
            return None
        return self._draw(loop, skipper, model, period, ref, known, law.overlap, n, max_attempts)

    def _holds(self, model: _Model, ref: Any, known: Any, overlap: float, left: int) -> bool:
        """The world is at the fixed point (its quiet signature is ``ref``) and the round's law
        stays over the block: the mode overlap and the photon paths."""
        world, t0 = self.world, self.engine.now
        last = world._q_last_at
        if last is None or last[2] != t0 or last[0] is not known.fire or last[1] is not ref.exc:
            # (else the skip that armed the pass has just moved the world to where ref ends)
            sig = world.quiet_signature_now(t0)
            world._q_now = None  # (armed: as the arming left it)
            if sig is None or (sig is not ref and sig != ref):
                return False
        t_fire = known.fire_rel + t0 + model.step
        span = left * (model.step + MAX_CLICK_EXTRA_MU)
        fire = known.fire
        if world._overlap_at(fire.key[2], t_fire + span) != overlap:
            return False
        return world._passes_in_polarisation(fire, t_fire, 2, span) == 2

    def _draw(
        self,
        loop: Any,
        skipper: Any,
        model: _Model,
        period: Any,
        ref: Any,
        known: Any,
        overlap: float,
        n: int,
        max_attempts: int,
    ) -> tuple[int, int] | None:
        eng, world = self.engine, self.world
        if self.draws.rng is not world.rng:  # (a generator replaced: its variates, not the old's)
            self.draws = Draws(world.rng)
        step = model.step
        dets = world._detectors()
        marks = [d.last_click_mu for d in dets]
        s = eng.now
        # (first start, passes, step), the starts relative to the captured pass's (repeat_at)
        runs: list[tuple[int, int, int]] = []
        base = period.now0
        last_start = s
        draws = self.draws
        cls = model.classes[bisect_right(model.cdf_nonempty, draws.u())]
        handed: tuple | None = None
        queued: list[tuple[int, int]] = []
        log_q = math.log(model.q) if model.q > 0 else -math.inf
        lead = 0  # the counter's lead at the next start over the fixed point's (mu)
        timeline = model.timeline
        while True:
            pattern, dark = cls
            if n + 1 >= max_attempts or dark or pattern & (pattern - 1):
                handed = cls
                break
            length, queued = self._click(model, ref, s, pattern.bit_length() - 1, marks, dets)
            runs.append((s - base, 1, length))
            last_start = s
            n += 1
            s += length
            lead = self.lead
            self.clicks += 1
            if queued:
                break
            # the quiet passes before the next that is not quiet (geometric)
            u = 1.0 - draws.u()
            k = int(math.log(u) / log_q) if log_q > -math.inf else 0
            end = k >= max_attempts - n
            if end:
                k = max_attempts - n  # (> 0: a click pass is never the loop's last attempt)
            if k:
                # k quiet passes from s: the first's length from where its start lies in the
                # coarse cycle (after a click; its counter's lead: none, timed out), the
                # others the fixed point's
                hit = timeline.get((s & 7, -1, ()))
                first = (hit if hit is not None else self._length(model, s, -1, ()))[0]
                runs.append((s - base, 1, first))
                last, s = s, s + first
                if k > 1:
                    runs.append((s - base, k - 1, step))
                    last = s + (k - 2) * step
                    s += (k - 1) * step
                n, lead = n + k, 0
                if end:
                    last_start = last
                    break
            cls = model.classes[bisect_right(model.cdf_any, draws.u())]
        made = 0
        if runs:
            # (the world first: the engine's repeats go unlogged only where every world is past
            # them, sim.rtio.unlogged)
            for d, m in zip(dets, marks):
                d.last_click_mu = m
            world._move_on(s, ref, known, tuple(marks))
            made = repeat_at(eng, period, runs, skipper, s - base, lead)
            loop._prev_end, loop._prev = loop._fixed.known.ended, loop._fixed.key
            self.passes += made
            skipper.skipped += made
            self.blocks += 1
        world._q_law = None
        world._q_force = None
        if queued:
            for i, t in queued:
                dets[i].add_arrivals([t])
            world._q_now = None
            loop.forget()
        elif handed is not None:
            self._arm(handed, s, step, known, overlap, ref, dets)
            self.handed += 1
        return n, last_start

    def _click(
        self, model: _Model, ref: Any, s: int, i: int, marks: list[int], dets: list
    ) -> tuple[int, list[tuple[int, int]]]:
        """The pass at ``s`` whose round clicked detector ``i`` alone (no dark count in its
        window): its click time, afterpulses and reads. Returns its length (mu) and the
        arrivals its reads leave on the detectors (``(i, t)``, absolute mu: the block ends after
        this pass)."""
        world, draws = self.world, self.draws
        u = draws.u
        cdf = model.records[i]
        r = min(bisect_right(cdf, u()), len(cdf) - 1)
        o = model.origin[r][i]
        if o != ORIGIN_A and o != ORIGIN_B:
            o = model.emitting[int(u() * len(model.emitting))]
        # the first-emission time given emission (s from the pulse start), the law of
        # ExcitationStats.sample_times_one: after the pulse with p_after, exponential; else
        # uniform in a bin drawn by its probability
        stats = model.stats[o]
        if u() < stats.p_after:
            e = stats.pulse_length_s - stats.lifetime_s * math.log(1.0 - u())
        else:
            bins, edges = stats._bin_lists
            k = min(bisect_right(bins, u()), len(bins) - 1)
            lo = edges[k]
            e = lo + u() * (edges[k + 1] - lo)
        t = model.offsets[o] + e
        det = dets[i]
        jitter = model.jitters[i]
        if jitter > 0:
            t += jitter * draws.z()
        a = math.floor(t / world.mu_s)  # relative to the pass start
        g0, g1 = model.gates[i]
        # the clicks before the gate's end (afterpulses drawn as the detector draws them:
        # detector_clicks, its first arrival here)
        clicks: list[int]
        later: list[int] = []
        if a >= g1:
            clicks, later = [], [a]
        elif a - (marks[i] - s) < det.dead_mu:
            clicks = []
        else:
            clicks = [a]
            p_after = det.afterpulse_prob
            if p_after > 0 and u() < p_after:
                d = -det.afterpulse_delay_s * math.log(1.0 - u()) / det.mu_s
                more, later = detector_clicks(draws, det, [a + max(int(d), 1)], g1, a)
                clicks += more
        registered = tuple([c for c in clicks if c >= g0])
        self.read_last = bool(registered)  # (the pass's reads read a click)
        hit = model.timeline.get((s & 7, i, registered))
        if hit is None:
            hit = self._length(model, s, i, registered)
        length, self.lead, no_dark = hit
        # the arrivals after the gate (a late photon, afterpulses): clicks no gate registers,
        # whether the reads drain them or the next pass's do, up to the next pass's gate; one
        # later is left queued for the pass-by-pass path
        queued: list[tuple[int, int]] = []
        last = clicks[-1] if clicks else marks[i] - s
        limit = length + g0
        while later:
            t_a = later.pop(0)
            if t_a >= limit:
                queued.append((i, t_a + s))
                continue
            more, rest = detector_clicks(self.draws, det, [t_a], limit, last)
            if more:
                last = more[-1]
            later.extend(rest)
            later.sort()
        marks[i] = last + s
        # a dark count in the pass's longer window (its part after a quiet pass's)
        extra = length - model.step
        if extra > 0 and no_dark < 1.0 and draws.u() >= no_dark:
            # (queued: the next pass runs in detail, its reads drain it if this one's would have)
            rates = world._q_rates
            j = bisect_right(list(accumulate(rates)), draws.u() * model.dark_hz)
            queued.append((j, s + model.step + ref.dark_rel[j] + int(draws.u() * extra)))
        return length, queued

    def _length(self, model: _Model, s: int, i: int, registered: tuple) -> tuple[int, int, float]:
        """The length (mu) of the pass that starts at ``s`` when detector ``i`` (-1: none)
        registered the events at ``registered`` (timestamps relative to ``s``) and no other
        did: its reads' end (``fetch_pattern``'s rules, :meth:`LawReads._reads`; the reads'
        timeout rounded up to the coarse cycle, so it depends on ``s`` modulo 8) and the
        slack re-established after them from the counter read (a multiple of 8); how far the
        counter at the next start is ahead of the fixed point's (0 .. 7 mu); and the probability
        of no dark count in the part of its window longer than a quiet pass's."""
        key = (s & 7, i, registered)
        hit = model.timeline.get(key)
        if hit is None:
            events: list[list[tuple[int, int]]] = [[], [], [], []]
            if i >= 0:
                events[i] = [(t + s + INPUT_ARRIVAL_MU, t + s) for t in registered]
            counter = self.reads._reads(
                events, model.t_end + s, model.pb_counter + s, self.engine.costs
            )[2]
            x = counter + model.get_counter
            length = (x & ~7) + model.margin - s
            no_dark = math.exp(-model.dark_hz * max(0, length - model.step) * self.world.mu_s)
            hit = model.timeline[key] = (length, x & 7, no_dark)
        return hit

    def _arm(
        self, cls: tuple, s: int, step: int, known: Any, overlap: float, ref: Any, dets: list
    ) -> None:
        """The pass at ``s`` made by the world in detail as drawn: its round's pattern (0: empty)
        and, with ``dark``, at least one dark count in its window
        (:meth:`~sim.physics.quiet_skip.QuietSkips._arm`'s draw); without, none there."""
        world = self.world
        pattern, dark = cls
        rates = world._q_rates
        mu = world.mu_s
        windows = [s + step + r - d.dark_to_mu for r, d in zip(ref.dark_rel, dets)]
        if dark:
            weights = [r * w * mu for r, w in zip(rates, windows)]
            queue_dark_counts(world.rng, dets, windows, weights)
        for d, w in zip(dets, windows):
            d.dark_to_mu += w
        world._q_force = pattern != 0
        world._q_pattern = pattern if pattern else None
        world._q_law = LawPass(s, known, overlap)
        world._q_now = None
