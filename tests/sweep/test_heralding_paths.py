# SPDX-License-Identifier: LGPL-3.0-or-later
"""``--path cpu`` for ``ionlink-sim demo`` and ``sweep``: labs without the entangler gateware run
CPU heralding (``repository/remote_entanglement_cpu.py``) and get the CPU loop's budget beside
it, with that experiment's arguments (``attempts_per_cool``, no ``run_duration``)."""

from dataclasses import replace

import h5py
import pytest

from sim.budget_arguments import COUNTERPARTS, CPU_COUNTERPARTS
from sim.cli import main
from sim.experiment_arguments import declared_arguments
from sim.heralding_path import PATHS
from sim.lab_resolution import resolve_lab
from sim.physics.budget import budget_dict
from sim.physics.cpu_budget import CPU_ARGUMENTS, cpu_budget_dict


@pytest.mark.parametrize("name", sorted(PATHS))
def test_each_paths_registry_classifies_every_argument_its_experiment_declares(name):
    path = PATHS[name]
    assert set(path.counterparts) == set(declared_arguments(path.experiment_file))
    assert path.counterparts is (CPU_COUNTERPARTS if name == "cpu" else COUNTERPARTS)


def _points(path):
    with h5py.File(path) as f:
        return f["sweep/points"][()]


def test_a_cpu_budget_only_sweep_gives_the_cpu_loops_budget_of_each_point(tmp_path):
    """Swept ``attempts_per_cool`` (an argument of the CPU experiment alone): each point's budget is
    the CPU budget of that re-cooling and the sweep's 60 heralds per setting (``ionlink-sim budget
    --path cpu --attempts-per-cool N --heralds-per-setting 60``), not the gateware's (≈ 3× the rate
    at ``oxford2020``)."""
    out = tmp_path / "s.h5"
    argv = ["sweep", "--path", "cpu", "--budget-only", "--mode", "z", "--workers", "0"]
    assert main([*argv, "--arg", "attempts_per_cool=20,400", "-o", str(out), "-q"]) == 0
    lab = resolve_lab("oxford2020", None)
    rows = _points(out)
    for row in rows:
        n = int(row["arg.attempts_per_cool"])
        arguments = replace(CPU_ARGUMENTS, attempts_per_cool=n, heralds_per_setting=60)
        expected = cpu_budget_dict(lab, "z", arguments)
        assert row["budget_rate_hz"] == pytest.approx(expected["rate_hz"], rel=1e-12)
        assert row["budget_p_success"] == pytest.approx(expected["p_success"], rel=1e-12)
    assert rows["budget_rate_hz"][0] < 0.9 * rows["budget_rate_hz"][1]  # cooling every 20
    assert rows["budget_rate_hz"][1] < 0.5 * budget_dict(lab, "z")["rate_hz"]


@pytest.mark.parametrize(
    "path, arg, experiment",
    [
        ("cpu", "run_duration=100e-6", "remote_entanglement_cpu.py, --path cpu"),
        ("gateware", "attempts_per_cool=100", "remote_entanglement.py, --path gateware"),
    ],
)
def test_an_argument_of_the_other_paths_experiment_is_refused(
    tmp_path, capsys, path, arg, experiment
):
    out = tmp_path / "s.h5"
    argv = ["sweep", "--path", path, "--arg", arg, "--budget-only", "--workers", "0"]
    assert main([*argv, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and experiment in err and "has no argument" in err, err
    assert not out.exists()


@pytest.mark.slow
def test_a_cpu_sweep_runs_cpu_heralding_and_agrees_with_its_budget(tmp_path):
    """Two CPU points (re-cooling every 50 or 191 attempts), 100 Z heralds each with the lab's
    calibrations: each point's results file is the CPU experiment's, and its measured herald rate
    agrees with the point's CPU budget within 3σ (Poisson, σ = R/√100)."""
    out = tmp_path / "s.h5"
    argv = ["sweep", "--path", "cpu", "--arg", "attempts_per_cool=50,191", "--mode", "z"]
    argv += ["--heralds", "100", "--calibration", "lab", "--workers", "0", "--seed", "3"]
    assert main([*argv, "-o", str(out), "-q"]) == 0
    for row in _points(out):
        assert row["heralds"] == 100
        assert row["results_file"].decode().endswith("-RemoteEntanglementCPU.h5")
        rate, budget = row["rate_hz"], row["budget_rate_hz"]
        assert abs(rate - budget) < 3 * rate / 100**0.5, (rate, budget)


def test_the_cpu_demo_runs_cpu_heralding_and_prints_the_cpu_budget(tmp_path, monkeypatch, capsys):
    """``ionlink-sim demo --path cpu``: the chain ends with the CPU experiment, and the budget
    printed beside it is the CPU loop's, with the command that gives it."""
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--path", "cpu", "--heralds", "4", "-q"]) == 0
    out = capsys.readouterr().out
    assert "-RemoteEntanglementCPU.h5" in out
    assert "(ionlink-sim budget oxford2020 --path cpu --detection-gate " in out
    assert "CPU heralding (repository/remote_entanglement_cpu.py" in out
