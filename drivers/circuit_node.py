# SPDX-License-Identifier: LGPL-3.0-or-later
"""Logical device for a node's memory (circuit) ion and its mixed-species entangling gate: the
local operations a remote gate composes.

``CircuitNode`` owns no RTIO channel: it drives the memory's switch (the node's qubit DDS feeds
the memory path too, set to the memory's frequency for each memory pulse), the entangling gate's
switch, and through its network node (:class:`drivers.node.IonNode`) the network ion. The
entangling gate is Mølmer–Sørensen-type, exp(−iπ/4 X⊗X) for one full ``gate.duration``; a CNOT
is the gate between π/2 rotations: on the control R(π/2, ¼) before, R(π/2, ½) and R(π/2, ¾) after;
on the target R(π/2, ½) after (R(θ, φ) = rotation by θ about the equatorial axis at phase φ
turns). The memory is read (and reset) through the network ion: a CNOT memory → network ion
(pumped to |0⟩) copies the memory's Z value, read out by fluorescence without touching the
memory (a mid-circuit readout).

Calibrations ``calib.node_X.memory.{frequency, amplitude, pi_time}`` and
``calib.node_X.gate.duration`` are persistent datasets (a simulation session stores them from the
lab); :meth:`load_calibration` reads them on the host.
"""

from math import pi

from artiq.language.core import delay_mu, kernel
from artiq.language.types import TFloat, TInt32, TNone
from numpy import int64

__all__ = ["CircuitNode", "MEMORY_DEFAULTS"]

#: used when a calibration dataset does not exist yet
MEMORY_DEFAULTS = {
    "memory.frequency": 20e6,  # Hz, AD9910 output on the memory resonance
    "memory.amplitude": 0.5,
    "memory.pi_time": 20e-6,  # s, at that amplitude
    "gate.duration": 100e-6,  # s, one full entangling gate
}


