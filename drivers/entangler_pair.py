# SPDX-License-Identifier: LGPL-3.0-or-later
"""Two entangler cores, master and slave, driven as the one ``entangler`` device of a link.

In a two-chassis system (``device_db_drtio.py``) each node's Kasli has its own entangler core
(:class:`drivers.entangler.Entangler`): the master on the master Kasli, with node A's pump and
excitation outputs and the Bell-state analyser's detectors (the heralder); the slave on the DRTIO
satellite, with node B's outputs, at channel ``(1 << 16) | ch`` and ``is_master`` False. The
Oxford core ties them by its own link cable (ready, trigger, success, timeout).

:class:`EntanglerPair` has the single core's kernel API, so the experiments run unchanged on
either device database: sequencer channels 0-1 (node A) and gates 4-7 go to the master, 2-3 (node
B) to the slave's outputs 0-1; cycle length, configuration and runs go to both; reads go to the
master, where the heralder is. A run writes the slave's RUN (it is then ready) before the
master's, waits for the master's answer and then reads the slave's, so that the slave's input
FIFO on the satellite never fills: a DRTIO round trip per run. Answers of runs the master never
started (its RUN write underflowed after the slave's went out: the slave then timed out on its
own) are older than the master's run end and are read and dropped on the way.
"""

from artiq.coredevice.rtio import rtio_input_timestamped_data
from artiq.language.core import kernel
from artiq.language.types import TBool, TInt32, TInt64, TList, TNone, TTuple
from numpy import int32

from drivers.entangler import GATE_DET0, OUT_PUMP_B, HeraldRuns
from drivers.entangler_registers import ADDR_RUN

__all__ = ["EntanglerPair", "SLAVE_ANSWER_MU"]

#: how long after the master's run end the slave's answer is awaited (mu; it comes 16 mu after)
SLAVE_ANSWER_MU = 64


