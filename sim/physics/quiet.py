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
  arrival — and describe it relative to the cursor (:class:`QuietPass`); skip quiet passes:
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

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .attempts import timed_overlap
from .bsa import RoundStart, build_round
from .click_law import LawPass

__all__ = [
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


def _heated_overlap(lab: Any, timed: float, n0: list, heat: list, dt_mu: int) -> float:
    """The mode overlap, rounded as the round tables are keyed, of an excitation with the
    photon-offset part ``timed`` (:func:`~sim.physics.attempts.timed_overlap`) after the ions
    heated from n̄ ``n0`` at ``heat`` quanta per mu for ``dt_mu`` (no cooling light in an
    attempt). ``round_overlap(thermal_overlap(lab, timed, heated n̄))``, the same operations
    in one frame (a click's skip asks for a handful; tests/physics/test_draw_shortcuts.py)."""
    m = timed
    for node, n, h in zip(lab.nodes, n0, heat):
        m /= 1 + (n + h * dt_mu) / node.motion.n_mode
    if type(m) is float:  # (the common case, checked first: cheaper than np.floating's check)
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
class _Known:
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
    _on: list[dict[str, bool]]
    _aom_since: list[int | None]
    _staged: list
    _coh_t0: list[float]
    _channels: dict[int, Any]
    _det_ch: list[int]
    _diag: Any
    _note_unplanned: Callable[[], None]
    jones_pair: Callable[[int], tuple]  # from PolarisationTracking
    _begin_recording: Callable[[int | None], None]  # from ClickLaw
    _close_fire_source: Callable[[], None]
    _q_law: Any
    _plate_changes: list
    next_polarisation_change_mu: Callable[[int], int | None]
    settle: Callable[[int], bool]

    def _init_quiet_attempts(self) -> None:
        self._q_fires: list[QuietFire] = []
        self._q_clicks: tuple = ()
        self._q_last: QuietFire | None = None
        # the last skipped pass's round, not yet made a QuietFire (its round, its excitation
        # windows relative to its end, that end in mu): _last_fire makes it when asked
        self._q_last_at: tuple | None = None
        self._q_force: bool | None = None  # the next round: True non-empty, False empty
        self._q_p0: dict[tuple, float] = {}
        self._q_known: dict[QuietPass, _Known] = {}
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
        pattern = 0 if forced is False else start.draw_pattern(self.rng, bool(forced))
        self._q_fires.append(QuietFire(pattern, key, overlap, start.rho, exc, src))
        return pattern

    def _timed(self, dt_s: float) -> float:
        """:func:`~sim.physics.attempts.timed_overlap` of the photon time offset ``dt_s`` (s),
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
        :meth:`skip_quiet`): the pass that makes it cannot be quiet."""
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
            self._q_known[sig] = _Known(
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

    def _p_empty(self, fire: QuietFire, overlap: float) -> float:
        """P(empty pattern) of ``fire``'s round with mode overlap ``overlap``."""
        p0 = self._q_p0.get((fire, overlap))  # the same round (by identity) asked again
        if p0 is not None:
            return p0
        key = (fire.key, overlap, fire.rho0.tobytes())
        p0 = self._q_p0.get(key)
        if p0 is None:
            em_a, em_b, _, acc = fire.key
            p = build_round(em_a, em_b, overlap, acc, (0.0,) * 4).pattern_probs(fire.rho0)
            p0 = float(p[0] / p.sum())
            if len(self._q_p0) > 4096:
                self._q_p0.clear()
            self._q_p0[key] = p0
        self._q_p0[(fire, overlap)] = p0
        return p0

    def _passes_in_polarisation(
        self, fire: QuietFire, t_fire: int, max_passes: int, period_mu: int
    ) -> int:
        """How many of ``max_passes`` passes, whose excitations start at ``t_fire`` every
        ``period_mu``, see the photon paths (fibre drift, plate moves) of ``fire``'s round."""
        pair, change = self._paths_at(t_fire)
        for e, p in zip(fire.key[:2], pair):
            if e is not None and e.jones != p:
                return 0
        if change is None:
            return max_passes
        return min(max_passes, -(-(change - t_fire) // period_mu))

    def _paths_at(self, t_mu: int) -> tuple[tuple, int | None]:
        """Both paths' Jones matrices at ``t_mu`` and the next lab time they may change (mu,
        None: never), as :meth:`jones_pair` and :meth:`next_polarisation_change_mu` say; the
        answer holds from where it was asked until that change (remembered while no plate
        move was added)."""
        changes = self._plate_changes
        c = self._q_paths
        if (
            c is not None
            and c[0] is changes
            and c[1] == len(changes)
            and c[2] <= t_mu
            and (c[3] is None or t_mu < c[3] - 1)  # (a ns short of it: the change is rounded up)
        ):
            return c[4], c[3]
        pair = self.jones_pair(t_mu)
        change = self.next_polarisation_change_mu(t_mu)
        self._q_paths = (changes, len(changes), t_mu, change, pair)
        return pair, change

    def skip_quiet(self, max_passes: int, period_mu: int, ref: QuietPass, t_next_mu: int) -> int:
        """The loop will make the quiet pass ``ref`` (seen before, from where the world is now)
        from ``t_next_mu``, and if the world is where ``ref`` left it, again every
        ``period_mu`` (at most ``max_passes`` times; once from elsewhere: a transient). Draw how
        many of them are quiet, advance the world over those, and arm the next one to be drawn
        not quiet. Returns the number skipped (0: the next one is not quiet, or nothing is known
        of ``ref``)."""
        known = self._q_known.get(ref)
        now = self.quiet_signature_now(t_next_mu)
        if known is None or now is None or max_passes <= 0:
            return 0
        signed = self._q_now  # (as signed now: the detectors' last clicks, which skips keep)
        assert signed is not None
        marks = signed[4]
        if now is not ref and (now.hkey != ref.hkey or now != ref):
            max_passes = 1  # a transient: one pass leads from here to where ref ends
        mu, fire = self.mu_s, known.fire
        dets = self._detectors()
        rates = self._q_rates
        # each detector's dark-count window of the first pass (a period from the second on)
        windows = [t_next_mu + period_mu + r - d.dark_to_mu for r, d in zip(ref.dark_rel, dets)]
        if min(windows) < 0:
            return 0
        e_dark = math.exp(-sum([r * w for r, w in zip(rates, windows)]) * mu)
        # the excitation of the first pass to come (ref's, relative to its end)
        t_fire = known.fire_rel + t_next_mu + period_mu
        max_passes = self._passes_in_polarisation(fire, t_fire, max_passes, period_mu)
        if max_passes <= 0:
            return 0
        if max_passes == 1:  # (a transient's pass: one draw, as random(1) would make it)
            m0 = self._overlap_at(fire.key[2], t_fire)
            p0 = self._p_empty(fire, m0)
            k = 1 if self.rng.random() < p0 * e_dark else 0
            if k:
                self._move_on(t_next_mu + period_mu, ref, known, marks)
            else:
                self._q_now = None
                self._arm(p0, dets, rates, windows)
                self._q_law = LawPass(t_next_mu, known, m0)
            return k
        overlap = self._overlap_law(fire.key[2], t_fire, period_mu)

        def p_empty(j: int) -> float:
            return self._p_empty(fire, overlap(j))

        e_dark_period = math.exp(-sum(rates) * period_mu * mu)
        k = self._count_quiet(max_passes, p_empty, overlap, e_dark, e_dark_period)
        if k:
            self._move_on(t_next_mu + k * period_mu, ref, known, marks)
        if k < max_passes:
            self._q_now = None
            win = windows if k == 0 else [period_mu] * len(dets)
            self._arm(p_empty(k), dets, rates, win)
            self._q_law = LawPass(t_next_mu + k * period_mu, known, overlap(k))
        return k

    def _overlap_at(self, dt_s: float, t_fire: int) -> float:
        """``_overlap_law(dt_s, t_fire, period)(0)``: the mode overlap of the excitation at
        ``t_fire`` (mu), the ions heated from where the world is (the same operations)."""
        thermal, mu = self.ions.thermal, self.mu_s
        n0 = [th.n for th in thermal]
        heat = [th.heating_rate_per_s * mu for th in thermal]  # per mu
        return _heated_overlap(self.lab, self._timed(dt_s), n0, heat, t_fire - self._t)

    def _overlap_law(self, dt_s: float, t_fire: int, period_mu: int) -> Callable[[int], float]:
        """The mode overlap (rounded as the round tables are keyed) of the excitation of pass
        ``j`` to come, at ``t_fire + j·period_mu`` (mu), photon time offset ``dt_s``: the ions
        heat from where the world is (no cooling light in an attempt); memoised by ``j``."""
        lab, mu = self.lab, self.mu_s
        timed = self._timed(dt_s)
        thermal = self.ions.thermal
        n0 = [th.n for th in thermal]
        heat = [th.heating_rate_per_s * mu for th in thermal]  # per mu
        t0 = self._t  # where n0 holds (the world moves on after the draw)
        memo: dict[int, float] = {}

        def overlap(j: int) -> float:
            m = memo.get(j)
            if m is None:
                m = memo[j] = _heated_overlap(lab, timed, n0, heat, t_fire + j * period_mu - t0)
            return m

        return overlap

    def _count_quiet(
        self,
        max_passes: int,
        p_empty: Callable[[int], float],
        overlap: Callable[[int], float],
        e_dark: float,
        e_dark_period: float,
    ) -> int:
        """How many of ``max_passes`` (> 1) passes in a row are quiet: pass j with probability
        ``p_empty(j)`` times ``e_dark`` (the first) or ``e_dark_period`` (the others)."""
        u = self.rng.random(max_passes)
        if u[0] >= p_empty(0) * e_dark:
            return 0
        if overlap(1) == overlap(max_passes - 1):
            # monotone in time: one law from the second pass on
            bad = np.nonzero(u[1:] >= p_empty(1) * e_dark_period)[0]
            return 1 + int(bad[0]) if bad.size else max_passes
        for j in range(1, max_passes):
            if u[j] >= p_empty(j) * e_dark_period:
                return j
        return max_passes

    def _move_on(self, t_end: int, ref: QuietPass, known: _Known, marks: tuple) -> None:
        """The world after quiet passes ``ref`` ending with the cursor at ``t_end`` (mu): heated
        in closed form, ``ref``'s ion state, coherence origins and dark-count horizons
        (``marks``: the detectors' last clicks, which quiet passes leave as they are)."""
        mu = self.mu_s
        t_world = t_end + ref.t_rel
        dt_s = (t_world - self._t) * mu
        for th in self.ions.thermal:
            th.heat(dt_s)
        self._t = t_world
        horizons = tuple([t_end + r for r in ref.dark_rel])
        dets = self._detectors()
        for d, t in zip(dets, horizons):
            d.dark_to_mu = t
        t_s = t_end * mu
        self._coh_t0 = [t_s + c for c in known.coh_rel]
        rho = self.ions.rho = known.rho.copy()
        self._diag = None
        self._note_unplanned()
        # the last round is now the last skipped pass's (ref's, ending at t_end): the world's own
        # signature (quiet_signature_now) then equals ref, and a following skip is not taken for
        # a transient; untouched until the next pass, it is ref itself. Its QuietFire is made
        # only if asked for (_last_fire): a chain of skips replaces it before
        self._q_last_at = (known.fire, ref.exc, t_end)
        self._q_now = (
            t_end,
            t_world,
            rho,
            horizons,
            marks,
            ref,
        )

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

    def _arm(self, p0: float, dets: list[Any], rates: list[float], windows: list[int]) -> None:
        """The next pass is not quiet: its round is non-empty (empty with probability ``p0``),
        or it is empty and at least one dark count falls in the detectors' ``windows`` (mu, from
        where each has drawn them to)."""
        rng = self.rng
        weights = [r * w * self.mu_s for r, w in zip(rates, windows)]
        dark_mean = sum(weights)  # expected dark counts in the pass's windows
        e_dark = math.exp(-dark_mean)
        q = p0 * e_dark
        if rng.random() * (1.0 - q) < 1.0 - p0:
            self._q_force = True
            return
        self._q_force = False
        # number of dark counts given at least one: inverse CDF of the truncated Poisson law
        target = e_dark + rng.random() * (1.0 - e_dark)
        n, pk = 1, dark_mean * e_dark
        c = e_dark + pk
        while c < target and n < 1000:
            n += 1
            pk *= dark_mean / n
            c += pk
        which = rng.choice(len(dets), size=n, p=[w / dark_mean for w in weights])
        for i in which.tolist():
            d = dets[i]
            d.add_arrivals([d.dark_to_mu + int(rng.random() * windows[i])])
        for d, w in zip(dets, windows):
            d.dark_to_mu += w
