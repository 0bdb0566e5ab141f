# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-sim demo`` stopped by a termination request during the entanglement run: the report
of the heralds taken is still made and printed, then the demo exits with the termination's status
(it said "error: demo step RemoteEntanglement failed: terminated" and printed nothing)."""

from __future__ import annotations

from pathlib import Path

from sim import demo
from sim.runner import Simulation


def test_a_demo_stopped_during_the_entanglement_run_reports_the_heralds_taken(
    tmp_path, monkeypatch, capsys
):
    real_run = Simulation.run

    def run(self, experiment, *args, **kwargs):
        if Path(str(experiment)).name == "remote_entanglement.py":
            scheduler = self.scheduler
            check = scheduler._check_pause

            def terminate_at_first_check(rid=None):
                scheduler.request_termination()  # (of the entanglement run, now running)
                return check(rid)

            monkeypatch.setattr(scheduler, "_check_pause", terminate_at_first_check)
        return real_run(self, experiment, *args, **kwargs)

    monkeypatch.setattr(Simulation, "run", run)
    status = demo.run_demo(
        seed=2, results_dir=tmp_path / "results", work_dir=tmp_path, heralds_per_setting=200
    )
    out, err = capsys.readouterr()
    assert status >= 128, (status, err)
    assert "demo stopped during RemoteEntanglement (terminated)" in err and "error" not in err
    assert "results file: " in out and "stopped early (terminated)" in out, out
    assert len(list((tmp_path / "results").rglob("*-RemoteEntanglement.h5"))) == 1
