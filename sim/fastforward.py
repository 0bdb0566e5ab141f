# SPDX-License-Identifier: LGPL-3.0-or-later
"""Fast-forward of identical timed-out entangler runs, in all the layers it touches: the records
and interfaces the layers share (this module); each layer's part lives in that layer.

Between heralds a gateware-heralded link spends almost all its time in runs that time out: cool,
enable, run, resync, again. Once the driver's loop is periodic, every further timeout is the same
pass shifted in time, and only the number of them before the next herald is random. The parts:

* engine (:mod:`sim.rtio.capture`): record a pass's submissions with the clocks (a ``Period``),
  and repeat a recorded pass k times: log its submissions shifted, move cursor, counter and SED
  lanes as the per-event path would;
* PHY (:class:`~sim.rtio.phy.entangler_fastforward.EntanglerFastForward`, mixed into the
  entangler PHY; the engine's ``FastForwardPhy`` hook): say what decides its next run
  (:class:`PassSignature`), draw how many runs time out before the next herald (geometric) and
  advance its registers over them; the next run is then drawn conditioned on heralding;
* physics (:class:`~sim.physics.period_tracking.PeriodTracking`, mixed into the physics world,
  the :class:`PeriodWorld` side): describe the period between two runs (:class:`PeriodContent`,
  :class:`PeriodState`), check that the ions' temperatures keep the run's cycle law, heat and
  cool them in closed form;
* driver (:mod:`sim.fastforward_loop`, used by ``sim.devices.entangler``): learn the loop's fixed
  point (a pass that timed out and was followed by an identical one), the transients that lead to
  it and the first pass after a call's start, and ask the engine to repeat them;
* the first pass after a call's start is followed exactly as it runs in detail: the PHY's
  ``start_signature`` and ``_follow_start`` (the same draws in the same order), the world's
  :meth:`PeriodWorld.mark_pass_start` and :meth:`~PeriodWorld.replay_start` (its one planned
  window, through the world's own path).

The PHY gets the world it commits runs to through :class:`CyclePhy` (``bind_world``, called by the
engine when either is attached), never by searching the engine's worlds. Everything else (the
heralding run, underflows, passes not seen before) runs in detail; ``fast_forward=False``
(a device argument) runs every pass in detail, the reference of the equivalence tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

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
    "CycleLaw",
    "CycleWorld",
    "CyclePhy",
    "PeriodWorld",
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
    signature). Equal when all fields are. Its hash (:attr:`key`) is made once, at
    construction: every end is a key of the loop's known passes or looked up in them, and ends
    that differ are told apart by it before their fields are compared (a loop compares the
    ends of its transients with the fixed point's a few times per call)."""

    slack_mu: int
    after_run_mu: int
    run: Any
    state: Any
    body: tuple
    mark: bool = False
    #: the hash of all the fields (made by ``__post_init__``)
    key: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        fields = (self.slack_mu, self.after_run_mu, self.run, self.state, self.body, self.mark)
        object.__setattr__(self, "key", hash(fields))

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, PassEnd):
            return NotImplemented
        return (
            self.key == other.key
            and self.slack_mu == other.slack_mu
            and self.after_run_mu == other.after_run_mu
            and self.mark == other.mark
            and self.run == other.run
            and self.body == other.body
            and self.state == other.state
        )

    def __hash__(self) -> int:
        return self.key


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


class PlannedWindow(NamedTuple):
    """A deterministic window: start after the last run end (mu), plan key, thermal ops."""

    rel_mu: int
    key: tuple
    thermal_ops: list


# ====================================================================== hooks
class CycleLaw(Protocol):
    """One attempt cycle's law, as :meth:`CycleWorld.cycle_model` gives it
    (:class:`sim.physics.attempts.CycleModel`): what an entangler PHY draws its runs from."""

    #: (16,) probability of each gated click pattern in one cycle
    pattern_probs: Any

    def sample(self, rng: Any, allowed: Sequence[int]) -> Any:
        """One cycle conditioned on its pattern being in ``allowed``: ``pattern``,
        ``first_edge`` (per input, the first gated click in mu from the cycle start, −1 if
        none), ``clicks`` ``(input, mu)``."""
        ...

    def first_edge(self, rng: Any, allowed: Sequence[int], i: int) -> int:
        """Input ``i``'s first gated click (mu, −1 if none) of one cycle drawn as
        :meth:`sample` draws it."""
        ...

    def plain_cycle_clicks(self, rng: Any, counts: Any, n_cycles: int) -> list[Any]:
        """The clicks (``cycle``, ``input``, ``t_mu``, ``gated``) of ``n_cycles`` cycles whose
        gated patterns have the counts ``counts`` (16,), for the waveform."""
        ...


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
    ) -> CycleLaw: ...

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

    def replay_period(self, sig: PeriodContent, t_run_mu: int) -> bool: ...


@runtime_checkable
class CyclePhy(Protocol):
    """A PHY that executes runs against a :class:`CycleWorld`: the engine hands it the world."""

    def bind_world(self, world: CycleWorld) -> None: ...
