# SPDX-License-Identifier: LGPL-3.0-or-later
"""The teleported remote gate, end to end: repository/remote_gate.py in the simulator at a lab
whose only errors are the ones a test switches on, analysed by ionlink-analyze gate, against the
gate budget (seeded; tolerances stated)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from physics.conftest import modify  # tests/ is on sys.path (rootdir conftest)

from analysis.cli import main as analyze
from analysis.gate_report import gate_summary
from analysis.process import gate_tomography
from sim.physics.gate_budget import drtio_feed_forward_s, predict_gate
from sim.physics.lab import Lab, load_lab

from .simhelpers import REPO, ROOT, lab_calibration, simulation


def ideal_fast(**changes: object) -> Lab:
    """oxford2025 without errors, with an efficient photon path (a herald every few attempts,
    so that a shot costs its local operations, not the link) and ``changes`` on top."""
    lab = modify(
        load_lab("oxford2025"),
        **{
            "nodes__*__gate__fidelity": 1.0,
            "nodes__*__t2_s": 1e6,
            "nodes__*__readout__prep_error": 0.0,
            "nodes__*__readout__dark_rate_hz": 0.0,
            "nodes__*__optics__polarisation_mixing": 0.0,
            "nodes__*__optics__collection_efficiency": 0.5,
            "nodes__*__optics__fibre_transmission": 1.0,
            "nodes__*__species__qubit_splitting_hz": 1.0,
            "nodes__*__ions__1__t2_s": 1e9,
            "nodes__*__ions__1__crosstalk__dephasing_per_s": 0.0,
            "bsa__mode_overlap": 1.0,
            "bsa__detectors__*__dark_rate_hz": 0.0,
            "bsa__detectors__*__afterpulse_prob": 0.0,
            "bsa__detectors__*__jitter_s": 0.0,
        },
    )
    return modify(lab, **changes) if changes else lab


def run_gate(tmp_path, lab: Lab, seed: int, device_db: str = "device_db.py", **arguments: object):
    """Startup, then RemoteGate with ``arguments`` on ``device_db``; returns the run's result."""
    from sim.runner import Simulation

    sim = Simulation(
        ROOT / device_db,
        seed=seed,
        lab=lab,
        results_dir=tmp_path / "results",
        dataset_db=False,
    )
    for key, value in lab_calibration(lab).items():
        sim.dataset_db.set(key, value, persist=True)
    with sim:
        assert sim.run(ROOT / "repository" / "startup.py").exit_code == 0
        r = sim.run(ROOT / "repository" / "remote_gate.py", None, arguments)
    assert r.exit_code == 0, r.error_message
    return r


