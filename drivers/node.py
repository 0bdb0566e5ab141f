# SPDX-License-Identifier: LGPL-3.0-or-later
"""Logical device for one ion-trap node: the kernels a physicist composes.

``IonNode`` is built from the device_db like any ARTIQ device. It owns no RTIO channel itself; it
drives the node's beam switches (DIO TTLs), its qubit drive (Urukul AD9910 + RF switch) and its
readout PMT. Every kernel method states its effect on the timeline cursor.

Calibrations (pi time, qubit frequency/amplitude, readout threshold, pulse durations) are
persistent datasets. Devices cannot read datasets themselves, so the experiment calls
:meth:`IonNode.load_calibration` on the host (in ``prepare``); the values are then kernel
invariants.

Fixed pulse trains (the pumping pulse, the default Doppler cooling) are recorded to DMA once
(:meth:`record_dma`) and played by handle (:meth:`load_dma_handles`, :meth:`cool_dma`,
:meth:`pump`). DMA rule: every ``record`` invalidates *all* handles, so record every node first,
then load every node's handles.
"""

from math import pi

from artiq.language.core import delay_mu, kernel
from artiq.language.types import TFloat, TInt32, TInt64, TNone
from numpy import int32, int64

__all__ = ["IonNode"]

# Defaults used when a calibration dataset does not exist yet (first start of a new lab).
from drivers.node_calibration import (  # noqa: F401 - re-exported
    DEFAULT_CALIBRATION,
    DEFAULT_READOUT_ERROR,
    DEFAULT_THRESHOLD,
)


