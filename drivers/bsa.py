# SPDX-License-Identifier: LGPL-3.0-or-later
"""Logical device for the Bell-state analyser (BSA): four single-photon detectors behind a
50:50 beam splitter and two polarising beam splitters.

Detector numbering: ``det0`` = port 0 H, ``det1`` = port 0 V, ``det2`` = port 1 H,
``det3`` = port 1 V. Bit i of a click pattern is detector i. A two-photon herald is H and V in
coincidence: on the same port (``0b0011``, ``0b1100``) it projects onto psi+, on different ports
(``0b1001``, ``0b0110``) onto psi-.

The helpers are the CPU heralding path (gate, read first-click timestamps, build the pattern);
the gateware path uses the same patterns through :class:`drivers.entangler.Entangler`.
"""

from artiq.coredevice.exceptions import RTIOUnderflow
from artiq.language.core import at_mu, delay_mu, kernel, now_mu, portable
from artiq.language.types import TBool, TInt32, TInt64, TList, TNone, TTuple
from numpy import int64

__all__ = [
    "BellStateAnalyser",
    "PSI_PLUS_PATTERNS",
    "PSI_MINUS_PATTERNS",
    "HERALD_PATTERNS",
    "psi_of_pattern",
    "GATE_INPUT_OFFSET_MU",
    "FIFO_DEPTH",
    "MAX_COUNT_RATE_HZ",
    "count_overflow_error",
    "UNDERFLOW",
]

#: :meth:`BellStateAnalyser.attempts_until_click_mu` pattern when a submission underflowed
UNDERFLOW = -1

#: A TTL input gate (sensitivity) opened at ``t`` registers edges whose input *timestamp* is
#: ``>= t + 88`` mu, and closed at ``t_end`` those ``< t_end + 88`` (Kasli DIO, ``lat_offset`` = 11
#: coarse cycles of ARTIQ's ``test_rtio.py::LoopbackGateTiming``). To register clicks with
#: timestamps in [a, b), open the gate at ``a - GATE_INPUT_OFFSET_MU`` for ``b - a``; the reads then
#: use the gate end ``b - GATE_INPUT_OFFSET_MU`` (+ gate latency 104 mu covers the arrival).
GATE_INPUT_OFFSET_MU = 88

#: events an input FIFO holds (Kasli TTL input); one more before the CPU reads raises RTIOOverflow
FIFO_DEPTH = 64
#: :meth:`BellStateAnalyser.count_gates` sizes its sub-gates for about this many counts on the
#: busiest detector (a quarter of ``FIFO_DEPTH``: a Poisson count of mean 16 exceeds 64 with
#: probability < 1e-15, and the CPU reads a sub-gate's 4 × 16 counts in ≈ 16 µs)
SUBGATE_COUNTS = 16
#: shortest sub-gate of :meth:`BellStateAnalyser.count_gates`, mu (40 µs: longer than the CPU
#: needs to read ``SUBGATE_COUNTS`` counts of four detectors and queue the next sub-gate)
SUBGATE_MIN_MU = 40_000
#: how far ahead of the RTIO counter :meth:`BellStateAnalyser.count_gates` queues a sub-gate when
#: the CPU fell behind, mu (the 8 gate edges take ≈ 1.6 µs to submit)
SUBGATE_SLACK_MU = 5_000
#: count rate of each of the four detectors (s⁻¹) up to which :meth:`BellStateAnalyser.count_gates`
#: reads every count: the CPU reads an input event in ≈ 240 ns (Kasli 2.0), so four detectors
#: at ≈ 1e6 s⁻¹ each take all its time (the simulator reads 7e5 s⁻¹ and overflows at 8.5e5)
MAX_COUNT_RATE_HZ = 7e5


def count_overflow_error(error: Exception, remedy: str) -> RuntimeError:
    """The error an experiment raises (``from error``) when :meth:`BellStateAnalyser.count_gates`
    ended in ``error`` (an ``RTIOOverflow``): what the overflow means and ``remedy``."""
    return RuntimeError(
        "{} while counting: a detector counted faster than the CPU reads four detectors (above "
        "≈ {:.0e} s⁻¹ its {}-event input FIFO fills even in the shortest sub-gate, {:.0f} µs); "
        "{}".format(error, MAX_COUNT_RATE_HZ, FIFO_DEPTH, SUBGATE_MIN_MU / 1e3, remedy)
    )


