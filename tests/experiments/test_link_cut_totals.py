# SPDX-License-Identifier: LGPL-3.0-or-later
"""A remote-entanglement kernel that ends by an exception (here a DRTIO link lost mid-run) sends
no totals: its attempts and lab time are counted up to its last recorded herald, so the heralds
it took analyse as a run stopped early (the file held totals of 0 and the analysis refused it:
``totals.attempts (0) < totals.heralds (173)``). The remote gate's kernel likewise, to its last
shot."""

import numpy as np
import pytest

from analysis import fidelity_summary, load
from analysis.gate_report import gate_summary
from sim.lab_resolution import resolve_lab

from .simhelpers import REPO, simulation


@pytest.mark.parametrize("name", ["remote_entanglement", "remote_entanglement_cpu"])
def test_a_kernel_cut_by_an_exception_counts_to_its_last_herald(tmp_path, name):
    lab = resolve_lab("oxford2020", None, ["drtio.outages=[[0.6, 0.9]]"])
    sim = simulation(tmp_path, lab=lab, seed=3, device_db="device_db_drtio.py")
    sim.write_results = True  # (the helper's simulations write none)
    with sim:
        result = sim.run(REPO / (name + ".py"), None, {"mode": "z", "heralds_per_setting": 400})
    assert result.exit_code == 1 and "Unreachable" in result.error_message
    d = result.datasets
    n = int(d["totals.heralds"])
    attempts = np.asarray(d["herald.attempts"])
    t_lab = np.asarray(d["herald.t_lab_mu"])
    assert 0 < n < 400 and d["totals.stop_reason"] == "exception"
    assert d["totals.counted_to_last_herald"]
    # every attempt up to the last herald, and the lab time from the loop's start to it
    assert d["totals.attempts"] == attempts.sum()
    # (the loop started before the first herald's attempts, at most ≈ 3.5 µs each on the CPU)
    lab_mu = d["totals.lab_time_s"] * 1e9
    assert t_lab[-1] - t_lab[0] < lab_mu <= t_lab[-1] - t_lab[0] + attempts[0] * 5000 + 1e6
    assert 0.2 < d["totals.duty_cycle"] <= 1
    rep = fidelity_summary([str(result.results_file)], n_boot=20)
    assert rep.stats.heralds == n and rep.stats.attempts == attempts.sum()
    (note,) = [x for x in rep.notes if "stopped early" in x]
    assert f"stopped early (exception) after {n} of 400 heralds" in note
    assert "counted to its last herald" in note
    assert load(str(result.results_file)).values["totals.counted_to_last_herald"]


def test_a_remote_gate_kernel_cut_by_an_exception_counts_to_its_last_shot(tmp_path):
    """The remote gate's kernel announces its loop (``loop_started``) as the link experiments'
    do: cut by a lost DRTIO link, its file held ``totals.attempts`` 0 and ``totals.lab_time_s``
    0.0 beside the shots it took; now they are counted to its last shot, and the analysis says
    so."""
    lab = resolve_lab("oxford2025", None, ["drtio.outages=[[1.0, 1.5]]"])
    sim = simulation(tmp_path, lab=lab, seed=3, device_db="device_db_drtio.py")
    sim.write_results = True
    args = {"analysis": "truth_table", "heralds_per_setting": 100}
    with sim:
        result = sim.run(REPO / "remote_gate.py", None, args)
    assert result.exit_code == 1 and "Unreachable" in result.error_message
    d = result.datasets
    n = int(d["totals.shots"])
    attempts = np.asarray(d["gate.attempts"])
    t_lab = np.asarray(d["gate.t_lab_mu"])
    assert 0 < n < 400 and d["totals.stop_reason"] == "exception"
    assert d["totals.counted_to_last_herald"]
    assert d["totals.attempts"] == attempts.sum() > 0
    # from the loop's start (before the first shot's cooling, reset and attempts) to the last
    # shot's end
    lab_mu = d["totals.lab_time_s"] * 1e9
    assert t_lab[-1] - t_lab[0] < lab_mu < t_lab[-1] - t_lab[0] + (t_lab[1] - t_lab[0]) * 5
    rep = gate_summary(result.results_file, n_boot=20)
    (note,) = [x for x in rep.notes if "stopped early" in x]
    assert f"stopped early (exception) after {n} of 400 shots" in note
    assert "counted to its last shot" in note
