# SPDX-License-Identifier: LGPL-3.0-or-later
"""``drivers.bsa.BellStateAnalyser`` for the simulator: the same driver, with the attempts of
:meth:`~drivers.bsa.BellStateAnalyser.attempts_until_click_mu` and
:meth:`~drivers.bsa.BellStateAnalyser.attempts_until_herald_mu` in which no detector clicks
executed in one step (both run the driver's ``attempts_loop_mu``, which this class
overrides). After a click that is not a herald the latter starts its loop again as a
new call of the former would (marked start, resume), without returning to the kernel: the same
passes run in detail and the same draws as a kernel that calls again after each click.

Each attempt runs in detail through the driver while the engine captures what it submitted;
:class:`sim.fastforward_loop.FastForwardLoop` learns the loop's fixed point from those passes (as
for the entangler's timeouts) and has the engine repeat it, with :class:`AttemptSkipper` asking the
physics (:mod:`sim.physics.quiet`) how many of the next attempts stay quiet. :class:`AttemptLoop`
also follows the pass after a call's start or after a pass that was not quiet, once seen, so that
after a click only the click's own pass runs in detail.
Without a waveform file the repeated passes are not logged (≈ 2 kB an attempt at
``oxford2020``, :mod:`sim.rtio.unlogged`; :meth:`AttemptSkipper.quiet_inputs` says they bring no
edge on the detectors), and every :data:`~sim.rtio.retire.RETIRE_EVERY`-th call retires the
engine's history nothing reads (:func:`~sim.rtio.retire.retire_history`, as the entangler's loop
does): the passes run in detail. A waveform file shows the whole run: everything is logged.
``fast_forward=False`` (a ``sim_args`` entry) runs every attempt in detail (the tests' reference).
``law_reads=True`` (a device argument, off by default) makes the reads of a pass drawn in law
from the world's edges instead of executing them (:mod:`sim.devices.law_reads`).
``law_block`` (a device argument, on by default) draws the passes of
``attempts_until_herald_mu`` from the loop's fixed point to the next herald (or other pass the
world makes in detail) at once (:mod:`sim.devices.block_law`).
"""

from __future__ import annotations

from typing import Any

from artiq.language.core import at_mu, kernel, now_mu

from drivers import bsa as _driver
from sim.devices.block_law import BlockLaw
from sim.devices.law_reads import LawReads
from sim.fastforward import PassSignature, TransientChain
from sim.fastforward_loop import FastForwardLoop
from sim.physics.quiet import QuietWorld
from sim.rtio.errors import RTIOUnderflow
from sim.rtio.retire import RETIRE_EVERY, retire_history

__all__ = ["AttemptLoop", "AttemptSkipper", "BellStateAnalyser", "TransientChain"]


class AttemptSkipper:
    """The skipping party of :meth:`~sim.rtio.capture.PeriodCapture.repeat_period` for the CPU
    attempt loop (in place of a PHY): the pass's signature and the skip come from the world."""

    def __init__(self, engine: Any, world: QuietWorld) -> None:
        self.engine = engine
        self.world = world
        self.skipped = 0  # attempts not executed one by one

    def period_signature(self) -> PassSignature | None:
        """The world's account of the pass that just ended (None: not quiet); after a marked
        state it is followed as it is (``start``)."""
        sig = self.world.quiet_signature(self.engine.now)
        return None if sig is None else PassSignature(("attempt",), sig, sig, sig)

    def quiet_inputs(self) -> list[int]:
        """The input channels on which the passes :meth:`skip_runs` accepts bring no input edge
        (quiet passes: no detector click; :mod:`sim.rtio.unlogged`)."""
        return self.world.quiet_channels()

    def start_signature(self) -> tuple | None:
        """Where a pass starts at the cursor
        (:meth:`~sim.physics.quiet.QuietAttempts.start_signature`)."""
        return self.world.start_signature(self.engine.now)

    def skip_runs(
        self, max_runs: int, period_mu: int, ref: Any, writes: list[tuple[int, int, Any]]
    ) -> int:
        """Skip up to ``max_runs`` quiet passes of ``period_mu`` (``ref``: the pass, or a
        :class:`TransientChain`: its passes one each, then its fixed point), one after the other
        as separate repeats would, stopping at the first that is not quiet."""
        del writes
        steps, fixed = (ref.steps, ref.fixed) if isinstance(ref, TransientChain) else ((), ref)
        t0 = self.engine.now
        done = self.world.skip_transients(steps, max_runs, period_mu, t0) if steps else 0
        if done == len(steps) and done < max_runs:
            done += self.world.skip_quiet(max_runs - done, period_mu, fixed, t0 + done * period_mu)
        self.skipped += done
        return done


