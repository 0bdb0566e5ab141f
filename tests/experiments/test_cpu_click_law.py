# SPDX-License-Identifier: LGPL-3.0-or-later
"""The CPU-heralding pass armed not quiet drawn in law (``sim.physics.click_law``) against the
reference: every attempt in detail (``fast_forward=False``).

The law pass moves seeded draws (the round is drawn before the detectors' dark counts), so it
is held to the reference's laws: per click (a call of ``attempts_until_click_mu`` that ends with
a click) the pattern, each detector's click time relative to the attempt, the ions' state the
click leaves (fidelity with the heralded Bell state), the attempts and the lab time until it.
Checked with a planted bug each in the law pass (its photon arrivals 6 ns late: the click
times; its round drawn without the arming's conditioning: the attempts per call; its round
drawn from the ions' state as the quiet passes left it instead of the state at the
excitation: the herald fraction, 202 against 131 of ≈ 1490 clicks): each fails."""

import numpy as np
import pytest
from artiq.experiment import kernel
from scipy import stats

from drivers import bsa as bsa_driver
from sim.physics.click_law import ClickLaw
from tests.experiments.simhelpers import simulation
from tests.experiments.test_cpu_fast_forward import AttemptCalls, _lab

_PSI = {
    1: np.array([0, 1, 1, 0]) / np.sqrt(2),  # psi+
    -1: np.array([0, 1, -1, 0]) / np.sqrt(2),  # psi-
}


def _run_calls(tmp_path, lab, fast, seed, calls, monkeypatch):
    """``calls`` calls of the attempt loop (one cooling block each at most); per call that
    ends with a click: pattern, the four timestamps relative to the attempt (-1: none), the
    attempts, the lab time since the last one (mu) and, for a herald, the ions' |<psi|rho|psi>|."""
    rows = []
    orig = bsa_driver.BellStateAnalyser.fetch_pattern

    @kernel
    def fetch_pattern(self, t_end_mu, timestamps):
        pattern = orig(self, t_end_mu, timestamps)
        if pattern:
            world = self.core.engine.cycle_world
            psi = bsa_driver.psi_of_pattern(pattern)
            f = float(np.real(_PSI[psi] @ world.ions.rho @ _PSI[psi])) if psi else np.nan
            rows.append((pattern, list(timestamps), t_end_mu, f))
        return pattern

    monkeypatch.setattr(bsa_driver.BellStateAnalyser, "fetch_pattern", fetch_pattern)
    sim = simulation(tmp_path / ("fast" if fast else "ref"), lab=lab, seed=seed)
    sim.device_db["bsa"]["arguments"]["fast_forward"] = fast
    result = sim.run(AttemptCalls, None, {"calls": calls, "every_call_cools": 0})
    assert result.exit_code == 0, result.error_message
    done = np.asarray(result.datasets["calls.done"])
    pattern = np.asarray(result.datasets["calls.pattern"])
    sim.close()
    monkeypatch.undo()
    assert len(rows) == int((pattern != 0).sum())
    return done, pattern, rows


@pytest.mark.slow
def test_clicks_drawn_in_law_follow_the_reference(tmp_path, monkeypatch):
    """oxford2020 with 19x the light per node (collection 0.9, fibre 1.0) and 1 kHz dark counts:
    clicks of photons, of dark counts and heralds. Fast (law) and reference agree on the
    attempts until a click (KS), the click patterns (single detectors, pairs by kind: χ²), each
    detector's click time relative to the attempt (KS per detector), the lab time between two
    clicks (KS) and the heralded state's fidelity (KS); every test at α = 0.001, means within
    4σ. The fast path drew most click passes in law."""
    laws = []
    orig_law = ClickLaw.law_pass

    def counting(self, t):
        done = orig_law(self, t)
        laws.append(done)
        return done

    lab = _lab(
        tmp_path,
        "bright_dark",
        collection_efficiency=0.9,
        fibre_transmission=1.0,
        dark_rate_hz=1e3,
    )
    res = {}
    for fast in (False, True):
        if fast:
            monkeypatch.setattr(ClickLaw, "law_pass", counting)
        res[fast] = _run_calls(tmp_path, lab, fast, 11, 1500, monkeypatch)
    assert sum(laws) > 500, sum(laws)

    assert_same_click_law(res[False], res[True])


def assert_same_click_law(ref, fast) -> None:
    """Two runs of :func:`_run_calls` (``(done, pattern, rows)``) follow one law: the attempts
    until a click (KS), the click patterns (single detectors, pairs by kind: χ²) and the heralds
    among them, each detector's click time relative to the attempt (KS per detector), the lab
    time between two clicks (KS) and the heralded state's fidelity (KS); every test at
    α = 0.001, means within 4σ."""
    (d0, _, r0), (d1, _, r1) = ref, fast
    # attempts per call (calls end with a click or at a cooling)
    assert stats.ks_2samp(d0, d1).pvalue > 0.001
    se = np.sqrt(d0.var() / len(d0) + d1.var() / len(d1))
    assert abs(d0.mean() - d1.mean()) < 4 * se

    # patterns: each single detector, herald pairs, other pairs, more
    def kind(p):
        n = bin(int(p)).count("1")
        if n == 1:
            return int(p).bit_length()  # 1..4
        if n == 2:
            return 5 if bsa_driver.psi_of_pattern(int(p)) else 6
        return 7

    table = np.array(
        [np.bincount([kind(r[0]) for r in rows], minlength=8)[1:] for rows in (r0, r1)]
    )
    table = table[:, table.sum(axis=0) >= 5]
    assert stats.chi2_contingency(table).pvalue > 0.001
    # ... and the heralds among the clicks (two photons: the round's state matters most)
    n = np.array([len(r0), len(r1)])
    h = np.array([sum(bsa_driver.psi_of_pattern(r[0]) != 0 for r in rows) for rows in (r0, r1)])
    pooled = h.sum() / n.sum()
    se = np.sqrt(pooled * (1 - pooled) * (1 / n[0] + 1 / n[1]))
    assert abs(h[0] / n[0] - h[1] / n[1]) < 4 * se

    # click times relative to the attempt, per detector (the gate end t_end_mu is fixed
    # relative to the attempt's start)
    for i in range(4):
        ts = [
            np.array([r[1][i] - r[2] for r in rows if r[1][i] >= 0], dtype=float)
            for rows in (r0, r1)
        ]
        assert min(len(ts[0]), len(ts[1])) > 20, i
        assert stats.ks_2samp(ts[0], ts[1]).pvalue > 0.001, i
        se = np.sqrt(ts[0].var() / len(ts[0]) + ts[1].var() / len(ts[1]))
        assert abs(ts[0].mean() - ts[1].mean()) < 4 * se, i

    # lab time between two clicks
    gaps = [np.diff([r[2] for r in rows]).astype(float) for rows in (r0, r1)]
    assert stats.ks_2samp(gaps[0], gaps[1]).pvalue > 0.001

    # the heralded state the click leaves
    fid = [np.array([r[3] for r in rows if not np.isnan(r[3])]) for rows in (r0, r1)]
    assert min(len(fid[0]), len(fid[1])) > 20
    assert stats.ks_2samp(fid[0], fid[1]).pvalue > 0.001
    se = np.sqrt(fid[0].var() / len(fid[0]) + fid[1].var() / len(fid[1]))
    assert abs(fid[0].mean() - fid[1].mean()) < 4 * se
