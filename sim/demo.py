# SPDX-License-Identifier: LGPL-3.0-or-later
"""The demo behind ``make demo``: a simulated remote-entanglement run, its results file and report.

One simulation session, as a lab day would go: Startup (Urukul and TTL initialisation), a readout
calibration (thresholds stored as persistent datasets), the single-photon calibration of the
detection window, then remote entanglement in parity-scan mode with entangler-gateware heralding
(or, ``--path cpu``, CPU heralding: ``remote_entanglement_cpu.py``), at the ``oxford2020`` preset or
any other lab (preset name or TOML path). The session stores the lab's loop design as
``calib.link.*`` datasets (``sim.lab_datasets``), which the experiments read. The analysis package
then writes its report next to the results file and prints the fidelity summary beside the budget's
prediction for the detection gate the run played (the calibrated one).
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from sim.runner import RunResult, Simulation
from sim.termination import exit_status

__all__ = ["DemoStepFailed", "run_demo"]

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
LAB = "oxford2020"


class DemoStepFailed(Exception):
    """An experiment of the demo chain did not succeed, or a termination signal stopped the chain
    during or after it (its results file is written)."""

    def __init__(self, result: RunResult):
        #: stopped by a termination signal, not failed
        self.terminated = result.status == "terminated" or result.unseen_signal is not None
        self.exit_code = result.exit_code
        if result.unseen_signal is not None:  # the run is complete; the chain stops after it
            self.exit_code = exit_status(result.unseen_signal)
            message = "demo stopped after {} ({} came after its last termination check)".format(
                result.class_name, signal.Signals(result.unseen_signal).name
            )
        elif self.terminated:
            message = "demo stopped during {} (terminated)".format(result.class_name)
        else:
            message = "demo step {} failed: {}".format(
                result.class_name, result.error_message or result.status
            )
        if result.results_file is not None and self.terminated:
            message += _results_note(result.results_file)
        elif result.results_file is not None:
            message += " (results: {})".format(result.results_file)
        super().__init__(message)


def _results_note(path: str | Path, reported: bool = False) -> str:
    """Where a stopped demo's results file is (``reported``: its report too; else the command
    that makes it)."""
    if reported:
        return ": results in {}, its report beside it".format(path)
    return ": results in {} (its report: ionlink-analyze report {})".format(path, path)


def _stopped(when: str, exc: BaseException, note: str) -> int:
    """One line: the demo stopped ``when`` by the signal of ``exc`` (a ``KeyboardInterrupt``;
    Ctrl-C if it says none), then ``note``; the exit status of that signal."""
    signum = getattr(exc, "signum", signal.SIGINT)
    sys.stderr.write(
        "ionlink-sim: demo stopped {} ({}){}\n".format(when, signal.Signals(signum).name, note)
    )
    return exit_status(signum)


def _check(result: RunResult) -> RunResult:
    if result.exit_code != 0 or result.unseen_signal is not None:
        raise DemoStepFailed(result)
    return result


def run_demo(
    *,
    seed: int = 1,
    results_dir: str | Path = "results",
    work_dir: str | Path | None = None,
    heralds_per_setting: int = 60,
    progress: bool = False,
    lab: str | Path = LAB,
    device_db: str | Path | None = None,
    lab_overrides: Sequence[str] = (),
    path: str = "gateware",
) -> int:
    """Run the demo chain at ``lab`` (preset name or TOML path, with ``--set`` ``lab_overrides``
    applied) on ``device_db`` (default: the repository's one-chassis ``device_db.py``), remote
    entanglement by heralding ``path`` (:data:`sim.heralding_path.PATHS`: ``gateware`` or ``cpu``);
    print the fidelity summary and the path's budget for the gate the run played (of two chassis for
    a device database with a satellite). ``results_dir``, ``work_dir``: as :class:`Simulation`'s. A
    termination signal ends the chain where it is (the running step's results file written, no
    report or budget after it: one line says where the file is; between two steps, where the last
    one written is). Returns the exit status."""
    from analysis.cli import main as analyze
    from sim.budget_arguments import played_gate
    from sim.heralding_path import heralding_path
    from sim.lab_resolution import resolve_lab
    from sim.topology import check_link_overrides, is_two_chassis

    ddb = Path(device_db) if device_db is not None else ROOT / "device_db.py"
    check_link_overrides(lab_overrides, ddb)
    two = is_two_chassis(ddb)
    herald = heralding_path(path)

    repo = ROOT / "repository"
    lab_obj = resolve_lab(str(lab), None, lab_overrides)
    simulation: Simulation | None = None
    try:
        with Simulation(
            ddb,
            seed=seed,
            lab=lab_obj,
            results_dir=results_dir,
            work_dir=work_dir,
            progress=progress,
        ) as simulation:
            _check(simulation.run(repo / "startup.py"))
            _check(simulation.run(repo / "readout_calibration.py", arguments={"shots": 200}))
            # the detection window: from the photons' rising edge for the lab's gate length
            _check(simulation.run(repo / "single_photon.py", arguments={"attempts": 3000}))
            result = _check(
                simulation.run(
                    herald.experiment_file,
                    arguments={"mode": "parity", "heralds_per_setting": heralds_per_setting},
                )
            )
    except DemoStepFailed as exc:
        sys.stderr.write("ionlink-sim: {}{}\n".format("" if exc.terminated else "error: ", exc))
        return exc.exit_code
    except KeyboardInterrupt as exc:  # between two steps (a step's run handles one in it)
        last = simulation.last_results_file if simulation is not None else None
        if last is None:
            raise  # no results file yet: "interrupted"
        return _stopped("between two steps", exc, _results_note(last))
    path = str(result.results_file)
    print("results file: {}".format(path))
    stage = "the report"
    try:
        status = analyze(
            ["report", path, "--no-progress"], prog="ionlink-sim demo", catch_interrupt=False
        )
        stage = "the fidelity summary"
        if status == 0:
            status = analyze(
                ["fidelity", path, "--no-progress"], prog="ionlink-sim demo", catch_interrupt=False
            )
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM: the demo ends here, without the budget
        return _stopped("during " + stage, exc, _results_note(path, stage != "the report"))
    print()
    command = " ".join(
        [
            str(lab),
            *("--set " + o for o in lab_overrides),
            *(["--device-db", str(device_db)] if two else []),
            *(["--path", herald.name] if herald.name != "gateware" else []),
        ]
    )
    gate = played_gate(path)
    if gate is not None:
        command += " --detection-gate {} {}".format(*gate)
    print("prediction of the error budget (ionlink-sim budget {}):".format(command))
    print(herald.format_budget(lab_obj, "parity", two, herald.loop_arguments(gate_mu=gate)))
    return status
