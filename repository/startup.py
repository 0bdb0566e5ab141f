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

A long link (km of fibre): ARTIQ's Urukul inits read the CPLD and DDS over SPI and leave as
little as 50 µs of slack after a read (``drivers.destinations.INIT_READ_SLACK_S``), less than a
read's round trip to a satellite beyond ~5 km, so their next write underflows. Urukuls on such a
satellite (the link latency ``calib.link.drtio_latency_s``) are initialised blind (no reads), and
their checks are made afterwards: the CPLD's proto_rev and each channel's PLL lock from one
status read, after which the slack is re-established (``break_realtime`` and three link
latencies more: a write's way there and a round trip for the satellite's buffer space) before
the next write. Every write to a satellite starts with those three latencies of slack (after
``core.reset``, before each Urukul channel): until 2026-12-02 Startup gave two after a status
read and none elsewhere, and beyond ~22 km of fibre it exited 0 with node B's Urukul, beam and
slave-entangler writes dropped by the satellite (8 at 25 km, 21 at 30 km).

Re-running ``init`` glitches the DDS outputs: do not run this in the middle of a measurement.
"""

from artiq.coredevice.urukul import urukul_sta_pll_lock, urukul_sta_proto_rev
from artiq.experiment import *
from numpy import int64

from drivers.arguments import CheckedArguments
from drivers.destinations import (
    DESTINATION_POLL_S,
    DESTINATION_WAIT_S,
    DestinationDown,
    blind_init_latency_s,
    destinations_of,
)
from drivers.link_timing import DRTIO_LATENCY_FALLBACK_S, DRTIO_MARGIN_LATENCIES

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
        # Urukuls beyond a long link: blind init, then the checks with the link's slack
        latency = float(self.get_dataset("calib.link.drtio_latency_s", DRTIO_LATENCY_FALLBACK_S))
        s2mu = self.core.seconds_to_mu
        self.cpld_link_mu = [
            int64(s2mu(2 * blind_init_latency_s(c.bus.channel, latency))) for c in self.cplds
        ]
        self.dds_link_mu = [
            int64(s2mu(2 * blind_init_latency_s(d.bus.channel, latency))) for d in self.dds
        ]
        # writes to a satellite need the link's latencies of slack on top of break_realtime's
        # 125 µs (three, as the link experiments; whole coarse cycles, or the SPI transfers
        # after it straddle them: busy errors); 0 on one chassis
        link = DRTIO_MARGIN_LATENCIES * s2mu(latency) if len(self.destinations) > 1 else 0
        self.link_mu = int64((link + 7) & ~7)
        self.kernel_invariants |= {
            "freq",
            "amp",
            "att",
            "rf_on",
            "wait_mu",
            "poll_mu",
            "cpld_link_mu",
            "dds_link_mu",
            "link_mu",
        }
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
    def resync(self, round_trip_mu: TInt64):
        """After a read from a satellite: the slack ``break_realtime`` gives, plus
        ``round_trip_mu`` (the link's latencies, ``link_mu``), so that the next write reaches the
        satellite in time. Moves the cursor to at least the RTIO counter + 125 µs +
        ``round_trip_mu``."""
        self.core.break_realtime()
        delay_mu(round_trip_mu)

    @kernel
    def initialise(self):
        self.core.reset()
        delay_mu(self.link_mu)
        self.entangler.init()
        self.bsa.input_mode()
        self.node_a.pmt.input()
        self.node_b.pmt.input()
        delay(10 * us)
        self.node_a.idle()
        self.node_b.idle()
        for i in range(len(self.cplds)):
            if self.cpld_link_mu[i] > 0:
                self.resync(self.link_mu)
                self.cplds[i].init(blind=True)
                sta = self.cplds[i].sta_read()
                self.resync(self.link_mu)
                if urukul_sta_proto_rev(sta) != self.cplds[i].proto_rev:
                    raise ValueError("Urukul proto_rev mismatch")
            else:
                self.cplds[i].init()
            delay(1 * ms)
        for i in range(len(self.dds)):
            self.resync(self.link_mu)
            if self.dds_link_mu[i] > 0:
                self.dds[i].init(blind=True)
                sta = self.dds[i].cpld.sta_read()
                self.resync(self.link_mu)
                if urukul_sta_pll_lock(sta) & (1 << (self.dds[i].chip_select - 4)) == 0:
                    raise ValueError("PLL lock timeout")
            else:
                self.dds[i].init()
            self.dds[i].set_att(self.att[i])
            self.dds[i].set(self.freq[i], 0.0, self.amp[i])
            self.dds[i].cfg_sw(self.rf_on[i])
        self.node_a.idle()
        self.node_b.idle()
        self.core.wait_until_mu(now_mu())
