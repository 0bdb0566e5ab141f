# SPDX-License-Identifier: LGPL-3.0-or-later
"""Helpers for running repository experiments in the simulator (tests and benchmarks)."""

import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPO = ROOT / "repository"


def lab_calibration(lab):
    """Persistent calibration datasets a lab would have after its calibration runs, from the lab
    description (qubit drive and readout), so that one experiment can be tested in isolation."""
    cal = {}
    for node in lab.nodes:
        x = node.name
        amp = 0.5
        cal["calib.node_{}.qubit.frequency".format(x)] = float(node.qubit.resonance_hz)
        cal["calib.node_{}.qubit.amplitude".format(x)] = amp
        cal["calib.node_{}.qubit.pi_time".format(x)] = 1.0 / (
            2 * node.qubit.rabi_frequency_hz * amp
        )
        cal["calib.node_{}.detect.duration".format(x)] = float(node.readout.duration_s)
        mb = node.readout.bright_rate_hz * node.readout.duration_s
        md = node.readout.dark_rate_hz * node.readout.duration_s
        # Poisson crossing point as threshold (count > t => bright)
        t = int(math.floor((mb - md) / math.log(mb / md))) if md > 0 else 0
        cal["calib.readout.threshold_" + x] = max(0, t)
        cal["calib.readout.error_" + x] = 0.01
    cal["calib.link.detection_phase_hz"] = float(lab.nodes[0].species.qubit_splitting_hz)
    delay = lab.nodes[0].excite.delay_s + lab.nodes[0].optics.photon_delay_s
    cal["calib.photon.gate_start_mu"] = int(round(delay * 1e9)) + int(
        round(lab.loop.gate_start_s * 1e9)
    )
    cal["calib.photon.gate_stop_mu"] = cal["calib.photon.gate_start_mu"] + int(
        round(lab.loop.gate_length_s * 1e9)
    )
    return cal


def simulation(tmp_path, lab="oxford2020", seed=1, calibration=True, startup=True):
    """A :class:`sim.runner.Simulation` on the repository's device_db with ``lab``, an in-memory
    dataset store seeded with the lab's calibrations, and no results files. With ``startup`` the
    Startup experiment has run (as after a power-up in the lab: the Urukuls need their init)."""
    from sim.runner import Simulation, resolve_lab

    lab_obj = resolve_lab(lab, None)
    s = Simulation(
        ROOT / "device_db.py",
        seed=seed,
        lab=lab_obj,
        results_dir=tmp_path / "results",
        dataset_db=False,
        write_results=False,
    )
    if calibration:
        for key, value in lab_calibration(lab_obj).items():
            s.dataset_db.set(key, value, persist=True)
    if startup:
        run(s, "startup")
    return s


def run(sim, name, **arguments):
    """Run ``repository/<name>.py``; assert it succeeded; return its datasets."""
    result = sim.run(REPO / (name + ".py"), None, arguments)
    assert result.exit_code == 0, result.error_message
    return result.datasets
