# SPDX-License-Identifier: LGPL-3.0-or-later
"""The single-photon calibration's gate rule (analysis.gate_rule) and how a summary finds a run's
rule: its ``photon.gate_*`` datasets, else (older files) its arguments and the ``calib.link.*`` it
read, else the defaults."""

import json

import numpy as np
import pytest
from analysis_synth import single_photon_datasets, write_artiq

from analysis import load
from analysis.calibration import gate_rule_of, summarise
from analysis.gate_rule import GateRule


def test_gate_rule_lab_length_or_lifetimes():
    """A lab length is taken whole (15 ns / 1 ns is 15.000000000000002 in binary: not 16);
    without one, ``taus`` lifetimes rounded up; the start is the onset's floor plus the delay."""
    assert GateRule(length_s=15e-9).gate_mu(29.7, 7.4) == (29, 44)
    assert GateRule(start_s=2e-9, length_s=15e-9).gate_mu(29.7, 7.4) == (31, 46)
    assert GateRule().gate_mu(29.7, 7.4) == (29, 29 + 23)
    assert GateRule(taus=2.0).gate_mu(29.0, 7.5) == (29, 44)


@pytest.mark.parametrize(
    "datasets, archive, arguments, rule",
    [
        (
            {"photon.gate_start_s": 1e-9, "photon.gate_length_s": 12e-9, "photon.gate_taus": 2.0},
            {"calib.link.gate_length_s": 15e-9},
            {"gate_length": 20e-9},
            GateRule(1e-9, 12e-9, 2.0),
        ),
        ({}, {"calib.link.gate_length_s": 15e-9}, {}, GateRule(0.0, 15e-9, 3.0)),
        ({}, {"calib.link.gate_length_s": 15e-9}, {"gate_length": 0.0}, GateRule(0.0, 0.0, 3.0)),
        ({}, {}, {"gate_taus": 4.0}, GateRule(0.0, 0.0, 4.0)),
    ],
    ids=["recorded", "archive", "argument", "defaults"],
)
def test_a_summary_finds_the_runs_rule(tmp_path, rng, datasets, archive, arguments, rule):
    d = single_photon_datasets(rng) | datasets
    expid = json.dumps({"class_name": "SinglePhoton", "arguments": arguments, "log_level": 30})
    path = write_artiq(
        tmp_path / "1-SinglePhoton.h5", d, archive=archive, class_name="SinglePhoton", expid=expid
    )
    assert gate_rule_of(load(path)) == rule


def test_the_recommendation_is_the_stored_gate_and_a_different_fit_is_named(tmp_path, rng):
    """A stored gate is the recommendation; a fit that gives another gate by the run's rule is
    shown as this analysis's figure and noted (here the run stored a gate two ns later)."""
    d = single_photon_datasets(rng) | {"photon.gate_length_s": 15e-9}
    fitted = summarise(load(write_artiq(tmp_path / "1-SinglePhoton.h5", d))).gate_fitted_mu
    assert fitted is not None and fitted[1] - fitted[0] == 15
    stored = (fitted[0] + 2, fitted[1] + 2)
    d["photon.gate_recommended_mu"] = np.array(stored, np.int64)
    rep = summarise(load(write_artiq(tmp_path / "2-SinglePhoton.h5", d)))
    assert rep.gate_recommended_mu == stored and rep.gate_fitted_mu == fitted
    assert any("not the" in n and f"[{stored[0]}, {stored[1]}] ns" in n for n in rep.notes)
