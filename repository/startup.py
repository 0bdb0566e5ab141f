# SPDX-License-Identifier: LGPL-3.0-or-later
"""Startup: bring the link's hardware into its idle state. Run once after power-up or a core reboot.

Initialises both Urukul CPLDs and all eight AD9910 channels, sets each channel's attenuation,
frequency and amplitude from the persistent datasets ``calib.node_X.dds.<beam>.{frequency,
amplitude,attenuation}`` (defaults below when missing), closes the Urukul RF switches of the qubit
drives and opens those of the beam channels (the DIO TTLs gate the beams), puts the PMT and detector
channels in input mode, disables the entangler core, and switches every beam off.

In a DRTIO system (``device_db_drtio.py``: node B on a satellite) it first waits, as ARTIQ's
manual recommends for a startup kernel, until every destination (0 and the core's
``satellite_cpu_targets``) is up, polling ``core.get_rtio_destination_status`` every millisecond;
a destination still down after ``DESTINATION_WAIT_S`` stops the experiment with an error naming it.

Re-running ``init`` glitches the DDS outputs: do not run this in the middle of a measurement.
"""

from artiq.experiment import *

from drivers.arguments import CheckedArguments
from drivers.destinations import (
    DESTINATION_POLL_S,
    DESTINATION_WAIT_S,
    DestinationDown,
    destinations_of,
)

# beam -> (frequency Hz, amplitude, attenuation dB) defaults; channel order of docs/design.md
DDS_DEFAULTS = {
    "cool": (110e6, 0.5, 10.0),
    "pump": (110e6, 0.5, 10.0),
    "detect": (110e6, 0.5, 10.0),
    "qubit": (80e6, 0.5, 10.0),
}
BEAMS = ["cool", "pump", "detect", "qubit"]


class Startup(CheckedArguments, EnvExperiment):
    """Startup: initialise Urukuls, DDS, TTL directions, idle beams"""

    def build(self):
        self.setattr_device("core")
        self.setattr_device("entangler")
        self.setattr_device("node_a")
        self.setattr_device("node_b")
        self.setattr_device("bsa")
        self.cplds = [self.get_device("urukul0_cpld"), self.get_device("urukul1_cpld")]
        self.dds = [self.get_device("node_{}.{}_dds".format(n, b)) for n in "ab" for b in BEAMS]
        # DRTIO destinations: the master's own (0) and its satellites
        self.destinations = destinations_of(self.core)
        self.kernel_invariants = getattr(self, "kernel_invariants", set()) | {
            "cplds",
            "dds",
            "destinations",
        }

    def prepare(self):
        self.check_arguments()
        freq, amp, att, rf_on = [], [], [], []
        for n in "ab":
            for b in BEAMS:
                key = "calib.node_{}.dds.{}.".format(n, b)
                f0, a0, att0 = DDS_DEFAULTS[b]
                if b == "qubit":  # the qubit drive follows the node's qubit calibration
                    f0 = getattr(self, "node_" + n).qubit_frequency
                freq.append(float(self.get_dataset(key + "frequency", f0)))
                amp.append(float(self.get_dataset(key + "amplitude", a0)))
                att.append(float(self.get_dataset(key + "attenuation", att0)))
                rf_on.append(b != "qubit")
        self.freq, self.amp, self.att, self.rf_on = freq, amp, att, rf_on
        self.wait_mu = self.core.seconds_to_mu(DESTINATION_WAIT_S)
        self.poll_mu = self.core.seconds_to_mu(DESTINATION_POLL_S)
        self.kernel_invariants |= {"freq", "amp", "att", "rf_on", "wait_mu", "poll_mu"}
        self.set_dataset("schema_version", 1)
        self.set_dataset("ionlink.experiment", "startup")

    def run(self):
        down = self.wait_for_destinations()
        if down >= 0:
            raise DestinationDown(
                "DRTIO destination {} is not up after {:g} s: check its fibre and the "
                "satellite (artiq_coremgmt log)".format(down, DESTINATION_WAIT_S)
            )
        self.initialise()

    @kernel
    def wait_for_destinations(self) -> TInt32:
        """Poll every destination until it is up; the first still down after the wait, or -1.
        Moves no cursor (waits on the RTIO counter)."""
        for d in self.destinations:
            t_end = self.core.get_rtio_counter_mu() + self.wait_mu
            while not self.core.get_rtio_destination_status(d):
                t = self.core.get_rtio_counter_mu()
                if t > t_end:
                    return d
                self.core.wait_until_mu(t + self.poll_mu)
        return -1

    @kernel
    def initialise(self):
        self.core.reset()
        self.entangler.init()
        self.bsa.input_mode()
        self.node_a.pmt.input()
        self.node_b.pmt.input()
        delay(10 * us)
        self.node_a.idle()
        self.node_b.idle()
        for cpld in self.cplds:
            cpld.init()
            delay(1 * ms)
        for i in range(len(self.dds)):
            self.core.break_realtime()
            self.dds[i].init()
            self.dds[i].set_att(self.att[i])
            self.dds[i].set(self.freq[i], 0.0, self.amp[i])
            self.dds[i].cfg_sw(self.rf_on[i])
        self.node_a.idle()
        self.node_b.idle()
        self.core.wait_until_mu(now_mu())
