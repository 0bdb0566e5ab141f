# SPDX-License-Identifier: LGPL-3.0-or-later
"""The CPU-heralding pass armed *not quiet* drawn in law: its physics at once, not event by
event (mixed into the physics world; the quiet passes before it: :mod:`.quiet`).

When :meth:`~sim.physics.quiet_skip.QuietSkips.skip_quiet` has skipped the quiet passes of a known
pass ``ref`` and armed the next one not quiet, that next pass is ``ref``'s DMA trace again from a
known cursor: the same beam events relative to its start, from the state ``ref`` started from (to
the ions' state's 9 decimals, as the skip itself assumes). Only its excitation round differs: it
is drawn non-empty (or empty, with a dark count already queued). :meth:`ClickLaw.law_pass` makes
that pass's physics in one step, as the detailed pass would make it:

* the ions heat in closed form up to the beam event that fired ``ref``'s round (no cooling light in
  an attempt; the quiet skip's rule), the beams are as they were right after it, the coherence
  origins at the excitations' starts;
* the round is drawn by the world's own round code (:meth:`_fire_round`: the same round table at
  the mode overlap the arming conditioned on, from ``ref``'s state at the excitation; pattern,
  record, photon times and jitter, arrivals queued on the detectors, the heralded phase);
* the beam events that followed the fire in ``ref``'s pass (kept as :class:`FireSource`, recorded
  when ``ref`` ran in detail) are replayed through the world's event and segment code, and the
  world is left where ``ref``'s pass left it.

The detectors stay lazy: their dark counts, dead time and afterpulses are drawn by the kernel's
reads as in a detailed pass (the reads still run: the engine, the gates and the kernel see the
clicks as before). The pass's own beam outputs, which the DMA plays after the world has moved past
them, are then never read. A pass whose round was fired at no beam event of both nodes, or
whose trace had deterministic windows after the fire, is not drawn in law (it runs in detail).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ClickLaw", "FireSource", "LawPass"]


@dataclass(eq=False, slots=True)
class FireSource:
    """What a detailed pass's excitation round needs to be made again in law, relative to the
    beam event that fired it (mu): that event relative to the pass's start, the excitation
    windows (node, start, stop), the emission keys and pulse statistics per node, the beams
    right after the event, the beam events that followed it in the pass ``(t, node, role,
    level)`` (relative), and where the world ended the pass (None: not yet; ``ok`` False: not
    to be drawn in law)."""

    start_rel: int
    exc_rel: tuple
    ekeys: tuple
    stats: tuple
    on: tuple
    post: list = field(default_factory=list)
    end_rel: int | None = None
    asked_rel: int = 0
    ok: bool = True


@dataclass(frozen=True, slots=True)
class LawPass:
    """The pass armed not quiet: its start (the cursor, mu), the known pass it repeats (a
    :class:`~sim.physics.quiet.KnownQuiet`) and the mode overlap its arming
    conditioned on."""

    t_start: int
    known: Any
    overlap: float


class ClickLaw:
    """The physics world's part (mixed into it, with :class:`~sim.physics.quiet.QuietAttempts`)."""

    lab: Any
    ions: Any
    mu_s: float
    _t: int
    _on: list[dict[str, float]]
    _aom_since: list[int | None]
    _staged: list
    _diag: Any
    _note_unplanned: Callable[[], None]
    _offsets: Callable[[dict[int, tuple[int, int]]], tuple[list[float], float]]
    _fire_round: Callable[..., None]
    _advance_events: Callable[[list, int, int], None]

    def _init_click_law(self) -> None:
        #: the pass the loop runs now started at this cursor (mu; None: no pass of the loop)
        self._q_pass_start: int | None = None
        #: the beam events after this pass's round, while it is recorded (else None)
        self._q_post: list | None = None
        self._q_src: FireSource | None = None
        self._q_asked = 0  # (the latest time the world was asked about since the round, mu)
        self._q_law: LawPass | None = None

    def _open_fire_source(
        self, exc: dict[int, tuple[int, int]], t_event: int, ekeys: list, stats: list
    ) -> FireSource | None:
        """Start recording the round fired at ``t_event`` (mu) in a pass of the loop."""
        start = self._q_pass_start
        if start is None or self._q_src is not None:
            self._q_post_planned()  # (a second round in the pass: none of it in law)
            return None
        src = self._q_src = FireSource(
            t_event - start,
            tuple([(k, s - t_event, e - t_event) for k, (s, e) in exc.items()]),
            tuple(ekeys),
            tuple(stats),
            tuple([tuple(on.items()) for on in self._on]),
        )
        self._q_post = src.post
        self._q_asked = t_event
        return src

    def _q_post_planned(self) -> None:
        """Beam events after the round went by the planned-window path: not replayed."""
        if self._q_src is not None:
            self._q_src.ok = False

    def _close_fire_source(self) -> None:
        """The pass of the loop ended quiet here: its round's source is complete."""
        src = self._q_src
        if src is not None and src.end_rel is None:
            t_event = self._q_pass_start + src.start_rel  # type: ignore[operator]
            src.end_rel = self._t - t_event
            src.asked_rel = max(self._q_asked, self._t) - t_event
            src.post[:] = [(t - t_event, k, r, lvl) for t, k, r, lvl in src.post]
        self._end_recording()

    def _end_recording(self) -> None:
        self._q_src = self._q_post = None
        self._q_pass_start = None

    def _begin_recording(self, t_next_mu: int | None) -> None:
        """A pass of the loop starts at the cursor ``t_next_mu`` (None: not known)."""
        src = self._q_src
        if src is not None and src.end_rel is None:
            src.ok = False  # (never closed: the pass was not quiet)
        self._q_src = self._q_post = None
        self._q_pass_start = t_next_mu

    def law_pass(self, t_next_mu: int) -> bool:
        """The pass of the loop that started at the cursor ``t_next_mu`` has played its trace:
        if it is the pass armed not quiet, make its physics in law (see the module docstring).
        Returns whether it did (else the pass runs in detail, still armed)."""
        law, self._q_law = self._q_law, None
        if law is None or law.t_start != t_next_mu:
            return False
        fire = law.known.fire
        src = fire.src
        if src is None or not src.ok or src.end_rel is None or self._staged:
            return False
        t_f = t_next_mu + src.start_rel
        if self._t > t_f:
            return False
        mu = self.mu_s
        dt_s = (t_f - self._t) * mu
        for th in self.ions.thermal:
            th.heat(dt_s)
        for beams, snap in zip(self._on, src.on):
            beams.update(snap)
        self._aom_since = [None, None]
        self._note_unplanned()
        self._diag = None
        exc = {k: (t_f + s, t_f + e) for k, s, e in src.exc_rel}
        offsets, dt = self._offsets(exc)
        ems = [fire.key[0], fire.key[1]]  # (the round's key: both emissions, offset, acceptances)
        self._fire_round(
            exc, list(src.ekeys), ems, list(src.stats), offsets, dt, law.overlap, fire.rho0, src
        )
        # the beam events after the fire, through the world's own event path, up to where the
        # known pass's reads had asked the world to: nothing is played before this pass's reads
        # have gone as far (they are as many or more), and nothing happens after the round's
        # beam events (the lazy reads would have left it for later)
        events = [(t_f + rel, k, 0, role, lvl) for rel, k, role, lvl in src.post]
        self._advance_events(events, t_f, t_f + src.asked_rel)
        return True
