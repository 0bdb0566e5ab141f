# SPDX-License-Identifier: LGPL-3.0-or-later
"""The lab's design values that a real lab keeps as persistent datasets, from its description.

A lab decides its entanglement loop (cycle, run, cooling, pump window, gate length) and knows its
qubit splitting from the magnetic-field calibration; on hardware these live in the dataset store
as ``calib.link.*``. A simulation session stores them from the lab description (``[loop]``, the
species) when it starts, so that the experiments read the simulated lab's loop the way they read a
real lab's: :func:`drivers.link_timing.loop_datasets` defines the mapping, also used by the budget.
"""

from __future__ import annotations

from typing import Any

from drivers.link_timing import loop_datasets

__all__ = ["MEMORY_AMPLITUDE", "lab_datasets", "seed_lab_datasets"]

MEMORY_AMPLITUDE = 0.5  # AD9910 full-scale fraction of the memory drive's calibrated pulses


def lab_datasets(lab: Any) -> dict[str, float]:
    """``{key: value}`` of the ``calib.link.*`` datasets of ``lab`` (a ``sim.physics.lab.Lab``)."""
    lp = lab.loop
    values = loop_datasets(
        lp.cycle_s,
        lp.run_s,
        lp.cool_s,
        lp.pump_s,
        lp.gate_start_s,
        lp.gate_length_s,
        max(n.readout.duration_s for n in lab.nodes),
    )
    # frequency of the photon's polarisation phase (≈ qubit splitting): the analysis corrects
    # the detection-time phase of the parity scan with it
    values["calib.link.detection_phase_hz"] = float(lab.nodes[0].species.qubit_splitting_hz)
    # memory ions: the drive on resonance at half amplitude, and the entangling gate's length
    for node in lab.nodes:
        m, p = node.memory, f"calib.node_{node.name}."
        if m is not None and m.drive is not None and m.drive.rabi_frequency_hz > 0:
            values[p + "memory.frequency"] = float(m.drive.resonance_hz)
            values[p + "memory.amplitude"] = MEMORY_AMPLITUDE
            values[p + "memory.pi_time"] = 1.0 / (2 * m.drive.rabi_frequency_hz * MEMORY_AMPLITUDE)
        if node.gate is not None:
            values[p + "gate.duration"] = float(node.gate.duration_s)
    # the DRTIO link's one-way latency, which a two-chassis lab measures (used by experiments
    # only when a node is on a satellite)
    values["calib.link.drtio_latency_s"] = float(lab.drtio.latency_s)
    return values


def seed_lab_datasets(dataset_db: Any, lab: Any) -> None:
    """Store :func:`lab_datasets` as persistent datasets in ``dataset_db`` (overwriting: the lab
    description is the simulated lab's design)."""
    for key, value in lab_datasets(lab).items():
        dataset_db.set(key, value, persist=True)