class CircuitNode:
    """The memory ion and entangling gate of one node.

    :param network: the node's :class:`~drivers.node.IonNode` device name.
    :param mem_sw: TTL switch of the memory drive. :param gate_sw: TTL switch of the gate beams.
    :param qubit_dds: the AD9910 channel feeding the memory drive (the node's qubit DDS).
    :param calibration_prefix: ``calib.node_<x>``, as the network node's.
    """

    kernel_invariants = {
        "core",
        "network",
        "mem_sw",
        "gate_sw",
        "qubit_dds",
        "frequency",
        "amplitude",
        "mu_per_rad",
        "gate_mu",
    }

    def __init__(
        self, dmgr, network, mem_sw, gate_sw, qubit_dds, calibration_prefix="calib.node_a"
    ):
        self.core = dmgr.get("core")
        self.network = dmgr.get(network)
        self.mem_sw = dmgr.get(mem_sw)
        self.gate_sw = dmgr.get(gate_sw)
        self.qubit_dds = dmgr.get(qubit_dds)
        self.calibration_prefix = calibration_prefix
        self.set_calibration({})

    # ---- host side -------------------------------------------------------------------------

    def calibration_keys(self):
        """Dataset keys this device reads, mapped to their defaults."""
        return {self.calibration_prefix + "." + k: v for k, v in MEMORY_DEFAULTS.items()}

    def load_calibration(self, env):
        """Read the calibrations through ``env.get_dataset`` (host, before the kernel)."""
        self.set_calibration({k: env.get_dataset(k, d) for k, d in self.calibration_keys().items()})

    def set_calibration(self, values):
        """Set calibrations from ``{dataset key: value}`` (defaults for missing keys)."""
        cal = dict(self.calibration_keys())
        cal.update(values)
        p = self.calibration_prefix + "."
        s2mu = self.core.seconds_to_mu
        self.frequency = float(cal[p + "memory.frequency"])
        self.amplitude = float(cal[p + "memory.amplitude"])
        pi_time = float(cal[p + "memory.pi_time"])
        gate = float(cal[p + "gate.duration"])
        if pi_time <= 0 or gate <= 0:
            raise ValueError("memory pi time and gate duration must be positive")
        self.mu_per_rad = float(s2mu(pi_time)) / pi
        self.gate_mu = int64(s2mu(gate))

    # ---- single-qubit operations -----------------------------------------------------------

    @kernel
    def rotate_memory(self, theta: TFloat, phi: TFloat) -> TNone:
        """Rotate the memory qubit by ``theta`` (rad) about the equatorial axis at phase ``phi``
        (turns): sets the qubit DDS to the memory's frequency, amplitude and ``phi``, then pulses
        the memory switch. Advances the cursor by the DDS update (1256 mu) plus the pulse."""
        self.qubit_dds.set(self.frequency, phi, self.amplitude)
        if theta > 0.0:
            self.mem_sw.pulse_mu(int64(theta * self.mu_per_rad + 0.5))

    @kernel
    def z_memory(self) -> TNone:
        """A Z (π phase) on the memory as two π pulses, R(π, 0) then R(π, ¼). Advances the cursor
        by two DDS updates and two π times."""
        self.rotate_memory(pi, 0.0)
        self.rotate_memory(pi, 0.25)

    @kernel
    def rotate_network(self, theta: TFloat, phi: TFloat) -> TNone:
        """:meth:`drivers.node.IonNode.rotate` of the network ion (its frequency, ``phi`` turns).
        Advances the cursor by the DDS update plus the pulse."""
        self.network.rotate(theta, phi)

    # ---- entangling operations -------------------------------------------------------------

    @kernel
    def gate(self) -> TNone:
        """One full entangling gate, exp(−iπ/4 X_net X_mem). Advances the cursor by its
        duration (plus one coarse cycle)."""
        self.gate_sw.pulse_mu(self.gate_mu)
        delay_mu(8)

    @kernel
    def cnot_memory_to_network(self) -> TNone:
        """CNOT with the memory as control, the network ion as target. Advances the cursor by
        four π/2 pulses of the memory, one of the network ion, their DDS updates and one gate."""
        self.rotate_memory(pi / 2, 0.25)
        self.gate()
        self.rotate_memory(pi / 2, 0.5)
        self.rotate_network(pi / 2, 0.5)
        self.rotate_memory(pi / 2, 0.75)

    @kernel
    def cnot_network_to_memory(self) -> TNone:
        """CNOT with the network ion as control, the memory as target. Advances the cursor like
        :meth:`cnot_memory_to_network`."""
        self.rotate_network(pi / 2, 0.25)
        self.gate()
        self.rotate_network(pi / 2, 0.5)
        self.rotate_memory(pi / 2, 0.5)
        self.rotate_network(pi / 2, 0.75)

    @kernel
    def cz_network_memory(self) -> TNone:
        """CZ between network ion and memory: the CNOT network → memory between R(π/2, ¼) and
        R(π/2, ¾) of the memory."""
        self.rotate_memory(pi / 2, 0.25)
        self.cnot_network_to_memory()
        self.rotate_memory(pi / 2, 0.75)

    @kernel
    def transfer_to_memory(self) -> TNone:
        """Network → memory state transfer, the memory in |0⟩ before: CNOT network → memory,
        then CNOT memory → network; the network ion ends in |0⟩, the memory in its state."""
        self.cnot_network_to_memory()
        self.cnot_memory_to_network()

    # ---- readout through the network ion ---------------------------------------------------

    @kernel
    def copy_memory(self) -> TNone:
        """Pump the network ion to |0⟩ (its DMA pump pulse: :meth:`IonNode.pump`), then CNOT
        memory → network: the network ion carries the memory's Z value. Advances the cursor by
        the pump pulse and the CNOT."""
        self.network.pump()
        delay_mu(8)
        self.cnot_memory_to_network()

    @kernel
    def flip_if(self, bit: TInt32) -> TNone:
        """A π pulse on the memory if ``bit`` (the conditional reset after :meth:`copy_memory`
        and a readout). Advances the cursor by a DDS update and, if ``bit``, a π time."""
        if bit != 0:
            self.rotate_memory(pi, 0.0)
