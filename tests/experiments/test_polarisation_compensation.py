# SPDX-License-Identifier: LGPL-3.0-or-later
"""Fibre polarisation compensation over more than 10 minutes of simulated drift.

The repository's lab with drifting fibres (σ = 0.015 rad/√s per Stokes component, steps of 5 s:
an rms rotation of ≈ 0.6 rad per fibre after 10 min). The readout thresholds and the photon gate
are set to what ReadoutCalibration and SinglePhoton give for this lab (2 counts; gate 30–45 mu)
instead of running them, to keep the test short.

- With compensation every 60 s (reference light, ``waveplates`` controller) the measured error
  just before each correction stays small, and the fidelity measured after ≥ 10 min lies within
  3σ of the budget's (σ from its 95 % interval, two-sided: (hi − lo)/3.92).
- Then the same lab left alone for 10 more minutes: the polarisation error grows and the
  fidelity falls more than 0.05 below the budget, by more than its 3σ.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis import fidelity_summary
from analysis.cli import main as analysis_main
from sim.physics.budget import predict
from sim.physics.lab import load_lab
from sim.runner import Simulation

ROOT = Path(__file__).resolve().parents[2]
CALIBRATIONS = {
    "calib.readout.threshold_a": 2,
    "calib.readout.threshold_b": 2,
    "calib.photon.gate_start_mu": 30,
    "calib.photon.gate_stop_mu": 45,
}


def _drifting_lab(tmp_path: Path) -> Path:
    text = (ROOT / "lab.toml").read_text()
    text = text.replace("drift_rad_per_sqrt_s = 0.0 ", "drift_rad_per_sqrt_s = 0.015 ")
    text = text.replace("drift_step_s = 1.0", "drift_step_s = 5.0")
    assert text.count("drift_rad_per_sqrt_s = 0.015") == 2
    path = tmp_path / "drifting.toml"
    path.write_text(text)
    return path


def _sigma(est) -> float:
    return (est.hi - est.lo) / 3.92


def _plates(sim) -> list[float]:
    """The waveplate controller's plate angles (sorted by plate name)."""
    from artiq.experiment import EnvExperiment

    class Plates(EnvExperiment):
        def build(self):
            self.setattr_device("waveplates")

        def run(self):
            pos = self.waveplates.positions()
            self.set_dataset("plates", [pos[k] for k in sorted(pos)])

    return list(sim.run(Plates).datasets["plates"])


@pytest.mark.slow
def test_compensation_keeps_fidelity_through_drift(tmp_path):
    lab_path = _drifting_lab(tmp_path)
    budget = predict(load_lab(lab_path)).fidelity_measured
    with Simulation(
        ROOT / "device_db.py",
        seed=3,
        lab=str(lab_path),
        results_dir=tmp_path / "results",
        dataset_db=False,
    ) as sim:
        for key, value in CALIBRATIONS.items():
            sim.dataset_db.set(key, value, persist=True)
        assert sim.run(ROOT / "repository" / "startup.py").exit_code == 0
        fids, errors, spans = [], [], []
        for compensate, rounds, interval in ((True, 11, 60.0), (False, 2, 600.0)):
            pc = sim.run(
                ROOT / "repository" / "polarisation_compensation.py",
                arguments={
                    "rounds": rounds,
                    "interval": interval,
                    "compensate": compensate,
                    "gates": 5,
                },
            )
            assert pc.exit_code == 0
            t = pc.datasets["polcomp.t_lab_s"]
            spans.append(t[-1] - t[0])
            errors.append(pc.datasets["polcomp.error"])
            re = sim.run(
                ROOT / "repository" / "remote_entanglement.py",
                arguments={"mode": "parity", "heralds_per_setting": 20},
            )
            assert re.exit_code == 0
            fids.append(fidelity_summary([re.results_file]).fidelity)
    (f_comp, f_free), (e_comp, e_free) = fids, errors
    assert min(spans) >= 600.0, spans
    # compensated: the error at the worst point of every interval stays small, F on budget.
    # After T = 60 s of drift (σ = 0.015 rad/√s per Stokes component) the error before a
    # correction is sin²(θ/2) ≈ σ²T·χ²₃/4: mean 0.010, plus the correction's residual (≈ the
    # shot-noise floor, 0.002). Seeds 1-12 gave means 0.013-0.018 and maxima 0.023-0.076 over
    # the 22 values (3 of 12 above 0.05, the bound this test had until 2026-12-02: it held by its
    # seed's luck). Bounds: the mean below 0.03 (> 5σ above the seeds' means); every value below
    # 0.1 (χ²₃ ≈ 30 at 60 s, p ≈ 10⁻⁶; ≈ 15 if a correction was skipped as noise, 120 s)
    assert e_comp.mean() < 0.03 and e_comp.max() < 0.1, e_comp
    assert abs(f_comp.value - budget) <= 3 * _sigma(f_comp), (f_comp, budget)
    # left alone for 10 min: the error grows and F falls by more than 0.05 (and beyond 3σ)
    assert e_free[-1].max() > 0.05, e_free
    assert budget - f_free.value > max(0.05, 3 * _sigma(f_free)), (f_free, budget)
    print(f"budget {budget:.4f}; compensated {f_comp}; left alone {f_free}")
    print(f"errors before each correction, max {e_comp.max():.4f}; after 10 min alone {e_free[-1]}")


