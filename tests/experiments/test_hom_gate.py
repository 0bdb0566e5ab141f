# SPDX-License-Identifier: LGPL-3.0-or-later
"""HOM: the zero delay and the distinguishable reference are measured through the same gate.

V = 1 − C(0)/C(ref) is the two-photon overlap M only if a photon's chance to be counted, and the
dark counts', are the same at both delays. The gate of every delay is the calibrated one held open
2 × the largest delay longer (``repository/hom.py``, ``hom_gate_mu``). Before 2026-12-02 each
delay's gate ended that delay after the calibrated stop: node A's photon fell in the reference's
gate with its whole decay (in the zero delay's with 0.87 of it at ``oxford2020``) and the reference
took up to 30 × the zero delay's dark counts, so V read high: 0.5753 for M = 0.5 without dark
counts, 0.66 with 2 kHz and 0.823 with 10 kHz (exact cycle law).
"""

import numpy as np
import pytest

from sim.lab_resolution import resolve_lab
from sim.physics.cycle_build import build_cycle_model
from sim.physics.photon_modes import mode_overlap
from tests.experiments.simhelpers import REPO, run, simulation

#: oxford2020's calib.link pump window and excitation (ns), as hom.py plays them
PUMP, EXCITE = (30, 500), 584
N_BARS = (10.0, 10.0)


def _gate(calibrated, max_delay):
    from sim.experiment_file import load_experiment_module

    return load_experiment_module(REPO / "hom.py").hom_gate_mu(*calibrated, max_delay)


def _coincidences(lab, delay, gate):
    """Cross-port same-polarisation coincidences per cycle of the exact cycle law."""
    cycle = (EXCITE + gate[1] + 64 + 7) & ~7
    outputs = {0: PUMP, 1: (EXCITE, EXCITE + 8), 2: PUMP, 3: (EXCITE + delay, EXCITE + delay + 8)}
    gates = {i: (EXCITE + gate[0], EXCITE + gate[1]) for i in range(4)}
    p = build_cycle_model(lab, outputs, gates, cycle, N_BARS).pattern_probs
    return p[0b0101] + p[0b1010]


@pytest.mark.parametrize("overlap", [0.96, 0.5])
def test_the_visibility_of_the_cycle_law_is_the_mode_overlap(overlap):
    """Without dark counts, the cycle law's 1 − C(0)/C(400 ns) through the HOM gate is M to
    0.001 (double excitation's photons, which do not interfere, take 0.0004)."""
    lab = resolve_lab(
        "oxford2020",
        None,
        [f"bsa.mode_overlap={overlap}", "bsa.detectors[*].dark_rate_hz=0"],
    )
    gate = _gate((29, 44), 400)
    assert gate == (29, 844)
    v = 1 - _coincidences(lab, 0, gate) / _coincidences(lab, 400, gate)
    assert v == pytest.approx(mode_overlap(lab, 0.0, N_BARS), abs=1e-3)


def test_dark_counts_lower_the_raw_visibility_and_are_subtracted(tmp_path):
    """``oxford2020`` at M = 0.5 with 2 kHz dark counts a detector, Dark counts run first, then a
    seeded scan of 10000 runs at delays 0 and 400 ns: the raw visibility's 95 % interval holds what
    the cycle law gives for the gate played (M·C/(C + A), A the accidental coincidences: 0.33) and
    lies below M; with the accidentals the singles and the calibrated dark counts expect
    subtracted (``hom.accidentals``, ≈ 108 a delay), the interval holds M. Before: V = 0.636
    [0.546, 0.710], above M, and nothing to subtract with."""
    lab = resolve_lab(
        "oxford2020", None, ["bsa.mode_overlap=0.5", "bsa.detectors[*].dark_rate_hz=2e3"]
    )
    sim = simulation(tmp_path, lab=lab, seed=1)
    try:
        run(sim, "dark_counts")
        d = run(sim, "hom", runs_per_delay=10000, delays="[0, 400]")
    finally:
        sim.close()
    gate = tuple(int(x) for x in d["hom.gate_mu"])
    assert gate == (30, 845)
    assert d["hom.attempts"][0] == d["hom.attempts"][1]
    assert d["hom.singles"].shape == (2, 4) and np.all(d["hom.singles"] > 0)
    expected = 1 - _coincidences(lab, 0, gate) / _coincidences(lab, 400, gate)
    lo, hi = d["hom.visibility_lo"], d["hom.visibility_hi"]
    assert lo <= expected <= hi < 0.5, (d["hom.visibility"], lo, hi, expected)
    assert np.all(np.abs(d["hom.accidentals"] - 108) < 10), d["hom.accidentals"]
    lo, hi = d["hom.visibility_corrected_lo"], d["hom.visibility_corrected_hi"]
    assert lo <= mode_overlap(lab, 0.0, N_BARS) <= hi, (d["hom.visibility_corrected"], lo, hi)


def test_a_scan_with_too_few_coincidences_reports_no_visibility(tmp_path, caplog):
    """``oxford2020``, 60 runs a delay (seed 3): 0 coincidences at zero delay, 2 at the
    reference. The run writes its counts, no ``hom.visibility``, and one warning line saying
    the coincidences are too few; the offline summary says n/a with the same reason. Before:
    V = 1 with the interval [−4.3, 1] stored and printed ([−38, 1] with one reference
    coincidence), and no word of it."""
    import logging

    from analysis.calibration import hom_summary
    from analysis.io import load

    with simulation(tmp_path, seed=3, write_results=True) as sim:
        with caplog.at_level(logging.WARNING):
            r = sim.run(REPO / "hom.py", None, {"runs_per_delay": 60})
    assert r.exit_code == 0, r.error_message
    d = r.datasets
    assert list(d["hom.coincidences"][[0, -1]]) == [0, 2], d["hom.coincidences"]
    assert not any(k.startswith("hom.visibility") for k in d), sorted(d)
    warned = [m for m in caplog.messages if "too few coincidences for a visibility" in m]
    assert len(warned) == 1 and "\n" not in warned[0], caplog.messages
    summary = hom_summary(load(r.results_file))
    assert summary.visibility is None
    assert any("too few coincidences" in n for n in summary.notes), summary.notes
