# SPDX-License-Identifier: LGPL-3.0-or-later
"""Entangler gateware PHY (OxfordIonTrapGroup/entangler-core ``entangler/core.py``, ``phy.py``,
``driver.py``; register map defined in :mod:`drivers.entangler_registers`).

Writes: CONFIG 0 (bit0 enable, bit1 master, bit2 standalone), RUN 1 (timeout in coarse ticks; starts
a run), TCYCLE 2 (cycle length in coarse ticks), HERALD 3 (4×4-bit patterns in bits 0–15, enables in
16–19), TIMING 0b001_000+i (``(stop << 16) | start``, 14 bits each, stored +1 by the driver, 0 =
never; i = 0–3 outputs in coarse ticks, 4–7 gates in mu), COUNTER PATTERNS 0b010_000+i. Reads
(address bit 5): STATUS/NCYCLES/TIMEREMAINING/NTRIGGERS 0b100_000..3, TIMESTAMP 0b101_000+i, COUNTER
RESULT 0b110_000+i (4 single-input counters, then 4 pattern counters); a read is an output with the
read address answered by an input event on the same channel.

A run executes cycles until a cycle's gated pattern equals an enabled herald pattern (exact match)
or the timeout's countdown expires; it answers with one input event at the end of that cycle, data =
the matched pattern slots (1, 2, 4, 8) or 0x3fff on timeout. Fast path (O(1) Python work per run):
with ``p`` = probability that a cycle heralds, the number of cycles to the first herald is
geometric(p), capped by the timeout; the non-herald cycles' counters come from one multinomial draw
over the conditional pattern distribution; only the herald cycle is sampled in detail (and committed
to the physics). Stored input timestamps are not cleared between cycles (stale-timestamp semantics).
With a VCD requested (the engine's ``recorder``), every cycle's clicks are materialised for the
waveform from the drawn counts (:meth:`EntanglerPhy._record_run`), with the recorder's own
generator: the simulation's draws are the same with or without.
The engine hands the PHY the physics world (:meth:`EntanglerPhy.bind_world`, a
:class:`~sim.fastforward.CycleWorld`); the PHY commits each run's end state to it. Without a world
no input ever fires: every run times out. The fast-forward of identical timed-out runs is the
PHY's part of :mod:`sim.fastforward`
(:class:`~sim.rtio.phy.entangler_fastforward.EntanglerFastForward`).

The persistent registers (for carrying hardware state between runs) are :attr:`EntanglerPhy.config`,
``tcycle``, ``herald``, ``timing`` and ``counter_patterns``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import compress
from typing import Any

import numpy

from drivers.entangler_registers import (
    ADDR_CONFIG,
    ADDR_COUNTER_PATTERNS,
    ADDR_COUNTER_RESULT,
    ADDR_HERALD,
    ADDR_NCYCLES,
    ADDR_NTRIGGERS,
    ADDR_RUN,
    ADDR_STATUS,
    ADDR_TCYCLE,
    ADDR_TIMEREMAINING,
    ADDR_TIMESTAMP,
    ADDR_TIMING,
    CONFIG_STANDALONE,
    TIMEOUT,
)
from sim.fastforward import CycleWorld, PeriodWorld, RunLaw
from sim.rtio.phy.entangler_fastforward import EntanglerFastForward
from sim.rtio.phy.entangler_pair import EntanglerPairing
from sim.rtio.phy.ttl import INPUT_ARRIVAL_MU
from sim.rtio.recorder import EntanglerRun

__all__ = ["EntanglerPhy"]

_MASK14 = 0x3FFF
_INPUT_BITS = (numpy.arange(16)[:, None] >> numpy.arange(4)) & 1  # pattern → inputs that fired
_PATTERNS = range(16)  # the click patterns, as indices of a run's pattern counts


def _pattern_adds(cmat: Any) -> list[tuple[int, ...]] | None:
    """Per pattern (row of a 0/1 counter matrix, patterns × counters), the counters its cycles
    add to; None if an entry is not 0 or 1."""
    if not numpy.isin(cmat, (0, 1)).all():
        return None
    return [tuple(numpy.flatnonzero(row).tolist()) for row in cmat]


def _unpack_patterns(word: int) -> tuple[list[int], list[bool]]:
    pats = [(word >> (4 * i)) & 0xF for i in range(4)]
    en = [bool(word & (1 << (16 + i))) for i in range(4)]
    return pats, en


@dataclass(frozen=True, eq=False)
class RunConfig:
    """Per-configuration constants of a run: output and gate windows (mu in the cycle), cycle
    length (mu), enabled herald patterns, their slot bits, counter matrix (16 patterns × 8)."""

    outputs: dict[int, tuple[int, int]]
    gates: dict[int, tuple[int, int]]
    cycle_mu: int
    herald_set: tuple[int, ...]
    slots: dict[int, int]
    cmat: Any


@dataclass(frozen=True, eq=False)
class CycleLaw:
    """P(herald) per cycle, conditional non-herald pattern law (None if impossible), mask of
    non-herald patterns."""

    p: float
    cond: Any
    plain: Any


@dataclass(eq=False, slots=True)
class _Stale:
    """An input timestamp from a non-herald cycle, drawn when (if ever) it is read."""

    model: Any
    counts: Any
    plain: Any


class EntanglerPhy(EntanglerFastForward, EntanglerPairing):
    """The entangler core on one RTIO channel (see module docstring)."""

    _ADDR_RUN = ADDR_RUN
    _ADDR_READ = 0b100_000  # address bit of a read (answered by an input event)
    _ADDR_CONFIG = ADDR_CONFIG
    _TIMEOUT_DATA = TIMEOUT

    def __init__(
        self,
        engine: Any,
        channel: int,
        output_channels: list[int] | None = None,
        input_channels: list[int] | None = None,
    ) -> None:
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
        self._counters = [0] * 8
        #: the last run's (pattern counts, counter matrix) while its counters are not summed
        self._counter_src: tuple[Any, Any] | None = None
        self.events: deque[tuple[int, int, int]] = deque()
        self.herald_log: list[tuple[int, int]] = []
        self.world: CycleWorld | None = None
        self._cfg: tuple[tuple, RunConfig] | None = None
        self._laws: dict[tuple, tuple[Any, CycleLaw]] = {}
        self._stale: dict[int, _Stale] = {}
        #: the counter matrix last used, and the counters of each pattern (see _pattern_adds)
        self._cmat_adds: tuple[Any, list[tuple[int, ...]] | None] | None = None
        #: with a VCD: input → (index of its last non-herald gated click, that cycle's start)
        self._vcd_stale: dict[int, tuple[int, int]] = {}
        self._init_fast_forward()

    def bind_world(self, world: CycleWorld) -> None:
        """The physics the runs are drawn from and committed to (the engine calls this)."""
        self.world = world
        self._period_world = world if isinstance(world, PeriodWorld) else None

    def _rng(self) -> Any:
        return self.engine.rng if self.engine.rng is not None else numpy.random.default_rng()

    # ------------------------------------------------------------------ RTIO interface
    def on_output(self, ts: int, addr: int, data: Any) -> None:
        if addr & self._ADDR_READ:
            self.events.append((ts + INPUT_ARRIVAL_MU, ts, self._read(addr)))
            return
        if addr == ADDR_CONFIG:
            self.config = data
        elif addr == ADDR_RUN:
            if self.partner is not None and self.acts_as_slave():
                self.arm(ts, int(data))  # it runs when its master triggers it
            else:
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
        if self.armed is not None:
            self.slave_pending(t_end)
        out = []
        ev = self.events
        while ev and ev[0][0] < t_end:
            out.append(ev.popleft())
        return out

    def next_self_event(self) -> int | None:
        if self.events:
            return self.events[0][0]
        return self.armed[1] + INPUT_ARRIVAL_MU if self.armed is not None else None

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
    def _config_key(self) -> tuple:
        """What the per-configuration constants of a run are made of (the registers)."""
        return (self.tcycle, self.herald, tuple(self.timing), tuple(self.counter_patterns))

    def _config(self) -> RunConfig:
        """Per-configuration constants, recomputed only after a register write changed them."""
        key = self._config_key()
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
        cfg = RunConfig(outs, gates, cycle_mu, herald_set, slots, cmat)
        self._cfg = (key, cfg)
        return cfg

    def _law(self, model: Any, herald_set: tuple[int, ...]) -> CycleLaw:
        """The cycle law of ``model`` for ``herald_set`` (cached per model)."""
        key = (id(model), herald_set)
        hit = self._laws.get(key)
        if hit is not None and hit[0] is model:
            return hit[1]
        probs = (
            numpy.asarray(model.pattern_probs, dtype=float)
            if model is not None
            else numpy.eye(16)[0]
        )
        p = float(sum(probs[h] for h in herald_set))
        cond = probs.copy()
        cond[list(herald_set)] = 0.0
        total = cond.sum()
        plain = numpy.ones(16, dtype=bool)
        plain[list(herald_set)] = False
        law = CycleLaw(p, cond / total if total > 0 else None, plain)
        if len(self._laws) > 64:
            self._laws.clear()
        self._laws[key] = (model, law)
        return law

    def _run_length(self, timeout_coarse: int, cycle_mu: int) -> tuple[int, int]:
        """Cycles at most in a run of ``timeout_coarse`` and the cycle length (mu)."""
        if self.tcycle <= 0:
            return 1, 8
        return max(1, -(-timeout_coarse // self.tcycle)), cycle_mu

    def _run(self, ts: int, timeout_coarse: int, answer: bool = True) -> tuple[int, int]:
        """The run started at ``ts``: drawn, completed (:meth:`_complete_run`); its end (mu) and
        answer (matched slots or :data:`TIMEOUT`; ``(ts, 0)`` while it waits for a slave)."""
        rng = self._rng()
        cfg = self._config()
        n_max, cycle_mu = self._run_length(timeout_coarse, cfg.cycle_mu)
        outputs = cfg.outputs
        paired = self.partner is not None and not self.slave_role
        if paired:
            extra = self.slave_outputs(ts, cycle_mu)
            if extra is None and not self.config & CONFIG_STANDALONE:
                self.wait_for_slave(ts, timeout_coarse)
                return ts, 0
            # outputs 2 and 3 are the slave's (node B's), absent when it is not ready
            outputs = {i: w for i, w in outputs.items() if i < 2} | (extra or {})
            paired = extra is not None
        world = self.world
        model = (
            world.cycle_model(outputs, cfg.gates, cycle_mu, t_start_mu=ts)
            if world is not None
            else None
        )
        law = self._law(model, cfg.herald_set)
        k = self._cycles_to_herald(rng, model, law.p, n_max, ts)
        return self._complete_run(
            rng, cfg, ts, timeout_coarse, n_max, cycle_mu, model, law, k, paired, answer
        )

    def _complete_run(
        self,
        rng: Any,
        cfg: RunConfig,
        t0: int,
        timeout_coarse: int,
        n_max: int,
        cycle_mu: int,
        model: Any,
        law: CycleLaw,
        k: int,
        paired: bool,
        answer: bool = True,
    ) -> tuple[int, int]:
        """The run from ``t0`` whose first herald is in cycle ``k`` (> ``n_max``: it times out):
        the non-herald cycles' counts, the herald cycle's sample, the commit to the world,
        registers and logs; ``answer``: queue the input event that answers the kernel's read (a
        pass the fast-forward follows has its read already). Returns the run's end (mu) and its
        answer's data."""
        world = self.world
        success = k <= n_max
        n_cycles = k if success else n_max
        n_plain = n_cycles - 1 if success else n_cycles
        pattern_counts = self._plain_counts(rng, n_plain, law.cond)
        recorder = self.engine.recorder
        plain_counts = pattern_counts.copy() if recorder is not None else None  # for the VCD
        last_pattern = 0
        t_last = t0 + (n_cycles - 1) * cycle_mu
        t_end = t0 + n_cycles * cycle_mu
        self._last = None
        if world is not None and model is not None:
            if success:
                sample = model.sample(rng, cfg.herald_set)
                last_pattern = int(sample.pattern)
                pattern_counts[last_pattern] += 1
                first = sample.first_edge
                for i in range(4):
                    if last_pattern & (1 << i) and first[i] >= 0:
                        self.timestamps[i] = int(first[i])
                        self._stale.pop(i, None)
                world.commit_cycle(sample, t_last, t_run_start_mu=t0)
            else:
                # the ions after a timeout: the state after a non-herald cycle, no detailed sample
                world.commit_timeout(model, cfg.herald_set, t0, t_end)
        if not success:
            self._last = RunLaw(
                model,
                law.p,
                n_max,
                law.cond,
                law.plain,
                cfg.cmat,
                timeout_coarse,
                self._cfg[0] if self._cfg is not None else None,
            )
        self._set_counters(model, pattern_counts, cfg.cmat, law.plain, last_pattern)
        if success:
            data = cfg.slots[last_pattern]
            self.status = 0b011
        else:
            data = TIMEOUT
            self.status = 0b101
        self.ncycles = n_cycles
        self.time_remaining = max(timeout_coarse - n_cycles * max(self.tcycle, 1), 0)
        if answer:
            self.events.append((t_end + INPUT_ARRIVAL_MU, t_end, data))
        self.herald_log.append((t_end, data))
        if paired:
            self.slave_done(t_end, n_cycles, success)
        if recorder is not None:
            clicks = (
                [(int(i), t_last + int(t)) for i, t in sample.clicks]
                if success and model is not None
                else []
            )
            self._record_run(
                EntanglerRun(t0, t_end, data, last_pattern, n_cycles),
                model,
                plain_counts,
                n_plain,
                cycle_mu,
                clicks,
            )
        return t_end, data

    def _record_run(
        self,
        run: EntanglerRun,
        model: Any,
        counts: Any,
        n_plain: int,
        cycle_mu: int,
        last_clicks: list[tuple[int, int]],
        retarget: set[int] | None = None,
    ) -> None:
        """With a VCD requested: ``run`` and the clicks of all its cycles, the ``n_plain``
        non-herald cycles (first ``n_plain`` cycles, pattern counts ``counts`` as drawn)
        materialised with the recorder's own generator, then ``last_clicks`` ``(input, t_mu)``
        of the heralding cycle. Remembers each input's last gated non-herald click, where its
        stale timestamp goes when the kernel reads it (:meth:`_timestamp`; only the inputs in
        ``retarget`` if given)."""
        rec = self.engine.recorder
        t0 = run.t_start_mu
        clicks: list[tuple[int, int]] = []
        last: dict[int, tuple[int, int, int]] = {}  # input → (cycle, position, cycle start)
        if n_plain > 0:
            for c in model.plain_cycle_clicks(rec.rng, counts, n_plain):
                start = t0 + c.cycle * cycle_mu
                if c.gated and c.cycle >= last.get(c.input, (-1, 0, 0))[0]:
                    last[c.input] = (c.cycle, len(clicks), start)
                clicks.append((c.input, start + c.t_mu))
        first = rec.add_run(self.channel, run, clicks + last_clicks)
        for i in range(4) if retarget is None else sorted(retarget):
            if i in last:
                self._vcd_stale[i] = (first + last[i][1], last[i][2])
            elif counts is not None and int(counts @ _INPUT_BITS[:, i]) > 0:
                self._vcd_stale.pop(i, None)

    @staticmethod
    def _plain_counts(rng: Any, n_plain: int, cond: Any) -> Any:
        """Pattern counts (16,) of ``n_plain`` non-herald cycles."""
        if n_plain > 0 and cond is not None:
            return rng.multinomial(n_plain, cond)
        counts = numpy.zeros(16, dtype=numpy.int64)
        if n_plain > 0:
            counts[0] = n_plain
        return counts

    @property
    def counters(self) -> list[int]:
        """The 8 counter registers (4 single-input, 4 pattern counters) after the last run: its
        pattern counts times the counter matrix, summed when first read (a run's counters are
        rarely read)."""
        src = self._counter_src
        if src is not None:
            self._counter_src = None
            pattern_counts, cmat = src
            memo = self._cmat_adds
            if memo is None or memo[0] is not cmat:
                memo = self._cmat_adds = (cmat, _pattern_adds(cmat))
            adds = memo[1]
            if adds is None:
                self._counters = (pattern_counts @ cmat).tolist()
            else:  # (the same sums over the patterns that occurred: most of the 16 did not)
                counters = self._counters = [0] * 8
                counts = pattern_counts.tolist()
                for q in compress(_PATTERNS, counts):
                    n = counts[q]
                    for j in adds[q]:
                        counters[j] += n
        return self._counters

    @counters.setter
    def counters(self, values: list[int]) -> None:
        self._counters = values
        self._counter_src = None

    def _set_counters(
        self, model: Any, pattern_counts: Any, cmat: Any, plain: Any, last_pattern: int
    ) -> None:
        """Counters (reset at run start, sampled at each cycle end; from the run's pattern
        counts ``pattern_counts`` (16,), not changed afterwards, and the counter matrix
        ``cmat``) and stale timestamps: an input that fired only in non-herald cycles (a
        pattern with its bit counted, not in the last pattern) keeps the timestamp of such a
        cycle, drawn when (if ever) it is read."""
        self._counter_src = (pattern_counts, cmat)
        if model is not None:
            fired = 0  # the inputs with a click in some cycle (single-input counters > 0)
            for q in compress(_PATTERNS, pattern_counts.tolist()):  # (the patterns that occurred)
                fired |= q
            fired &= ~last_pattern
            if fired:
                stale = _Stale(model, pattern_counts, plain)  # one record serves every input
                for i in range(4):
                    if fired >> i & 1:
                        self._stale[i] = stale

    def _mark_stale(self, i: int, model: Any, counts: Any, plain: Any) -> None:
        """Input ``i`` keeps a timestamp of a non-herald cycle with pattern ``counts``."""
        self._stale[i] = _Stale(model, counts, plain)

    def draw_stale_timestamps(self) -> None:
        """Draw now every stale input timestamp still to be drawn (before the state is saved)."""
        for i in list(self._stale):
            self._timestamp(i)

    def _timestamp(self, i: int) -> int:
        """Stored timestamp of gate input ``i``; a pending stale one is drawn now."""
        pending = self._stale.pop(i, None)
        if pending is not None:
            model, counts, plain = pending.model, pending.counts, pending.plain
            qs = [q for q in range(16) if q >> i & 1 and counts[q] > 0 and plain[q]]
            rng = self._rng()
            t = model.first_edge(rng, qs, i)
            if t >= 0:
                self.timestamps[i] = int(t)
                target = self._vcd_stale.get(i)
                if target is not None and self.engine.recorder is not None:
                    self.engine.recorder.move_click(self.channel, target[0], target[1] + int(t))
        return self.timestamps[i]
