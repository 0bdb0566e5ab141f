# SPDX-License-Identifier: LGPL-3.0-or-later
"""Fast-forward of quiet CPU-heralding attempts: the physics' part (the driver's and the engine's
part: ``sim.devices.bsa``).

A CPU-heralded link (``repository/remote_entanglement_cpu.py``) plays one DMA trace per attempt
(pump, excite, open the four detector gates), reads the four detectors and re-establishes its
slack. At ``oxford2020`` ≈ 95 % of the attempts see no detector click at all: once the loop is
periodic, such an attempt is the same pass shifted in time, and only how many of them come before
the next one with a click is random. The parts:

* driver (``sim.devices.bsa``): the loop of ``BellStateAnalyser.attempts_until_herald_mu``, each
  pass captured by the engine and learnt by :class:`sim.fastforward_loop.FastForwardLoop` (the same
  learning as the entangler's timeouts: fixed point, transients);
* physics (:class:`QuietAttempts`, mixed into the physics world): say whether a pass was *quiet*
  — its one excitation round drew no detector click and no detector had a click or a pending
  arrival — and describe it relative to the cursor (:class:`QuietPass`); skip quiet passes
  (:mod:`.quiet_skip`; the chain of transients after a click: :mod:`.transients`):
  pass j is quiet with probability ``P0_j · exp(−Λ·T)``, ``P0_j`` the probability of the
  round's empty pattern (the same round table the detailed excitation draws from, with the mode
  overlap of the ions' temperature at that pass's excitation) and ``Λ·T`` the detectors' expected
  dark counts in one pass length ``T``; the ions heat over the skipped passes (no cooling light
  in an attempt), everything else is as the quiet pass left it. The pass after the skipped ones
  is then drawn conditioned on not being quiet: its excitation round draws a non-empty pattern
  with probability ``(1 − P0)/(1 − P0·exp(−Λ·T))``, otherwise an empty one with at least one
  dark count in its window (a truncated Poisson number, detectors by their rates, times
  uniform);
* engine: :meth:`sim.rtio.capture.PeriodCapture.repeat_period` with ``AttemptSkipper``
  (``sim.devices.bsa``) as the skipping party (no PHY of its own: the detectors' gates and the
  beams are plain TTLs).

Everything else (passes with a click, underflows, the first pass after a state not seen before)
runs in detail; the pass after a call's start or after a pass that was not quiet is followed once
seen from the same state (:meth:`QuietAttempts.start_signature`, ``sim.devices.bsa.AttemptLoop``).
A pass counts as repeating only when the ions' state it leaves agrees to 9 decimals with the
previous one (absolute times enter the dephasing in floating point).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .bsa import RoundStart
from .photon_modes import timed_overlap

__all__ = [
    "KnownQuiet",
    "QuietFire",
    "QuietPass",
    "QuietWorld",
    "QuietAttempts",
    "STATE_DECIMALS",
    "round_overlap",
]

#: ion-state digits that must agree for two quiet passes to count as the same
STATE_DECIMALS = 9


def round_overlap(m: float) -> float:
    """Mode overlap ``m`` to the 4 decimals the round tables are keyed by: ``round(m, 4)``,
    for a numpy float computed as numpy does (``rint(m·10⁴)/10⁴``, the same value ≈ 15 µs
    cheaper; the ions' temperatures are numpy floats)."""
    if type(m) is float:  # (checked first: an exact type costs less than np.floating's)
        return round(m, 4)
    if isinstance(m, np.floating):
        return round(float(m) * 1e4) / 1e4
    return round(m, 4)


@dataclass(frozen=True, eq=False)
class QuietFire:
    """One excitation round as the world drew it: its pattern, round-table key (emissions, time
    offset, acceptances), mode overlap, initial state, and excitation windows (node → start,
    stop in mu)."""

    pattern: int
    key: tuple
    overlap: float
    rho0: np.ndarray
    exc: tuple
    src: Any = None  # (the round to make again in law: a click_law.FireSource, or None)


@dataclass(frozen=True)
class QuietPass:
    """A quiet pass relative to the cursor at its end (mu): the round's key and excitation
    windows, where the world has processed to, where each detector's dark counts are drawn to,
    the beams, and the ions' state (rounded). Its hash (:attr:`hkey`) is made once, at
    construction: a signature is looked up as a key of the known passes and compared with the
    loop's ends a few times per skip, and different hashes tell passes apart at once."""

    key: tuple
    exc: tuple
    t_rel: int
    dark_rel: tuple
    beams: tuple
    state: bytes
    #: the hash of all the fields (made by ``__post_init__``)
    hkey: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = (self.key, self.exc, self.t_rel, self.dark_rel, self.beams, self.state)
        object.__setattr__(self, "hkey", hash(fields))

    def __hash__(self) -> int:
        return self.hkey

    def __eq__(self, other: object) -> bool:
        # the fields' equality, the cheap ones first (a transient's pass and the fixed point
        # differ in the ions' state only); different hashes already tell passes apart
        if self is other:
            return True
        if not isinstance(other, QuietPass):
            return NotImplemented
        return (
            self.hkey == other.hkey
            and self.state == other.state
            and self.t_rel == other.t_rel
            and self.dark_rel == other.dark_rel
            and self.beams == other.beams
            and self.exc == other.exc
            and self.key == other.key
        )


@dataclass(frozen=True, eq=False)
class KnownQuiet:
    """What a quiet pass left besides its :class:`QuietPass`: its round, the ions' state, the
    coherence origins relative to the cursor (s), and the round's first excitation start
    relative to the cursor (mu)."""

    fire: QuietFire
    rho: np.ndarray
    coh_rel: tuple
    fire_rel: int


@runtime_checkable
class QuietWorld(Protocol):
    """What the CPU-attempt fast-forward needs of the physics (see :class:`QuietAttempts`)."""

    def begin_pass(self, t_next_mu: int | None = None) -> None: ...

    def law_pass(self, t_next_mu: int) -> bool: ...

    def armed_nonempty(self) -> bool: ...

    def quiet_channels(self) -> list[int]: ...

    def quiet_signature(self, t_next_mu: int) -> QuietPass | None: ...

    def start_signature(self, t_next_mu: int) -> tuple | None: ...

    def skip_quiet(
        self, max_passes: int, period_mu: int, ref: QuietPass, t_next_mu: int
    ) -> int: ...

    def skip_transients(
        self, steps: tuple, max_passes: int, period_mu: int, t_next_mu: int
    ) -> int: ...


class QuietAttempts:
    """The physics world's part (mixed into it). The world draws every excitation round's
    pattern through :meth:`_round_pattern`."""

    rng: np.random.Generator
    lab: Any
    mu_s: float
    ions: Any
    _t: int
    _on: list[dict[str, float]]
    _aom_since: list[int | None]
    _staged: list
    _coh_t0: list[float]
    _channels: dict[int, Any]
    _det_ch: list[int]
    _diag: Any
    _note_unplanned: Callable[[], None]
    _begin_recording: Callable[[int | None], None]  # from ClickLaw
    _close_fire_source: Callable[[], None]
    settle: Callable[[int], bool]

    def _init_quiet_attempts(self) -> None:
        self._q_fires: list[QuietFire] = []
        self._q_clicks: tuple = ()
        self._q_last: QuietFire | None = None
        # the last skipped pass's round, not yet made a QuietFire (its round, its excitation
        # windows relative to its end, that end in mu): _last_fire makes it when asked
        self._q_last_at: tuple | None = None
        self._q_force: bool | None = None  # the next round: True non-empty, False empty
        #: ... and with it this pattern (a pass a block drawn in law hands over: block_law)
        self._q_pattern: int | None = None
        self._q_p0: dict[tuple, float] = {}
        self._q_known: dict[QuietPass, KnownQuiet] = {}
        self._q_rounded: dict[bytes, bytes] = {}
        # (cursor, world time, ions' state object, dark-count horizons, detector marks, and the
        # world's signature then): quiet_signature_now's last answer, or ref after a skip
        self._q_now: tuple | None = None
        self._q_timed: dict[float, float] = {}  # photon time offset (s) → timed_overlap
        self._q_dets: list = []  # the detectors' ClickChannels, in _det_ch order
        self._q_rates: list[float] = []  # ... and their dark-count rates
        # the photon paths last checked: (plate-change list, its length, from, to, Jones pair)
        self._q_paths: tuple | None = None

    def _round_pattern(
        self, start: RoundStart, key: tuple, overlap: float, exc: tuple, src: Any = None
    ) -> int:
        """The pattern of one excitation round (``start``: its table from the ions' state):
        drawn as always, or conditioned as the fast-forward armed it."""
        forced, self._q_force = self._q_force, None
        exact, self._q_pattern = self._q_pattern, None
        if exact is not None and forced:
            pattern = exact
        else:
            pattern = 0 if forced is False else start.draw_pattern(self.rng, bool(forced))
        self._q_fires.append(QuietFire(pattern, key, overlap, start.rho, exc, src))
        return pattern

    def _timed(self, dt_s: float) -> float:
        """:func:`~sim.physics.photon_modes.timed_overlap` of the photon time offset ``dt_s`` (s),
        kept per offset."""
        timed = self._q_timed.get(dt_s)
        if timed is None:
            if len(self._q_timed) >= 256:
                self._q_timed.clear()
            timed = self._q_timed[dt_s] = timed_overlap(self.lab, dt_s)
        return timed

    def _detectors(self) -> list:
        """The detectors' :class:`~sim.physics.detectors.ClickChannel` objects, in
        ``_det_ch`` order (kept: the world's channels do not change once attached), and
        their dark-count rates (:attr:`_q_rates`, s⁻¹)."""
        dets = self._q_dets
        if len(dets) != len(self._det_ch):
            dets = self._q_dets = [self._channels[ch] for ch in self._det_ch]
            self._q_rates = [d.dark_rate_hz for d in dets]
        return dets

    def quiet_channels(self) -> list[int]:
        """The input channels a quiet pass brings no edge on: the detectors'."""
        return self._det_ch

    def _dark_horizons(self) -> tuple:
        return tuple([d.dark_to_mu for d in self._detectors()])

    def _detector_marks(self) -> tuple:
        return tuple([d.last_click_mu for d in self._detectors()])

    def _last_fire(self) -> QuietFire | None:
        """The last quiet round (:attr:`_q_last`), made from a skip's record if need be."""
        at = self._q_last_at
        if at is not None:
            f, exc_rel, t_end = at
            exc = tuple((n, s + t_end, e + t_end) for n, s, e in exc_rel)
            self._q_last = QuietFire(f.pattern, f.key, f.overlap, f.rho0, exc, f.src)
            self._q_last_at = None
        return self._q_last

    def armed_nonempty(self) -> bool:
        """Whether the next excitation round is armed to draw a non-empty pattern (by
        :meth:`~sim.physics.quiet_skip.QuietSkips.skip_quiet`): the pass that makes it cannot
        be quiet."""
        return self._q_force is True

    def begin_pass(self, t_next_mu: int | None = None) -> None:
        """A pass of the attempt loop starts (at the cursor ``t_next_mu``, if given: its round
        is then recorded to be made again in law, :mod:`.click_law`): rounds and clicks are
        counted from here."""
        self._q_fires = []
        self._q_clicks = self._detector_marks()
        self._q_now = None
        self._begin_recording(t_next_mu)

    def quiet_signature(self, t_next_mu: int, *, learn: bool = True) -> QuietPass | None:
        """The pass since :meth:`begin_pass`, ending with the cursor at ``t_next_mu``, if it was
        quiet: one excitation round, empty pattern, no detector click, nothing pending on the
        detectors, no beam left on but pumping; else None. With ``learn`` what the pass left
        (round, ions' state, coherence origins) is kept for skipping passes like it."""
        fires, self._q_fires = self._q_fires, []
        if len(fires) != 1 or fires[0].pattern != 0 or self._staged:
            return None
        dets = self._detectors()
        if tuple([d.last_click_mu for d in dets]) != self._q_clicks:
            return None
        for d in dets:
            if d.busy:
                return None
        for a in self._aom_since:
            if a is not None:
                return None
        for on in self._on:
            if on["cool"] or on["detect"] or on["qubit"] or on["excite"]:
                return None
        f = self._q_last = fires[0]
        self._q_last_at = None
        if learn:
            self._close_fire_source()
        sig = QuietPass(
            f.key,
            tuple([(k, s - t_next_mu, e - t_next_mu) for k, s, e in f.exc]),
            self._t - t_next_mu,
            tuple([d.dark_to_mu - t_next_mu for d in dets]),
            tuple([tuple(on.values()) for on in self._on]),
            self._rounded_state(),
        )
        if learn and sig not in self._q_known:
            if len(self._q_known) >= 256:
                self._q_known.clear()
            t_s = t_next_mu * self.mu_s
            self._q_known[sig] = KnownQuiet(
                f,
                self.ions.rho.copy(),
                tuple(c - t_s for c in self._coh_t0),
                min(s for _, s, _ in sig.exc),
            )
        return sig

    def _rounded_state(self) -> bytes:
        """The ions' state to :data:`STATE_DECIMALS` decimals, as bytes (remembered by the
        exact bytes: the world returns to the same states again and again)."""
        raw = self.ions.rho.tobytes()
        b = self._q_rounded.get(raw)
        if b is None:
            if len(self._q_rounded) >= 1024:
                self._q_rounded.clear()
            rounded = np.round(self.ions.rho, STATE_DECIMALS) + 0j  # no signed zeros
            b = self._q_rounded[raw] = rounded.tobytes()
        return b

    def quiet_signature_now(self, t_next_mu: int) -> QuietPass | None:
        """:class:`QuietPass` of the world as it is (the last quiet pass's round), or None."""
        c = self._q_now
        rho = self.ions.rho
        if c is not None and c[0] == t_next_mu and c[2] is rho and c[1] == self._t:
            for d, horizon, mark in zip(self._detectors(), c[3], c[4]):
                if d.dark_to_mu != horizon or d.last_click_mu != mark:
                    break
            else:
                return c[-1]  # the world is as when last signed (or skipped), untouched since
        fire = self._last_fire()
        if fire is None:
            return None
        key = (t_next_mu, self._t, rho, self._dark_horizons(), self._detector_marks())
        saved = (self._q_fires, self._q_clicks)
        self._q_fires, self._q_clicks = [fire], key[4]
        try:
            sig = self.quiet_signature(t_next_mu, learn=False)  # no pass of the loop ended here
        finally:
            self._q_fires, self._q_clicks = saved
        if sig is not None:
            self._q_now = (*key, sig)
        return sig

    def start_signature(self, t_next_mu: int) -> tuple | None:
        """Where a call of the attempt loop starts, the cursor at ``t_next_mu``: the world as it
        is (:meth:`quiet_signature_now`, e.g. after a pass with a click) without the last quiet
        round's key and excitation windows (history: what a round leaves is in the ions' state,
        the coherence origins and the horizons, and a skip checks the photon paths itself), with
        the coherence origins relative to the cursor (mu); None when that is no quiet state, or
        while a detector's dead time after its last click reaches past where its dark counts are
        drawn to (the quiet law of the next pass would not hold). The beam outputs played up
        to the cursor (a cooling) are made physics first (:meth:`settle`): a skip from here
        heats from where the world stands; None if they are not only cooling and pumping."""
        if not self.settle(t_next_mu):
            return None
        for ch in self._det_ch:
            d = self._channels[ch]
            if d.last_click_mu + d.dead_mu > d.dark_to_mu:
                return None
        sig = self.quiet_signature_now(t_next_mu)
        if sig is None:
            return None
        return (
            sig.t_rel,
            sig.dark_rel,
            sig.beams,
            sig.state,
            tuple(round(c / self.mu_s) - t_next_mu for c in self._coh_t0),
        )
