# SPDX-License-Identifier: LGPL-3.0-or-later
"""Attempts of repository/remote_gate.py against the entangler's own count: every cycle the
entangler PHY ran (its runs in detail and the runs the fast-forward skipped) is in
``totals.attempts``, a shot taken again after an underflow included, and each shot kept has in
``gate.attempts`` the cycles of all its runs (a Grover shot's two heralding runs included)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from numpy import int64

from analysis.gate_report import gate_summary
from sim.experiment_file import load_experiment_module
from sim.rtio.phy import entangler as phy
from sim.rtio.phy.entangler_fastforward import StartRun

from .simhelpers import REPO
from .test_remote_gate import ideal_fast
from .test_remote_gate_stop import _gate_run


@pytest.fixture
def phy_cycles(monkeypatch) -> list[int]:
    """The cycles the entangler PHYs ran (one-element list, summed as they run): a run in
    detail its ``ncycles``, a skipped run the timed-out run's cycles."""
    total = [0]
    complete, skip = phy.EntanglerPhy._complete_run, phy.EntanglerPhy._skip

    def counted_run(self, *args, **kwargs):
        out = complete(self, *args, **kwargs)
        total[0] += self.ncycles
        return out

    def counted_skip(self, max_runs, period_mu, ref, writes):
        k = skip(self, max_runs, period_mu, ref, writes)
        if k and not isinstance(ref, StartRun):  # (a followed start ran _complete_run)
            total[0] += k * self._last.n_max
        return k

    monkeypatch.setattr(phy.EntanglerPhy, "_complete_run", counted_run)
    monkeypatch.setattr(phy.EntanglerPhy, "_skip", counted_skip)
    return total


def test_the_attempts_of_shots_taken_again_are_counted(tmp_path, phy_cycles):
    """2 µs of slack after the network reads (below the argument's minimum): shots underflow in
    their corrections, after their herald, and are taken again. ``totals.attempts`` is every
    cycle the entangler ran (before 2026-12-03 the retried shots' were left out: 16 % of them
    at oxford2025, seed 1, 100 shots); ``gate.attempts`` the kept shots' alone, and
    ``ionlink-analyze gate``'s note names the difference."""
    module = load_experiment_module(REPO / "remote_gate.py")

    class ShortSlackGate(module.RemoteGate):  # type: ignore[misc, name-defined]
        def prepare(self):
            super().prepare()
            self.correction_mu = int64(self.core.seconds_to_mu(2e-6))

    r = _gate_run(
        tmp_path,
        ShortSlackGate,
        {"analysis": "truth_table", "heralds_per_setting": 5},
        lab=ideal_fast(**{"nodes__*__optics__collection_efficiency": 0.1}),
    )
    assert r.exit_code == 0, r.error_message
    d = r.datasets
    assert int(d["totals.underflows_recovered"]) > 0
    kept = int(np.sum(d["gate.attempts"]))
    assert int(d["totals.attempts"]) == phy_cycles[0] > kept
    notes = gate_summary(r.results_file, n_boot=10).notes
    spent = phy_cycles[0] - kept
    assert any(f"the shots not kept took {spent} attempts" in n for n in notes), notes


def test_a_grover_shot_counts_both_heralding_runs(tmp_path, phy_cycles):
    """Grover: two teleported CZs a shot, so two heralding runs; the first's cycles were read
    after the second had replaced them in the entangler, so ``gate.attempts`` and
    ``totals.attempts`` lacked them before 2026-12-03 (1.2 % at oxford2025, seed 1)."""
    r = _gate_run(
        tmp_path,
        REPO / "remote_gate.py",
        {"mode": "grover", "heralds_per_setting": 3},
        lab=ideal_fast(**{"nodes__*__optics__collection_efficiency": 0.1}),
    )
    assert r.exit_code == 0, r.error_message
    d = r.datasets
    assert int(np.sum(d["gate.attempts"])) == int(d["totals.attempts"]) == phy_cycles[0] > 0


def test_a_gate_without_a_herald_counts_the_attempts_it_made(tmp_path, phy_cycles):
    """No light: the run stops on its herald timeout; ``totals.attempts`` holds the attempts
    its message names (0 before 2026-12-03: the unfinished shot's were dropped)."""
    r = _gate_run(
        tmp_path,
        REPO / "remote_gate.py",
        {"analysis": "truth_table", "heralds_per_setting": 1, "herald_timeout": 20000},
        lab=ideal_fast(**{"nodes__*__optics__collection_efficiency": 0.0}),
    )
    assert r.exit_code == 1, r.error_message
    said = re.match(r"NoHeraldError: no herald in (\d+) attempts", r.error_message)
    assert said, r.error_message
    assert int(r.datasets["totals.attempts"]) == int(said.group(1)) == phy_cycles[0]
