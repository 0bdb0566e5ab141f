# SPDX-License-Identifier: LGPL-3.0-or-later
"""Every experiment in ``repository/`` writes ``schema_version`` (int, 1) and
``ionlink.experiment`` into its results file, and docs/datasets.md names its kind. No test read
the file of every experiment: ``remote_gate.py`` wrote ``gate.schema_version`` alone, and the
analysis's tests took that for the gate's schema."""

from __future__ import annotations

import re

import numpy as np
import pytest

from analysis.io import kind_problem, load

from .simhelpers import REPO, ROOT, simulation

#: per experiment file: the kind it writes and arguments that make its run short
RUNS: dict[str, tuple[str, dict[str, object]]] = {
    "dark_counts": ("dark_counts", {"gates": 1, "gate_length": 0.001}),
    "hom": ("hom", {"runs_per_delay": 5, "delays": "[0]"}),
    "polarisation_compensation": (
        "polarisation_compensation",
        {"rounds": 1, "gates": 1, "interval": 0.0},
    ),
    "readout_calibration": ("readout_calibration", {"shots": 10}),
    "remote_entanglement": ("remote_entanglement", {"mode": "z", "heralds_per_setting": 1}),
    "remote_entanglement_cpu": ("remote_entanglement", {"mode": "z", "heralds_per_setting": 1}),
    "remote_gate": ("remote_gate", {"analysis": "truth_table", "heralds_per_setting": 1}),
    "single_photon": ("single_photon", {"attempts": 1500}),
    "startup": ("startup", {}),
    "timing_calibration": ("timing_calibration", {"repeats": 10}),
}
EXPERIMENTS = sorted(p.stem for p in REPO.glob("*.py"))


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    """The repository's lab (memory ions and reference light: every experiment runs there),
    calibrated, after Startup; results files written."""
    s = simulation(tmp_path_factory.mktemp("schema"), lab=str(ROOT / "lab.toml"), seed=1)
    s.write_results = True  # (the helper's simulations write none)
    yield s
    s.close()


def _documented_kinds() -> str:
    """docs/datasets.md's opening paragraph, which lists the kinds."""
    return (ROOT / "docs" / "datasets.md").read_text(encoding="utf-8").split("\n\n")[1]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_writes_schema_version_and_its_kind(sim, name):
    assert name in RUNS, f"add repository/{name}.py to RUNS: its kind and short arguments"
    kind, arguments = RUNS[name]
    result = sim.run(REPO / f"{name}.py", None, arguments)
    assert result.exit_code == 0, result.error_message
    run = load(result.results_file)
    assert run.schema_version == 1, f"{name}: schema_version {run.schema_version}"
    assert np.dtype(run.datasets["schema_version"].dtype).kind == "i"
    assert run.experiment == kind and kind_problem(run, (kind,)) is None
    assert re.search(rf"`{kind}`", _documented_kinds()), f"docs/datasets.md: kind {kind!r}"