class AttemptLoop(FastForwardLoop):
    """:class:`~sim.fastforward_loop.FastForwardLoop` that also learns the pass that follows the end
    of a pass that was not quiet (a dark count outside the gates, an afterpulse), as it learns
    the pass after a call's start (the loop starts again after every click): such
    states recur (slack, the world as the click left it:
    :meth:`~sim.physics.quiet.QuietAttempts.start_signature`), so the pass after them is
    followed like a transient once it has been seen in detail.

    A CPU-heralding run meets a few hundred such states (clicks leave the ions and the slack in
    many places), so many more passes are kept than for the entangler's timeouts."""

    max_known_after = 4096
    mark_lanes = False  # (marked only while events wait in lanes: after a cooling)
    #: the cooling block in law (``law_block``), used in loops until a herald (:attr:`herald`)
    block: BlockLaw | None = None
    herald = False

    def resume(self, timeouts: int, end_mu: int, max_runs: int) -> tuple[int, int]:
        """As :meth:`FastForwardLoop.resume`; then, where the pass after them is armed not
        quiet from the fixed point, the block's passes drawn at once (:meth:`_in_law`)."""
        timeouts, end_mu = super().resume(timeouts, end_mu, max_runs)
        return self._in_law(timeouts, end_mu, max_runs)

    def _in_law(self, timeouts: int, end_mu: int, max_runs: int) -> tuple[int, int]:
        """With :attr:`block`, in a loop until a herald, the passes from the pass armed not
        quiet at the cursor drawn at once (:meth:`.block_law.BlockLaw.run`): ``(timeouts,
        end_mu)`` updated (the last pass's start)."""
        block = self.block
        if block is None or not self.herald or not self.phy.world.armed_nonempty():
            return timeouts, end_mu
        body = self._body
        done = block.run(self, self.phy, timeouts, max_runs, body[1], body[2])
        return (timeouts, end_mu) if done is None else done

    def after_timeout(
        self, period: Any, end_mu: int, timeouts: int, max_runs: int
    ) -> tuple[int, int]:
        """As :meth:`FastForwardLoop.after_timeout`; after a pass that was not quiet, the state
        it left is marked and what is known to follow it is fast-forwarded."""
        timeouts, end_mu = super().after_timeout(period, end_mu, timeouts, max_runs)
        if self._prev_end is None and timeouts < max_runs and self._mark("after"):
            return self.resume(timeouts, end_mu, max_runs)
        return self._in_law(timeouts, end_mu, max_runs)


