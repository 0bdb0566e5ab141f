# SPDX-License-Identifier: LGPL-3.0-or-later
"""Kernel driver for the entangler core (gateware heralding of remote entanglement).

The register map and semantics follow the open-source Oxford entangler core
(OxfordIonTrapGroup/entangler-core, ``entangler/phy.py``): one RTIO channel, 6-bit address,
address bit 5 selects read. Writes are RTIO outputs; a read is an output on a read address that
makes the PHY answer with one input event carrying the register value.

While a run is in progress the core repeats a fixed *cycle* of ``t_cycle`` (coarse ticks of 8 ns):
every output channel gets one pulse window per cycle (8 ns resolution, relative to the cycle start),
every gate input arms a window (1 ns resolution, relative to the gate reference; on ionlink's
gateware there is no reference input, so the reference is the cycle start), and only the first
rising edge inside a window counts. At the end of each cycle the 4-bit click pattern (input 0 =
LSB) is compared for *exact equality* with the enabled herald patterns. The run ends at the end of
the cycle in which a pattern matched, or in which the timeout expired. The core then emits one
input event: timestamp = RTIO time at the end of the final cycle, data = bitfield of the matched
pattern slots (1, 2, 4, 8 for slots 0-3) or ``0x3fff`` on timeout.

Per-input timestamp registers are *not* cleared at cycle start: an input that did not fire in the
final cycle still holds the timestamp of its last click. Use the herald pattern to know which
timestamps are valid.
"""

from artiq.coredevice.exceptions import RTIOUnderflow
from artiq.coredevice.rtio import rtio_input_data, rtio_input_timestamped_data, rtio_output
from artiq.language.core import at_mu, delay_mu, kernel, now_mu, portable
from artiq.language.types import TBool, TInt32, TInt64, TList, TNone, TTuple
from numpy import int32, int64

from drivers.entangler_registers import (
    ADDR_CONFIG,
    ADDR_COUNTER_PATTERNS,
    ADDR_COUNTER_RESULT,
    ADDR_HERALD,
    ADDR_NCYCLES,
    ADDR_NTRIGGERS,
    ADDR_RUN,
    ADDR_STATUS,
    ADDR_TCYCLE,
    ADDR_TIMEREMAINING,
    ADDR_TIMESTAMP,
    ADDR_TIMING,
    CONFIG_ENABLE,
    CONFIG_MASTER,
    CONFIG_STANDALONE,
    TIMEOUT,
)

__all__ = [
    "HeraldRuns",
    "Entangler",
    "TIMEOUT",
    "UNDERFLOW",
    "OUT_PUMP_A",
    "OUT_EXCITE_A",
    "OUT_PUMP_B",
    "OUT_EXCITE_B",
    "GATE_DET0",
    "GATE_DET1",
    "GATE_DET2",
    "GATE_DET3",
    "TIMESTAMP_REF",
]

#: :meth:`Entangler.run_until_herald_mu` reason when a submission underflowed
UNDERFLOW = -1

#: sequencer channel numbers for :meth:`Entangler.set_timing_mu` on ionlink's wiring
OUT_PUMP_A = 0
OUT_EXCITE_A = 1
OUT_PUMP_B = 2
OUT_EXCITE_B = 3
GATE_DET0 = 4
GATE_DET1 = 5
GATE_DET2 = 6
GATE_DET3 = 7
#: timestamp index of the reference input for :meth:`Entangler.get_timestamp_mu`
TIMESTAMP_REF = 4

_FIELD_MASK = 0x3FFF  # 14-bit timing fields


@portable
def patterns_to_word(patterns: TList(TInt32)) -> TInt32:
    """Pack up to four 4-bit patterns into a HERALD word: pattern i in bits 4i..4i+3, enable bit
    16+i. Raises ``ValueError`` for more than four patterns."""
    if len(patterns) > 4:
        raise ValueError("At most four herald patterns")
    word = 0
    for i in range(len(patterns)):
        word |= (patterns[i] & 0xF) << (4 * i)
        word |= 1 << (16 + i)
    return word


