# SPDX-License-Identifier: LGPL-3.0-or-later
"""The dark rates' own uncertainty reaches what single photon, HOM and polarisation compensation
subtract them from: Dark counts stores what it measured the rates from (``calib.bsa.dark_counts``,
``calib.bsa.dark_duration_s``), and a short Dark counts run widens η's and the corrected HOM
visibility's intervals. A store with the rates alone (a Dark counts run before 2026-12-02) is
still read, with a warning that its rates are taken as exact."""

import logging

import numpy as np
import pytest

from analysis.hom import hom_visibility_corrected
from sim.lab_resolution import resolve_lab
from tests.experiments.simhelpers import REPO, run, simulation


def _short_dark_run(sim):
    """A 1 ms Dark counts run: ≈ 10 counts a detector at 10 kHz."""
    d = run(sim, "dark_counts", gates=1, gate_length=0.001)
    counts = sim.dataset_db.get("calib.bsa.dark_counts")
    assert counts == [int(k) for k in d["dark.counts"]]
    assert sim.dataset_db.get("calib.bsa.dark_duration_s") == pytest.approx(1e-3)
    assert np.allclose(sim.dataset_db.get("calib.bsa.dark_rate_hz"), np.asarray(counts) / 1e-3)
    return counts


@pytest.mark.slow
def test_single_photon_eta_interval_takes_in_a_short_dark_measurement(tmp_path, caplog):
    """10 kHz dark counts a detector (0.04 dark clicks an attempt in the 1 µs window, more than
    η ≈ 0.025), measured for 1 ms, 5000 attempts a node: η's 95 % interval
    (``photon.eta_lo_X``/``_hi_X``) holds the lab's η and is wider than the one the same
    single-photon run gives with the rates alone in the store (taken as exact, with a
    warning). Before, η had no interval, and ``photon.eta_err_X`` was √clicks/attempts alone."""
    from sim.physics.budget import photon_eta

    caplog.set_level(logging.WARNING)
    lab = resolve_lab("oxford2020", None, ["bsa.detectors[*].dark_rate_hz=10000"])
    sim = simulation(tmp_path, lab=lab, seed=1)
    try:
        _short_dark_run(sim)
        d = run(sim, "single_photon", attempts=5000)
        assert not [r for r in caplog.records if "taken as exact" in r.getMessage()]
        sim.dataset_db.delete("calib.bsa.dark_counts")
        old = run(sim, "single_photon", attempts=5000)
    finally:
        sim.close()
    (warning,) = [r.getMessage() for r in caplog.records if "taken as exact" in r.getMessage()]
    assert "single-photon calibration (eta)" in warning and "calib.bsa.dark_counts" in warning
    eta, p1, p2, _ = photon_eta(lab, lab.nodes[0], (0, 1000))
    for x in "ab":
        lo, hi = d["photon.eta_lo_" + x], d["photon.eta_hi_" + x]
        assert lo <= d["photon.eta_" + x] <= hi
        assert lo <= eta * (p1 + p2) <= hi, (x, lo, hi, eta * (p1 + p2))
        assert d["photon.eta_err_" + x] == pytest.approx((hi - lo) / 3.919928)
        narrow = old["photon.eta_hi_" + x] - old["photon.eta_lo_" + x]
        assert hi - lo > 1.3 * narrow, (x, hi - lo, narrow)


@pytest.mark.slow
def test_hom_corrected_interval_takes_in_a_short_dark_measurement(tmp_path):
    """``oxford2020`` at M = 0.5 with 10 kHz dark counts a detector measured for 1 ms (≈ 10
    counts a detector: the accidentals ±16 %), a seeded scan of 10000 runs at delays 0 and
    400 ns: the corrected visibility's interval holds M and is wider than the interval with the
    accidentals taken as known (what the run stored before 2026-12-02)."""
    from sim.physics.photon_modes import mode_overlap

    lab = resolve_lab(
        "oxford2020", None, ["bsa.mode_overlap=0.5", "bsa.detectors[*].dark_rate_hz=1e4"]
    )
    sim = simulation(tmp_path, lab=lab, seed=1)
    try:
        _short_dark_run(sim)
        d = run(sim, "hom", runs_per_delay=10000, delays="[0, 400]")
    finally:
        sim.close()
    lo, hi = d["hom.visibility_corrected_lo"], d["hom.visibility_corrected_hi"]
    assert lo <= mode_overlap(lab, 0.0, (10.0, 10.0)) <= hi, (d["hom.visibility_corrected"], lo, hi)
    known = hom_visibility_corrected(
        d["hom.delay_mu"], d["hom.coincidences"], d["hom.attempts"], d["hom.accidentals"]
    )
    assert known.value == pytest.approx(d["hom.visibility_corrected"])
    assert hi - lo > 1.2 * (known.hi - known.lo), (lo, hi, known)


def test_polarisation_compensation_refuses_dark_counts_against_a_short_dark_run(tmp_path):
    """8 kHz dark counts and no reference light, the rates measured for 1 ms (≈ 8 counts a
    detector): the counts are refused as what the calibrated dark counts alone give, the
    p-value from their predictive law (the rates' uncertainty in it), exit 1."""
    lab = resolve_lab("oxford2020", None, ["bsa.detectors[*].dark_rate_hz=8000"])
    sim = simulation(tmp_path, lab=lab, seed=1)
    try:
        _short_dark_run(sim)
        pc = sim.run(REPO / "polarisation_compensation.py", None, {})
    finally:
        sim.close()
    assert pc.exit_code == 1, pc.error_message
    assert "the calibrated dark counts (calib.bsa.dark_rate_hz) alone give" in pc.error_message
