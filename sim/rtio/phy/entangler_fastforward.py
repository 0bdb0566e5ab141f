# SPDX-License-Identifier: LGPL-3.0-or-later
"""The entangler PHY's part of the fast-forward of identical timed-out runs
(:mod:`sim.fastforward`): :class:`EntanglerFastForward`, mixed into
:class:`~sim.rtio.phy.entangler.EntanglerPhy` (the engine's ``FastForwardPhy`` hook). It says
what decides its next run (:class:`~sim.fastforward.PassSignature`), draws how many runs time out
before the next herald (geometric) and advances its registers over them; the next run is then
drawn conditioned on heralding. The first pass after a call's start is followed exactly as it
runs in detail (:meth:`EntanglerFastForward.start_signature`,
:meth:`EntanglerFastForward._follow_start`: the same draws in the same order)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Callable

from sim.fastforward import (
    PassSignature,
    PeriodWorld,
    RunKey,
    RunLaw,
    StartRun,
    TransientChain,
)
from sim.rtio.phy.ttl import INPUT_ARRIVAL_MU
from sim.rtio.recorder import EntanglerRun

__all__ = ["EntanglerFastForward"]


@dataclass(eq=False, slots=True)
class _Predrawn:
    """The first herald cycle ``k`` drawn for the run at ``t_run`` (mu) with this law, by a follow
    of a first pass that found it heralds (the run is then executed in detail with it)."""

    t_run: int
    model: Any
    n_max: int
    k: int


@dataclass(eq=False, slots=True)
class _Armed:
    """The fast-forward drew that the next run with this law heralds."""

    model: Any
    n_max: int
    #: the passes skipped before it (:class:`PeriodContent`; None without a world)
    content: Any = None


class EntanglerFastForward:
    """The entangler PHY's part (mixed into it): the engine's ``FastForwardPhy`` hook."""

    engine: Any
    channel: int
    config: int
    tcycle: int
    counters: list[int]
    herald_log: list[tuple[int, int]]
    _ADDR_RUN: int
    _ADDR_CONFIG: int
    _ADDR_READ: int
    _TIMEOUT_DATA: int
    world: Any
    partner: Any
    events: Any
    _rng: Callable[[], Any]
    _config_key: Callable[[], tuple]
    _config: Callable[[], Any]
    _law: Callable[..., Any]
    _run_length: Callable[[int, int], tuple[int, int]]
    _complete_run: Callable[..., tuple[int, int]]
    _run: Callable[..., tuple[int, int]]
    _plain_counts: Callable[..., Any]
    _set_counters: Callable[..., None]
    _mark_stale: Callable[..., None]
    _record_run: Callable[..., None]
    _stale: dict[int, Any]
    _cfg: tuple[tuple, Any] | None
    _vcd_stale: dict[int, tuple[int, int]]

    def _init_fast_forward(self) -> None:
        self._last: RunLaw | None = None  # the last run's law, if it timed out
        self._armed: _Armed | None = None
        self._period_world: PeriodWorld | None = None
        self.skipped = 0  # runs the fast-forward did not execute one by one
        self.answered = 0  # runs of passes made at once, their run drawn to herald (armed_run)
        self._fire_memo: tuple[Any, Any, list[float]] | None = None  # see _stale_from_earlier_runs
        self._predrawn: _Predrawn | None = None

    def _cycles_to_herald(self, rng: Any, model: Any, p: float, n_max: int, t_run: int) -> int:
        """Cycles to the first herald of the run at ``t_run`` (mu): geometric(p), or truncated at
        ``n_max`` when the fast-forward drew that this run heralds, or the value a follow of this
        run drew (:meth:`_follow_start`; a value drawn for a run that never came, its pass
        abandoned by an underflow, is dropped)."""
        pre, self._predrawn = self._predrawn, None
        if pre is not None and pre.t_run == t_run:
            if pre.model is not model or pre.n_max != n_max:
                raise RuntimeError("entangler fast-forward: a run drawn for another cycle law")
            return pre.k
        armed, self._armed = self._armed, None
        if armed is not None and armed.model is model and armed.n_max == n_max and p > 0:
            q = -math.expm1(n_max * math.log1p(-p))
            return min(n_max, 1 + int(math.log1p(-rng.random() * q) / math.log1p(-p)))
        return int(rng.geometric(p)) if p > 0 else n_max + 1

    def herald_drawn(self) -> bool:
        """Whether the next run is already drawn to herald: armed by :meth:`_skip` (its law
        then holds for that run: :meth:`PeriodTracking.stable_runs` covered it) or its herald
        cycle drawn by :meth:`_follow_start`. A pass that makes it is never learnt (only passes
        that time out are), so the loop need not record its submissions."""
        return self._armed is not None or self._predrawn is not None

    def rtio_reset(self, counter: int) -> None:
        """``core.reset()``: a herald drawn by the fast-forward is not carried over."""
        self._armed = None
        self._predrawn = None

    def start_signature(self) -> tuple | None:
        """A pass of the loop starts at the cursor: what decides it besides its submissions and
        the slack (the registers; the world's :meth:`PeriodTracking.mark_pass_start`, which
        starts learning the pass); None when nothing may be learnt or followed from here (no
        world, a paired core, a herald drawn or an answer pending)."""
        world = self._period_world
        if (
            world is None
            or self.partner is not None
            or self._armed is not None
            or self._predrawn is not None
            or self.events
        ):
            return None
        w = world.mark_pass_start(self.engine.now)
        return None if w is None else (self._config_key(), w)

    def period_signature(self) -> PassSignature | None:
        """If the last run timed out, what decides the next run and the physics' account of the
        period that ended with it (see :meth:`PeriodTracking.period_signature`); else None."""
        last = self._last
        if last is None:
            return None
        run = RunKey(last.config_key, self.config, last.timeout, last.n_max, id(last.model))
        world = self._period_world
        if world is None:
            return PassSignature(run, (), ())
        content, state = world.period_signature()
        if state is None:
            return None
        sp = world.start_pass_content()
        if sp is None:
            return PassSignature(run, content, state)
        p, n = last.p, last.n_max
        timeout = math.exp(n * math.log1p(-p)) if p < 1 else 0.0
        return PassSignature(run, content, state, StartRun(run, last.model, sp, timeout))

    def quiet_inputs(self) -> list[int]:
        """The TTL inputs on which the passes :meth:`skip_runs` accepts bring no input edge
        (:mod:`sim.rtio.unlogged`): none is vouched for (the entangler's gate inputs are its
        own, not channels of the pass), so only the pass's TTL outputs may go unlogged."""
        return []

    def skip_runs(
        self, max_runs: int, period_mu: int, ref: Any, writes: list[tuple[int, int, Any]]
    ) -> int:
        """The engine's hook: :meth:`_skip` for ``ref``, or for a :class:`TransientChain` each
        of its steps once and then its fixed point, as separate repeats would (``writes``: the
        first pass's, the later ones are the same shifted by ``period_mu``)."""
        if not isinstance(ref, TransientChain):
            return self._skip(max_runs, period_mu, ref, writes)
        done = 0
        for step in ref.steps:
            if done >= max_runs:
                return done
            shifted = [(ts + done * period_mu, a, d) for ts, a, d in writes] if done else writes
            if self._skip(1, period_mu, step, shifted) == 0:
                return done
            done += 1
        if done < max_runs:
            shifted = [(ts + done * period_mu, a, d) for ts, a, d in writes] if done else writes
            done += self._skip(max_runs - done, period_mu, ref.fixed, shifted)
        return done

    def _skip(
        self, max_runs: int, period_mu: int, ref: Any, writes: list[tuple[int, int, Any]]
    ) -> int:
        """The loop will make ``writes`` (this channel's submissions of its next pass, among them
        one RUN) and then the same every ``period_mu``, at most ``max_runs`` times, in periods
        whose physics is ``ref``; each run is the last one (which timed out) again. Draw how many
        time out before the first that heralds and advance registers, logs and physics over
        those; the next run is then drawn conditioned on heralding. Returns the number of
        timed-out runs skipped: 0 when not applicable (nothing changed) or when the very next run
        heralds. A :class:`StartRun` ``ref`` is one first pass: :meth:`_follow_start`."""
        if isinstance(ref, StartRun):
            return self._follow_start(ref, writes) if max_runs > 0 else 0
        last = self._last
        runs = [(ts, data) for ts, addr, data in writes if addr == self._ADDR_RUN]
        if last is None or max_runs <= 0 or len(runs) != 1:
            return 0
        t_run, data = runs[0]
        if int(data) != last.timeout or any(
            a == self._ADDR_CONFIG and d != self.config for _, a, d in writes
        ):
            return 0
        world = self._period_world
        if world is not None:
            max_runs = world.stable_runs(max_runs, t_run, period_mu, ref)
            if max_runs <= 0:
                return 0
        rng = self._rng()
        p, n_max = last.p, last.n_max
        q = -math.expm1(n_max * math.log1p(-p)) if 0 < p < 1 else float(p >= 1)
        k = max_runs if q <= 0 else min(max_runs, int(rng.geometric(q)) - 1)
        if k < max_runs:
            self._armed = _Armed(last.model, n_max, ref if world is not None else None)
        if k == 0:
            return 0
        if world is not None:
            world.repeat_runs(k, t_run, period_mu, ref)
        counts = self._plain_counts(rng, n_max, last.cond)
        rec = self.engine.recorder
        stale_before = dict(self._stale) if rec is not None else {}
        self._set_counters(last.model, counts, last.cmat, last.plain, 0)
        if k > 1 and last.model is not None and last.cond is not None:
            self._stale_from_earlier_runs(rng, k - 1, last)
        cycle_mu = max(self.tcycle, 1) * 8
        run_mu = n_max * cycle_mu
        t_end, data = t_run + run_mu, self._TIMEOUT_DATA
        self.herald_log.extend(zip(range(t_end, t_end + k * period_mu, period_mu), repeat(data, k)))
        if rec is not None:
            # the skipped runs' clicks, drawn for the waveform (the last one's counts as drawn
            # above); a stale timestamp the skip set goes to the VCD's last click of its input
            retarget = {i for i in range(4) if self._stale.get(i) is not stale_before.get(i)}
            for i in retarget:
                self._vcd_stale.pop(i, None)
            for j in range(k):
                t = t_run + j * period_mu
                c = counts if j == k - 1 else self._plain_counts(rec.rng, n_max, last.cond)
                self._record_run(
                    EntanglerRun(t, t + run_mu, self._TIMEOUT_DATA, 0, n_max),
                    last.model,
                    c,
                    n_max,
                    cycle_mu,
                    [],
                    retarget,
                )
        self.skipped += k
        return k

    def _follow_start(self, ref: StartRun, writes: list[tuple[int, int, Any]]) -> int:
        """The first pass after a marked start, seen before from an equal start (``ref``), makes
        ``writes`` again: the world plays its windows up to the run (the same planned window,
        :meth:`PeriodTracking.replay_start`), and the run is drawn as the PHY draws a run in
        detail, with the same draws in the same order. A run that times out is completed here
        (1: the pass is done, its answer read); one that heralds keeps the drawn herald cycle for
        the detailed run of the pass (0, as when the cycle law differs from ``ref``'s)."""
        world = self._period_world
        if world is None or self.world is None or self.partner is not None or self.events:
            return 0
        if self._armed is not None or self._predrawn is not None:
            return 0
        run, t_run, timeout, config = ref.run, 0, -1, self.config
        for ts, addr, data in writes:
            if addr == self._ADDR_RUN and timeout < 0:
                t_run, timeout = ts, int(data)
            elif addr == self._ADDR_CONFIG and timeout < 0:
                config = data
            elif not addr & self._ADDR_READ:
                return 0  # a register the run would see otherwise, or a second run
        if timeout != run.timeout or config != run.config:
            return 0
        cfg = self._config()  # (kept with the registers' key it was made for, ``_cfg``)
        key = self._cfg[0] if self._cfg is not None else self._config_key()
        if key is not run.config_key and key != run.config_key:
            return 0
        if not world.replay_start(ref.world, t_run - ref.world.run_rel):
            return 0
        rng = self._rng()
        n_max, cycle_mu = self._run_length(timeout, cfg.cycle_mu)
        model = self.world.cycle_model(cfg.outputs, cfg.gates, cycle_mu, t_start_mu=t_run)
        if model is not ref.model or n_max != run.n_max:
            return 0  # (the world is at the run's start: the detailed pass goes on from there)
        law = self._law(model, cfg.herald_set)
        k = self._cycles_to_herald(rng, model, law.p, n_max, t_run)
        if k <= n_max:
            self._predrawn = _Predrawn(t_run, model, n_max, k)
            return 0
        self.config = config
        self._complete_run(rng, cfg, t_run, timeout, n_max, cycle_mu, model, law, k, False, False)
        self.skipped += 1
        return 1

    def armed_pass(self, writes: list[tuple[int, int, Any]]) -> tuple[int, int] | None:
        """The pass after a skip that drew its run to herald (:meth:`_skip` armed it), or the
        first pass after a start whose follow drew it to herald (:meth:`_follow_start`), makes
        ``writes`` (this channel's submissions, shifted) and then only waits for the run's
        answer: if :meth:`armed_run` can make that run without the kernel (the timed-out run's
        configuration and timeout again, or the run the follow drew; no register the run would
        see otherwise, no slave, no answer pending), the earliest arrival of its answer and its
        end had it timed out (mu); else None."""
        last, pre = self._last, self._predrawn
        if self.partner is not None or self.events:
            return None
        if self._armed is None and pre is None:
            return None
        t_run, timeout = 0, -1
        for ts, addr, data in writes:
            if addr == self._ADDR_RUN and timeout < 0:
                t_run, timeout = ts, int(data)
            elif addr == self._ADDR_CONFIG and timeout < 0:
                if data != self.config:
                    return None
            else:
                return None  # another register, a read, or something after the run
        cfg = self._config()
        n_max, cycle_mu = self._run_length(timeout, cfg.cycle_mu)
        if pre is not None:  # (drawn by a follow of this pass, from its run's registers)
            if pre.t_run != t_run or pre.n_max != n_max:
                return None
        elif (
            last is None
            or timeout != last.timeout
            or self._cfg is None
            or self._cfg[0] != last.config_key
        ):
            return None
        return t_run + cycle_mu + INPUT_ARRIVAL_MU, t_run + n_max * cycle_mu

    def armed_window(self, writes: list[tuple[int, int, Any]]) -> None:
        """The world up to the run of the pass :meth:`armed_pass` accepted: its window is the
        skipped passes' again, made from theirs (:meth:`PeriodTracking.replay_period`; if the
        world cannot, the run reads it from the beams' outputs as a detailed pass does)."""
        armed, world = self._armed, self._period_world
        if armed is not None and armed.content is not None and world is not None:
            for t_run, a, _ in writes:  # (the run's; armed_pass found it)
                if a == self._ADDR_RUN:
                    world.replay_period(armed.content, t_run)
                    return

    def armed_run(self, writes: list[tuple[int, int, Any]]) -> tuple[int, int]:
        """The run of the pass :meth:`armed_pass` accepted, made as :meth:`_run` makes it when
        the kernel submits RUN (the same draws in the same order), its answer not queued (the
        caller reads it for the kernel): the run's end (mu) and answer's data."""
        for t_run, a, data in writes:  # (the run's; armed_pass found it)
            if a == self._ADDR_RUN:
                self.answered += 1
                return self._run(t_run, int(data), False)
        raise RuntimeError("entangler fast-forward: an armed pass without a run")

    def _stale_from_earlier_runs(self, rng: Any, runs: int, law: RunLaw) -> None:
        """An input that did not fire in the last skipped run keeps the timestamp of the last of
        the other ``runs`` skipped runs in which it fired, if any: drawn here (that run's
        counters are the run law conditioned on the input having fired)."""
        n_max, cond, cmat = law.n_max, law.cond, law.cmat
        memo = self._fire_memo
        if memo is None or memo[0] is not cond or memo[1] is not cmat:
            # P(input i fires in a non-herald cycle), per law and counter matrix
            fire = [float(cond @ cmat[:, i]) for i in range(4)]
            memo = self._fire_memo = (cond, cmat, fire)
        counters = self.counters  # (summed once: a property)
        for i in range(4):
            if counters[i]:
                continue
            c = memo[2][i]
            if c <= 0:
                continue
            f = -math.expm1(n_max * math.log1p(-c)) if c < 1 else 1.0  # ... in a run
            p_any = -math.expm1(runs * math.log1p(-f)) if f < 1 else 1.0  # ... in one of them
            if rng.random() >= p_any:
                continue
            while True:
                counts = rng.multinomial(n_max, cond)
                if (counts @ cmat[:, i]) > 0:
                    break
            self._mark_stale(i, law.model, counts, law.plain)