class EntanglerPair(HeraldRuns):
    """Master and slave entangler cores as one device (see module docstring).

    :param master: device name of the master core (``is_master`` True, local channel).
    :param slave: device name of the slave core (``is_master`` False, on the satellite).
    """

    kernel_invariants = {"core", "core_dma", "master", "slave", "slave_channel"}

    def __init__(self, dmgr, master, slave, core_device="core", core_dma_device="core_dma"):
        self.core = dmgr.get(core_device)
        self.core_dma = dmgr.get(core_dma_device)
        self.master = dmgr.get(master)
        self.slave = dmgr.get(slave)
        self.slave_channel = self.slave.channel

    @kernel
    def init(self) -> TNone:
        """Disable both cores (outputs back to their TTL PHYs). Advances the cursor by 16 ns."""
        self.slave.init()
        self.master.init()

    @kernel
    def set_config(self, enable: TBool = False, standalone: TBool = False) -> TNone:
        """Enable or disable both cores; ``standalone`` applies to the master (it then starts
        cycles without waiting for the slave's ready; the slave always follows the trigger).
        Advances the cursor by 16 ns."""
        self.slave.set_config(enable, False)
        self.master.set_config(enable, standalone)

    @kernel
    def set_timing_mu(self, channel: TInt32, t_start_mu: TInt32, t_stop_mu: TInt32) -> TNone:
        """Window of sequencer channel ``channel`` (0-3 outputs: 2, 3 are node B's on the slave;
        4-7 gates on the master). Advances the cursor by 8 ns."""
        if OUT_PUMP_B <= channel < GATE_DET0:
            self.slave.set_timing_mu(channel - OUT_PUMP_B, t_start_mu, t_stop_mu)
        else:
            self.master.set_timing_mu(channel, t_start_mu, t_stop_mu)

    @kernel
    def set_timing(self, channel: TInt32, t_start: float, t_stop: float) -> TNone:
        """:meth:`set_timing_mu` with times in seconds. Advances the cursor by 8 ns."""
        self.set_timing_mu(
            channel, int32(self.core.seconds_to_mu(t_start)), int32(self.core.seconds_to_mu(t_stop))
        )

    @kernel
    def set_cycle_length_mu(self, t_cycle_mu: TInt32) -> TNone:
        """The same cycle on both cores (they run in lockstep). Advances the cursor by 16 ns."""
        self.slave.set_cycle_length_mu(t_cycle_mu)
        self.master.set_cycle_length_mu(t_cycle_mu)

    @kernel
    def set_cycle_length(self, t_cycle: float) -> TNone:
        """:meth:`set_cycle_length_mu` in seconds. Advances the cursor by 16 ns."""
        self.set_cycle_length_mu(int32(self.core.seconds_to_mu(t_cycle)))

    @kernel
    def set_heralds(self, heralds: TList(TInt32)) -> TNone:
        """Herald patterns of the master's heralder. Advances the cursor by 8 ns."""
        self.master.set_heralds(heralds)

    @kernel
    def clear_heralds(self) -> TNone:
        """No herald pattern: runs end by timeout. Advances the cursor by 8 ns."""
        self.master.clear_heralds()

    @kernel
    def run_mu(self, duration_mu: TInt64) -> TTuple([TInt64, TInt32]):
        """Arm the slave, start the master's run, wait for its end and collect the slave's answer.

        :return: ``(end_mu, reason)`` of the master's run (see
            :meth:`drivers.entangler.Entangler.run_mu`).

        Advances the cursor by two coarse cycles; blocks until the master's run is over and then
        for a DRTIO round trip (the slave's answer; one more per stale answer), consuming all
        slack."""
        self.slave.write(ADDR_RUN, int32(duration_mu >> 3))
        end_mu, reason = self.master.run_mu(duration_mu)
        # the slave ends two clocks after the master; an answer from before this run's end is
        # stale, none by then means the slave's RUN never arrived
        t, data = rtio_input_timestamped_data(end_mu + SLAVE_ANSWER_MU, self.slave_channel)
        while 0 <= t < end_mu:
            t, data = rtio_input_timestamped_data(end_mu + SLAVE_ANSWER_MU, self.slave_channel)
        return end_mu, reason

    @kernel
    def get_status(self) -> TInt32:
        """The master's status bits. Consumes all slack."""
        return self.master.get_status()

    @kernel
    def get_ncycles(self) -> TInt32:
        """Cycles of the last run (master). Consumes all slack."""
        return self.master.get_ncycles()

    @kernel
    def request_ncycles(self) -> TNone:
        """The master's :meth:`~drivers.entangler.Entangler.request_ncycles`."""
        self.master.request_ncycles()

    @kernel
    def fetch_answer(self) -> TInt32:
        """The master's :meth:`~drivers.entangler.Entangler.fetch_answer`."""
        return self.master.fetch_answer()

    @kernel
    def get_ntriggers(self) -> TInt32:
        """Reference pulses of the last run (master). Consumes all slack."""
        return self.master.get_ntriggers()

    @kernel
    def get_time_remaining(self) -> TInt32:
        """Coarse cycles left of the last run (master). Consumes all slack."""
        return self.master.get_time_remaining()

    @kernel
    def get_timestamp_mu(self, channel: TInt32) -> TInt32:
        """Detector timestamp ``channel`` of the master's heralder. Consumes all slack."""
        return self.master.get_timestamp_mu(channel)

    @kernel
    def set_counter_patterns(self, idx: TInt32, patterns: TList(TInt32)) -> TNone:
        """Pattern counter ``idx`` of the master. Advances the cursor by 8 ns."""
        self.master.set_counter_patterns(idx, patterns)

    @kernel
    def get_input_count(self, idx: TInt32) -> TInt32:
        """Input counter ``idx`` of the master. Consumes all slack."""
        return self.master.get_input_count(idx)

    @kernel
    def get_pattern_count(self, idx: TInt32) -> TInt32:
        """Pattern counter ``idx`` of the master. Consumes all slack."""
        return self.master.get_pattern_count(idx)