class HeraldRuns:
    """The run loop of an entangler device, shared by :class:`Entangler` (one core) and
    :class:`drivers.entangler_pair.EntanglerPair` (master and slave): written once on the
    device's ``run_mu``, ``set_config``, ``core`` and ``core_dma``."""

    @kernel
    def run(self, duration: float) -> TTuple([TInt64, TInt32]):
        """:meth:`run_mu` with the duration in seconds."""
        return self.run_mu(self.core.seconds_to_mu(duration))

    @kernel
    def cooled_run_mu(
        self, cool, duration_mu: TInt64, margin_mu: TInt64, standalone: TBool
    ) -> TTuple([TInt64, TInt32]):
        """One run after re-cooling: play the DMA trace ``cool`` (a handle from
        ``core_dma.get_handle``) at the cursor, enable the core, run for at most ``duration_mu``.

        :return: ``(end_mu, reason)`` as :meth:`run_mu`.

        Advances the cursor by the cooling trace and two coarse cycles, blocks until the run is
        over, then moves the cursor to ``end_mu``, or to the RTIO counter + ``margin_mu`` if that
        is later."""
        self.core_dma.playback_handle(cool)
        self.set_config(True, standalone)
        end_mu, reason = self.run_mu(duration_mu)
        at_mu(end_mu)
        t = self.core.get_rtio_counter_mu() + margin_mu
        if now_mu() < t:
            at_mu(t)
        return end_mu, reason

    @kernel
    def run_until_herald_mu(
        self,
        cool,
        duration_mu: TInt64,
        margin_mu: TInt64,
        max_runs: TInt32,
        standalone: TBool = True,
    ) -> TTuple([TInt64, TInt32, TInt32]):
        """Repeat :meth:`cooled_run_mu` until a run heralds, at most ``max_runs`` times.

        :return: ``(end_mu, reason, timeouts)``: the last run's end and reason (matched slots, or
            :data:`TIMEOUT` after ``max_runs`` timeouts, or :data:`UNDERFLOW` when a submission
            was late: the caller must make slack, e.g. ``core.break_realtime()``), and the number
            of runs that timed out (each ran its full ``duration_mu``).

        Timeline as :meth:`cooled_run_mu`, once per run. The simulator executes a run of identical
        timeouts in one step (``sim.devices.entangler``); on hardware this is a plain loop."""
        timeouts = 0
        end_mu = int64(0)
        reason = TIMEOUT
        while timeouts < max_runs:
            try:
                end_mu, reason = self.cooled_run_mu(cool, duration_mu, margin_mu, standalone)
            except RTIOUnderflow:
                return end_mu, UNDERFLOW, timeouts
            if reason != TIMEOUT:
                break
            timeouts += 1
        return end_mu, reason, timeouts


