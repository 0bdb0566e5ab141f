# SPDX-License-Identifier: LGPL-3.0-or-later
"""Fast-forward of identical timed-out entangler runs, in all the layers it touches.

Between heralds a gateware-heralded link spends almost all its time in runs that time out: cool,
enable, run, resync, again. Once the driver's loop is periodic, every further timeout is the same
pass shifted in time, and only the number of them before the next herald is random. The parts:

* engine (:mod:`sim.rtio.capture`): record a pass's submissions with the clocks (a ``Period``),
  and repeat a recorded pass k times: log its submissions shifted, move cursor, counter and SED
  lanes as the per-event path would;
* PHY (:class:`EntanglerFastForward`, mixed into the entangler PHY; the engine's
  ``FastForwardPhy`` hook): say what decides its next run (:class:`PassSignature`), draw how
  many runs time out before the next herald (geometric) and advance its registers over them;
  the next run is then drawn conditioned on heralding;
* physics (:class:`PeriodTracking`, mixed into the physics world, the :class:`PeriodWorld` side):
  describe the period between two runs (:class:`PeriodContent`, :class:`PeriodState`), check
  that the ions' temperatures keep the run's cycle law, heat and cool them in closed form;
* driver (:mod:`sim.fastforward_loop`, used by ``sim.devices.entangler``): learn the loop's fixed
  point (a pass that timed out and was followed by an identical one), the transients that lead to
  it and the first pass after a call's start, and ask the engine to repeat them;
* the first pass after a call's start is followed exactly as it runs in detail: the PHY's
  :meth:`EntanglerFastForward.start_signature` and :meth:`~EntanglerFastForward._follow_start`
  (the same draws in the same order), the world's :meth:`PeriodTracking.mark_pass_start` and
  :meth:`~PeriodTracking.replay_start` (its one planned window, through the world's own path).

The PHY gets the world it commits runs to through :class:`CyclePhy` (``bind_world``, called by the
engine when either is attached), never by searching the engine's worlds. Everything else (the
heralding run, underflows, passes not seen before) runs in detail; ``fast_forward=False``
(a device argument) runs every pass in detail, the reference of the equivalence tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Callable, NamedTuple, Protocol, runtime_checkable

from sim.rtio.recorder import EntanglerRun
from sim.rtio.views import NEVER

__all__ = [
    "RunKey",
    "RunLaw",
    "PassSignature",
    "PeriodContent",
    "PeriodState",
    "PassEnd",
    "StartPass",
    "StartRun",
    "TransientChain",
    "CycleWorld",
    "CyclePhy",
    "PeriodWorld",
    "EntanglerFastForward",
    "PeriodTracking",
]


# ====================================================================== records
@dataclass(frozen=True)
class RunKey:
    """What determines an entangler run: register configuration, CONFIG, RUN timeout (coarse),
    cycle count, and the cycle law (by identity)."""

    config_key: tuple | None
    config: int
    timeout: int
    n_max: int
    model_id: int


@dataclass(eq=False, slots=True)
class RunLaw:
    """The last run's law, kept while it timed out: cycle model, P(herald) per cycle ``p``,
    cycles per run, non-herald pattern law ``cond`` (or None), non-herald mask, counter matrix,
    RUN timeout (coarse) and the register configuration's key."""

    model: Any
    p: float
    n_max: int
    cond: Any
    plain: Any
    cmat: Any
    timeout: int
    config_key: tuple | None


@dataclass(frozen=True)
class PeriodContent:
    """A period between two runs, wherever it lies: planned windows (start after the previous run
    end, plan key), run length and period length (mu)."""

    windows: tuple
    run_mu: int
    period_mu: int

    def __hash__(self) -> int:
        # a key of the world's period tables, looked up a few times per skip: hashing the
        # windows' plan keys (nested tuples) every time cost more than the rest of the lookup
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash((self.windows, self.run_mu, self.period_mu))
            object.__setattr__(self, "_hash", h)
        return h


@dataclass(frozen=True)
class PeriodState:
    """Where a period left the ions apart from their temperatures."""

    beams: tuple
    run_mu: int
    aom_idle: tuple
    nothing_staged: bool
    timeout: bool


@dataclass(frozen=True)
class PassSignature:
    """The PHY's account of the pass that ended with its last run (which timed out): the run (a
    :class:`RunKey`, or another key of what the loop repeats), and the world's content (None: not
    repeatable as it was; ``()`` without a world) and state; ``start``: the pass as the first
    after a marked state (``FastForwardLoop.start``, :mod:`sim.fastforward_loop`), what following
    it again needs (None: it cannot be followed from there)."""

    run: Any
    content: Any
    state: Any
    start: Any = None


@dataclass(frozen=True, eq=False)
class PassEnd:
    """Where a pass left the loop: slack (cursor − counter), cursor − run end, the run, the
    physics' state, the loop's arguments; ``mark``: no pass ended here, a state marked as the
    start of one (a call's start: ``run`` is then a tag and ``state`` the PHY's start
    signature). Equal when all fields are; its hash made once (a key of the loop's known
    passes, looked up once or twice per call of the loop)."""

    slack_mu: int
    after_run_mu: int
    run: Any
    state: Any
    body: tuple
    mark: bool = False

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, PassEnd):
            return NotImplemented
        return (
            self.slack_mu == other.slack_mu
            and self.after_run_mu == other.after_run_mu
            and self.mark == other.mark
            and self.run == other.run
            and self.body == other.body
            and self.state == other.state
        )

    def __hash__(self) -> int:
        h = self.__dict__.get("_hash")
        if h is None:
            fields = (self.slack_mu, self.after_run_mu, self.run, self.state, self.body, self.mark)
            h = hash(fields)
            object.__setattr__(self, "_hash", h)
        return h