def gate_json(path, capsys) -> dict:
    assert analyze(["gate", str(path), "--json", "--bootstrap", "40", "--seed", "1"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_ideal_teleported_cz_is_cz_in_all_four_correction_branches(tmp_path, capsys):
    """With no error switched on, process tomography of the teleported CZ (one shot per input
    and basis, 144 shots) gives F_pro = 1 within its 95 % interval, and every one of the four
    network outcomes (each with its own corrections) occurred; the feed-forward pays the
    network readout."""
    lab = ideal_fast()
    r = run_gate(tmp_path, lab, seed=3, mode="cz", heralds_per_setting=1)
    m_a, m_b = r.datasets["gate.m_a"][:, 0], r.datasets["gate.m_b"][:, 0]
    counts = np.bincount(2 * m_a + m_b, minlength=4)
    assert (counts > 10).all(), counts  # each branch ~36 of 144
    assert r.datasets["totals.stop_reason"] == "complete"
    assert r.datasets["totals.shots_requested"] == r.datasets["totals.shots"] == 144
    out = gate_json(r.results_file, capsys)
    fp = out["process_fidelity"]
    # one shot per setting: the maximum-likelihood point is biased low, the interval is not
    assert fp["ci_low"] <= 1.0 <= fp["ci_high"] and fp["value"] > 0.8, fp
    assert out["average_gate_fidelity"]["ci_high"] >= 1.0
    # the same data are far from the identity (F_pro(CZ, I) = 1/4): the check can fail
    d = r.datasets
    settings = np.array(
        [d["gate.settings." + k] for k in ("prep_a", "prep_b", "basis_a", "basis_b")]
    )
    other = gate_tomography(
        d["gate.prep_bloch"],
        d["gate.basis_axes"],
        settings.T,
        d["gate.setting"],
        d["gate.bit_a"],
        d["gate.bit_b"],
        np.eye(4),
        n_boot=20,
    )
    assert other.process_fidelity.value < 0.5  # (the interval is wide at one shot per setting)
    latency = np.asarray(r.datasets["gate.latency_mu"]) * 1e-9
    assert (latency > lab.nodes[0].readout.duration_s).all()
    assert predict_gate(lab).process_fidelity > 0.995


#: one error source at a time on the ideal lab, each large enough to take the process fidelity
#: to 0.5-0.7 (the budget's term 0.3-0.5 against σ ≈ 0.04 at 360 shots). The memory's T2 is
#: milder: the budget counts its dephasing over the feed-forward as phase flips of the logical
#: qubit, while inside the local gates the memory sits in a rotated frame where a phase flip is
#: a bit flip, and flips in different frames do not cancel in pairs as two phase flips do; at
#: T2 = 1 ms (F ≈ 0.48) that second-order difference is ≈ 0.04, at 2 ms ≈ 0.01
SOURCES = {
    "Bell pair (mode overlap 0.2)": {"bsa__mode_overlap": 0.2},
    "local gates (F = 0.88)": {"nodes__*__gate__fidelity": 0.88},
    "network readout (error 0.07)": {"nodes__*__readout__prep_error": 0.07},
    "memory T2 = 2 ms (feed-forward, attempts, copies)": {"nodes__*__ions__1__t2_s": 2e-3},
    "crosstalk dephasing 3000/s": {"nodes__*__ions__1__crosstalk__dephasing_per_s": 3000.0},
}


@pytest.mark.slow
@pytest.mark.parametrize("source", list(SOURCES))
def test_each_error_source_alone_moves_fidelity_as_budgeted(tmp_path, capsys, source):
    """One error source switched on in the ideal lab: the process fidelity of the teleported
    CZ, measured by direct fidelity estimation (the 15 Paulis' eigenstates, 6 shots each of the
    60 settings), agrees with the gate budget's prediction within 3σ. σ is the estimate's
    standard error from the shots' own ±1 outcomes (analysis.direct_fidelity), ≈ 0.04 here; the
    drop (≈ 0.5) is > 10σ, so a term off by half fails."""
    lab = ideal_fast(**SOURCES[source])
    predicted = predict_gate(lab).process_fidelity
    assert predicted < 0.7  # the term is large against the statistics
    r = run_gate(
        tmp_path, lab, seed=7, mode="cz", analysis="direct_fidelity", heralds_per_setting=6
    )
    out = gate_json(r.results_file, capsys)  # ionlink-analyze gate FILE --json
    assert out["analysis"] == "direct_fidelity" and out["shots"] == 360
    f, sigma = out["process_fidelity"]["value"], out["process_fidelity_sigma"]
    assert 0.02 < sigma < 0.06, sigma
    assert abs(f - predicted) < 3 * sigma, (source, f, sigma, predicted)


def test_two_chassis_feed_forward_pays_the_link(tmp_path):
    """The budget's feed-forward on two chassis (node B on the DRTIO satellite) exceeds one
    chassis' by more than the link's round trip (the slave entangler's answer, node B's PMT
    reads and the slack margins), and a simulated run's mean feed-forward agrees with the
    budget's on either topology within 3σ of the mean (σ: the shots' spread, from the number
    of corrections and of node B's counts read over the link, over √40). 2 km of fibre (10 µs
    one way) makes the link's share ~290 µs."""
    lab = ideal_fast(drtio__fibre_m=2000.0)
    one, two = predict_gate(lab), predict_gate(lab, two_chassis=True)
    link = drtio_feed_forward_s(lab)[1]
    assert two.feed_forward_s - one.feed_forward_s == pytest.approx(link)
    assert link > 2 * lab.drtio.latency_s * 10  # round trips per count of node B's readout
    for device_db, budget in (("device_db.py", one), ("device_db_drtio.py", two)):
        r = run_gate(
            tmp_path / device_db,
            lab,
            seed=5,
            device_db=device_db,
            mode="cz",
            analysis="truth_table",
            heralds_per_setting=10,
        )
        latency = np.asarray(r.datasets["gate.latency_mu"]) * 1e-9
        assert r.datasets["totals.underflows_recovered"] == 0
        sigma = latency.std(ddof=1) / np.sqrt(latency.size)
        assert abs(latency.mean() - budget.feed_forward_s) < 3 * sigma, (device_db, sigma)


@pytest.mark.slow
def test_memory_echo_refocuses_quasi_static_dephasing(tmp_path, capsys):
    """The ideal lab with one error, the memories' quasi-static dephasing (T2* = 0.7 ms: a
    Gaussian detuning per shot): the teleported CZ's process fidelity by direct fidelity
    estimation (2 shots per setting, 120 shots) agrees with the budget within 3σ without an echo
    (≈ 0.55, the memories' ≈ 0.7 ms of free evolution) and, with remote_gate's echo
    (dd_pulses=2: two X π pulses spaced by the measured free time), with the echoed budget
    (≈ 0.97: only the local gate's rotated frame is left). σ: the estimate's standard error
    (≈ 0.07 without the echo), floored at 0.015 (a run without a wrong outcome has σ = 0); the
    gap between the two budgets is > 5σ, so an echo that does not refocus (a detuning redrawn
    between the pulses, a π pulse not turning the accumulated phase) fails."""
    lab = ideal_fast(**{"nodes__*__ions__1__t2_star_s": 7e-4})
    for dd, lo, hi in ((0, 0.45, 0.65), (2, 0.96, 1.0)):
        predicted = predict_gate(lab, dd_pulses=dd).process_fidelity
        assert lo < predicted < hi, (dd, predicted)
        r = run_gate(
            tmp_path / f"dd{dd}",
            lab,
            seed=7,
            mode="cz",
            analysis="direct_fidelity",
            heralds_per_setting=2,
            dd_pulses=dd,
        )
        out = gate_json(r.results_file, capsys)
        f, sigma = out["process_fidelity"]["value"], out["process_fidelity_sigma"]
        assert abs(f - predicted) < 3 * max(sigma, 0.015), (dd, f, sigma, predicted)


def test_uncalibrated_gate_says_so_as_remote_entanglement_does(tmp_path, caplog):
    """Without ReadoutCalibration and SinglePhoton the remote gate runs with the defaults, as the
    hardware would (at oxford2025 a process fidelity of 0.66 against 0.86 calibrated), but says
    so as RemoteEntanglement does: one warning naming the datasets and the experiments that
    store them, the list in ``ionlink.uncalibrated``; with them the list is empty. The gate's
    analysis notes an uncalibrated run."""
    caplog.set_level(logging.WARNING)
    args = {"analysis": "truth_table", "heralds_per_setting": 1}
    for calibrated in (False, True):
        sim = simulation(tmp_path / str(calibrated), lab=ideal_fast(), calibration=calibrated)
        sim.write_results = True  # (for the gate's analysis)
        try:
            r = sim.run(REPO / "remote_gate.py", None, args)
            assert r.exit_code == 0, r.error_message
            d = r.datasets
        finally:
            sim.close()
        notes = gate_summary(r.results_file).notes
        assert notes == () if calibrated else "taken uncalibrated" in notes[0]
        assert d["ionlink.uncalibrated"] == (
            ""
            if calibrated
            else "calib.readout.threshold_a,calib.readout.threshold_b,"
            "calib.photon.gate_start_mu,calib.photon.gate_stop_mu"
        )
        warned = [r for r in caplog.records if "uncalibrated" in r.getMessage()]
        assert len(warned) == (0 if calibrated else 1)
        assert calibrated or "run ReadoutCalibration and SinglePhoton first" in warned[0].msg % (
            warned[0].args
        )
        caplog.clear()


def test_lab_without_memory_ions_is_refused_before_anything_runs(tmp_path):
    """At a lab with one network ion per node the remote gate would play its memory pulses into
    nothing and report a meaningless fidelity with exit 0: one line naming the lab, exit 2
    (bad input), and nothing played."""
    sim = simulation(tmp_path, lab="oxford2020", startup=False)
    try:
        r = sim.run(REPO / "remote_gate.py", None, {"heralds_per_setting": 1})
        assert r.exit_code == 2
        assert "lab oxford2020 has no memory ions: the remote gate needs" in r.error_message
        assert "\n" not in r.error_message
        assert not any(k.startswith("gate.") for k in r.datasets)
        assert sim.session.engine.now == 0  # no kernel ran
    finally:
        sim.close()
