# SPDX-License-Identifier: LGPL-3.0-or-later
"""Underflows in repository/remote_gate.py's feed-forward: a ``correction_delay`` too short for
the CPU time after the network reads is refused in one line, and a run whose shots still
underflowed (and were taken again) says so, in a warning and in ``ionlink-analyze gate``'s
notes: which shots underflow depends on their outcomes, so the shots kept may be selected."""

from __future__ import annotations

import logging

from numpy import int64

from analysis.gate_report import gate_summary
from sim.experiment_file import load_experiment_module

from .simhelpers import REPO, ROOT
from .test_remote_gate_stop import _gate_run


def test_a_correction_delay_below_the_feed_forwards_cpu_time_is_refused(
    tmp_path, capsys, monkeypatch
):
    """``correction_delay=2e-6`` (allowed before, down to 1 µs) is refused before anything
    runs: one line naming the minimum and why, exit status 2. At 1 µs a truth table at
    oxford2025 underflowed 555 times in 100 shots and kept only shots whose reset had flipped a
    memory: |00> right in 0.52 of its shots against 0.96 at 10 µs, exit status 0."""
    from sim.cli import main

    monkeypatch.chdir(tmp_path)  # (the command line's run counter and hardware state)
    args = ["--lab", "oxford2025", "--device-db", str(ROOT / "device_db.py"), "-q"]
    args += ["--results", str(tmp_path / "results"), "--dataset-db", str(tmp_path / "db.pyon")]
    rc = main(["run", str(REPO / "remote_gate.py"), *args, "correction_delay=2e-6"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2, err
    assert len(err) == 1, err
    assert "'correction_delay' = 2 us is below 2.5 us" in err[0], err
    assert "selected by their outcomes" in err[0], err
    assert not list((tmp_path / "results").rglob("*.h5"))


def test_a_gate_run_with_underflowed_shots_says_they_may_be_selected(tmp_path, caplog):
    """Shots that underflowed and were taken again (here: 2 µs of slack after the reads,
    forced below the argument's minimum) leave a warning line at the run's end and a note in
    ``ionlink-analyze gate``: the run itself completes (exit status 0) with the shots kept."""
    module = load_experiment_module(REPO / "remote_gate.py")

    class ShortSlackGate(module.RemoteGate):  # type: ignore[misc, name-defined]
        def prepare(self):
            super().prepare()
            self.correction_mu = int64(self.core.seconds_to_mu(2e-6))

    with caplog.at_level(logging.WARNING):
        r = _gate_run(
            tmp_path, ShortSlackGate, {"analysis": "truth_table", "heralds_per_setting": 5}
        )
    assert r.exit_code == 0, r.error_message
    n = int(r.datasets["totals.underflows_recovered"])
    assert n > 0 and int(r.datasets["totals.shots"]) == 20
    warned = [m for m in caplog.messages if "underflowed and were taken again" in m]
    assert len(warned) == 1 and warned[0].startswith(f"{n} shot(s)"), caplog.messages
    notes = gate_summary(r.results_file, n_boot=10).notes
    assert any(f"{n} shot(s) underflowed" in x and "selected" in x for x in notes), notes


def test_a_gate_run_without_underflows_has_no_such_note(tmp_path, caplog):
    """The default ``correction_delay`` (10 µs, at :func:`test_remote_gate.ideal_fast` as
    above): no underflow, no warning, no note."""
    with caplog.at_level(logging.WARNING):
        r = _gate_run(
            tmp_path,
            load_experiment_module(REPO / "remote_gate.py").RemoteGate,
            {"analysis": "truth_table", "heralds_per_setting": 2},
        )
    assert r.exit_code == 0 and int(r.datasets["totals.underflows_recovered"]) == 0
    assert not [m for m in caplog.messages if "underflowed" in m], caplog.messages
    notes = gate_summary(r.results_file, n_boot=10).notes
    assert not any("underflowed" in x for x in notes), notes
