# SPDX-License-Identifier: LGPL-3.0-or-later
"""A sweep's budget is the budget of each point's configuration, experiment arguments included
(``sim.budget_arguments``): arguments with a lab counterpart or a budget input move it, one the
budget does not model leaves the point without a budget (never a number), and ``--arg`` for what
``--mode``/``--heralds`` also set is refused beside them."""

import json
import math

import h5py
import pytest

import sim.sweep_point as sweep_point
from analysis.cli import main as analyze
from sim.budget_arguments import COUNTERPARTS
from sim.cli import main
from sim.experiment_arguments import declared_arguments
from sim.heralding_path import PATHS
from sim.lab_resolution import resolve_lab
from sim.physics.budget import LoopArguments, budget_dict


def test_the_registry_classifies_every_argument_the_experiment_declares():
    assert set(COUNTERPARTS) == set(declared_arguments(PATHS["gateware"].experiment_file))


def _points(path):
    with h5py.File(path) as f:
        return f["sweep/points"][()]


def test_budget_only_sweep_follows_cooling_time_and_slack_margin(tmp_path, capsys):
    """Each point's budget rate is the budget of the lab with ``loop.cool_s`` set to the point's
    ``cooling_time`` and the point's slack margin (as ``ionlink-sim budget --set loop.cool_s``
    gives at the default margin): the four points differ."""
    out = tmp_path / "s.h5"
    argv = ["sweep", "--budget-only", "--mode", "z", "--heralds", "200", "--workers", "0"]
    argv += ["--arg", "cooling_time=5e-6,100e-6", "--arg", "slack_margin=3e-6,10e-6"]
    assert main([*argv, "-o", str(out), "-q"]) == 0
    rows = _points(out)
    for row in rows:
        cool, margin = row["arg.cooling_time"], row["arg.slack_margin"]
        lab = resolve_lab("oxford2020", None, ["loop.cool_s={}".format(cool)])
        expected = budget_dict(lab, "z", False, LoopArguments(slack_margin_s=margin))
        assert row["budget_rate_hz"] == pytest.approx(expected["rate_hz"], rel=1e-12)
    assert len(set(rows["budget_rate_hz"])) == 4
    capsys.readouterr()
    assert main(["budget", "oxford2020", "--mode", "z", "--set", "loop.cool_s=100e-6"]) == 0
    cli = float(capsys.readouterr().out.split("R = 1/(1/R_loop + T_herald) = ")[1].split()[0])
    assert rows["budget_rate_hz"][2] == pytest.approx(cli, abs=0.05)  # 131.6 s⁻¹, not 176.9


