# SPDX-License-Identifier: LGPL-3.0-or-later
"""The calibration experiments' files and their reports: the single-photon report recommends the
gate the run recommended and stored (the lab's gate length, not ``gate_taus`` lifetimes of its
own); a calibration cut short by a termination request (readout, single photon, dark counts, HOM)
records ``totals.stop_reason``, stores no ``calib.*`` value, and its report says it stopped early
and shows only what it measured."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import cli, load
from analysis.calibration import summarise
from sim.experiment_file import load_experiment_module
from sim.termination import EXIT_TERMINATED

from .simhelpers import REPO, simulation


@pytest.fixture
def sim(tmp_path):
    s = simulation(tmp_path, seed=3)
    s.write_results = True  # (for the analysis)
    yield s
    s.close()


def terminated_at_first_report(module: str, cls: str) -> type:
    """``cls`` of ``repository/<module>.py`` (a fresh copy) that requests its own termination
    when its kernel first reports what it took (``ionlink.progress`` above 0), as the dashboard's
    termination or a Ctrl-C of ``ionlink-sim run`` would."""
    base = getattr(load_experiment_module(REPO / module), cls)

    class Terminated(base):  # type: ignore[misc, valid-type]
        def set_dataset(self, key, value, **kwargs):
            super().set_dataset(key, value, **kwargs)
            if key == "ionlink.progress" and value > 0:
                self.scheduler.request_termination()

    return Terminated


def _report(path, capsys) -> tuple[int, str, str]:
    code = cli.main(["report", str(path), "--format", "md", "--bootstrap", "50"])
    _, err = capsys.readouterr()
    md = path.with_name(path.stem + "-report.md")
    return code, md.read_text() if md.exists() else "", err


def test_the_single_photon_report_recommends_the_gate_the_run_stored(sim, capsys):
    """oxford2020's 15 ns gate length (``calib.link.gate_length_s``): the run stores
    [onset, onset + 15] ns; the report recommends that gate, and no other (it recommended
    [onset, onset + 3τ] of its own, ≈ 22 ns long)."""
    r = sim.run(REPO / "single_photon.py", None, {"attempts": 1000})
    assert r.exit_code == 0, r.error_message
    d = r.datasets
    stored = tuple(int(x) for x in d["photon.gate_recommended_mu"])
    assert stored == (d["calib.photon.gate_start_mu"], d["calib.photon.gate_stop_mu"])
    assert stored[1] - stored[0] == 15
    rep = summarise(load(r.results_file))
    assert rep.gate_recommended_mu == stored and rep.gate_fitted_mu == stored
    assert rep.stop_reason == "complete" and not any("stopped early" in n for n in rep.notes)
    code, md, err = _report(r.results_file, capsys)
    assert code == 0, err
    rows = [line for line in md.splitlines() if "recommended gate" in line]
    assert rows == [
        f"| recommended gate (ns) | [{stored[0]}, {stored[1]}] (stored by the run; its rule "
        "opens 0 ns after the onset, 15 ns long) |"
    ]
    assert "from this analysis's fit" not in md
    assert d["photon.gate_length_s"] == pytest.approx(15e-9) and d["photon.gate_start_s"] == 0


def test_an_interrupted_readout_calibration_says_so(sim, capsys):
    """Terminated after its first 50 shots (ion A, dark): ``totals.stop_reason`` is
    ``terminated``, the stored thresholds stay, and the report (exit 0) notes the early stop and
    gives the shots taken, with n/a for the thresholds it could not find."""
    sim.dataset_db.set("calib.readout.threshold_a", 7, persist=True)
    r = sim.run(
        terminated_at_first_report("readout_calibration.py", "ReadoutCalibration"),
        None,
        {"shots": 120},
    )
    assert r.exit_code == EXIT_TERMINATED, r.error_message
    d = r.datasets
    assert d["totals.stop_reason"] == "terminated" and d["totals.shots_requested"] == 480
    assert len(d["readout.dark_counts_a"]) == 50 and "readout.bright_counts_a" not in d
    assert sim.dataset_db.get("calib.readout.threshold_a") == 7
    assert not any(k.startswith("calib.readout.error") for k in d)
    rep = summarise(load(r.results_file))
    assert rep.stop_reason == "terminated" and rep.thresholds == {}
    assert any("stopped early (terminated) after 50 of 480 shots" in n for n in rep.notes)
    code, md, err = _report(r.results_file, capsys)
    assert code == 0, err
    assert "| a | 50, 0 | n/a | n/a | n/a | n/a |" in md
    assert "| b | 0, 0 | n/a | n/a | n/a | n/a |" in md
    assert "stopped early (terminated)" in md


def test_an_interrupted_single_photon_run_says_so(sim, capsys):
    """Terminated at its first pause check (node A, after 300 attempts): ``totals.stop_reason``
    is ``terminated``, the stored gate stays, and the report (exit 0) notes the early stop, with
    n/a for node B's click probability and no recommended gate."""
    before = {
        k: sim.dataset_db.get(k)
        for k in ("calib.photon.gate_start_mu", "calib.photon.gate_stop_mu")
    }
    r = sim.run(
        terminated_at_first_report("single_photon.py", "SinglePhoton"), None, {"attempts": 400}
    )
    assert r.exit_code == EXIT_TERMINATED, r.error_message
    d = r.datasets
    assert d["totals.stop_reason"] == "terminated" and d["totals.attempts_requested"] == 800
    assert list(d["photons.attempts"]) == [300, 0]
    assert "photon.gate_recommended_mu" not in d
    assert {k: sim.dataset_db.get(k) for k in before} == before
    rep = summarise(load(r.results_file))
    assert rep.stop_reason == "terminated" and rep.gate_recommended_mu is None
    assert np.isnan(rep.click_prob[1].value) and rep.click_prob[0].value > 0
    assert any("stopped early (terminated) after 300 of 800 attempts" in n for n in rep.notes)
    code, md, err = _report(r.results_file, capsys)
    assert code == 0, err
    assert "| node B: clicks per attempt (0 attempts) | n/a (no attempts) |" in md
    assert "| recommended gate (ns) | n/a (the run stored none;" in md
    assert "stopped early (terminated)" in md


