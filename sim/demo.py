# SPDX-License-Identifier: LGPL-3.0-or-later
"""The demo behind ``make demo``: a simulated remote-entanglement run, its results file and report.

One simulation session, as a lab day would go: Startup (Urukul and TTL initialisation), a readout
calibration (thresholds stored as persistent datasets), the single-photon calibration of the
detection window, then remote entanglement with gateware
heralding at the ``oxford2020`` preset in parity-scan mode. The analysis package then writes its
report next to the results file and prints the fidelity summary beside the budget's prediction.
"""
from __future__ import annotations

import logging
from pathlib import Path

from sim.runner import InputError, RunResult, Simulation

__all__ = ["run_demo"]

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
LAB = "oxford2020"


def _check(result: RunResult) -> RunResult:
    if result.exit_code != 0:
        raise InputError("demo step {} failed: {}".format(result.class_name,
                                                          result.error_message or result.status))
    return result


def run_demo(*, seed: int = 1, results_dir: str | Path = "results", heralds_per_setting: int = 60,
             progress: bool = False) -> int:
    """Run the demo chain; print the fidelity summary and the budget. Returns the exit status."""
    from analysis.cli import main as analyze
    from sim.physics.budget import format_budget
    from sim.physics.lab import load_lab

    repo = ROOT / "repository"
    lab = load_lab(LAB)
    with Simulation(ROOT / "device_db.py", seed=seed, lab=lab, results_dir=results_dir,
                    progress=progress) as simulation:
        # what the lab knows from its magnetic-field calibration: the detection-time phase
        # frequency (≈ qubit splitting) that the analysis uses to correct the parity scan
        simulation.dataset_db.set("calib.link.detection_phase_hz",
                                  float(lab.nodes[0].species.qubit_splitting_hz), persist=True)
        _check(simulation.run(repo / "startup.py"))
        _check(simulation.run(repo / "readout_calibration.py", arguments={"shots": 200}))
        # the detection window: 2 lifetimes from the photons' onset (the preset's ~15 ns gate)
        _check(simulation.run(repo / "single_photon.py", arguments={"attempts": 3000,
                                                                     "gate_taus": 2.0}))
        result = _check(simulation.run(repo / "remote_entanglement.py", arguments={
            "mode": "parity", "heralds_per_setting": heralds_per_setting}))
    path = str(result.results_file)
    print("results file: {}".format(path))
    status = analyze(["report", path, "--no-progress"])
    if status == 0:
        status = analyze(["fidelity", path, "--no-progress"])
    print()
    print("prediction of the error budget (ionlink-sim budget {}):".format(LAB))
    print(format_budget(lab))
    return status
