# SPDX-License-Identifier: LGPL-3.0-or-later
"""The driver loop's part of the fast-forward (:mod:`sim.fastforward`): what a kernel loop of
identical passes learns of them (its fixed point, the transients that lead there, the first pass
after a marked start) and the passes it has the engine repeat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from sim.fastforward import PassEnd, TransientChain

if TYPE_CHECKING:
    from sim.rtio.capture import Period

__all__ = ["MAX_TRANSIENT", "MIN_TIMEOUT_TO_FOLLOW", "FastForwardLoop"]


@dataclass(frozen=True)
class _PassKey:
    period: tuple
    run: Any
    content: Any


@dataclass(eq=False, slots=True)
class _KnownPass:
    """A pass seen (its period and physics) and where it ended."""

    period: Period
    content: Any
    ended: PassEnd


@dataclass(eq=False, slots=True)
class _FixedPoint:
    key: _PassKey
    known: _KnownPass


class _WithLanes(NamedTuple):
    """A mark's start signature with the SED lanes' state, taken where events still waited in
    lanes though the loop does not mark them (:attr:`FastForwardLoop.mark_lanes` False)."""

    start: Any
    lanes: tuple


#: known passes followed from where a pass ended to the fixed point's end
MAX_TRANSIENT = 4
#: the pass after a mark is followed only if it times out at least this often
#: (``timeout_probability`` of its content, if it says): a follow that draws a herald costs
#: more than the pass run in detail, even when the pass is then made at once
#: (:meth:`FastForwardLoop.answered_pass`: the mark, the follow's window and cycle law, the
#: pass's repeat; measured at ``target_99_1khz``, where ≈ 70 % of first passes herald)
MIN_TIMEOUT_TO_FOLLOW = 0.5


class FastForwardLoop:
    """What ``run_until_herald_mu`` learns of its passes, and the passes it fast-forwards.

    A pass that timed out and was followed by an identical one (relative to its start:
    submissions and clocks, run, physics) is the loop's fixed point. Once a pass that timed out
    ends where the fixed point ends (:class:`PassEnd`), every further pass repeats it; a pass
    seen to lead from where another ended to there is learnt too (a transient, e.g. after a
    readout left the RTIO counter at another phase), and chains of up to :data:`MAX_TRANSIENT`
    such passes are followed. So is the first pass of a call (after a herald): the start is
    marked (:meth:`start`; the PHY's ``start_signature``: slack, registers, the world as it is)
    and the pass seen to follow an equal mark is followed as the PHY would run it in detail
    (``PassSignature.start``), with the fixed point in the same engine call when it makes the
    fixed point's submissions (:class:`TransientChain`).
    """

    #: passes kept as known to follow an end (all forgotten when full)
    max_known_after = 64
    #: a mark holds the SED lanes' state (:meth:`~sim.rtio.capture.PeriodCapture.lanes_signature`):
    #: the first pass after it may then meet events still waiting in lanes (after a herald,
    #: the phase writes' SPI transfers), as the pass seen from an equal mark met them; a loop
    #: that sets it False still marks them where events wait in lanes (:class:`_WithLanes`)
    mark_lanes = True
    #: while the last pass learnt after a start is not worth following (its
    #: ``timeout_probability`` below :data:`MIN_TIMEOUT_TO_FOLLOW`), only every this many calls
    #: mark their start (to learn again): a mark costs its signatures
    relearn_every = 32

    def __init__(self, engine: Any, channel: int, phy: Any = None) -> None:
        self.engine = engine
        self.channel = channel
        # the party that signs and skips passes: the PHY on ``channel`` (entangler), or ``phy``
        # for a loop without a PHY of its own (``channel`` -1: CPU attempts, sim.devices.bsa)
        self.phy = engine.channels[channel].phy if phy is None else phy
        self._fixed: _FixedPoint | None = None
        self._prev: _PassKey | None = None  # the last pass
        self._prev_end: PassEnd | None = None  # where it ended
        self._after: dict[PassEnd, _KnownPass] = {}  # the pass seen to follow an end
        self._body: tuple = ()
        self._starts_worth = True  # the last pass learnt after a start is worth following
        self._calls = 0
        #: the chains :meth:`follow` repeated with the fixed point in one engine call, by their
        #: fixed point and passes: their :class:`TransientChain` (None: not all the fixed
        #: point's submissions); a loop follows the same known passes after every call's start
        self._chains: dict[tuple, TransientChain | None] = {}

    def start(self, body: tuple) -> None:
        """A call of the loop with arguments ``body``: its first pass follows whatever the
        kernel did before; the state now is marked as its start (see :attr:`relearn_every`)."""
        self._body = body
        self.forget()
        self._calls += 1
        if self._starts_worth or self._calls % self.relearn_every == 0:
            self._mark("start")

    def forget(self) -> None:
        """The next pass does not follow the last one (herald, underflow, no signature)."""
        self._prev = self._prev_end = None

    def _mark(self, tag: str) -> bool:
        """Let the next pass be learnt (and followed) as the one after the state now (the
        PHY's ``start_signature``; none while the engine could not capture a pass)."""
        eng = self.engine
        signature = getattr(self.phy, "start_signature", None)
        if signature is None or not eng.capture_possible():
            return False
        sig = signature()
        if sig is None:
            return False
        if self.mark_lanes:
            sig = (sig, eng.lanes_signature())
        elif eng.lanes_pending():  # (e.g. a cooling's last outputs: in the key, see _lanes_start)
            sig = _WithLanes(sig, eng.lanes_signature())
        self._prev_end = PassEnd(eng.now - eng.counter, 0, (tag,), sig, self._body, True)
        return True

    def _lanes_start(self, ended: PassEnd) -> bool:
        """Whether ``ended`` is a mark that holds the SED lanes' state (the first pass after it
        may meet events still waiting in lanes: ``start`` of
        :meth:`~sim.rtio.capture.PeriodCapture.repeat_period`)."""
        return ended.mark and (self.mark_lanes or type(ended.state) is _WithLanes)

    def resume(self, timeouts: int, end_mu: int, max_runs: int) -> tuple[int, int]:
        """Fast-forward the passes known to follow the last pass or marked state:
        ``(timeouts, end_mu)`` updated."""
        if self._prev_end is None:
            return timeouts, end_mu
        return self.follow(self._prev_end, timeouts, end_mu, max_runs)

    def after_timeout(
        self, period: Period | None, end_mu: int, timeouts: int, max_runs: int
    ) -> tuple[int, int]:
        """Learn from the pass that just timed out (``period``: its capture, ``end_mu``: its
        run end) and fast-forward the passes that follow if they repeat the fixed point.
        Returns ``(timeouts, end_mu)`` updated by the passes done."""
        sig = self.phy.period_signature() if period is not None else None
        if sig is None:
            self.forget()
            return timeouts, end_mu
        assert period is not None
        ended = PassEnd(
            period.now1 - period.counter1, period.now1 - end_mu, sig.run, sig.state, self._body
        )
        key = _PassKey(period.key, sig.run, sig.content) if sig.content is not None else None
        if key is not None and key == self._prev:
            self._fixed = _FixedPoint(key, _KnownPass(period, sig.content, ended))
        prev_end = self._prev_end
        # after a marked start, what follows it again is the pass's start account
        content = (sig.start if prev_end.mark else sig.content) if prev_end is not None else None
        if content is not None and prev_end.mark:  # type: ignore[union-attr]
            self._starts_worth = _worth_following(content)
        if content is not None:
            if len(self._after) >= self.max_known_after:
                self._after.clear()
            self._after[prev_end] = _KnownPass(period, content, ended)  # type: ignore[index]
        self._prev, self._prev_end = key, ended
        return self.follow(ended, timeouts, end_mu, max_runs)

    def answered_pass(self) -> tuple[int, int] | None:
        """The pass after the fixed point when the skip has drawn its run to herald, or after a
        marked start when the follow of the pass known from there has, made at once while the
        loop stands at the fixed point's end or at that mark (its submissions again, the run
        made by the PHY, the read's answer:
        :meth:`~sim.rtio.capture.PeriodCapture.repeat_answered`): the run's end (mu) and
        answer, or None (the pass is then run in detail)."""
        fixed, ended = self._fixed, self._prev_end
        if ended is None:
            return None
        if ended.mark:  # (the first pass after a start, its follow drew it to herald)
            known = self._after.get(ended)
            if known is None:
                return None
            period, start = known.period, self._lanes_start(ended)
        else:
            if fixed is None:
                return None
            target = fixed.known.ended
            if ended is not target and not (ended.key == target.key and ended == target):
                return None
            period, start = fixed.known.period, False
        return self.engine.repeat_answered(period, self.channel, self.phy, start)

    def chain_to(self, ended: PassEnd, target: PassEnd) -> list[_KnownPass] | None:
        """The known passes that lead from ``ended`` to ``target`` (at most
        :data:`MAX_TRANSIENT`; empty when they are the same), or None."""
        chain: list[_KnownPass] = []
        e = ended
        # (ends compared by identity, then by their hashes, then by their fields)
        while len(chain) < MAX_TRANSIENT:
            if e is target or (e.key == target.key and e == target):
                return chain
            step = self._after.get(e)
            if step is None:
                return None
            chain.append(step)
            e = step.ended
        return chain if e is target or (e.key == target.key and e == target) else None

    def follow(self, ended: PassEnd, timeouts: int, end_mu: int, max_runs: int) -> tuple[int, int]:
        """Fast-forward the passes known to follow ``ended`` (the chain of transients to the
        fixed point's end, then the fixed point). Returns ``(timeouts, end_mu)`` updated. A
        chain whose passes all make the fixed point's submissions is repeated with it in one
        engine call (:class:`TransientChain`: the skipping party steps through the chain's
        passes as separate repeats would)."""
        fixed = self._fixed
        if fixed is None or timeouts >= max_runs:
            return timeouts, end_mu
        chain = self.chain_to(ended, fixed.known.ended)
        if chain and ended.mark and not _worth_following(chain[0].content):
            return timeouts, end_mu
        ref = self._chain_ref(fixed, chain) if chain else None
        if ref is None or not chain:
            return self._follow_apart(chain, ended, timeouts, end_mu, max_runs)
        return self._follow_chain(chain, ref, ended, timeouts, end_mu, max_runs)

    def _follow_chain(
        self,
        chain: list[_KnownPass],
        ref: TransientChain,
        ended: PassEnd,
        timeouts: int,
        end_mu: int,
        max_runs: int,
    ) -> tuple[int, int]:
        """:meth:`follow` of ``chain`` (the known passes from ``ended`` to the fixed point's end,
        not empty) and the fixed point in one engine call (``ref``: their
        :class:`TransientChain`)."""
        fixed = self._fixed
        assert fixed is not None
        target = fixed.known.ended
        eng = self.engine
        k = eng.repeat_period(
            fixed.known.period,
            max_runs - timeouts,
            self.channel,
            ref,
            self.phy,
            self._lanes_start(ended),
        )
        if k == 0:
            return timeouts, end_mu
        last = chain[k - 1].ended if k <= len(chain) else target
        self._prev_end = last
        self._prev = fixed.key if k > len(chain) else None
        return timeouts + k, eng.now - last.after_run_mu

    def _chain_ref(self, fixed: _FixedPoint, chain: list[_KnownPass]) -> TransientChain | None:
        """``chain`` and then ``fixed`` as one :class:`TransientChain` if every pass of the
        chain makes the fixed point's submissions (same period relative to its start), else
        None; kept per chain."""
        key = (fixed, *chain)  # (known passes and fixed points compare as objects)
        chains = self._chains
        if key in chains:
            return chains[key]
        period = fixed.known.period
        ref = None
        if all(s.period is period or s.period.key == period.key for s in chain):
            ref = TransientChain(tuple([s.content for s in chain]), fixed.known.content)
        if len(chains) >= 64:
            chains.clear()
        chains[key] = ref
        return ref

    def _follow_apart(
        self,
        chain: list[_KnownPass] | None,
        ended: PassEnd,
        timeouts: int,
        end_mu: int,
        max_runs: int,
    ) -> tuple[int, int]:
        """:meth:`follow` one engine call per pass of ``chain``, then the fixed point; once the
        passes left make the fixed point's submissions, they and the fixed point in one."""
        fixed = self._fixed
        assert fixed is not None
        eng, target = self.engine, fixed.known.ended
        if chain is not None:
            # known passes lead from here to where the fixed point ends
            start = self._lanes_start(ended)
            for i, step in enumerate(chain):
                if timeouts >= max_runs:
                    return timeouts, end_mu
                ref = self._chain_ref(fixed, chain[i:]) if i else None
                if ref is not None:  # (the rest is what follow would find from here)
                    return self._follow_chain(chain[i:], ref, ended, timeouts, end_mu, max_runs)
                if (
                    eng.repeat_period(step.period, 1, self.channel, step.content, self.phy, start)
                    == 0
                ):
                    return timeouts, end_mu
                start = False
                timeouts += 1
                end_mu = eng.now - step.ended.after_run_mu
                ended = self._prev_end = step.ended
                self._prev = None
        if ended == target and timeouts < max_runs:
            k = eng.repeat_period(
                fixed.known.period,
                max_runs - timeouts,
                self.channel,
                fixed.known.content,
                self.phy,
            )
            if k:
                timeouts += k
                end_mu = eng.now - target.after_run_mu
                self._prev = fixed.key
        return timeouts, end_mu


def _worth_following(content: Any) -> bool:
    """Whether the pass ``content`` describes times out often enough to be followed after a mark
    (:data:`MIN_TIMEOUT_TO_FOLLOW`; a content that does not say is)."""
    return getattr(content, "timeout_probability", 1.0) >= MIN_TIMEOUT_TO_FOLLOW