def test_a_termination_signal_cuts_the_wait_between_rounds_short(tmp_path, capsys):
    """SIGTERM once round 1 of 3 is measured (600 s of lab time between rounds): the wait sees
    the request at its next check, one second of lab time later, instead of after its 600 s
    (the old wait checked only when it had ended); the run ends with round 1 written, exit 143,
    and the file says why (``totals.stop_reason`` = ``terminated``, which ``ionlink-analyze
    info`` lists; before, the file did not say)."""
    import os
    import signal

    from sim.experiment_file import load_experiment_module

    base = load_experiment_module(ROOT / "repository" / "polarisation_compensation.py")

    class SignalledCompensation(base.PolarisationCompensation):  # type: ignore[misc, name-defined]
        def set_dataset(self, key, value, **kwargs):
            super().set_dataset(key, value, **kwargs)
            if key == "ionlink.progress" and value > 0:
                os.kill(os.getpid(), signal.SIGTERM)

        def run(self):
            try:
                super().run()
            finally:
                self.set_dataset("t_end_s", self.lab_time_mu() * self.core.ref_period)

    with Simulation(
        ROOT / "device_db.py", seed=3, results_dir=tmp_path / "results", dataset_db=False
    ) as sim:
        assert sim.run(ROOT / "repository" / "startup.py").exit_code == 0
        r = sim.run(SignalledCompensation, None, {"rounds": 3, "interval": 600.0, "gates": 5})
    assert r.exit_code == 128 + signal.SIGTERM, r.error_message
    t = r.datasets["polcomp.t_lab_s"]
    assert not np.isnan(t[0]) and np.isnan(t[1:]).all(), t
    # round 1 with its plate moves takes ≈ 10 s of lab time, then 1 s of the wait (old: 610 s)
    assert r.datasets["t_end_s"] - t[0] < 30.0, r.datasets["t_end_s"] - t[0]
    assert r.datasets["totals.stop_reason"] == "terminated"
    capsys.readouterr()
    assert analysis_main(["info", str(r.results_file)]) == 0
    assert "  totals.stop_reason  object[] = terminated" in capsys.readouterr().out.splitlines()


def test_a_pause_yields_and_the_rounds_go_on(tmp_path, monkeypatch):
    """A pause request before round 1 and one during the wait after it: the experiment yields
    each time (``scheduler.pause()``) and takes every round, the second after the whole
    interval of lab time (the wait goes on to the same end); before, a pause ended the rounds.
    The run records that it took them all (``totals.stop_reason`` = ``complete``)."""
    with Simulation(
        ROOT / "device_db.py", seed=3, results_dir=tmp_path / "results", dataset_db=False
    ) as sim:
        assert sim.run(ROOT / "repository" / "startup.py").exit_code == 0
        calls, pauses = [], []

        def check_pause(rid=None):
            calls.append(rid)
            return len(calls) in (1, 3)  # before round 1; the wait's second check

        monkeypatch.setattr(sim.scheduler, "check_pause", check_pause)
        monkeypatch.setattr(sim.scheduler, "pause", lambda: pauses.append(len(calls)))
        r = sim.run(
            ROOT / "repository" / "polarisation_compensation.py",
            arguments={"rounds": 2, "interval": 10.0, "gates": 5},
        )
    assert r.exit_code == 0, r.error_message
    assert pauses == [1, 3], pauses
    t = r.datasets["polcomp.t_lab_s"]
    assert not np.isnan(t).any() and not np.isnan(r.datasets["polcomp.error"]).any()
    assert t[1] - t[0] > 10.0, t
    assert r.datasets["totals.stop_reason"] == "complete"