class Entangler(HeraldRuns):
    """Gateware heralding core.

    :param channel: RTIO channel number of the entangler PHY.
    :param is_master: this Kasli sequences the link (the heralder and the detectors sit on the
        master); written to CONFIG by every :meth:`set_config`.
    :param core_device: name of the core device.
    :param core_dma_device: name of the core DMA device (cooling traces of
        :meth:`run_until_herald_mu`).
    """

    kernel_invariants = {"core", "core_dma", "channel", "is_master", "coarse_mu", "target"}

    def __init__(
        self, dmgr, channel, is_master=True, core_device="core", core_dma_device="core_dma"
    ):
        self.core = dmgr.get(core_device)
        self.core_dma = dmgr.get(core_dma_device)
        self.channel = channel
        self.is_master = is_master
        self.target = channel << 8
        # one coarse RTIO cycle in mu (8 on Kasli)
        self.coarse_mu = self.core.seconds_to_mu(self.core.coarse_ref_period)

    @staticmethod
    def get_rtio_channels(channel, **kwargs):
        return [(channel, None)]

    @kernel
    def init(self) -> TNone:
        """Disable the core (outputs back to their TTL PHYs) and write the master bit.

        Advances the timeline by one coarse cycle (8 ns)."""
        self.set_config(False, False)

    @kernel
    def write(self, addr: TInt32, value: TInt32) -> TNone:
        """Write register ``addr`` (6-bit address, bit 5 clear) at the cursor.

        Advances the timeline by one coarse cycle (8 ns)."""
        rtio_output(self.target | addr, value)
        delay_mu(self.coarse_mu)

    @kernel
    def read(self, addr: TInt32) -> TInt32:
        """Read register ``addr`` (bit 5 set): issues the read request at the cursor and waits for
        the answer.

        Does not move the cursor; blocks until the RTIO counter has passed the request timestamp,
        i.e. consumes all slack. Add slack (``delay``) before scheduling further outputs."""
        rtio_output(self.target | addr, 0)
        return rtio_input_data(self.channel)

    @kernel
    def set_config(self, enable: TBool = False, standalone: TBool = False) -> TNone:
        """Configure the core.

        :param enable: hand the output pads to the core's sequencers (otherwise they are normal
            TTLs). Enable only after cycle length and timings are written.
        :param standalone: run without waiting for a slave Kasli (single-Kasli link, tests).

        Advances the timeline by one coarse cycle (8 ns)."""
        data = 0
        if enable:
            data |= CONFIG_ENABLE
        if self.is_master:
            data |= CONFIG_MASTER
        if standalone:
            data |= CONFIG_STANDALONE
        self.write(ADDR_CONFIG, data)

    @kernel
    def set_timing_mu(self, channel: TInt32, t_start_mu: TInt32, t_stop_mu: TInt32) -> TNone:
        """Set the window of one sequencer channel.

        :param channel: 0-3 output channels (``OUT_*``), 4-7 gate inputs (``GATE_DET*``).
        :param t_start_mu: window start in mu. Outputs: relative to the cycle start, rounded down
            to the coarse cycle (8 ns). Gates: relative to the gate reference, 1 ns resolution.
        :param t_stop_mu: window stop in mu, same convention. A stop after the cycle end stops at
            the cycle end; a start after the cycle end gives no window.

        Both fields are 14 bit (stored + 1, 0 meaning "never"). Advances the timeline by one coarse
        cycle (8 ns)."""
        if channel < 0 or channel > 7:
            raise ValueError("Entangler sequencer channel out of range")
        if channel < GATE_DET0:
            t_start_mu = t_start_mu >> 3
            t_stop_mu = t_stop_mu >> 3
        t_start_mu = (t_start_mu + 1) & _FIELD_MASK
        t_stop_mu = (t_stop_mu + 1) & _FIELD_MASK
        self.write(ADDR_TIMING + channel, (t_stop_mu << 16) | t_start_mu)

    @kernel
    def set_timing(self, channel: TInt32, t_start: float, t_stop: float) -> TNone:
        """:meth:`set_timing_mu` with times in seconds. Advances the timeline by 8 ns."""
        self.set_timing_mu(
            channel, int32(self.core.seconds_to_mu(t_start)), int32(self.core.seconds_to_mu(t_stop))
        )

    @kernel
    def set_cycle_length_mu(self, t_cycle_mu: TInt32) -> TNone:
        """Set the attempt cycle length in mu (rounded down to 8 ns; at most 1023 coarse cycles,
        8.18 us). Advances the timeline by one coarse cycle (8 ns)."""
        self.write(ADDR_TCYCLE, t_cycle_mu >> 3)

    @kernel
    def set_cycle_length(self, t_cycle: float) -> TNone:
        """:meth:`set_cycle_length_mu` with the length in seconds. Advances the timeline by 8 ns."""
        self.set_cycle_length_mu(int32(self.core.seconds_to_mu(t_cycle)))

    @kernel
    def set_heralds(self, heralds: TList(TInt32)) -> TNone:
        """Set up to four 4-bit click patterns (input 0 = LSB) that end a run. A cycle heralds when
        its click pattern equals one of them exactly. Advances the timeline by 8 ns."""
        self.write(ADDR_HERALD, patterns_to_word(heralds))

    @kernel
    def clear_heralds(self) -> TNone:
        """Disable all herald patterns: runs then always end by timeout (counting experiments).
        Advances the timeline by 8 ns."""
        self.write(ADDR_HERALD, 0)

    @kernel
    def run_mu(self, duration_mu: TInt64) -> TTuple([TInt64, TInt32]):
        """Start a run of at most ``duration_mu`` (mu, rounded down to 8 ns) at the cursor and wait
        for its end.

        :return: ``(end_mu, reason)``: RTIO timestamp of the end of the final cycle, and the
            bitfield of matched pattern slots (1, 2, 4, 8), or :data:`TIMEOUT` (0x3fff).

        Advances the cursor by one coarse cycle (the RUN write) and then blocks the CPU until the
        run is over, consuming all slack; the cursor is not moved to ``end_mu``. Before scheduling
        new outputs, ``at_mu(end_mu)`` plus enough slack for the reads that follow."""
        self.write(ADDR_RUN, int32(duration_mu >> 3))
        return rtio_input_timestamped_data(int64(-1), self.channel)

    @kernel
    def get_status(self) -> TInt32:
        """Status bits: 0 ready, 1 success, 2 timeout. Consumes all slack (see :meth:`read`)."""
        return self.read(ADDR_STATUS)

    @kernel
    def get_ncycles(self) -> TInt32:
        """Cycles completed in the last run (14 bit, wraps). Consumes all slack."""
        return self.read(ADDR_NCYCLES)

    @kernel
    def request_ncycles(self) -> TNone:
        """Issue the read of :meth:`get_ncycles` at the cursor without waiting for its answer
        (:meth:`fetch_answer` takes it; nothing else may read this channel in between, and no
        run may start before it is taken). Does not move the cursor; needs slack for one output,
        consumes none."""
        rtio_output(self.target | ADDR_NCYCLES, 0)

    @kernel
    def fetch_answer(self) -> TInt32:
        """The answer of the read :meth:`request_ncycles` issued: waits until the RTIO counter
        has passed the request's timestamp (no wait once it has). Does not move the cursor."""
        return rtio_input_data(self.channel)

    @kernel
    def get_ntriggers(self) -> TInt32:
        """Reference pulses seen in the last run. Consumes all slack."""
        return self.read(ADDR_NTRIGGERS)

    @kernel
    def get_time_remaining(self) -> TInt32:
        """Coarse cycles (8 ns) left before the last run would have timed out. Consumes all
        slack."""
        return self.read(ADDR_TIMEREMAINING)

    @kernel
    def get_timestamp_mu(self, channel: TInt32) -> TInt32:
        """Timestamp (mu, 14 bit, relative to the cycle start) of the last first-in-window click of
        gate input ``channel`` (0-3; 4 = reference). Not cleared per cycle: valid only for inputs
        that clicked in the heralding cycle. Consumes all slack."""
        return self.read(ADDR_TIMESTAMP + channel)

    @kernel
    def set_counter_patterns(self, idx: TInt32, patterns: TList(TInt32)) -> TNone:
        """Set the 1-4 patterns counted by pattern counter ``idx`` (0-3); unused slots repeat the
        first pattern. Advances the timeline by 8 ns."""
        if idx < 0 or idx > 3:
            raise ValueError("Pattern counter index must be 0..3")
        if len(patterns) < 1 or len(patterns) > 4:
            raise ValueError("Pattern counters take one to four patterns")
        full = [patterns[0]] * 4
        for i in range(len(patterns)):
            full[i] = patterns[i]
        self.write(ADDR_COUNTER_PATTERNS + idx, patterns_to_word(full))

    @kernel
    def get_input_count(self, idx: TInt32) -> TInt32:
        """Cycles of the last run in which gate input ``idx`` (0-3) clicked (14-bit read-back).
        Consumes all slack."""
        if idx < 0 or idx > 3:
            raise ValueError("Input counter index must be 0..3")
        return self.read(ADDR_COUNTER_RESULT + idx)

    @kernel
    def get_pattern_count(self, idx: TInt32) -> TInt32:
        """Cycles of the last run whose click pattern matched pattern counter ``idx`` (0-3).
        Consumes all slack."""
        if idx < 0 or idx > 3:
            raise ValueError("Pattern counter index must be 0..3")
        return self.read(ADDR_COUNTER_RESULT + 4 + idx)