@pytest.mark.parametrize(
    "module, cls, arguments, taken, rows",
    [
        (
            "dark_counts.py",
            "DarkCounts",
            {"gates": 5},
            "after the dark counts: the run stored no calibration",
            ["| det0 | ", " | n/a |"],
        ),
        (
            "hom.py",
            "HOM",
            {"runs_per_delay": 700, "delays": "[0, 400]"},
            "after 1 of 2 delays: the delays not reached are n/a",
            ["| 400 | 0 | 0 | n/a |"],
        ),
    ],
    ids=["dark_counts", "hom"],
)
def test_the_other_calibrations_say_so_too(sim, capsys, module, cls, arguments, taken, rows):
    """DarkCounts terminated between its conditions (no background), HOM within its first delay
    (500 of 700 runs): each records ``totals.stop_reason``, and its report (exit 0) notes the
    early stop and gives n/a for what it did not measure."""
    sim.dataset_db.set("calib.bsa.dark_rate_hz", [1.0, 2.0, 3.0, 4.0], persist=True)
    r = sim.run(terminated_at_first_report(module, cls), None, arguments)
    assert r.exit_code == EXIT_TERMINATED, r.error_message
    assert r.datasets["totals.stop_reason"] == "terminated"
    assert sim.dataset_db.get("calib.bsa.dark_rate_hz") == [1.0, 2.0, 3.0, 4.0]
    rep = summarise(load(r.results_file))
    assert rep.stop_reason == "terminated"
    assert any(f"stopped early (terminated) {taken}" in n for n in rep.notes), rep.notes
    code, md, err = _report(r.results_file, capsys)
    assert code == 0, err
    assert any(all(p in line for p in rows) for line in md.splitlines()), md
