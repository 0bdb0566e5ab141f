# SPDX-License-Identifier: LGPL-3.0-or-later
"""Termination of repository/remote_gate.py: a signal during the shots is honoured within
``check_every`` entangler runs; the shots taken are written (stop reason ``terminated``, exit
status 128 + the signal) and analysable."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from analysis.gate_report import gate_summary
from sim.experiment_file import load_experiment_module

from .simhelpers import REPO, simulation
from .test_remote_gate import ideal_fast

#: the shot whose record sends the signal, and the pause-check interval (entangler runs) the
#: run is given: at ideal_fast a shot heralds in its first run, one run per shot (checks after
#: shots 20, 40, …)
SIGNAL_AT_SHOT = 25
CHECK_EVERY = 20


def signalled_gate(signum: int) -> type:
    """RemoteGate (a fresh copy of repository/remote_gate.py) that sends this process
    ``signum`` when shot ``SIGNAL_AT_SHOT`` has been recorded, as a Ctrl-C or ``kill`` would."""
    base = load_experiment_module(REPO / "remote_gate.py").RemoteGate

    class SignalledGate(base):  # type: ignore[misc, valid-type]
        def set_dataset(self, key, value, **kwargs):
            super().set_dataset(key, value, **kwargs)
            if key == "ionlink.progress" and self.recorded() == SIGNAL_AT_SHOT:
                os.kill(os.getpid(), signum)

    return SignalledGate


def _gate_run(tmp_path, experiment, arguments: dict, lab=None):
    """Startup, then ``experiment`` with ``arguments`` at ``lab`` (default :func:`ideal_fast`),
    calibrated, seed 4: the remote gate's run result."""
    lab = ideal_fast() if lab is None else lab
    with simulation(tmp_path, lab, seed=4, write_results=True) as sim:
        return sim.run(experiment, None, arguments)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_termination_signal_stops_the_gate_within_check_every_runs(tmp_path, signum):
    """A termination signal at shot 25 of 288 (process tomography, 2 shots per setting) is
    seen by a pause check between shots at most ``check_every`` = 20 runs later (one run per
    shot here, so by shot 45; the old kernel checked only inside a wait that had gone 20 runs
    without a herald, so it ran all 288, and checks every 40 runs would stop at 60): the run
    ends terminated, exit status 128 + the signal, with the shots taken recorded;
    ionlink-analyze gate reads them and says the run stopped early (the tomography lacks
    settings: no process fidelity, noted)."""
    r = _gate_run(
        tmp_path,
        signalled_gate(signum),
        {"mode": "cz", "heralds_per_setting": 2, "check_every": CHECK_EVERY},
    )
    assert r.exit_code == 128 + signum, r.error_message
    d = r.datasets
    assert d["totals.stop_reason"] == "terminated"
    shots = int(d["totals.shots"])
    assert SIGNAL_AT_SHOT <= shots <= SIGNAL_AT_SHOT + CHECK_EVERY, shots
    assert len(d["gate.setting"]) == shots and d["totals.shots_requested"] == 288
    rep = gate_summary(r.results_file, n_boot=10)
    assert rep.shots == shots and rep.tomography is None
    assert any(f"stopped early (terminated) after {shots} of 288 shots" in n for n in rep.notes)
    assert any("no process fidelity from the shots taken" in n for n in rep.notes)


