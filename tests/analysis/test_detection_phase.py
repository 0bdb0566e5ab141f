# SPDX-License-Identifier: LGPL-3.0-or-later
"""Correction of the detection-time phase φ_h = 2π·f·(t_H − t_V) in parity scans."""

import numpy as np
import pytest
from analysis_synth import remote_datasets, write_artiq

from analysis import fidelity_summary
from analysis.bell import povm, scan_unitaries
from analysis.herald_table import detection_phase_shift


def test_shift_uses_h_minus_v_timestamps():
    t = np.array([[10, 14, -1, -1], [-1, 20, 12, -1], [10, -1, -1, 30], [5, -1, -1, -1]])
    s = detection_phase_shift(t, 5e6)
    assert s == pytest.approx([0.5 * 5e6 * -4e-9, 0.5 * 5e6 * -8e-9, 0.5 * 5e6 * -20e-9, 0.0])


def _with_detection_phase(rng, f_hz):
    """Parity-scan heralds whose states carry e^{iφ_h} on |10⟩, φ_h from their own timestamps."""
    d = remote_datasets(rng, n=6000, mode="parity", rho={1: np.eye(4) / 4, -1: np.eye(4) / 4})
    t = d["herald.t_det_mu"].copy()
    for i, p in enumerate(d["herald.pattern"]):
        for k in range(4):
            t[i, k] = (
                10 + int(rng.exponential(60.0)) if p >> k & 1 else -1
            )  # wide spread: large φ_h
    d["herald.t_det_mu"] = t
    phi_h = 2 * np.pi * 2 * detection_phase_shift(t, f_hz)  # = 2π f (t_H − t_V)
    out = np.empty(len(t), np.int64)
    for i in range(len(t)):
        psi = d["herald.psi"][i]
        v = np.array([0, 1, psi * np.exp(1j * phi_h[i]), 0]) / np.sqrt(2)
        rho = 0.95 * np.outer(v, v.conj()) + 0.05 * np.eye(4) / 4
        if d["herald.basis_a"][i]:
            ua, ub = scan_unitaries(d["herald.phase"][i])
        else:
            ua = ub = np.eye(2)
        p = np.clip(np.real(np.einsum("oij,ji->o", povm(ua, ub), rho)), 0, None)
        out[i] = rng.choice(4, p=p / p.sum())
    d["herald.bit_a"], d["herald.bit_b"] = (out >> 1).astype(np.int8), (out & 1).astype(np.int8)
    return d


def test_correction_restores_the_fringe(tmp_path):
    """Without f the fringe washes out; with it the fidelity of the 0.95 Werner-like state
    returns."""
    f_hz = 5e6
    d = _with_detection_phase(np.random.default_rng(3), f_hz)
    raw = fidelity_summary(write_artiq(tmp_path / "raw.h5", d), n_boot=300, timing=False)
    d["herald.detection_phase_hz"] = f_hz
    rep = fidelity_summary(write_artiq(tmp_path / "corr.h5", d), n_boot=300, timing=False)
    truth = 0.95 + 0.05 / 4
    assert rep.fidelity.lo - 0.01 <= truth <= rep.fidelity.hi + 0.01
    assert raw.fidelity.hi < truth - 0.1
    assert any("detection-time phase corrected" in n for n in rep.notes)


def test_one_programmed_phase_fits_no_fringe(tmp_path):
    """A parity scan cut short after its first analysis phase: the detection-time correction
    spreads that phase over a few hundredths of a turn, which makes the fringe fit's design full
    rank but leaves the coherence undetermined (it was fitted to 1, F = 1.0000, and a gate's row
    of the trade-off claimed [1.0000, 1.0000]). With fewer than 3 programmed phases there is no
    coherence: F is the P_odd bound, and the notes say why."""
    f_hz = 5e6
    d = _with_detection_phase(np.random.default_rng(3), f_hz)
    xy = d["herald.basis_a"] != 0
    first = np.asarray(d["herald.phase"])[xy].min()
    keep = ~xy | (np.asarray(d["herald.phase"]) == first)
    d = {k: (v[keep] if k.startswith("herald.") and np.ndim(v) else v) for k, v in d.items()}
    d["totals.heralds"] = int(keep.sum())
    d["herald.detection_phase_hz"] = f_hz
    rep = fidelity_summary(write_artiq(tmp_path / "one_phase.h5", d), n_boot=200, timing=False)
    assert np.isnan(rep.fidelity.value) and rep.fidelity.method.startswith("upper bound only")
    assert rep.estimates.parts == {}
    why = [n for n in rep.notes if "programmed analysis phase" in n]
    assert len(why) == 2 and "X/Y heralds at 1 programmed analysis phase(s)" in why[0], why