def test_a_failed_measurement_leaves_the_plates_where_it_found_them(tmp_path):
    """``oxford2020`` has no reference light: a node's Stokes measurement fails (exit 1, the
    message names the missing ``[nodes.a.reference]``), after its dark counts let some probe
    settings through. The plates are back at the angles the run found: left at a probe setting
    (as they were before the fix: qwp1 ≈ 180°, hwp 157.5°), every later run's photons were
    rotated and the heralded fidelity fell to ≈ 0.5 with P and R unchanged. The file says the
    run ended on an error (``totals.stop_reason`` = ``exception``)."""
    with Simulation(
        ROOT / "device_db.py",
        seed=1,
        lab="oxford2020",
        results_dir=tmp_path / "results",
        dataset_db=False,
    ) as sim:
        assert sim.run(ROOT / "repository" / "startup.py").exit_code == 0
        before = _plates(sim)
        pc = sim.run(ROOT / "repository" / "polarisation_compensation.py", arguments={"gates": 5})
        assert pc.exit_code == 1 and "[nodes.a.reference]" in pc.error_message, pc.error_message
        assert int(np.sum(pc.datasets["polcomp.counts"])) > 0  # probes were played
        assert pc.datasets["totals.stop_reason"] == "exception"
        after = _plates(sim)
    assert before == after, (before, after)


def _reference_run(tmp_path, rate_hz: str, arguments: dict):
    """Polarisation compensation at ``lab.toml`` with reference light of ``rate_hz`` (s⁻¹) at
    the analyser, after Startup (seed 1): the run's result."""
    from sim.lab_resolution import resolve_lab

    lab = resolve_lab(str(ROOT / "lab.toml"), None, [f"nodes.*.reference.rate_hz={rate_hz}"])
    with Simulation(
        ROOT / "device_db.py", seed=1, lab=lab, results_dir=tmp_path / "r", dataset_db=False
    ) as sim:
        assert sim.run(ROOT / "repository" / "startup.py").exit_code == 0
        return sim.run(ROOT / "repository" / "polarisation_compensation.py", arguments=arguments)


def test_a_path_without_error_is_not_corrected_into_the_noise(tmp_path, caplog):
    """The repository's lab with no drift (its paths exact: the identity at 0°) and weak
    reference light (3000 s⁻¹: ≈ 270 counts a node and round): the measured errors are shot
    noise (≈ 0.015 a node). The plates stay where they were, the error's noise floor is recorded
    and a warning says so. Before, the plates were driven to undo the noise: the paths were then
    truly off by what was measured (0.027 and 0.049 after one round at seed 1, exit 0), which
    every later run's photons carried."""
    from drivers.polarisation import COMPENSATOR, compensator, unitary_infidelity

    pc = _reference_run(tmp_path, "3000", {"rounds": 2})
    assert pc.exit_code == 0, pc.error_message
    floor = pc.datasets["polcomp.error_floor"]
    assert np.all((floor > 0.005) & (floor < 0.03)), floor
    for angles in pc.datasets["polcomp.angles"].reshape(-1, 3):
        path = compensator(dict(zip(COMPENSATOR, angles)))
        assert unitary_infidelity(path, np.eye(2)) < 0.01, pc.datasets["polcomp.angles"]
    assert "within the reference counts' noise" in caplog.text


def test_bright_reference_light_is_counted_in_sub_gates_the_fifo_holds(tmp_path):
    """Reference light of 1e6 s⁻¹ at the analyser (≈ 3500 counts a setting in 5 ms, up to 350
    in each 1 ms gate on a detector: more than its 64-event input FIFO holds): the sub-gates
    follow the rate, every setting's total is the same within 4σ (none lost counts) and the
    paths (no drift) measure close to exact. Before, the run stopped with ``RTIOOverflow`` on a
    detector (exit 1)."""

    pc = _reference_run(tmp_path, "1e6", {"gates": 5})
    assert pc.exit_code == 0, pc.error_message
    totals = pc.datasets["polcomp.counts"].sum(axis=-1)
    mean = totals.mean()
    assert mean > 3000 and np.all(np.abs(totals - mean) < 4 * np.sqrt(mean)), totals
    assert np.all(pc.datasets["polcomp.error"] < 0.01), pc.datasets["polcomp.error"]


