# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-sim budget --slack-margin S --check-every N [--path cpu --attempts-per-cool N]``:
the budget of a run with those arguments, not of the experiment's defaults, and one line with
exit 2 for a value the experiment refuses.

Before 2026-12-02 the budget command had no way to follow them: a seeded gateware Z run at
oxford2020 with ``check_every=1`` (2000 heralds) measured R = 104.8 ± 2.3 s⁻¹ against the
budget's 175.4 (−30σ; the budget with ``check_every`` 1: 103.4), and one with
``slack_margin=10e-6`` 163.4 ± 3.7 against 175.4 (−3.3σ; with the margin: 169.4).
"""

from __future__ import annotations

import json

import pytest

from sim.cli import main
from sim.lab_resolution import resolve_lab
from sim.physics.budget import LoopArguments, budget_dict


def _budget(capsys, *options: str) -> dict:
    assert main(["budget", "oxford2020", "--mode", "z", "--json", *options]) == 0
    return json.loads(capsys.readouterr().out)


def test_gateware_options_are_the_runs_arguments(capsys):
    lab = resolve_lab("oxford2020", None)
    default = _budget(capsys)
    for options, fields in (
        (["--check-every", "1"], {"check_every": 1}),
        (["--slack-margin", "10e-6"], {"slack_margin_s": 10e-6}),
    ):
        d = _budget(capsys, *options)
        want = budget_dict(lab, "z", False, LoopArguments(**fields))
        assert d["rate_hz"] == pytest.approx(want["rate_hz"], rel=1e-12)
        assert d["rate_hz"] < 0.97 * default["rate_hz"]
        assert d["p_success"] == default["p_success"]
    run = ["--detection-gate", "29", "44", "--heralds-per-setting", "2000", "--check-every", "1"]
    assert _budget(capsys, *run)["rate_hz"] == pytest.approx(103.4, abs=0.1)  # the run above's
    assert _budget(capsys)["check_every"] == 500


def test_cpu_options_are_the_runs_arguments(capsys):
    default = _budget(capsys, "--path", "cpu")
    d = _budget(capsys, "--path", "cpu", "--attempts-per-cool", "20", "--check-every", "45")
    assert (d["attempts_per_cool"], d["check_every"]) == (20, 45)
    assert (default["attempts_per_cool"], default["check_every"]) == (191, 500)
    assert d["duty_cycle"] < 0.8 * default["duty_cycle"]


@pytest.mark.parametrize(
    "options,message",
    [
        (["--slack-margin", "1e-6"], "below the gateware loop's minimum 1.4e-06 s"),
        (["--path", "cpu", "--slack-margin", "1.5e-6"], "below the cpu loop's minimum"),
        (["--check-every", "0"], "--check-every 0: need at least 1"),
        (["--attempts-per-cool", "20"], "an argument of the CPU loop (--path cpu)"),
        (["--excite-time", "1e-6"], "the CPU loop's reads wait for it (--path cpu)"),
        (["--path", "cpu", "--excite-time=-1e-9"], "need at least 0"),
        (["--gate", "--check-every", "3"], "--check-every is for the entanglement budget"),
    ],
)
def test_refused_in_one_line(capsys, options, message):
    assert main(["budget", "oxford2020", *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_text_names_the_run_it_assumes(capsys):
    """The printed budget says which slack margin, pause checks, pump window, excitation and
    readout it assumes: a run with other ones (duke2024, readout calibration with
    ``detection_time=100e-6``: P_odd 0.9467 ± 0.006 against the 300 µs budget's 0.9694, −5σ;
    0.9486 with ``--set 'nodes.*.readout.duration_s=1e-4'``) is told how to give them."""
    assert main(["budget", "oxford2020", "--check-every", "7"]) == 0
    out = capsys.readouterr().out
    assert "slack_margin 3e-06 s, check_every 7" in out
    assert "pump [30, 500) ns, excitation at 584 ns" in out
    assert "readout 300, 300 µs" in out
