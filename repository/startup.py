# SPDX-License-Identifier: LGPL-3.0-or-later
"""Startup: bring the link's hardware into its idle state. Run once after power-up or a core reboot.

Initialises both Urukul CPLDs and all eight AD9910 channels, sets each channel's attenuation,
frequency and amplitude from the persistent datasets ``calib.node_X.dds.<beam>.{frequency,
amplitude,attenuation}`` (defaults below when missing), closes the Urukul RF switches of the qubit
drives and opens those of the beam channels (the DIO TTLs gate the beams), puts the PMT and detector
channels in input mode, disables the entangler core, and switches every beam off.

Re-running ``init`` glitches the DDS outputs: do not run this in the middle of a measurement.
"""

from artiq.experiment import *

from drivers.arguments import CheckedArguments

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
        self.kernel_invariants = getattr(self, "kernel_invariants", set()) | {"cplds", "dds"}

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
        self.kernel_invariants |= {"freq", "amp", "att", "rf_on"}
        self.set_dataset("schema_version", 1)
        self.set_dataset("ionlink.experiment", "startup")

    @kernel
    def run(self):
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