PSI_PLUS_PATTERNS = [0b0011, 0b1100]
PSI_MINUS_PATTERNS = [0b1001, 0b0110]
#: entangler herald slots 0-3: psi+ in slots 0, 1 and psi- in slots 2, 3
HERALD_PATTERNS = PSI_PLUS_PATTERNS + PSI_MINUS_PATTERNS


@portable
def psi_of_pattern(pattern: TInt32) -> TInt32:
    """+1 for a psi+ herald pattern, -1 for psi-, 0 for anything else."""
    if pattern == 0b0011 or pattern == 0b1100:
        return 1
    if pattern == 0b1001 or pattern == 0b0110:
        return -1
    return 0


@portable
def pattern_of_slots(slots: TInt32) -> TInt32:
    """Click pattern of an entangler ``run_mu`` reason (bitfield of matched slots of
    :data:`HERALD_PATTERNS`); 0 for a timeout or an empty bitfield. Slot 0 wins ties (patterns are
    exact-match and distinct, so at most one slot matches)."""
    if slots == 0x3FFF:
        return 0
    if slots & 1:
        return 0b0011
    if slots & 2:
        return 0b1100
    if slots & 4:
        return 0b1001
    if slots & 8:
        return 0b0110
    return 0


class BellStateAnalyser:
    """Four BSA detectors (TTLInOut inputs).

    :param detectors: device names of det0..det3, in the numbering above.
    :param core_device: core device name.
    :param core_dma_device: core DMA device name (attempt traces of
        :meth:`attempts_until_click_mu`).
    """

    kernel_invariants = {"core", "core_dma", "det0", "det1", "det2", "det3", "gate_latency_mu"}

    def __init__(self, dmgr, detectors, core_device="core", core_dma_device="core_dma"):
        if len(detectors) != 4:
            raise ValueError("The Bell-state analyser has four detectors")
        self.core = dmgr.get(core_device)
        self.core_dma = dmgr.get(core_dma_device)
        self.detector_names = list(detectors)
        self.det0 = dmgr.get(detectors[0])
        self.det1 = dmgr.get(detectors[1])
        self.det2 = dmgr.get(detectors[2])
        self.det3 = dmgr.get(detectors[3])
        self.gate_latency_mu = self.det0.gate_latency_mu

    @kernel
    def input_mode(self) -> TNone:
        """Put all four detector channels in input mode (OE off). Advances the cursor by one
        coarse cycle (8 ns), as the TTL PHY needs before the next command on those channels."""
        self.det0.input()
        self.det1.input()
        self.det2.input()
        self.det3.input()
        delay_mu(8)

    @kernel
    def gate_rising_mu(self, duration_mu: TInt64) -> TInt64:
        """Open the rising-edge gates of all four detectors together for ``duration_mu`` (mu).

        Advances the cursor by ``duration_mu``; returns the gate end (mu)."""
        t0 = now_mu()
        self.det0.gate_rising_mu(duration_mu)
        at_mu(t0)
        self.det1.gate_rising_mu(duration_mu)
        at_mu(t0)
        self.det2.gate_rising_mu(duration_mu)
        at_mu(t0)
        return self.det3.gate_rising_mu(duration_mu)

    @kernel
    def fetch_pattern(self, t_end_mu: TInt64, timestamps: TList(TInt64)) -> TInt32:
        """Click pattern of the gates that end at ``t_end_mu``; the first-click timestamp of each
        detector (absolute mu, -1 if none) goes to ``timestamps[0..3]``.

        Does not move the cursor. Blocks until the RTIO counter passes ``t_end_mu`` + gate latency
        (104 mu), i.e. consumes all slack; later clicks in the same gate are read and dropped
        (each detector's right after its first click, so that the next gate starts clean)."""
        pattern = 0
        t = self.det0.timestamp_mu(t_end_mu)
        timestamps[0] = t
        if t >= 0:
            pattern |= 1
            while self.det0.timestamp_mu(t_end_mu) >= 0:
                pass
        t = self.det1.timestamp_mu(t_end_mu)
        timestamps[1] = t
        if t >= 0:
            pattern |= 2
            while self.det1.timestamp_mu(t_end_mu) >= 0:
                pass
        t = self.det2.timestamp_mu(t_end_mu)
        timestamps[2] = t
        if t >= 0:
            pattern |= 4
            while self.det2.timestamp_mu(t_end_mu) >= 0:
                pass
        t = self.det3.timestamp_mu(t_end_mu)
        timestamps[3] = t
        if t >= 0:
            pattern |= 8
            while self.det3.timestamp_mu(t_end_mu) >= 0:
                pass
        return pattern

    @kernel
    def attempts_until_click_mu(
        self,
        attempt,
        gate_end_mu: TInt64,
        margin_mu: TInt64,
        max_attempts: TInt32,
        timestamps: TList(TInt64),
    ) -> TTuple([TInt32, TInt32, TInt64]):
        """CPU heralding attempts: play the DMA trace ``attempt`` (a handle from
        ``core_dma.get_handle``) at the cursor and read the click pattern of its gates, which end
        ``gate_end_mu`` after the attempt's start (:meth:`fetch_pattern`); repeat, at most
        ``max_attempts`` times, until a detector clicked.

        :return: ``(attempts, pattern, t_attempt)``: attempts made, the last one's pattern (0:
            no click in any of them; :data:`UNDERFLOW`: its playback underflowed, not counted,
            the caller must make slack) and its start (mu); its timestamps are in
            ``timestamps`` as :meth:`fetch_pattern` leaves them.

        Timeline per attempt: the trace's length, then the reads consume all slack; after an
        attempt without a click the cursor moves to the RTIO counter + ``margin_mu`` if that is
        later (not after one with a click: the caller decides). The simulator executes runs of
        attempts without any click in one step (``sim.devices.bsa``); on hardware this is a
        plain loop."""
        return self.attempts_loop_mu(
            attempt, gate_end_mu, margin_mu, max_attempts, timestamps, False
        )

    @kernel
    def attempts_until_herald_mu(
        self,
        attempt,
        gate_end_mu: TInt64,
        margin_mu: TInt64,
        max_attempts: TInt32,
        timestamps: TList(TInt64),
    ) -> TTuple([TInt32, TInt32, TInt64]):
        """As :meth:`attempts_until_click_mu`, but across clicks that are not a herald: repeat,
        at most ``max_attempts`` times, until the pattern is a herald
        (``psi_of_pattern(pattern) != 0``).

        :return: ``(attempts, pattern, t_attempt)``: attempts made, the last one's pattern (a
            herald; else ``max_attempts`` were made and it is 0 or a click that is not a herald;
            :data:`UNDERFLOW`: its playback underflowed, not counted, the caller must make
            slack) and its start (mu); its timestamps are in ``timestamps``.

        Timeline per attempt: the trace's length, then the reads consume all slack; after an
        attempt that is not a herald (no click, or a click that is not one) the cursor moves to
        the RTIO counter + ``margin_mu`` if that is later, the same two syscalls (counter read,
        then ``at_mu`` if behind) as a kernel that calls :meth:`attempts_until_click_mu` again
        after such a click and re-establishes its slack in between; not after the last attempt
        if it clicked (the caller decides). The simulator executes runs of attempts without any
        click in one step (``sim.devices.bsa``); on hardware this is a plain loop."""
        return self.attempts_loop_mu(
            attempt, gate_end_mu, margin_mu, max_attempts, timestamps, True
        )

    @kernel
    def attempts_loop_mu(
        self,
        attempt,
        gate_end_mu: TInt64,
        margin_mu: TInt64,
        max_attempts: TInt32,
        timestamps: TList(TInt64),
        through_clicks: TBool,
    ) -> TTuple([TInt32, TInt32, TInt64]):
        """The loop of :meth:`attempts_until_click_mu` (``through_clicks`` False: it ends at the
        first click) and :meth:`attempts_until_herald_mu` (True: at the first herald); timeline
        as theirs."""
        n = 0
        pattern = 0
        t_att = now_mu()
        while n < max_attempts:
            t_att = now_mu()
            try:
                self.core_dma.playback_handle(attempt)
            except RTIOUnderflow:
                return n, UNDERFLOW, t_att
            pattern = self.fetch_pattern(t_att + gate_end_mu, timestamps)
            n += 1
            if pattern != 0:
                if not through_clicks or psi_of_pattern(pattern) != 0 or n >= max_attempts:
                    break
            t = self.core.get_rtio_counter_mu() + margin_mu
            if now_mu() < t:
                at_mu(t)
        return n, pattern, t_att

    @kernel
    def count_all(self, t_end_mu: TInt64, counts: TList(TInt32)) -> TNone:
        """Counts of each detector in the gates ending at ``t_end_mu`` into ``counts[0..3]``.
        Does not move the cursor; consumes all slack."""
        counts[0] = self.det0.count(t_end_mu)
        counts[1] = self.det1.count(t_end_mu)
        counts[2] = self.det2.count(t_end_mu)
        counts[3] = self.det3.count(t_end_mu)

    @kernel
    def count_gates(self, gate_mu: TInt64, gates: TInt32, totals: TList(TInt64)) -> TNone:
        """Count each detector for ``gates * gate_mu`` (mu) of gated time, the first sub-gate
        opened at the cursor, adding the counts to ``totals[0..3]``.

        The time is gated in sub-gates of at most ``gate_mu`` whose length follows the count rate
        (:meth:`next_subgate_mu`), so that no detector's 64-event input FIFO fills before the CPU
        reads it: the first two are ``SUBGATE_MIN_MU`` (or ``gate_mu`` if shorter) long, each
        later one is sized from the counts of the one two before it (it is queued before the
        previous one is read). Sub-gate k+1 opens one coarse cycle (8 mu) after sub-gate k closes
        (a channel's close and open need distinct timestamps), so the gated time is contiguous
        unless the CPU falls behind: a sub-gate the CPU cannot queue ``SUBGATE_SLACK_MU`` ahead of
        the RTIO counter opens that far ahead instead (less lab time, never an underflow). A rate
        the shortest sub-gate cannot hold (a detector far above 1 MHz) still raises
        ``RTIOOverflow``.

        Advances the cursor by at least ``gates * gate_mu`` mu (the sub-gates and the 8 mu between
        them); each read blocks until its sub-gate's end + 104 mu, so the call ends with the slack
        of the last sub-gate's end."""
        counts = [0] * 4
        remaining = gate_mu * int64(gates)
        shortest = int64(SUBGATE_MIN_MU)
        if gate_mu < shortest:
            shortest = gate_mu
        length = self.next_subgate_mu(shortest, SUBGATE_COUNTS, shortest, gate_mu, remaining)
        remaining -= length
        t_end = self.gate_rising_mu(length)
        next_length = self.next_subgate_mu(shortest, SUBGATE_COUNTS, shortest, gate_mu, remaining)
        remaining -= next_length
        t_next = t_end
        if next_length > 0:
            delay_mu(8)
            t_next = self.gate_rising_mu(next_length)
        while length > 0:
            self.count_all(t_end, counts)
            most = 0
            for d in range(4):
                totals[d] += int64(counts[d])
                if counts[d] > most:
                    most = counts[d]
            later = self.next_subgate_mu(length, most, shortest, gate_mu, remaining)
            remaining -= later
            t_later = t_next
            if later > 0:
                delay_mu(8)
                t = self.core.get_rtio_counter_mu() + int64(SUBGATE_SLACK_MU)
                if now_mu() < t:
                    at_mu(t)
                t_later = self.gate_rising_mu(later)
            length = next_length
            t_end = t_next
            next_length = later
            t_next = t_later

    @portable
    def next_subgate_mu(
        self,
        length_mu: TInt64,
        most: TInt32,
        shortest_mu: TInt64,
        longest_mu: TInt64,
        remaining_mu: TInt64,
    ) -> TInt64:
        """Length (mu) of the next sub-gate of :meth:`count_gates` after one of ``length_mu`` in
        which the busiest detector counted ``most``: twice as long if that was at most half of
        ``SUBGATE_COUNTS``, half as long if it was more than ``SUBGATE_COUNTS``, else the same;
        within [``shortest_mu``, ``longest_mu``] and at most ``remaining_mu`` (0 when no time is
        left). A remainder shorter than ``shortest_mu`` joins this sub-gate (no sliver of a gate
        shorter than a coarse cycle is ever opened)."""
        length = length_mu
        if 2 * most <= SUBGATE_COUNTS:
            length = 2 * length_mu
        elif most > SUBGATE_COUNTS:
            length = length_mu // 2
        if length > longest_mu:
            length = longest_mu
        if length < shortest_mu:
            length = shortest_mu
        if remaining_mu - length < shortest_mu:
            length = remaining_mu
        return length

    @kernel
    def drain(self) -> TNone:
        """Drop every event buffered in the four input FIFOs up to the cursor (e.g. after an
        underflow). Does not move the cursor; consumes all slack."""
        t = now_mu()
        self.det0.count(t)
        self.det1.count(t)
        self.det2.count(t)
        self.det3.count(t)