def test_reference_light_faster_than_the_cpu_reads_is_refused_saying_so(tmp_path):
    """Reference light of 1e7 s⁻¹: a FIFO overflows even in the shortest sub-gate; the run stops
    in one line that says the detectors counted faster than the CPU reads and to attenuate the
    light, with the plates where they were."""

    pc = _reference_run(tmp_path, "1e7", {"gates": 1})
    assert pc.exit_code == 1
    assert "faster than the CPU reads four detectors" in pc.error_message, pc.error_message
    assert "attenuate node a's reference light" in pc.error_message
    assert "\n" not in pc.error_message


@pytest.mark.parametrize("dark_calibration", [False, True])
def test_dark_counts_alone_are_refused_not_compensated_on(tmp_path, dark_calibration):
    """``oxford2020`` (no reference light) with 8 kHz dark counts on each detector (``--set
    'bsa.detectors[*].dark_rate_hz=8000'``): ≈ 160 dark counts a detector and setting, none
    zero. Before, the "rotation" rebuilt from them was compensated on: at seed 1 node b's plates
    went to (129.7°, 130.1°, 20.8°) (its measured error 0.988 above 3 × its noise floor 0.326;
    dark counts alone pass that check in ≈ 20 % of runs, the rest warned; after a Dark counts
    run, to (170.8°, 35.7°, 40.3°)), exit 0. Now the run
    stops in one line saying the counts are what dark counts alone give (their H/V contrast
    does not follow the settings; after a Dark counts run, their total is what its rates
    give), exit 1, every plate where it was."""
    from sim.lab_resolution import resolve_lab

    lab = resolve_lab("oxford2020", None, ["bsa.detectors[*].dark_rate_hz=8000"])
    with Simulation(
        ROOT / "device_db.py", seed=1, lab=lab, results_dir=tmp_path / "r", dataset_db=False
    ) as sim:
        assert sim.run(ROOT / "repository" / "startup.py").exit_code == 0
        if dark_calibration:
            assert sim.run(ROOT / "repository" / "dark_counts.py").exit_code == 0
        before = _plates(sim)
        pc = sim.run(ROOT / "repository" / "polarisation_compensation.py")
        after = _plates(sim)
    message = pc.error_message
    assert pc.exit_code == 1, (pc.exit_code, message, pc.datasets.get("polcomp.angles"))
    assert "\n" not in message and "no reference light reached the detectors" in message
    if dark_calibration:
        assert "the calibrated dark counts (calib.bsa.dark_rate_hz) alone give" in message, message
    else:
        assert "as dark counts alone" in message, message
    assert np.min(pc.datasets["polcomp.counts"][0, 0].sum(axis=-1)) > 400
    assert before == after, (before, after)


def test_the_contrast_test_tells_dark_counts_from_reference_light():
    """The H/V contrast test on synthetic counts (Poisson, 50 draws each): dark counts alone,
    even with detectors of unequal rates (one at 3× the others), pass as dark counts
    (p ≥ 1e-3, as expected at most once in 1000); reference light through a random path, 100
    counts a setting over 20 dark counts, is told apart every time."""
    from drivers.polarisation import (
        REF_D_DEG,
        REF_H_DEG,
        analyser_rotations,
        jones_from_rotation_vector,
        reference_input,
    )
    from sim.experiment_file import load_experiment_module

    module = load_experiment_module(ROOT / "repository" / "polarisation_compensation.py")
    rng = np.random.default_rng(7)
    dark = np.array([300.0, 100.0, 100.0, 100.0])

    def counts(path, light):
        mu = []
        for ref in (REF_H_DEG, REF_D_DEG):
            for a in analyser_rotations():
                h = abs((a @ path @ reference_input(ref))[0]) ** 2
                mu.append(light * np.array([h, 1 - h, h, 1 - h]) / 2 + dark / 20)
        return rng.poisson(np.array(mu))

    for _ in range(50):
        path = jones_from_rotation_vector(rng.normal(size=3))
        assert module.contrast_p_value(counts(path, 0.0))[2] >= module.LIGHT_P_VALUE
        assert module.contrast_p_value(counts(path, 100.0))[2] < module.LIGHT_P_VALUE