@dataclass(frozen=True)
class StartPass:
    """The world's part of the first pass after a marked start: the beam events it played up to
    its run ``(t, node, order, role, level)``, t relative to the cursor at the start (mu), all in
    one planned window from where the world had processed to; where the run starts (relative
    to the cursor at the start) and its length (mu)."""

    events: tuple
    run_rel: int
    run_mu: int


@dataclass(eq=False, slots=True)
class StartRun:
    """The PHY's part of a first pass after a marked start that timed out: its run, the cycle law
    it was drawn from (the same object, or the pass is not followed), the world's part, and how
    often such a run times out."""

    run: RunKey
    model: Any
    world: StartPass
    timeout_probability: float


@dataclass(frozen=True)
class TransientChain:
    """Passes that make the same submissions as the fixed point (same period) but start from
    elsewhere (a call's start, the ions' state settling after a click): their contents in
    order, then the fixed point's. Skipped one after the other as separate repeats would."""

    steps: tuple
    fixed: Any


@dataclass(eq=False, slots=True)
class _Predrawn:
    """The first herald cycle ``k`` drawn for the run at ``t_run`` (mu) with this law, by a follow
    of a first pass that found it heralds (the run is then executed in detail with it)."""

    t_run: int
    model: Any
    n_max: int
    k: int


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


class PlannedWindow(NamedTuple):
    """A deterministic window: start after the last run end (mu), plan key, thermal ops."""

    rel_mu: int
    key: tuple
    thermal_ops: list


# ====================================================================== hooks
@runtime_checkable
class CycleWorld(Protocol):
    """What an entangler PHY needs of the physics to execute its runs."""

    def cycle_model(
        self,
        outputs: dict[int, tuple[int, int]],
        gates: dict[int, tuple[int, int]],
        cycle_mu: int,
        *,
        t_start_mu: int | None = None,
    ) -> Any: ...

    def commit_cycle(
        self,
        sample: Any,
        t_cycle_start_mu: int,
        *,
        t_run_start_mu: int | None = None,
        deliver_clicks: bool = False,
    ) -> None: ...

    def commit_timeout(
        self, model: Any, excluded: tuple[int, ...], t_run_start_mu: int, t_end_mu: int
    ) -> None: ...


@runtime_checkable
class PeriodWorld(Protocol):
    """What the fast-forward needs of the physics (see :class:`PeriodTracking`)."""

    def period_signature(self) -> tuple[PeriodContent | None, PeriodState | None]: ...

    def stable_runs(
        self, max_runs: int, first_run_mu: int, period_mu: int, sig: PeriodContent
    ) -> int: ...

    def repeat_runs(
        self, k: int, first_run_mu: int, period_mu: int, sig: PeriodContent
    ) -> None: ...

    def mark_pass_start(self, now_mu: int) -> tuple | None: ...

    def start_pass_content(self) -> StartPass | None: ...

    def replay_start(self, sp: StartPass, t_start_mu: int) -> bool: ...


@runtime_checkable
class CyclePhy(Protocol):
    """A PHY that executes runs against a :class:`CycleWorld`: the engine hands it the world."""

    def bind_world(self, world: CycleWorld) -> None: ...


# ====================================================================== PHY
@dataclass(eq=False, slots=True)
class _Armed:
    """The fast-forward drew that the next run with this law heralds."""

    model: Any
    n_max: int


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
    _complete_run: Callable[..., None]
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
            shifted = [(ts + done * period_mu, a, d) for ts, a, d in writes]
            if self._skip(1, period_mu, step, shifted) == 0:
                return done
            done += 1
        if done < max_runs:
            shifted = [(ts + done * period_mu, a, d) for ts, a, d in writes]
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
            self._armed = _Armed(last.model, n_max)
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
        for i in range(4):
            if self.counters[i]:
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


# ====================================================================== physics
class PeriodTracking:
    """The physics world's part (mixed into it): the :class:`PeriodWorld` side. The world calls
    :meth:`_note_window` for every planned (deterministic) window and :meth:`_close_period` when
    a run takes over the ions."""

    _t: int
    mu_s: float
    ions: Any
    _on: list[dict[str, bool]]
    _aom_since: list[int | None]
    _staged: list
    _run_key: int
    _det_ch: list[int]
    _channels: dict[int, Any]
    _owned: list[tuple[int, int]]
    _coh_t0: list[float]
    _thermal_key: Callable[[Any], int]
    runs_in_polarisation: Callable[[int, int, int], int]
    view: Any
    _deterministic: Callable[[list], bool]
    _next_beam_output: Callable[[int], int]
    _advance_planned: Callable[[list, int, int], None]

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
        events = [(t + t_start_mu, k, o, role, lvl) for t, k, o, role, lvl in sp.events]
        self._owned = [w for w in self._owned if w[1] > self._t]
        self._advance_planned(events, self._t, t_start_mu + sp.run_rel)
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