def test_a_run_stopped_at_once_is_named_so_by_the_analysis(tmp_path):
    """Two SIGINTs at shot 25 (a Ctrl-C, then another): the run stops at once inside its kernel,
    exit 130, before the kernel recorded its totals (stop reason the placeholder ``exception``;
    its attempts and lab time are counted to its last shot, ``totals.counted_to_last_herald``);
    the file names the signal (``ionlink.sim.stopped_at_once``) and ionlink-analyze gate says
    the run was stopped at once, not that it ended by an exception."""
    base = signalled_gate(signal.SIGINT)

    class TwiceSignalled(base):  # type: ignore[misc, valid-type]
        def set_dataset(self, key, value, **kwargs):
            super().set_dataset(key, value, **kwargs)
            if key == "ionlink.progress" and self.recorded() == SIGNAL_AT_SHOT:
                os.kill(os.getpid(), signal.SIGINT)  # (the second, after base's first)

    r = _gate_run(tmp_path, TwiceSignalled, {"mode": "cz", "heralds_per_setting": 2})
    assert r.exit_code == 128 + signal.SIGINT, r.error_message
    d = r.datasets
    assert d["ionlink.sim.stopped_at_once"] == "SIGINT" and d["totals.stop_reason"] == "exception"
    # the kernel's totals never came: counted to its last shot (they were 0 and 0.0)
    assert d["totals.counted_to_last_herald"]
    assert d["totals.attempts"] == np.sum(d["gate.attempts"]) > 0
    assert d["totals.lab_time_s"] * 1e9 > d["gate.t_lab_mu"][-1] - d["gate.t_lab_mu"][0] > 0
    rep = gate_summary(r.results_file, n_boot=10)
    assert any(
        "stopped at once by a second SIGINT" in n and "counted to its last shot" in n
        for n in rep.notes
    ), rep.notes
    assert not any("(exception)" in n for n in rep.notes), rep.notes


def test_shots_that_keep_underflowing_stop_the_gate_with_one_line(tmp_path, monkeypatch):
    """A kernel whose every shot underflows (here: no slack before the corrections, below the
    2.5 µs the argument allows) is checked for a pause before each next shot and stops after
    ``UNDERFLOW_STREAK`` shots in a row (20 here) with one line, stop reason ``underflows`` and
    its results written. Before, such a kernel retried without end and without a pause check
    (``correction_delay=0`` ran 914 s with no shot, and a SIGTERM was never seen)."""
    module = load_experiment_module(REPO / "remote_gate.py")
    monkeypatch.setattr(module, "UNDERFLOW_STREAK", 20)
    checks = []

    class NoSlackGate(module.RemoteGate):  # type: ignore[misc, name-defined]
        def prepare(self):
            super().prepare()
            self.correction_mu = int64(0)

        def should_stop(self, loop_mu):
            checks.append(loop_mu)
            return super().should_stop(loop_mu)

    from numpy import int64

    r = _gate_run(tmp_path, NoSlackGate, {"mode": "cz", "heralds_per_setting": 1})
    assert r.exit_code == 1, r.error_message
    assert r.error_message.startswith("UnderflowStreakError: the last 20 shots in a row"), (
        r.error_message
    )
    d = r.datasets
    assert d["totals.stop_reason"] == "underflows" and int(d["totals.shots"]) == 0
    assert d["totals.underflows_recovered"] >= 20 and r.results_file.exists()
    assert len(checks) >= 19, len(checks)  # a pause check before each shot after an underflow


def test_a_gate_that_cannot_herald_says_what_it_measured(tmp_path):
    """No light collected (collection efficiency 0): the gate stops on its herald timeout with
    one line saying the detectors had no click in the last run, and the causes of no light
    (exit status 1, stop reason ``no_herald``). Without the slack after the click reads and
    the RPCs the entangler's last write underflowed (an uncaught RTIOUnderflow instead)."""
    r = _gate_run(
        tmp_path,
        REPO / "remote_gate.py",
        {"analysis": "truth_table", "heralds_per_setting": 1, "herald_timeout": 20000},
        lab=ideal_fast(**{"nodes__*__optics__collection_efficiency": 0.0}),
    )
    assert r.exit_code == 1, r.error_message
    message = r.error_message
    assert message.startswith("NoHeraldError: no herald in"), message
    assert "no click on any of the 4 detectors in the gate" in message, message
    assert "\n" not in message and r.datasets["totals.stop_reason"] == "no_herald"