class BellStateAnalyser(_driver.BellStateAnalyser):
    """Bell-state analyser driver with the simulator's fast-forward (see module docstring)."""

    def __init__(
        self,
        dmgr: Any,
        detectors: Any,
        *,
        fast_forward: bool = True,
        law_reads: bool = False,
        law_block: bool = True,
        **kwargs: Any,
    ):
        super().__init__(dmgr, detectors, **kwargs)
        self.fast_forward = fast_forward
        #: the reads of a pass drawn in law made from the world's edges (:mod:`.law_reads`)
        self.law_reads = law_reads
        #: a cooling block's passes drawn at once from the fixed point (:mod:`.block_law`)
        self.law_block = law_block
        self._block: BlockLaw | None = None
        self._loop: AttemptLoop | None = None
        self._skipper: AttemptSkipper | None = None
        self._reads: LawReads | None = None
        self._calls = 0

    def _fast_loop(self) -> tuple[Any, AttemptLoop, AttemptSkipper] | None:
        eng = getattr(self.core, "engine", None)
        world = getattr(eng, "cycle_world", None)
        loop, skipper = self._loop, self._skipper
        if loop is not None and skipper is not None and loop.engine is eng:
            if self.fast_forward and skipper.world is world:
                return eng, loop, skipper  # (the protocol check costs ≈ 0.2 ms)
        if not self.fast_forward or not isinstance(world, QuietWorld):
            return None
        if self._loop is None or self._loop.engine is not eng or self._skipper is None:
            self._skipper = AttemptSkipper(eng, world)
            self._loop = AttemptLoop(eng, -1, self._skipper)
            self._reads = self._block = None
            chans = [d.channel for d in (self.det0, self.det1, self.det2, self.det3)]
            if self.law_reads:
                self._reads = LawReads(eng, world, chans, self.gate_latency_mu)
            if self.law_block:
                self._block = BlockLaw(eng, world, chans, self.gate_latency_mu)
                self._loop.block = self._block
        return eng, self._loop, self._skipper

    def _pattern(
        self, t_att: int, gate_end: int, timestamps: list[int], drawn: bool, counter0: int
    ) -> int:
        """``fetch_pattern`` of the pass that started at ``t_att`` (the counter then at
        ``counter0``); made from the world's edges (:mod:`.law_reads`) where its round was
        ``drawn`` in law and the model holds."""
        if self._block is not None:
            self._block.note_playback(t_att, counter0)
        reads = self._reads
        made = reads.run(t_att, gate_end) if drawn and reads is not None else None
        if made is None:
            # (plain ints: the reads' times reach the world and its dark-count horizons, where
            # numpy scalars would make every later comparison and sum a numpy operation)
            return self.fetch_pattern(t_att + gate_end, timestamps)
        timestamps[:] = made.timestamps
        return made.pattern

    @kernel
    def attempts_loop_mu(
        self,
        attempt: Any,
        gate_end_mu: int,
        margin_mu: int,
        max_attempts: int,
        timestamps: list[int],
        through_clicks: bool,
    ) -> tuple[int, int, int]:
        """As the driver's (the loop of ``attempts_until_click_mu`` and
        ``attempts_until_herald_mu``); runs the attempts without a click in one step. After a
        click that is not a herald (``through_clicks``) the loop starts again as a new call would
        (the state marked, what is known to follow it fast-forwarded), without returning to the
        kernel."""
        fast = self._fast_loop()
        if fast is None:
            return _driver.BellStateAnalyser.attempts_loop_mu(
                self, attempt, gate_end_mu, margin_mu, max_attempts, timestamps, through_clicks
            )
        eng, loop, skipper = fast
        world = skipper.world
        # (a plain int: the kernel's int32, e.g. a block cut at the herald timeout, times a period
        # past 2**31 mu of lab time overflowed in the skips' arithmetic)
        max_attempts = int(max_attempts)
        # what else decides a pass: the loop's arguments and the CPU costs
        body = (tuple(attempt), int(gate_end_mu), int(margin_mu), id(eng.costs))
        gate_end = int(gate_end_mu)
        loop.herald = through_clicks  # (with law_block: the block's passes drawn at once)
        n = 0
        while True:  # a start: the call's, then after each click that is not a herald
            self._calls += 1
            if self._calls % RETIRE_EVERY == 1:
                # a long run's memory stays bounded (no VCD: the past is unread)
                retire_history(eng)
            loop.start(body)
            pattern = 0
            t_att = now_mu()
            n, t_att = loop.resume(n, int(t_att), max_attempts)
            while n < max_attempts:
                # (a pass armed not quiet has no signature: nothing of it is learnt, so its
                # submissions are not recorded)
                capturing = not world.armed_nonempty() and eng.capture_start()
                t_att = now_mu()
                world.begin_pass(int(t_att))
                counter0 = eng.counter
                try:
                    self.core_dma.playback_handle(attempt)
                except RTIOUnderflow:
                    if capturing:
                        eng.capture_stop()
                    loop.forget()
                    return n, _driver.UNDERFLOW, t_att
                # the pass armed not quiet: its physics drawn in law (the reads below see its
                # clicks; with ``law_reads`` made from them, .law_reads)
                drawn = world.law_pass(int(t_att))
                pattern = self._pattern(int(t_att), gate_end, timestamps, drawn, counter0)
                n += 1
                if pattern != 0:
                    if capturing:
                        eng.capture_stop()
                    loop.forget()
                    break
                t = self.core.get_rtio_counter_mu() + margin_mu
                if now_mu() < t:
                    at_mu(t)
                period = eng.capture_stop() if capturing else None
                n, t_att = loop.after_timeout(period, int(t_att), n, max_attempts)
            if pattern == 0 and n > 0:
                # the last attempt had no click, as the driver's reads of it leave the
                # timestamps (they may have been followed without reads)
                for k in range(4):
                    timestamps[k] = -1
            if not through_clicks or pattern == 0 or n >= max_attempts:
                return n, pattern, t_att
            if _driver.psi_of_pattern(pattern) != 0:
                return n, pattern, t_att
            # a click that is not a herald: the slack re-established as after a quiet attempt
            t = self.core.get_rtio_counter_mu() + margin_mu
            if now_mu() < t:
                at_mu(t)
