# SPDX-License-Identifier: LGPL-3.0-or-later
"""Entangler gateware PHY (OxfordIonTrapGroup/entangler-core ``entangler/core.py``, ``phy.py``,
``driver.py``; register map in the reference ``ion-photon-anchors.md`` §1.2).

Writes: CONFIG 0 (bit0 enable, bit1 master, bit2 standalone), RUN 1 (timeout in coarse ticks; starts a
run), TCYCLE 2 (cycle length in coarse ticks), HERALD 3 (4×4-bit patterns in bits 0–15, enables in
16–19), TIMING 0b001_000+i (``(stop << 16) | start``, 14 bits each, stored +1 by the driver, 0 = never;
i = 0–3 outputs in coarse ticks, 4–7 gates in mu), COUNTER PATTERNS 0b010_000+i. Reads (address bit 5):
STATUS/NCYCLES/TIMEREMAINING/NTRIGGERS 0b100_000..3, TIMESTAMP 0b101_000+i, COUNTER RESULT 0b110_000+i
(4 single-input counters, then 4 pattern counters); a read is an output with the read address answered
by an input event on the same channel.

A run executes cycles until a cycle's gated pattern equals an enabled herald pattern (exact match) or
the timeout's countdown expires; it answers with one input event at the end of that cycle, data = the
matched pattern slots (1, 2, 4, 8) or 0x3fff on timeout. Fast path (O(1) Python work per run): with
``p`` = probability that a cycle heralds, the number of cycles to the first herald is geometric(p),
capped by the timeout; the non-herald cycles' counters come from one multinomial draw over the
conditional pattern distribution; only the herald cycle is sampled in detail (and committed to the
physics). Stored input timestamps are not cleared between cycles (stale-timestamp semantics).
Without a physics world (no ``cycle_model``), no input ever fires: every run times out.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy

from sim.rtio.phy.ttl import INPUT_ARRIVAL_MU
from sim.rtio.recorder import EntanglerRun

__all__ = ["EntanglerPhy", "ADDR_CONFIG", "ADDR_RUN", "ADDR_TCYCLE", "ADDR_HERALD",
           "ADDR_TIMING", "ADDR_COUNTER_PATTERNS", "ADDR_STATUS", "ADDR_NCYCLES",
           "ADDR_TIMEREMAINING", "ADDR_NTRIGGERS", "ADDR_TIMESTAMP", "ADDR_COUNTER_RESULT",
           "TIMEOUT_DATA"]

ADDR_CONFIG = 0
ADDR_RUN = 1
ADDR_TCYCLE = 2
ADDR_HERALD = 3
ADDR_TIMING = 0b001_000
ADDR_COUNTER_PATTERNS = 0b010_000
ADDR_STATUS = 0b100_000
ADDR_NCYCLES = 0b100_001
ADDR_TIMEREMAINING = 0b100_010
ADDR_NTRIGGERS = 0b100_011
ADDR_TIMESTAMP = 0b101_000
ADDR_COUNTER_RESULT = 0b110_000
TIMEOUT_DATA = 0x3FFF
_MASK14 = 0x3FFF


def _unpack_patterns(word: int) -> tuple[list[int], list[bool]]:
    pats = [(word >> (4 * i)) & 0xF for i in range(4)]
    en = [bool(word & (1 << (16 + i))) for i in range(4)]
    return pats, en


class EntanglerPhy:
    """The entangler core on one RTIO channel (see module docstring)."""

    kind = "entangler"

    def __init__(self, engine: Any, channel: int, output_channels: list[int] | None = None,
                 input_channels: list[int] | None = None) -> None:
        self.engine = engine
        self.channel = channel
        self.output_channels = list(output_channels or [])
        self.input_channels = list(input_channels or [])
        self.config = 0
        self.tcycle = 0
        self.herald = 0
        self.timing = [0] * 8
        self.counter_patterns = [0] * 4
        self.status = 1
        self.ncycles = 0
        self.time_remaining = 0
        self.timestamps = [0] * 5
        self.counters = [0] * 8
        self.events: deque[tuple[int, int, int]] = deque()
        self.herald_log: list[tuple[int, int]] = []
        self._cfg: tuple | None = None
        self._laws: dict[tuple, tuple] = {}
        self._stale: dict[int, tuple] = {}   # input → (model, pattern counts, non-herald mask)
        self._last: tuple | None = None      # the last run's law, if it timed out (fast-forward)
        self._armed: tuple | None = None     # (model, cycles): the next run heralds
        self.skipped = 0                     # runs the fast-forward did not execute one by one

    # ------------------------------------------------------------------ RTIO interface
    def on_output(self, ts: int, addr: int, data: Any) -> None:
        if addr & 0b100_000:
            self.events.append((ts + INPUT_ARRIVAL_MU, ts, self._read(addr)))
            return
        if addr == ADDR_CONFIG:
            self.config = data
        elif addr == ADDR_RUN:
            self._run(ts, int(data))
        elif addr == ADDR_TCYCLE:
            self.tcycle = int(data) & 0x3FF
        elif addr == ADDR_HERALD:
            self.herald = int(data)
        elif ADDR_TIMING <= addr < ADDR_TIMING + 8:
            self.timing[addr - ADDR_TIMING] = int(data)
        elif ADDR_COUNTER_PATTERNS <= addr < ADDR_COUNTER_PATTERNS + 4:
            self.counter_patterns[addr - ADDR_COUNTER_PATTERNS] = int(data)

    def input_events(self, t_end: int) -> list[tuple[int, int, int]]:
        out = []
        ev = self.events
        while ev and ev[0][0] < t_end:
            out.append(ev.popleft())
        return out

    def next_self_event(self) -> int | None:
        return self.events[0][0] if self.events else None

    def _read(self, addr: int) -> int:
        if addr == ADDR_STATUS:
            return self.status
        if addr == ADDR_NCYCLES:
            return self.ncycles & _MASK14
        if addr == ADDR_TIMEREMAINING:
            return self.time_remaining
        if addr == ADDR_NTRIGGERS:
            return 0
        if ADDR_TIMESTAMP <= addr < ADDR_TIMESTAMP + 5:
            return self._timestamp(addr - ADDR_TIMESTAMP) & _MASK14
        if ADDR_COUNTER_RESULT <= addr < ADDR_COUNTER_RESULT + 8:
            return self.counters[addr - ADDR_COUNTER_RESULT] & _MASK14
        return 0

    # ------------------------------------------------------------------ windows
    def windows(self) -> tuple[dict[int, tuple[int, int]], dict[int, tuple[int, int]], int]:
        """Output and gate windows ``{i: (start_mu, stop_mu)}`` relative to the cycle start (outputs
        in coarse ticks ×8, gates in mu; stored values are +1, 0 = never; clipped to the cycle)."""
        cycle_mu = self.tcycle * 8
        outs: dict[int, tuple[int, int]] = {}
        gates: dict[int, tuple[int, int]] = {}
        for i in range(8):
            word = self.timing[i]
            start, stop = word & _MASK14, (word >> 16) & _MASK14
            if start == 0:
                continue
            if i < 4:
                a, b = (start - 1) * 8, (stop - 1) * 8 if stop else cycle_mu
            else:
                a, b = start - 1, stop - 1 if stop else cycle_mu
            b = min(b, cycle_mu)
            if a >= cycle_mu or b <= a:
                continue
            (outs if i < 4 else gates)[i % 4] = (a, b)
        return outs, gates, cycle_mu

    # ------------------------------------------------------------------ a run
    def _world(self) -> Any:
        for w in self.engine.worlds:
            if hasattr(w, "cycle_model"):
                return w
        return None

    def _config(self) -> tuple:
        """Per-configuration constants, recomputed only after a register write changed them:
        (outputs, gates, cycle_mu, herald patterns, herald slots, counter matrix (16, 8))."""
        key = (self.tcycle, self.herald, tuple(self.timing), tuple(self.counter_patterns))
        if self._cfg is not None and self._cfg[0] == key:
            return self._cfg[1]
        outs, gates, cycle_mu = self.windows()
        pats, en = _unpack_patterns(self.herald)
        herald_set = tuple(sorted({p for p, e in zip(pats, en) if e}))
        cmat = numpy.zeros((16, 8), dtype=numpy.int64)
        for q in range(16):
            for i in range(4):
                cmat[q, i] = (q >> i) & 1
        for i in range(4):
            cp, cen = _unpack_patterns(self.counter_patterns[i])
            for q in {cp[j] for j in range(4) if cen[j]} or {cp[0]}:
                cmat[q, 4 + i] = 1
        slots = {q: sum(1 << j for j in range(4) if en[j] and pats[j] == q) for q in herald_set}
        cfg = (outs, gates, cycle_mu, herald_set, slots, cmat)
        self._cfg = (key, cfg)
        return cfg

    def _law(self, model: Any, herald_set: tuple[int, ...]) -> tuple[float, Any, Any]:
        """(P(herald) per cycle, conditional non-herald pattern law or None, non-herald mask)."""
        key = (id(model), herald_set)
        hit = self._laws.get(key)
        if hit is not None and hit[0] is model:
            return hit[1]
        probs = (numpy.asarray(model.pattern_probs, dtype=float) if model is not None
                 else numpy.eye(16)[0])
        p = float(sum(probs[h] for h in herald_set))
        cond = probs.copy()
        cond[list(herald_set)] = 0.0
        total = cond.sum()
        plain = numpy.ones(16, dtype=bool)
        plain[list(herald_set)] = False
        law = (p, cond / total if total > 0 else None, plain)
        if len(self._laws) > 64:
            self._laws.clear()
        self._laws[key] = (model, law)
        return law

    def _run(self, ts: int, timeout_coarse: int) -> None:
        rng = self.engine.rng if self.engine.rng is not None else numpy.random.default_rng()
        outs, gates, cycle_mu, herald_set, slots, cmat = self._config()
        t0 = ts
        if self.tcycle <= 0:
            n_max = 1
            cycle_mu = 8
        else:
            n_max = max(1, -(-timeout_coarse // self.tcycle))
        world = self._world()
        model = (world.cycle_model(outs, gates, cycle_mu, t_start_mu=t0) if world is not None
                 else None)
        p, cond, plain = self._law(model, herald_set)
        armed, self._armed = self._armed, None
        if armed is not None and armed[0] is model and armed[1] == n_max and p > 0:
            # the fast-forward drew that this run heralds: first herald cycle given k <= n_max
            q = -math.expm1(n_max * math.log1p(-p))
            k = min(n_max, 1 + int(math.log1p(-rng.random() * q) / math.log1p(-p)))
        else:
            k = int(rng.geometric(p)) if p > 0 else n_max + 1
        success = k <= n_max
        n_cycles = k if success else n_max
        pattern_counts = self._plain_counts(rng, n_cycles - 1 if success else n_cycles, cond)
        last_pattern = 0
        t_last = t0 + (n_cycles - 1) * cycle_mu
        t_end = t0 + n_cycles * cycle_mu
        self._last = None
        if success and model is not None:
            sample = model.sample(rng, herald_set)
            last_pattern = int(sample.pattern)
            pattern_counts[last_pattern] += 1
            first = sample.first_edge_mu
            for i in range(4):
                if last_pattern & (1 << i) and first[i] >= 0:
                    self.timestamps[i] = int(first[i])
                    self._stale.pop(i, None)
            sample.commit(world, t_last, t_run_start_mu=t0)
        elif model is not None and hasattr(model, "commit_plain"):
            # the ions after a timeout: the state after a non-herald cycle, no detailed sample
            model.commit_plain(world, herald_set, t0, t_end)
        if not success:
            self._last = (model, p, n_max, cond, plain, cmat, timeout_coarse,
                          self._cfg[0] if self._cfg is not None else None)
        self._set_counters(model, pattern_counts, cmat, plain, last_pattern)
        if success:
            data = slots[last_pattern]
            self.status = 0b011
        else:
            data = TIMEOUT_DATA
            self.status = 0b101
        self.ncycles = n_cycles
        self.time_remaining = max(timeout_coarse - n_cycles * max(self.tcycle, 1), 0)
        self.events.append((t_end + INPUT_ARRIVAL_MU, t_end, data))
        self.herald_log.append((t_end, data))
        rec = self.engine.recorder
        if rec is not None:
            clicks = ([(int(i), t_last + int(t)) for i, t in sample.clicks]
                      if success and model is not None else None)
            rec.add_run(self.channel, EntanglerRun(t0, t_end, data, last_pattern, n_cycles), clicks)

    @staticmethod
    def _plain_counts(rng: Any, n_plain: int, cond: Any) -> Any:
        """Pattern counts (16,) of ``n_plain`` non-herald cycles."""
        if n_plain > 0 and cond is not None:
            return rng.multinomial(n_plain, cond)
        counts = numpy.zeros(16, dtype=numpy.int64)
        if n_plain > 0:
            counts[0] = n_plain
        return counts

    def _set_counters(self, model: Any, pattern_counts: Any, cmat: Any, plain: Any,
                      last_pattern: int) -> None:
        """Counters (reset at run start, sampled at each cycle end) and stale timestamps: an
        input that fired only in non-herald cycles (counter > 0, not in the last pattern) keeps
        the timestamp of such a cycle, drawn when (if ever) it is read."""
        counters = self.counters = (pattern_counts @ cmat).tolist()
        if model is not None:
            for i in range(4):
                if counters[i] and not last_pattern >> i & 1:
                    self._stale[i] = (model, pattern_counts, plain)

    # ------------------------------------------------------------------ fast-forward
    def period_signature(self) -> tuple[tuple, tuple | None, tuple] | None:
        """If the last run timed out: ``(run, content, state)``. ``run`` is what determines the
        next run (configuration, cycle law, cycle count); ``content`` and ``state`` are the
        physics' account of the period that ended with it (see the world's
        ``period_signature``; ``content`` None: not repeatable as it was). None otherwise."""
        last = self._last
        if last is None:
            return None
        model, _p, n_max, _c, _pl, _cm, timeout, cfg_key = last
        run = (cfg_key, self.config, timeout, n_max, id(model))
        world = self._world()
        if world is None:
            return run, (), ()
        content, state = world.period_signature()
        return (run, content, state) if state is not None else None

    def skip_runs(self, max_runs: int, period_mu: int, ref: Any,
                  writes: list[tuple[int, int, Any]]) -> int:
        """The loop will make ``writes`` (this channel's submissions of its next pass, among them
        one RUN) and then the same every ``period_mu``, at most ``max_runs`` times, in periods
        whose physics is ``ref`` (a content signature of the world's ``period_signature``); each
        run is the last one (which timed out) again. Draw how many of them time out before the
        first that heralds, and advance the registers, logs and physics over those; the next
        :meth:`_run` is then drawn conditioned on heralding (the first herald cycle from the
        truncated geometric law). Returns the number of timed-out runs skipped: 0 when not
        applicable (nothing changed) or when the very next run heralds."""
        last = self._last
        runs = [(ts, data) for ts, addr, data in writes if addr == ADDR_RUN]
        if last is None or max_runs <= 0 or len(runs) != 1:
            return 0
        model, p, n_max, cond, plain, cmat, timeout, cfg_key = last
        t_run, data = runs[0]
        if int(data) != timeout or any(a == ADDR_CONFIG and d != self.config
                                       for _, a, d in writes):
            return 0
        world = self._world()
        if world is not None:
            max_runs = world.stable_runs(max_runs, t_run, period_mu, ref)
            if max_runs <= 0:
                return 0
        rng = self.engine.rng if self.engine.rng is not None else numpy.random.default_rng()
        q = -math.expm1(n_max * math.log1p(-p)) if 0 < p < 1 else float(p >= 1)
        k = max_runs if q <= 0 else min(max_runs, int(rng.geometric(q)) - 1)
        if k < max_runs:
            self._armed = (model, n_max)
        if k == 0:
            return 0
        if world is not None:
            world.repeat_runs(k, t_run, period_mu, ref)
        counts = self._plain_counts(rng, n_max, cond)
        self._set_counters(model, counts, cmat, plain, 0)
        if k > 1 and model is not None and cond is not None:
            self._stale_from_earlier_runs(rng, k - 1, n_max, cond, cmat, model, plain)
        run_mu = n_max * max(self.tcycle, 1) * 8
        self.herald_log.extend((t_run + j * period_mu + run_mu, TIMEOUT_DATA) for j in range(k))
        rec = self.engine.recorder
        if rec is not None:
            for j in range(k):
                t = t_run + j * period_mu
                rec.add_run(self.channel, EntanglerRun(t, t + run_mu, TIMEOUT_DATA, 0, n_max))
        self.skipped += k
        return k

    def _stale_from_earlier_runs(self, rng: Any, runs: int, n_max: int, cond: Any, cmat: Any,
                                 model: Any, plain: Any) -> None:
        """An input that did not fire in the last skipped run keeps the timestamp of the last of
        the other ``runs`` skipped runs in which it fired, if any: drawn here (that run's
        counters are the run law conditioned on the input having fired)."""
        for i in range(4):
            if self.counters[i]:
                continue
            c = float(cond @ cmat[:, i])          # P(input i fires in a non-herald cycle)
            if c <= 0:
                continue
            f = -math.expm1(n_max * math.log1p(-c)) if c < 1 else 1.0   # ... in a run
            p_any = -math.expm1(runs * math.log1p(-f)) if f < 1 else 1.0  # ... in one of them
            if rng.random() >= p_any:
                continue
            while True:
                counts = rng.multinomial(n_max, cond)
                if (counts @ cmat[:, i]) > 0:
                    break
            self._stale[i] = (model, counts, plain)

    def draw_stale_timestamps(self) -> None:
        """Draw now every stale input timestamp still to be drawn (before the state is saved)."""
        for i in list(self._stale):
            self._timestamp(i)

    def rtio_reset(self, counter: int) -> None:
        """``core.reset()``: a herald drawn by the fast-forward is not carried over."""
        self._armed = None

    def _timestamp(self, i: int) -> int:
        """Stored timestamp of gate input ``i``; a pending stale one is drawn now."""
        pending = self._stale.pop(i, None)
        if pending is not None:
            model, counts, plain = pending
            qs = [q for q in range(16) if q >> i & 1 and counts[q] > 0 and plain[q]]
            rng = self.engine.rng if self.engine.rng is not None else numpy.random.default_rng()
            first_edge = getattr(model, "first_edge", None)
            t = (first_edge(rng, qs, i) if first_edge is not None
                 else int(model.sample(rng, qs).first_edge_mu[i]))
            if t >= 0:
                self.timestamps[i] = int(t)
        return self.timestamps[i]