def test_an_argument_the_budget_does_not_model_gives_no_budget(tmp_path, capsys, monkeypatch):
    """``--budget-only`` over an argument the budget does not model (here ``excite_time``,
    declared so for the test: every argument is modelled today) is one line and exit 2; a sweep
    that runs the points says so in one note, and its budget columns are NaN with the reason in
    each point's note (the simulation is replaced here: only the budget is under test)."""
    from sim.budget_arguments import Counterpart

    monkeypatch.setitem(COUNTERPARTS, "excite_time", Counterpart(unmodelled="a reason"))
    out = tmp_path / "s.h5"
    argv = ["sweep", "--arg", "excite_time=5.84e-07,6e-07", "--workers", "0", "-o", str(out)]
    assert main([*argv, "--budget-only"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not model argument 'excite_time'" in err
    assert not out.exists()

    monkeypatch.setattr(sweep_point, "_simulate", lambda spec, lab, stop: tmp_path / "none.h5")
    monkeypatch.setattr(sweep_point, "_measure", lambda path, record: None)
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "note: the budget does not model argument 'excite_time'" in err
    rows = _points(out)
    for name in ("budget_p_success", "budget_rate_hz", "budget_fidelity"):
        assert all(math.isnan(v) for v in rows[name])
    assert all(b"no budget: argument excite_time not modelled" in n for n in rows["note"])
    assert analyze(["sweep", str(out), "--json", "--no-plot"]) == 0
    points = json.loads(capsys.readouterr().out)
    assert [p["budget"]["rate_hz"] for p in points] == [None, None]


@pytest.mark.parametrize(
    "given, says",
    [
        (["--arg", "heralds_per_setting=3", "--heralds", "10"], "both set the experiment's"),
        (["--mode", "z", "--arg", "mode=z,parity"], "both set the experiment's"),
        (
            ["--set", "loop.cool_s=50e-6", "--arg", "cooling_time=5e-6,100e-6"],
            "--arg cooling_time and --set loop.cool_s set the same value of the loop",
        ),
    ],
)
def test_arg_beside_the_option_that_sets_the_same_argument_is_refused(
    tmp_path, capsys, given, says
):
    """Two options that set one value: refused, not one silently winning."""
    out = tmp_path / "s.h5"
    assert main(["sweep", *given, "--budget-only", "--workers", "0", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and not out.exists()


def test_swept_mode_and_heralds_per_setting_reach_the_points_and_their_budget(tmp_path):
    """``--arg mode=…`` (text values) and ``--arg heralds_per_setting=…`` are swept like any
    argument: the point's budget is the budget of its mode and heralds per setting."""
    out = tmp_path / "s.h5"
    argv = ["sweep", "--budget-only", "--arg", "mode=z,tomography", "--arg"]
    argv += ["heralds_per_setting=2,200", "--workers", "0", "-o", str(out), "-q"]
    assert main(argv) == 0
    lab = resolve_lab("oxford2020", None)
    rows = _points(out)
    assert len(set(rows["budget_rate_hz"])) == 4
    for row in rows:
        mode = json.loads(row["arg.mode"])
        heralds = int(row["arg.heralds_per_setting"])
        expected = budget_dict(lab, mode, False, LoopArguments(heralds_per_setting=heralds))
        assert row["budget_rate_hz"] == pytest.approx(expected["rate_hz"], rel=1e-12)


@pytest.mark.slow
def test_simulated_rate_agrees_with_the_budget_of_the_points_arguments(tmp_path, capsys):
    """200 µs of cooling (fixed) and a 3 or 30 µs slack margin (swept), 100 Z heralds each: the
    measured herald rate agrees with the point's budget within 3σ (Poisson, σ = R/√100), and
    that budget is below 0.6× the default loop's (cooling halves the duty cycle)."""
    out = tmp_path / "s.h5"
    argv = ["sweep", "--arg", "cooling_time=200e-6", "--arg", "slack_margin=3e-6,30e-6"]
    argv += ["--mode", "z", "--heralds", "100", "--calibration", "lab", "--workers", "0"]
    assert main([*argv, "-o", str(out), "-q"]) == 0
    default = budget_dict(resolve_lab("oxford2020", None), "z")["rate_hz"]
    for row in _points(out):
        assert row["heralds"] == 100
        rate, budget = row["rate_hz"], row["budget_rate_hz"]
        assert abs(rate - budget) < 3 * rate / 100**0.5, (rate, budget)
        assert budget < 0.6 * default


def test_check_every_is_a_budget_input():
    """``check_every`` is modelled (its pause checks' share of each run), not refused."""
    from sim.budget_arguments import budget_inputs

    inputs = budget_inputs({"check_every": 50})
    assert inputs.unmodelled == () and inputs.arguments == {"check_every": 50}


def test_pump_window_and_excitation_are_budget_inputs(tmp_path, capsys):
    """``pump_start``, ``pump_stop`` and ``excite_time`` are modelled (before 2026-12-02 a sweep
    over them had no budget, and ``ionlink-sim budget`` had no option for them): a point's
    budget pumps for pump_stop − pump_start, as ``ionlink-sim budget --pump-stop`` does; the
    excitation's time moves the gate with it and leaves the gateware figures."""
    from sim.budget_arguments import budget_inputs

    inputs = budget_inputs({"pump_start": 30e-9, "pump_stop": 80e-9, "excite_time": 600e-9})
    assert inputs.unmodelled == ()
    assert inputs.arguments == {"pump_start_s": 30e-9, "pump_stop_s": 80e-9, "excite_time_s": 6e-7}
    lab = resolve_lab("oxford2020", None)
    short = budget_dict(lab, "z", False, LoopArguments(**inputs.arguments))
    default = budget_dict(lab, "z")
    assert short["p_success"] < 0.7 * default["p_success"]  # 50 ns of pumping, τ_pump = 50 ns
    assert short["pulses_s"] == pytest.approx([30e-9, 80e-9, 600e-9])
    later = budget_dict(lab, "z", False, LoopArguments(excite_time_s=600e-9))
    assert later["p_success"] == default["p_success"]
    # the same window from its start: 430 ns of pumping at 70-500 ns
    late = budget_dict(lab, "z", False, LoopArguments(pump_start_s=70e-9))
    assert late["pulses_s"][:2] == pytest.approx([70e-9, 500e-9])
    assert late["p_success"] < default["p_success"]
    assert main(["budget", "oxford2020", "--mode", "z", "--pump-stop", "80e-9", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli["p_success"] == pytest.approx(short["p_success"], rel=1e-12)
    argv = ["budget", "oxford2020", "--mode", "z", "--path", "cpu", "--pump-stop", "80e-9"]
    assert main([*argv, "--json"]) == 0
    cpu = json.loads(capsys.readouterr().out)
    assert cpu["p_success"] == pytest.approx(short["p_success"], rel=1e-12)
    assert cpu["gateware"]["rate_hz"] == pytest.approx(short["rate_hz"], rel=1e-12)
    assert main(["budget", "oxford2020", "--pump-stop", "700e-9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "need pump_start < pump_stop <= excite_time" in err, err


@pytest.mark.slow
def test_simulated_p_agrees_with_the_budget_of_a_short_pump(tmp_path):
    """``pump_stop=80e-9`` (50 ns of pumping, the pumping time of oxford2020: P falls to 0.60 of
    the default's), 400 Z heralds, seed 2: the measured P agrees with the point's budget within
    3σ (Poisson on the heralds, σ = P/√400) and is 7σ from the default pump's budget. Measured
    on 2026-12-02 with 1000 heralds: 1.385e-4 [1.300, 1.473] against 1.319e-4 (default pump:
    2.266e-4 against 2.198e-4)."""
    out = tmp_path / "s.h5"
    argv = ["sweep", "--arg", "pump_stop=80e-9", "--mode", "z", "--heralds", "400"]
    argv += ["--calibration", "lab", "--workers", "0", "--seed", "2", "-o", str(out), "-q"]
    assert main(argv) == 0
    (row,) = _points(out)
    budget = row["budget_p_success"]
    lab = resolve_lab("oxford2020", None)
    expected = budget_dict(lab, "z", False, LoopArguments(pump_stop_s=80e-9))["p_success"]
    assert budget == pytest.approx(expected, rel=1e-12)
    p = row["heralds"] / row["attempts"]
    assert row["heralds"] == 400
    assert abs(p - budget) < 3 * budget / 400**0.5, (p, budget)
    assert budget < 0.65 * budget_dict(lab, "z")["p_success"]