class IonNode:
    """One trapped-ion node of the link.

    :param cool_sw, repump_sw, pump_sw, excite, detect_sw: TTL output device names (AOM switches,
        excitation trigger).
    :param qubit_sw: RF switch TTL of the qubit-drive Urukul channel.
    :param pmt: readout PMT (TTLInOut) device name.
    :param qubit_dds: AD9910 channel driving the qubit.
    :param cool_dds, pump_dds, detect_dds: AD9910 channels of the beams (used by the startup
        experiment; optional).
    :param calibration_prefix: dataset prefix of this node's calibrations, ``calib.node_<x>``;
        the node label ``<x>`` selects the readout calibration ``calib.readout.threshold_<x>``.
    """

    kernel_invariants = {
        "core",
        "core_dma",
        "cool_sw",
        "repump_sw",
        "pump_sw",
        "excite_ttl",
        "detect_sw",
        "qubit_sw",
        "pmt",
        "qubit_dds",
        "qubit_frequency",
        "qubit_amplitude",
        "pi_time_mu",
        "mu_per_rad",
        "t_cool_mu",
        "t_pump_mu",
        "t_excite_mu",
        "t_detect_mu",
        "threshold",
        "dma_cool_name",
        "dma_pump_name",
    }

    def __init__(
        self,
        dmgr,
        cool_sw,
        repump_sw,
        pump_sw,
        excite,
        detect_sw,
        qubit_sw,
        pmt,
        qubit_dds,
        cool_dds=None,
        pump_dds=None,
        detect_dds=None,
        core_device="core",
        core_dma="core_dma",
        calibration_prefix="calib.node_a",
    ):
        self.core = dmgr.get(core_device)
        self.core_dma = dmgr.get(core_dma)
        self.cool_sw = dmgr.get(cool_sw)
        self.repump_sw = dmgr.get(repump_sw)
        self.pump_sw = dmgr.get(pump_sw)
        self.excite_ttl = dmgr.get(excite)
        self.detect_sw = dmgr.get(detect_sw)
        self.qubit_sw = dmgr.get(qubit_sw)
        self.pmt = dmgr.get(pmt)
        self.qubit_dds = dmgr.get(qubit_dds)
        # host-side only (startup): never touched by this class's kernels
        self.cool_dds_name = cool_dds
        self.pump_dds_name = pump_dds
        self.detect_dds_name = detect_dds
        self.calibration_prefix = calibration_prefix
        self.label = calibration_prefix.rsplit("_", 1)[-1]
        self.dma_cool_name = calibration_prefix + ".dma.cool"
        self.dma_pump_name = calibration_prefix + ".dma.pump"
        # DMA handles (epoch, advance_mu, ptr, uses_ddma), set by load_dma_handles()
        self._cool_handle = (0, int64(0), 0, False)
        self._pump_handle = (0, int64(0), 0, False)
        self.set_calibration({})

    # ---- host side -------------------------------------------------------------------------

    def calibration_keys(self):
        """Dataset keys this node reads, mapped to their defaults."""
        keys = {self.calibration_prefix + "." + k: v for k, v in DEFAULT_CALIBRATION.items()}
        keys["calib.readout.threshold_" + self.label] = DEFAULT_THRESHOLD
        keys["calib.readout.error_" + self.label] = DEFAULT_READOUT_ERROR
        # the readout error's standard error (None: not stored by a calibration)
        keys["calib.readout.error_sigma_" + self.label] = None
        return keys

    def load_calibration(self, env):
        """Read this node's calibration datasets through ``env.get_dataset`` (an experiment, on the
        host, before the kernel starts). Missing datasets fall back to the defaults."""
        values = {}
        for key, default in self.calibration_keys().items():
            values[key] = env.get_dataset(key, default)
        self.set_calibration(values)

    def set_calibration(self, values):
        """Set calibrations from a ``{dataset key: value}`` dict (defaults for missing keys)."""
        cal = dict(self.calibration_keys())
        cal.update(values)
        p = self.calibration_prefix + "."
        s2mu = self.core.seconds_to_mu
        self.qubit_frequency = float(cal[p + "qubit.frequency"])
        self.qubit_amplitude = float(cal[p + "qubit.amplitude"])
        self.pi_time = float(cal[p + "qubit.pi_time"])
        if self.pi_time <= 0:
            raise ValueError("pi time must be positive")
        self.pi_time_mu = int64(s2mu(self.pi_time))
        self.mu_per_rad = float(self.pi_time_mu) / pi
        self.rabi_frequency = 1.0 / (2.0 * self.pi_time)  # Hz
        self.t_cool_mu = int64(s2mu(float(cal[p + "cool.duration"])))
        self.t_pump_mu = int64(s2mu(float(cal[p + "pump.duration"])))
        self.t_excite_mu = int64(max(16, s2mu(float(cal[p + "excite.duration"]))))
        self.t_detect_mu = int64(s2mu(float(cal[p + "detect.duration"])))
        self.threshold = int32(cal["calib.readout.threshold_" + self.label])
        self.readout_error = float(cal["calib.readout.error_" + self.label])
        sigma = cal["calib.readout.error_sigma_" + self.label]
        self.readout_error_sigma = None if sigma is None else float(sigma)

    def readout_datasets(self):
        """``{dataset key: value}`` of the readout this node's bits were taken with, for an
        experiment's results: threshold, error and (if its calibration stored it) the error's
        standard error, which the analysis propagates into SPAM-corrected intervals."""
        x = self.label
        out = {
            "readout.threshold_" + x: int(self.threshold),
            "readout.error_" + x: float(self.readout_error),
        }
        if self.readout_error_sigma is not None:
            out["readout.error_sigma_" + x] = float(self.readout_error_sigma)
        return out

    # ---- beams -----------------------------------------------------------------------------

    @kernel
    def idle(self) -> TNone:
        """All of this node's beams off: six events at the cursor, then advances the timeline cursor
        by one coarse cycle (8 mu), so that back-to-back calls never put more events on one
        timestamp than the 8 SED lanes can take (a ninth would be a sequence error)."""
        self.cool_sw.off()
        self.repump_sw.off()
        self.pump_sw.off()
        self.excite_ttl.off()
        self.detect_sw.off()
        self.qubit_sw.off()
        delay_mu(8)

    @kernel
    def cool_mu(self, duration_mu: TInt64) -> TNone:
        """Doppler cooling with cooling and repump beams for ``duration_mu`` (mu).

        Advances the timeline cursor by ``duration_mu``."""
        self.cool_sw.on()
        self.repump_sw.on()
        delay_mu(duration_mu)
        self.cool_sw.off()
        self.repump_sw.off()

    @kernel
    def recool_mu(self, duration_mu: TInt64) -> TNone:
        """Re-cooling between runs: :meth:`cool_mu` for ``duration_mu``; with 0 (a lab with
        continuous, e.g. sympathetic, cooling) only the cooling beam's switch set off again (a
        no-op on the light that keeps a DMA trace of it non-empty) and one coarse cycle.

        Advances the timeline cursor by ``duration_mu``, at least 8 mu."""
        if duration_mu > 0:
            self.cool_mu(duration_mu)
        else:
            self.cool_sw.off()
            delay_mu(8)

    @kernel
    def cool(self, duration: TFloat) -> TNone:
        """Doppler cooling for ``duration`` (s). Advances the timeline cursor by ``duration``."""
        self.cool_mu(self.core.seconds_to_mu(duration))

    @kernel
    def pump(self) -> TNone:
        """Optical pumping into the photon-generation state: the recorded pump pulse (pump +
        repump for the calibrated ``pump.duration``), played by DMA handle.

        Needs :meth:`load_dma_handles` first. Advances the cursor by the pump duration."""
        self.core_dma.playback_handle(self._pump_handle)

    @kernel
    def cool_dma(self) -> TNone:
        """The recorded default Doppler cooling (``cool.duration``), played by DMA handle.

        Needs :meth:`load_dma_handles` first. Advances the cursor by the cooling duration."""
        self.core_dma.playback_handle(self._cool_handle)

    @kernel
    def excite(self) -> TNone:
        """Fire the excitation pulse (``excite.duration``, at least 16 ns) that makes the ion emit
        one photon. Advances the timeline cursor by the pulse length."""
        self.excite_ttl.pulse_mu(self.t_excite_mu)

    @kernel
    def record_dma(self) -> TNone:
        """Record this node's fixed pulse trains (pump pulse, default cooling) to DMA.

        Invalidates every DMA handle in the system; call :meth:`load_dma_handles` of every node
        afterwards. Does not move the cursor (recording uses a private timeline)."""
        with self.core_dma.record(self.dma_pump_name):
            self.pump_sw.on()
            self.repump_sw.on()
            delay_mu(self.t_pump_mu)
            self.pump_sw.off()
            self.repump_sw.off()
        with self.core_dma.record(self.dma_cool_name):
            self.cool_mu(self.t_cool_mu)

    @kernel
    def load_dma_handles(self) -> TNone:
        """Fetch the handles of the recorded traces. Does not move the cursor."""
        self._pump_handle = self.core_dma.get_handle(self.dma_pump_name)
        self._cool_handle = self.core_dma.get_handle(self.dma_cool_name)

    # ---- qubit -----------------------------------------------------------------------------

    @kernel
    def rotate(self, theta: TFloat, phi: TFloat) -> TNone:
        """Rotate the qubit by ``theta`` (rad) about the equatorial axis at phase ``phi`` (turns).

        Sets the qubit AD9910 (calibrated frequency and amplitude, phase ``phi``, continuous phase
        mode), then opens the RF switch for ``theta/pi`` pi times. Advances the cursor by the DDS
        update (1256 mu on Kasli) plus the pulse length."""
        self.qubit_dds.set(self.qubit_frequency, phi, self.qubit_amplitude)
        if theta > 0.0:
            self.qubit_sw.pulse_mu(int64(theta * self.mu_per_rad + 0.5))

    @kernel
    def set_qubit_phase(self, phi: TFloat) -> TNone:
        """Program the qubit drive phase ``phi`` (turns) without pulsing. Advances the cursor by
        the DDS update (1256 mu)."""
        self.qubit_dds.set(self.qubit_frequency, phi, self.qubit_amplitude)

    @kernel
    def rotate_prepared(self, theta: TFloat) -> TNone:
        """Pulse the qubit drive for ``theta`` (rad) with the phase already programmed
        (:meth:`set_qubit_phase`). Advances the cursor by the pulse length."""
        if theta > 0.0:
            self.qubit_sw.pulse_mu(int64(theta * self.mu_per_rad + 0.5))

    @kernel
    def reset_dds_io(self) -> TNone:
        """Return the serial ports of the qubit drive's Urukul (its four AD9910s) to "expecting
        an instruction" (``CPLD.io_rst``: CFG with IO_RST set, then cleared; registers keep
        their values). Call it after catching an RTIOUnderflow that may have cut an AD9910 write
        short, before writing again: the chip would otherwise read the next write's instruction
        byte and data shifted (AD9910 serial cycles end by their length, not by CS).

        Advances the cursor by two CFG writes (2 x 896 mu at proto_rev 9); needs that much
        slack (call it after ``core.break_realtime``)."""
        self.qubit_dds.cpld.io_rst()

    # ---- readout ---------------------------------------------------------------------------

    @kernel
    def detect_gate_mu(self, duration_mu: TInt64) -> TInt64:
        """Detection beam on and PMT gate open (rising edges) for ``duration_mu`` (mu).

        Advances the cursor by ``duration_mu``; returns the gate end (mu) for
        :meth:`fetch_counts`. Use this with ``parallel`` to read both nodes at once."""
        self.detect_sw.on()
        t_end = self.pmt.gate_rising_mu(duration_mu)
        self.detect_sw.off()
        return t_end

    @kernel
    def fetch_counts(self, t_end_mu: TInt64) -> TInt32:
        """PMT counts of the gate ending at ``t_end_mu``. Does not move the cursor; blocks until
        the RTIO counter passes ``t_end_mu`` + gate latency (consumes all slack)."""
        return self.pmt.count(t_end_mu)

    @kernel
    def detect(self, duration: TFloat) -> TInt32:
        """Detection for ``duration`` (s); returns PMT counts.

        Advances the cursor by ``duration`` and blocks until the gate has closed (consumes all
        slack: add a delay before further outputs)."""
        t_end = self.detect_gate_mu(self.core.seconds_to_mu(duration))
        return self.fetch_counts(t_end)

    @kernel
    def threshold_counts(self, counts: TInt32) -> TInt32:
        """Readout bit of ``counts``: 1 (bright, |1>) if ``counts`` > calibrated threshold."""
        if counts > self.threshold:
            return 1
        return 0

    @kernel
    def readout(self) -> TInt32:
        """State detection for the calibrated ``detect.duration``; returns 1 for bright (|1>).

        Advances the cursor by the detection time and consumes all slack."""
        t_end = self.detect_gate_mu(self.t_detect_mu)
        return self.threshold_counts(self.fetch_counts(t_end))
