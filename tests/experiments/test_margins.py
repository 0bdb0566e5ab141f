# SPDX-License-Identifier: LGPL-3.0-or-later
"""The entanglement experiments' slack margins against the slack predictor, the prepare-time
check that refuses a margin below the predicted minimum, and ``ionlink-sim slack`` from the
command line (read-only, its JSON entries)."""

from __future__ import annotations

import json
import math

from drivers.link_timing import GATEWARE_MARGIN_S, MIN_SLACK_MARGIN_S
from sim.slack.estimate import UNDERFLOW_SLACK_MU
from sim.slack.probe import SlackProbe
from tests.experiments.simhelpers import REPO, ROOT, simulation

ARGS = {"mode": "z", "heralds_per_setting": 2}


def test_prepare_refuses_a_slack_margin_below_the_predicted_minimum(tmp_path):
    """One line naming the argument, its value and the minimum; bad input (exit status 2)."""
    sim = simulation(tmp_path)
    floor = MIN_SLACK_MARGIN_S["gateware"]
    r = sim.run(REPO / "remote_entanglement.py", None, {**ARGS, "slack_margin": floor - 0.2e-6})
    assert r.exit_code == 2, r.error_message
    msg = r.error_message
    assert msg.startswith("argument 'slack_margin' = 1.20 us is below the predicted minimum 1.40")
    assert "\n" not in msg
    # at the floor itself every cooling DMA still underflows (docs/experiments.md, Margins)
    ok = sim.run(REPO / "remote_entanglement.py", None, {**ARGS, "slack_margin": floor + 0.1e-6})
    assert ok.exit_code == 0, ok.error_message


def test_min_slack_margin_is_what_the_predictor_finds(tmp_path):
    """Mean-cost runs at the default margin M and at M + 1 µs: the lines whose minimum slack
    moves by the whole 1 µs (to the counter's 8 mu grain) are the ones the margin sets; the
    smallest margin that keeps them above the underflow threshold, M − (their minimum − T),
    rounded up to 0.1 µs, is the constant the prepare-time check uses."""
    sim = simulation(tmp_path)
    probe = SlackProbe()
    sim.engine_setup = probe.attach
    margin_mu = round(GATEWARE_MARGIN_S * 1e9)
    mins = []
    for extra in (0, 1000):
        probe.start_run()
        r = sim.run(
            REPO / "remote_entanglement.py",
            None,
            {**ARGS, "slack_margin": (margin_mu + extra) * 1e-9},
        )
        assert r.exit_code == 0, r.error_message
        mins.append({w: line.min_mu for w, line in probe.end_run().lines.items()})
    # (± 16 mu: the counter reads that set the cursor are coarse, 8 mu)
    governed = [w for w in mins[0] if w in mins[1] and abs(mins[1][w] - mins[0][w] - 1000) <= 16]
    assert any("entangler.py" in w for w in governed)  # the cooling DMA's playback
    assert any("node.py" in w for w in governed)  # the analysis pulses after a herald
    floor_mu = margin_mu - (min(mins[0][w] for w in governed) - UNDERFLOW_SLACK_MU)
    assert MIN_SLACK_MARGIN_S["gateware"] == math.floor(floor_mu / 100) * 100e-9


def _loop_experiment(tmp_path, loop: str):
    """``tmp_path/loop.py``: an experiment whose kernel plays ``loop`` (lines of its ``run`` after a
    ``break_realtime``, its line 10 on) on ``node_a.cool_sw``."""
    exp = tmp_path / "loop.py"
    exp.write_text(
        "from artiq.experiment import *\n"
        "class Loop(EnvExperiment):\n"
        "    def build(self):\n"
        "        self.setattr_device('core')\n"
        "        self.ttl = self.get_device('node_a.cool_sw')\n"
        "    @kernel\n"
        "    def run(self):\n"
        "        self.core.break_realtime()\n" + loop
    )
    return exp


def test_slack_cli_json_and_read_only(tmp_path, monkeypatch, capsys):
    """``ionlink-sim slack FILE --json``: one entry per line that submits, with the documented
    keys; the lab's files stay untouched (no results, dataset store or run-id file written)."""
    from sim.cli import main

    exp = _loop_experiment(
        tmp_path,
        "        for i in range(100):\n"
        "            at_mu(self.core.get_rtio_counter_mu() + 2500)\n"
        "            for j in range(4):\n"
        "                self.ttl.pulse_mu(100)\n"
        "                delay_mu(100)\n",
    )
    monkeypatch.chdir(tmp_path)
    # (seeded: with fresh entropy about one invocation in 30 met a slow event deep enough to
    # underflow, and a run that underflows stops short of its 800 events)
    argv = ["slack", str(exp), "--device-db", str(ROOT / "device_db.py"), "-n", "4", "--json"]
    rc = main([*argv, "--seed", "3"])
    out = capsys.readouterr().out
    assert rc == 0
    entries = json.loads(out)
    assert [e["line"] for e in entries] == [12]
    (e,) = entries
    for key in ("file", "line", "min_slack_mu", "p_underflow", "p_underflow_ci", "margin_mu"):
        assert key in e
    assert e["file"] == "loop.py" and e["runs"] == 4 and e["events"] == 4 * 800
    assert e["min_slack_mu"] <= e["nominal_min_slack_mu"] + 50
    lo, hi = e["p_underflow_ci"]
    assert 0 <= lo <= e["p_underflow"] <= hi <= 1
    # read-only: no results, run id, dataset store, hardware state or lock (Python's own bytecode
    # cache of the imported experiment file, written by any import where bytecode writing is on,
    # is not the simulation's)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__") == ["loop.py"]


def test_slack_continues_the_stored_stream_without_a_reseed_warning(
    tmp_path, monkeypatch, capsys, caplog
):
    """A lab powered up with ``--seed 5``: ``slack`` without ``--seed`` runs on the stored state's
    own stream (no re-seed warning, the title names seed 5) and repeats itself exactly; an explicit
    other seed re-seeds, with the warning."""
    from sim.cli import main

    exp = _loop_experiment(
        tmp_path,
        "        for i in range(20):\n"
        "            self.ttl.pulse_mu(100)\n"
        "            delay_mu(100)\n",
    )
    monkeypatch.chdir(tmp_path)
    ddb = str(ROOT / "device_db.py")

    def two_slack_runs(title: str) -> None:
        outs = []
        for _ in range(2):
            assert main(["slack", str(exp), "--device-db", ddb, "-n", "2", "--json"]) == 0
            outs.append(capsys.readouterr().out)
            assert "re-seeded" not in caplog.text
        assert outs[0] == outs[1]  # (the drawn costs too)
        assert main(["slack", str(exp), "--device-db", ddb, "-n", "2"]) == 0
        assert title in capsys.readouterr().out

    # powered up without a seed: the stored stream alone makes the runs repeat
    assert main(["run", str(exp), "--device-db", ddb, "--power-up"]) == 0
    capsys.readouterr()
    (state_file,) = (tmp_path / "sim_state").glob("*.state")  # (the seed it drew is recorded)
    drawn = json.loads(state_file.read_bytes().partition(b"\n")[0])["seed"]
    two_slack_runs(f"(seed {drawn})")
    assert main(["run", str(exp), "--device-db", ddb, "--seed", "5", "--power-up"]) == 0
    capsys.readouterr()
    two_slack_runs("(seed 5)")
    assert main(["slack", str(exp), "--device-db", ddb, "-n", "2", "--seed", "6"]) == 0
    assert "re-seeded" in caplog.text and "(seed 6)" in capsys.readouterr().out
