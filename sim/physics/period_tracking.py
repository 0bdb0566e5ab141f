# SPDX-License-Identifier: LGPL-3.0-or-later
"""The physics world's part of the fast-forward of identical timed-out entangler runs
(:mod:`sim.fastforward`): :class:`PeriodTracking`, mixed into
:class:`~sim.physics.world.PhysicsWorld`, the :class:`~sim.fastforward.PeriodWorld` side. It
describes the period between two runs (:class:`~sim.fastforward.PeriodContent`,
:class:`~sim.fastforward.PeriodState`), checks that the ions' temperatures keep the run's cycle
law, heats and cools them in closed form over skipped runs, and marks and replays the first pass
after a call's start through the world's own path (its one planned window)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from sim.fastforward import PeriodContent, PeriodState, PlannedWindow, StartPass
from sim.rtio.views import NEVER

from .planned import ShiftedEvents

__all__ = ["PeriodTracking"]


@dataclass(eq=False, slots=True)
class _StartMark:
    """Where a pass starts (the cursor, mu), where the world had processed to then, and the
    planned windows ``(t0, t1, events)`` it has processed since."""

    now: int
    t_world: int
    windows: list


@dataclass(eq=False, slots=True)
class _StartClosed:
    """A marked pass that ended with the last run, before it is made a :class:`StartPass`: its
    window's beam events (absolute times, mu), the cursor at the mark, the run's start and end."""

    events: list
    now: int
    t_run0: int
    t_end: int


@dataclass(eq=False, slots=True)
class _ClosedPeriod:
    windows: list
    timeout: bool
    clean: bool
    t_run0: int
    t_end: int
    prev_end: int | None


class PeriodTracking:
    """The physics world's part (mixed into it): the :class:`PeriodWorld` side. The world calls
    :meth:`_note_window` for every planned (deterministic) window and :meth:`_close_period` when
    a run takes over the ions."""

    _t: int
    mu_s: float
    ions: Any
    _on: list[dict[str, float]]
    _aom_since: list[int | None]
    _staged: list
    _run_key: int
    _det_ch: list[int]
    _channels: dict[int, Any]
    _owned: list[tuple[int, int]]
    _q_post: list | None  # (the click law's: a round fired in this pass, :mod:`.click_law`)
    _coh_t0: list[float]
    _thermal_key: Callable[[Any], int]
    runs_in_polarisation: Callable[[int, int, int], int]
    view: Any
    _deterministic: Callable[[list], bool]
    _next_beam_output: Callable[[int], int]
    _next_rf_change: Callable[[int, int], int]
    _pump_light_change: Callable[[int, int], int]
    _rf_watch: Any
    _law_t: int
    _advance_planned: Callable[..., None]

    def _init_period_tracking(self) -> None:
        self._period: list[PlannedWindow] = []  # planned windows since the last run
        self._period_clean = True  # nothing but planned windows since the last run
        self._period_end: int | None = None  # end of the last run
        self._closed: _ClosedPeriod | None = None
        self._closed_sig: tuple[PeriodContent | None, PeriodState] | None = None
        self._period_ops: dict[PeriodContent, list[tuple[int, bool, float]]] = {}
        self._period_maps_memo: dict[PeriodContent, list[tuple[float, float, float]]] = {}
        #: the keys of ``_period_ops``, each its own value
        self._period_keys: dict[PeriodContent, PeriodContent] = {}
        self._start_mark: _StartMark | None = None  # a pass started here (mark_pass_start)
        #: ... and ended with the last run (its StartPass made when first asked for)
        self._start_closed: StartPass | _StartClosed | None = None
        #: :meth:`_advance_planned`'s memo of replayed windows (see there)
        self._replay_plans: dict[int, tuple] = {}
        #: :meth:`_start_rel`'s, by the start pass's identity
        self._start_rels: dict[tuple[int, int], tuple[StartPass, tuple]] = {}

    def _note_window(self, t0: int, key: tuple, thermal_ops: list, t1: int, events: list) -> None:
        if self._period_end is not None:
            self._period.append(PlannedWindow(t0 - self._period_end, key, thermal_ops))
        if self._start_mark is not None:
            self._start_mark.windows.append((t0, t1, events))

    def _note_unplanned(self) -> None:
        """A window with more than cooling, repumping and pumping was processed."""
        self._period_clean = False
        self._start_mark = None

    def mark_pass_start(self, now_mu: int) -> tuple | None:
        """A pass of the kernel loop starts at the cursor ``now_mu``: learn the planned windows
        it plays up to its run (:meth:`start_pass_content`). Returns the world's signature of
        the start (the beams; whatever the world has not yet processed since its processed time
        is played by the pass itself), or None when the pass could not be replayed from here:
        the world is past the cursor, an excitation is staged or in progress, a beam other than
        cooling, repumping or pumping is on, a memory is busy, an entangler run owns time after
        the processed time, or an output to a beam is already submitted at or after it."""
        self._start_mark = None
        t = self._t
        if (
            self.view is None
            or t > now_mu
            or self._staged
            or any(a is not None for a in self._aom_since)
            or not self._deterministic([])
            or any(b > t for _, b in self._owned)
            or self._next_beam_output(t) < NEVER
            or (
                self._rf_watch is not None
                and self._rf_watch.latest() >= t
                and self._next_rf_change(t, NEVER) < NEVER
            )
        ):
            return None
        self._start_mark = _StartMark(now_mu, t, [])
        return tuple(tuple(on.values()) for on in self._on)

    def start_pass_content(self) -> StartPass | None:
        """The pass that ended with the last run, if it started at a mark (:meth:`mark_pass_start`),
        timed out and played only one planned window from the world's processed time at the
        mark to its run: its :class:`StartPass`; else None."""
        if self._closed is None or self._t != self._period_end:
            return None
        sc = self._start_closed
        if isinstance(sc, _StartClosed):
            n = sc.now
            sc = self._start_closed = StartPass(
                tuple([(t - n, k, o, role, lvl) for t, k, o, role, lvl in sc.events]),
                sc.t_run0 - n,
                sc.t_end - sc.t_run0,
            )
        return sc

    def replay_start(self, sp: StartPass, t_start_mu: int) -> bool:
        """The pass marked at ``t_start_mu`` plays ``sp``'s beam events: process its window up to
        its run as :meth:`advance` would (the same events, the world's own planned-window
        path). False (nothing done) unless the world is still as it was marked."""
        mark = self._start_mark
        if mark is None or mark.now != t_start_mu or mark.windows or self._t != mark.t_world:
            return False
        t0 = self._t
        self._owned = [w for w in self._owned if w[1] > t0]
        self._advance_planned(
            ShiftedEvents(sp.events, t_start_mu, True),
            t0,
            t_start_mu + sp.run_rel,
            self._start_rel(sp, t_start_mu - t0),
        )
        return True

    def _start_rel(self, sp: StartPass, shift: int) -> tuple:
        """``sp``'s events relative to the world's processed time, ``shift`` mu before the
        cursor at the mark, as a plan key holds them (kept per start pass and shift: where a
        readout left the world varies from call to call, over a few values)."""
        key = (id(sp), shift)
        hit = self._start_rels.get(key)
        if hit is not None and hit[0] is sp:
            return hit[1]
        rel = tuple([(t + shift, k, role, lvl) for t, k, _, role, lvl in sp.events])
        if len(self._start_rels) >= 256:
            self._start_rels.clear()
        self._start_rels[key] = (sp, rel)
        return rel

    def replay_period(self, sig: PeriodContent, t_run_mu: int) -> bool:
        """The pass after the last run makes the submissions of the passes ``sig`` describes
        (the caller has repeated them: ``PeriodCapture.repeat_answered``), its run at
        ``t_run_mu``: process its windows up to the run as :meth:`advance` would, from ``sig``'s
        plan keys (the same events, the world's own planned-window path) instead of the beams'
        outputs. False (nothing done) unless the world stands at the last run's end, the run
        lies as in ``sig`` and its windows lead from there to the run."""
        t_end = self._period_end
        if (
            t_end is None
            or self._t != t_end
            or t_run_mu - t_end != sig.period_mu - sig.run_mu
            or self._staged
            or self._q_post is not None
        ):
            return False
        rel = 0
        for w_rel, key in sig.windows:
            if w_rel != rel:
                return False
            rel += key[0]
        if t_end + rel != t_run_mu:
            return False
        self._owned = [w for w in self._owned if w[1] > t_end]
        for w_rel, (length, events, _, _) in sig.windows:
            t0 = t_end + w_rel
            self._advance_planned(ShiftedEvents(events, t0, False), t0, t0 + length, events)
        return True

    def _close_period(self, timeout: bool, t_run0: int, t_end: int) -> None:
        """Account for the period that ends with the run [t_run0, t_end) (its signature is made
        when asked for, see :meth:`period_signature`)."""
        mark, self._start_mark, self._start_closed = self._start_mark, None, None
        if mark is not None and timeout and len(mark.windows) == 1 and self._t == t_run0:
            t0, t1, events = mark.windows[0]
            if t0 == mark.t_world and t1 == t_run0:
                # made into a StartPass only if asked for (a followed pass never is)
                self._start_closed = _StartClosed(events, mark.now, t_run0, t_end)
        self._closed = _ClosedPeriod(
            self._period,
            timeout,
            self._period_clean and self._t <= t_run0,
            t_run0,
            t_end,
            self._period_end,
        )
        self._closed_sig = None
        self._period = []
        self._period_clean = True
        self._period_end = t_end

    def period_signature(self) -> tuple[PeriodContent | None, PeriodState | None]:
        """What the physics says of the period that ended with the last run: ``(content,
        state)``. ``content`` describes the period wherever it lies on the timeline (planned
        windows with their beam events, beams at the start and coherence offsets; run length;
        period length), None unless the run timed out and only cooling, repumping and pumping
        acted before it (nothing random). ``state`` describes where it left the ions apart from
        their temperatures (beams, pending excitations, run length; after a timeout their state
        is the run's non-herald state): equal states followed by the same outputs evolve alike.
        ``(None, None)`` once the world has moved on from the run."""
        if self._closed is None or self._t != self._period_end:
            return None, None
        if self._closed_sig is None:
            cp = self._closed
            sig = None
            if cp.timeout and cp.clean and cp.prev_end is not None:
                sig = PeriodContent(
                    tuple((w.rel_mu, w.key) for w in cp.windows),
                    cp.t_end - cp.t_run0,
                    cp.t_end - cp.prev_end,
                )
                known = self._period_keys.get(sig)
                if known is not None:
                    sig = known  # (the key itself: the tables' look-ups then compare nothing)
                else:
                    if len(self._period_ops) >= 64:
                        self._period_ops.clear()
                        self._period_maps_memo.clear()
                        self._period_keys.clear()
                    self._period_ops[sig] = [op for w in cp.windows for op in w.thermal_ops]
                    self._period_keys[sig] = sig
            state = PeriodState(
                tuple(tuple(on.values()) for on in self._on),
                cp.t_end - cp.t_run0,
                tuple(a is None for a in self._aom_since),
                not self._staged,
                cp.timeout,
            )
            self._closed_sig = (sig, state)
        return self._closed_sig

    def _period_maps(self, sig: PeriodContent) -> list[tuple[float, float, float]]:
        """Per ion ``(aw, bw, h)`` of period ``sig``: n̄ → aw·n̄ + bw over its windows,
        + h over its run."""
        maps = self._period_maps_memo.get(sig)
        if maps is not None:
            return maps
        run_s = sig.run_mu * self.mu_s
        ops = self._period_ops[sig]
        maps = []
        for k, th in enumerate(self.ions.thermal):
            a, b = 1.0, 0.0
            for kk, cool, dt in ops:
                if kk != k:
                    continue
                if cool:
                    e = math.exp(-dt / th.cooling_time_s)
                    a, b = e * a, e * b + th.doppler_n * (1 - e)
                else:
                    b += th.heating_rate_per_s * dt
            maps.append((a, b, th.heating_rate_per_s * run_s))
        self._period_maps_memo[sig] = maps
        return maps

    @staticmethod
    def _n_after(n0: float, aw: float, bw: float, h: float, k: int) -> float:
        """n̄ at the end of the k-th repeated period, from n̄ = n0 at the end of the last run."""
        a, c = aw, bw + h
        if k <= 0:
            return n0
        if a == 1.0:
            return n0 + k * c
        ak = a**k
        return ak * n0 + c * (1 - ak) / (1 - a)

    def stable_runs(
        self, max_runs: int, first_run_mu: int, period_mu: int, sig: PeriodContent
    ) -> int:
        """How many of the next ``max_runs`` periods ``sig`` (their runs start at
        ``first_run_mu`` and then every ``period_mu``) begin their run with the ions'
        temperatures in the last run's cycle law (the same thermal key). 0 when ``sig`` is
        unknown, the world is not at the end of a run, or the runs do not lie as in ``sig``."""
        t_end = self._period_end
        if (
            sig not in self._period_ops
            or self._t != t_end
            or t_end is None
            or first_run_mu - t_end != sig.period_mu - sig.run_mu
            or (max_runs > 1 and period_mu != sig.period_mu)
        ):
            return 0
        # the polarisation paths (fibre drift, plate moves) must stay as in the last run's law
        max_runs = self.runs_in_polarisation(max_runs, first_run_mu, period_mu)
        if max_runs <= 0:
            return 0
        # ... and so must the pumping light (its DDS): only the periods before it changes
        t_last = first_run_mu + max_runs * period_mu
        rf = self._rf_watch  # (nothing of the beams' DDSs changed since the law: one comparison)
        if rf is None or rf.latest() < self._law_t:
            t_change = t_last
        else:
            t_change = self._pump_light_change(t_end, t_last)
        if t_change < t_last:
            max_runs = max(0, (t_change - first_run_mu) // period_mu)
            if max_runs <= 0:
                return 0
        maps = self._period_maps(sig)
        n0 = [th.n for th in self.ions.thermal]

        def same_law(m: int) -> bool:
            # n̄ at run starts 1..m is monotone per ion: the extreme keys are at the box corners
            lo, hi = [], []
            for n, (aw, bw, h) in zip(n0, maps):
                first = aw * n + bw
                last = aw * self._n_after(n, aw, bw, h, m - 1) + bw
                lo.append(min(first, last))
                hi.append(max(first, last))
            return self._thermal_key(lo) == self._thermal_key(hi) == self._run_key

        if same_law(max_runs):
            return max_runs
        good, bad = 0, max_runs
        while bad - good > 1:
            mid = (good + bad) // 2
            if same_law(mid):
                good = mid
            else:
                bad = mid
        return good

    def repeat_runs(self, k: int, first_run_mu: int, period_mu: int, sig: PeriodContent) -> None:
        """Period ``sig`` happens ``k`` times from now (runs from ``first_run_mu``, one every
        ``period_mu``, as :meth:`stable_runs` accepted), each ending with a run that times out:
        the ions end in the run's non-herald state, heated and cooled as in the period; each run
        owns its interval (no detector dark counts of the world's own)."""
        for th, (aw, bw, h) in zip(self.ions.thermal, self._period_maps(sig)):
            th.n = self._n_after(th.n, aw, bw, h, k)
        for ch in self._det_ch:
            self._channels[ch].suppress_periodic(first_run_mu, period_mu, k, sig.run_mu)
        last = first_run_mu + (k - 1) * period_mu
        self._owned.append((last, last + sig.run_mu))
        self._t = self._period_end = last + sig.run_mu
        self._coh_t0 = [self._t * self.mu_s] * 2
