# SPDX-License-Identifier: LGPL-3.0-or-later
"""Every preset end to end, and the budget's prediction against the Monte Carlo.

One simulated session per preset, as a lab day goes: Startup → readout calibration →
single-photon calibration → remote entanglement (parity scan, ≥ 2000 heralds). The loop timing
comes from the lab description (``calib.link.*``), the gate from the single-photon calibration,
and the budget is the one of the gate the run played (``sim.budget_arguments.played_gate``).
Tolerances: P and the lab-time rate within 3σ of the simulated statistics (σ from the herald
count, Poisson); the budget's measured fidelity inside the analysis' 95 % interval; the timeline
model of ``drivers.link_timing`` within 1 % of the simulated lab time for the counts observed
(deterministic: it checks that the budget assumes the timing the simulation plays).
"""

import math
import re

import numpy as np
import pytest

from tests.experiments.simhelpers import REPO, ROOT

HERALDS_PER_SETTING = 223  # 9 settings: 2007 heralds
SEEDS = {"oxford2020": 11, "duke2024": 12, "target_99_1khz": 13}


def _session(tmp_path, lab, seed):
    from sim.runner import Simulation

    return Simulation(
        ROOT / "device_db.py",
        seed=seed,
        lab=lab,
        results_dir=tmp_path / "results",
        dataset_db=False,
    )


def _ok(result):
    assert result.exit_code == 0, result.error_message
    return result


@pytest.mark.slow
@pytest.mark.parametrize("lab", sorted(SEEDS))
def test_preset_monte_carlo_agrees_with_budget(tmp_path, lab):
    from analysis import fidelity_summary
    from sim.budget_arguments import played_gate
    from sim.physics.budget import LoopArguments, herald_timing, predict

    with _session(tmp_path, lab, SEEDS[lab]) as sim:
        _ok(sim.run(REPO / "startup.py"))
        _ok(sim.run(REPO / "readout_calibration.py", arguments={"shots": 200}))
        _ok(sim.run(REPO / "single_photon.py", arguments={"attempts": 3000}))
        r = _ok(
            sim.run(
                REPO / "remote_entanglement.py",
                arguments={"mode": "parity", "heralds_per_setting": HERALDS_PER_SETTING},
            )
        )
        b = predict(sim.lab, "parity", arguments=LoopArguments(gate_mu=played_gate(r.results_file)))
        timing = herald_timing(sim.lab, "parity")
    d = r.datasets
    n, attempts = int(d["totals.heralds"]), int(d["totals.attempts"])
    lab_s = float(d["totals.lab_time_s"])
    assert n == 9 * HERALDS_PER_SETTING and d["totals.underflows_recovered"] == 0
    assert d["totals.cycle_mu"] == timing.cycle_mu
    # the budget's timeline model for the counts the simulation produced (1 %; the phases are
    # programmed once per setting)
    runs = int(d["totals.runs"])
    model = timing.lab_time_mu(attempts, runs, n, settings=n // HERALDS_PER_SETTING) * 1e-9
    assert abs(model - lab_s) < 0.01 * lab_s, (model, lab_s)
    # P = heralds/attempts: 3σ (Poisson herald count)
    p_hat = n / attempts
    assert abs(p_hat - b.p_succ) < 3 * b.p_succ / math.sqrt(n), (p_hat, b.p_succ)
    # rate in lab time: 3σ (the waiting time per herald is geometric, σ_R ≈ R/√n)
    rate = n / lab_s
    assert abs(rate - b.rate_hz) < 3 * b.rate_hz / math.sqrt(n), (rate, b.rate_hz)
    # the budget's measured fidelity inside the analysis' 95 % interval
    f = fidelity_summary([r.results_file], n_boot=400).fidelity
    assert f.lo <= b.fidelity_measured <= f.hi, (f, b.fidelity_measured)


def _zero_efficiency_lab(tmp_path):
    """oxford2020 with detectors of efficiency 0 (everything else unchanged)."""
    from sim.physics.lab import LABS_DIR

    text = (LABS_DIR / "oxford2020.toml").read_text()
    text, k = re.subn(r"(?m)^efficiency = [0-9.e-]+", "efficiency = 0.0", text)
    assert k == 4
    text = text.replace('name = "oxford2020"', 'name = "dead_detectors"')
    path = tmp_path / "dead_detectors.toml"
    path.write_text(text)
    return path


def test_zero_efficiency_link_stops_with_its_message(tmp_path, monkeypatch, capsys):
    """A link that cannot herald ends within its bound (50/P attempts; 10⁷ without a photon
    calibration), exit status 1, one clear line saying what it measured (no click on the
    detectors) and the causes that fit, and its results file written."""
    monkeypatch.chdir(tmp_path)  # (the command line's dataset store and hardware state)
    import h5py

    from sim.cli import main

    lab = _zero_efficiency_lab(tmp_path)
    results = tmp_path / "results"
    options = [
        "--lab",
        str(lab),
        "--results",
        str(results),
        "--seed",
        "1",
        "--device-db",
        str(ROOT / "device_db.py"),
        "-q",
    ]
    assert main(["run", str(REPO / "startup.py"), *options]) == 0
    capsys.readouterr()
    assert main(["run", str(REPO / "remote_entanglement.py"), *options]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "NoHeraldError: no herald in 10000" in err[0], err
    assert "no single-photon calibration" in err[0]
    # what the kernel measured (the entangler's input counters): no light, and its causes
    assert "had no click on any of the 4 detectors in the gate" in err[0], err
    assert "detectors off or not gated" in err[0] and "pumped or excited" in err[0], err
    files = list(results.rglob("*-RemoteEntanglement.h5"))
    assert len(files) == 1
    with h5py.File(files[0]) as f:
        assert f["datasets/totals.attempts"][()] >= 10**7
        assert f["datasets/totals.heralds"][()] == 0
        assert f["datasets/totals.stop_reason"][()] == b"no_herald"


def test_zero_efficiency_demo_refuses_the_photon_calibration(tmp_path, monkeypatch, capsys):
    """``ionlink-sim demo --lab`` with dead detectors stops at the single-photon calibration
    (no photons), exit status 1, without storing a gate (in the working directory's store)."""
    monkeypatch.chdir(tmp_path)
    from sim.cli import main

    lab = _zero_efficiency_lab(tmp_path)
    status = main(["demo", "--lab", str(lab), "--results", str(tmp_path / "results"), "-q"])
    err = capsys.readouterr().err
    assert status == 1
    assert "SinglePhoton failed" in err and "no photons" in err, err
    from sim.datasets import DatasetDB

    db = DatasetDB(tmp_path / "dataset_db.mdb")
    assert "calib.photon.gate_start_mu" not in db.data


def test_nonsense_readout_calibration_is_refused_and_the_old_one_stays(tmp_path):
    """A 1 µs detection cannot tell bright from dark: refused (exit 1, one line), nothing
    persistent changed."""
    from tests.experiments.simhelpers import simulation

    sim = simulation(tmp_path, lab="oxford2020", seed=2)
    try:
        before = {
            k: sim.dataset_db.get(k) for k in ("calib.readout.threshold_a", "calib.readout.error_a")
        }
        r = sim.run(REPO / "readout_calibration.py", None, {"shots": 50, "detection_time": 1e-6})
        assert r.exit_code == 1
        assert "calibration not stored" in r.error_message
        assert "readout error" in r.error_message
        assert {k: sim.dataset_db.get(k) for k in before} == before
        assert sim.dataset_db.get("calib.node_a.detect.duration") == 300e-6
    finally:
        sim.close()


def test_readout_calibration_with_a_dim_bright_ion_names_the_dim_ion(tmp_path):
    """A bright ion of 5000 s⁻¹ (≈ 1.5 counts in 300 µs, a quarter of its shots none) against
    the lab's dark 1000 s⁻¹ (0.3 counts): threshold 0, error ≈ 0.23. Refused in one line naming
    the dim bright ion and the overlapping distributions, the old calibration kept. It said
    "dark shots are not dark" (the dark shots were as dark as the lab's always are)."""
    from sim.lab_resolution import resolve_lab
    from tests.experiments.simhelpers import simulation

    lab = resolve_lab("oxford2020", None, ["nodes.*.readout.bright_rate_hz=5000"])
    sim = simulation(tmp_path, lab=lab, seed=2)
    try:
        before = sim.dataset_db.get("calib.readout.threshold_a")
        r = sim.run(REPO / "readout_calibration.py", None, {"shots": 200})
        assert r.exit_code == 1
        assert "threshold 0" in r.error_message, r.error_message
        assert "the bright ion is too dim" in r.error_message, r.error_message
        assert "distributions overlap" in r.error_message and "not dark" not in r.error_message
        assert "\n" not in r.error_message
        assert sim.dataset_db.get("calib.readout.threshold_a") == before
    finally:
        sim.close()


@pytest.mark.parametrize(
    "bright, dark, cause",
    [
        ((1.4, 0.0), (0.25, 0.0), "the bright ion is too dim"),
        ((3.0, 0.4), (0.25, 0.0), "some bright shots stayed dark"),
        ((1.4, 0.0), (1.5, 0.0), "dark shots are not dark"),
    ],
    ids=["dim", "bright-left-dark", "dark-not-dark"],
)
def test_zero_threshold_cause_compares_each_distribution_with_what_it_should_be(
    bright, dark, cause
):
    """Poisson shots (mean, share of shots with no light at all): a dim bright ion, bright shots
    left dark (more zeros than their mean's Poisson count) and dark shots of 1.5 counts each
    name their own cause."""
    import runpy

    cause_of = runpy.run_path(str(REPO / "readout_calibration.py"))["zero_threshold_cause"]
    rng = np.random.default_rng(1)

    def shots(mean, left_dark):
        return np.where(rng.random(2000) < left_dark, 0, rng.poisson(mean, 2000))

    assert cause in cause_of("a", shots(*bright), shots(*dark))


def test_single_photon_without_photons_in_the_window_is_refused(tmp_path):
    """A window that misses the photons (dark counts only): refused, the gate stays."""
    from tests.experiments.simhelpers import simulation

    sim = simulation(tmp_path, lab="oxford2020", seed=2)
    try:
        before = sim.dataset_db.get("calib.photon.gate_start_mu")
        r = sim.run(
            REPO / "single_photon.py",
            None,
            {"attempts": 300, "gate_offset": 400e-9, "gate_window": 100e-9},
        )
        assert r.exit_code == 1
        assert "no photons in the window" in r.error_message, r.error_message
        assert sim.dataset_db.get("calib.photon.gate_start_mu") == before
    finally:
        sim.close()


def test_single_photon_window_opening_after_the_rising_edge_is_refused(tmp_path):
    """A window that opens 10 ns after the photons begin to arrive (oxford2020: from 30 ns;
    ``gate_offset=40e-9``): the fit's edge is the window's start. Refused in one line, the
    calibration unchanged; before 2026-12-02 it stored the gate [40, 55), exit 0 (duke2024 with
    ``gate_offset=480e-9``: [479, 524) for photons from 471 ns)."""
    from tests.experiments.simhelpers import simulation

    sim = simulation(tmp_path, lab="oxford2020", seed=2)
    try:
        before = sim.dataset_db.get("calib.photon.gate_start_mu")
        r = sim.run(REPO / "single_photon.py", None, {"attempts": 3000, "gate_offset": 40e-9})
        assert r.exit_code == 1, r.error_message
        assert "rising edge is the start of the window [40, 1040) ns" in r.error_message
        assert "\n" not in r.error_message
        assert sim.dataset_db.get("calib.photon.gate_start_mu") == before
    finally:
        sim.close()


@pytest.mark.parametrize(
    "delay_s, dark_hz, message",
    [
        (1200e-9, 2000, "no photons stand out of the dark counts"),
        (985e-9, 20, "ns before the end of the window [0, 1000) ns"),
    ],
)
def test_single_photon_with_the_photons_not_in_the_window_is_refused(
    tmp_path, delay_s, dark_hz, message
):
    """A 2.1 µs cycle, the photons 1200 ns or 985 ns after the excitation: beyond the default
    1000 ns window, or only their first 15 ns in it. Refused in one line, the calibration
    unchanged. Before, both exited 0: beyond it (2 kHz dark counts, no Dark counts run) the
    fit of dark counts alone stored the gate [715, 730), τ = 0.05 ns, η = 0; at its end the
    gate [985, 1000) and η = 0 for both nodes (the fit's background over 11 ns extrapolated to
    the whole window)."""
    from sim.runner import resolve_lab
    from tests.experiments.simhelpers import simulation

    lab = resolve_lab(
        "oxford2020",
        None,
        [
            "loop.cycle_s=2.1e-6",
            f"nodes.*.optics.photon_delay_s={delay_s}",
            f"bsa.detectors[*].dark_rate_hz={dark_hz}",
        ],
    )
    sim = simulation(tmp_path, lab=lab, seed=1)
    try:
        before = {k: sim.dataset_db.get(k) for k in sim.dataset_db.data if "photon" in k}
        r = sim.run(REPO / "single_photon.py", None, {"attempts": 2500})
        assert r.exit_code == 1 and message in r.error_message, r.error_message
        assert "\n" not in r.error_message
        assert {k: sim.dataset_db.get(k) for k in before} == before
    finally:
        sim.close()


def test_single_photon_over_10_khz_calibrated_dark_counts_is_stored(tmp_path):
    """10 kHz dark counts a detector, measured by a Dark counts run (``calib.bsa.dark_rate_hz``),
    5000 attempts a node: 200 dark counts and ≈ 120 photons a node in the 1 µs window, 8σ
    above them, ≈ 100 photons against 3 dark counts in the 15 ns gate. The calibration is
    stored, the gate at the photons' edge and η within 3σ of the window's (0.025). It was
    refused as "no photons in the window" (305 clicks against 3 × 202 dark counts): the lab's
    recommended order (Dark counts first) could not calibrate what the run without a Dark
    counts run (η from its own background) calibrates."""
    from sim.physics.budget import photon_eta
    from sim.runner import resolve_lab
    from tests.experiments.simhelpers import simulation

    lab = resolve_lab("oxford2020", None, ["bsa.detectors[*].dark_rate_hz=10000"])
    sim = simulation(tmp_path, lab=lab, seed=1)
    try:
        sim.dataset_db.set("calib.bsa.dark_rate_hz", [1e4] * 4, persist=True)
        r = sim.run(REPO / "single_photon.py", None, {"attempts": 5000})
        assert r.exit_code == 0, r.error_message
        assert sim.dataset_db.get("calib.photon.gate_start_mu") in (29, 30)
        eta, p1, p2, _ = photon_eta(lab, lab.nodes[0], (0, 1000))
        for x in "ab":  # ≈ 320 clicks a node in 5000 attempts: σ(η) ≈ 0.0036
            assert abs(sim.dataset_db.get("calib.photon.eta_" + x) - eta * (p1 + p2)) < 0.011
    finally:
        sim.close()


def test_single_photon_expects_first_clicks_of_100_khz_dark_counts(tmp_path):
    """100 kHz dark counts a detector, as a Dark counts run measures them, 5000 attempts a node:
    a detector stores its first click of the 1 µs window only, so the dark counts give
    4·(1 − e^(−0.1)) = 0.3807 clicks an attempt, 1903.3 a node. η ≈ 0.025 adds ≈ 112, 2.6σ: the
    photons do not stand out by 5σ and the run is refused against that expectation (20000
    attempts store η = 0.025). It expected r·T, 2000.0, and refused 1998 clicks as "no photons"
    against 2011 from the measured rates."""
    from sim.runner import resolve_lab
    from tests.experiments.simhelpers import simulation

    lab = resolve_lab("oxford2020", None, ["bsa.detectors[*].dark_rate_hz=100000"])
    sim = simulation(tmp_path, lab=lab, seed=1)
    try:
        sim.dataset_db.set("calib.bsa.dark_rate_hz", [1e5] * 4, persist=True)
        r = sim.run(REPO / "single_photon.py", None, {"attempts": 5000})
        assert r.exit_code == 1
        expected = 5000 * 4 * -math.expm1(-0.1)
        assert "(dark counts expect {:.1f})".format(expected) in r.error_message, r.error_message
    finally:
        sim.close()


def test_single_photon_with_node_b_50_ns_late_is_refused(tmp_path):
    """Node B's photon path 50 ns longer than node A's (80 against 30 ns): the arrivals of the
    two nodes rise 50 ns apart. Refused in one line naming both edges (exit 1), the stored gate
    unchanged: the run stored the gate [29, 44) of node A's edge, which none of node B's
    photons reach, and τ = 32 [29, 37] ns fitted to both nodes' arrivals (7.4 ns), exit 0."""
    from sim.runner import resolve_lab
    from tests.experiments.simhelpers import simulation

    lab = resolve_lab("oxford2020", None, ["nodes.b.optics.photon_delay_s=80e-9"])
    sim = simulation(tmp_path, lab=lab, seed=1)
    try:
        before = {k: sim.dataset_db.get(k) for k in sim.dataset_db.data if "photon" in k}
        r = sim.run(REPO / "single_photon.py", None, {"attempts": 2500})
        assert r.exit_code == 1
        assert "node b's photons arrive 50 ns after node a's" in r.error_message, r.error_message
        assert "\n" not in r.error_message
        assert {k: sim.dataset_db.get(k) for k in before} == before
        assert "calib.photon.tau_s" not in before or before["calib.photon.tau_s"] < 1e-8
        assert (r.datasets["photon.onset_a_mu"], r.datasets["photon.onset_b_mu"]) in (
            (29, 79),
            (30, 80),
            (29, 80),
            (30, 79),
        )
    finally:
        sim.close()


def test_single_photon_reports_node_b_6_ns_late(tmp_path, caplog):
    """Node B's photon path 6 ns longer than node A's (36 against 30 ns), 5000 attempts a node:
    below the refusal (half the 15 ns gate), so the calibration stores its gate, but it now
    measures the offset from the nodes' mean arrival times (≈ 100 photons a node: ±2 ns) and
    warns that it costs ≈ 0.28 of the fidelity. Before, it passed silently: the rising edges it
    stores resolve whole ns at best. Equal paths, the same seed: an interval about 0, no
    warning."""
    from sim.runner import resolve_lab
    from tests.experiments.simhelpers import simulation

    found = {}
    for delay in (30e-9, 36e-9):
        lab = resolve_lab("oxford2020", None, [f"nodes.b.optics.photon_delay_s={delay}"])
        sim = simulation(tmp_path / str(delay), lab=lab, seed=1)
        try:
            caplog.clear()
            r = sim.run(REPO / "single_photon.py", None, {"attempts": 5000})
            assert r.exit_code == 0, r.error_message
            d = r.datasets
            found[delay] = (
                d["photon.arrival_offset_lo_mu"],
                d["photon.arrival_offset_mu"],
                d["photon.arrival_offset_hi_mu"],
                "after node a's (mean arrival times)" in caplog.text,
            )
        finally:
            sim.close()
    lo, _, hi, warned = found[30e-9]
    assert lo < 0 < hi and not warned, found
    lo, v, hi, warned = found[36e-9]
    assert lo < 6 < hi and lo > 2 and warned, found


def test_gate_opens_at_the_rising_edge():
    """duke2024's 16 ns AOM pulse: arrivals rise over the pulse from 470 ns, peak later; the
    gate opens at the rise (±2 ns), not at the peak. An isolated early dark count is ignored."""
    from analysis.lifetime import fit_lifetime_tags

    rng = np.random.default_rng(5)
    emit = rng.uniform(0, 16, 3000) ** 0.5 * 4 + rng.exponential(7.9, 3000)  # rises, then decays
    t = np.floor(470 + emit).astype(np.int64)
    t = np.append(t, [420])  # one dark count
    fit = fit_lifetime_tags(t, stop_mu=1000.0)
    peak = int(np.argmax(np.bincount(t)))
    assert peak > 474
    assert 470 <= fit.onset <= 472


@pytest.mark.slow
def test_single_photon_gate_and_eta_over_dark_counts(tmp_path):
    """oxford2020 with 5 kHz dark counts per detector (0.24 per 1 ns bin over the 12000
    attempts' 1 µs window, ≈ 300 photons from 30 ns), calibrated as the README's chain does
    (no Dark counts run): the gate opens at the photons' edge, [29, 44) or [30, 45), and η is
    the photons' in the window (0.025 per node), not with the window's dark counts (0.045).
    The gate was [8, 23) at 1 kHz (the first pair of dark counts before the photons), stored
    with exit status 0; the link then heralded nothing."""
    from sim.physics.budget import photon_eta
    from sim.runner import resolve_lab
    from tests.experiments.simhelpers import simulation

    lab = resolve_lab("oxford2020", None, ["bsa.detectors[*].dark_rate_hz=5000"])
    sim = simulation(tmp_path, lab=lab, seed=1)
    try:
        r = sim.run(REPO / "single_photon.py", None, {"attempts": 6000})
        assert r.exit_code == 0, r.error_message
        start = sim.dataset_db.get("calib.photon.gate_start_mu")
        assert start in (29, 30) and sim.dataset_db.get("calib.photon.gate_stop_mu") == start + 15
        eta, p1, p2, _ = photon_eta(lab, lab.nodes[0], (0, 1000))
        for x in "ab":  # ≈ 150 photons and 120 dark counts a node: σ(η) ≈ 0.0027
            assert abs(sim.dataset_db.get("calib.photon.eta_" + x) - eta * (p1 + p2)) < 0.008
    finally:
        sim.close()


def test_gate_that_misses_every_photon_stops_after_50_over_p(tmp_path):
    """A calibrated link (η = 0.02 per node, τ = 7.5 ns) whose gate sits where no photon
    arrives: the run ends after ⌈50/P⌉ attempts with P = ½η_Aη_B·g² (g for the 15 ns gate),
    exit status 1, data written."""
    from drivers.link_timing import expected_p_success
    from tests.experiments.simhelpers import simulation

    sim = simulation(tmp_path, lab="oxford2020", seed=4)
    try:
        for key, value in (
            ("calib.photon.eta_a", 0.02),
            ("calib.photon.eta_b", 0.02),
            ("calib.photon.tau_s", 7.5e-9),
            ("calib.photon.gate_start_mu", 300),
            ("calib.photon.gate_stop_mu", 315),
        ):
            sim.dataset_db.set(key, value, persist=True)
        r = sim.run(REPO / "remote_entanglement.py", None, {"mode": "z", "heralds_per_setting": 5})
    finally:
        sim.close()
    bound = math.ceil(50 / expected_p_success(0.02, 0.02, 15e-9, 7.5e-9))
    assert r.exit_code == 1 and "NoHeraldError" in r.error_message
    attempts = int(r.datasets["totals.attempts"])
    assert bound <= attempts < bound + 200 * 192  # stops within one run of the bound
    assert r.datasets["totals.heralds"] == 0


def test_budget_json_gives_every_figure(capsys):
    """``ionlink-sim budget NAME --json``: the figures scripts need, and R from R_loop and
    T_herald as printed."""
    import json

    from sim.cli import main

    assert main(["budget", "target_99_1khz", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for key in (
        "p_success",
        "rate_hz",
        "fidelity_measured",
        "fidelity_state",
        "loop_rate_hz",
        "herald_time_s",
        "duty_cycle",
        "attempt_rate_hz",
        "terms",
    ):
        assert key in d, key
    assert d["loop_rate_hz"] == pytest.approx(
        d["p_success"] * d["attempt_rate_hz"] * d["duty_cycle"]
    )
    assert d["rate_hz"] == pytest.approx(1 / (1 / d["loop_rate_hz"] + d["herald_time_s"]))
    assert 300e-6 < d["herald_time_s"] < 340e-6  # 300 µs readout + reads, margins, phases


@pytest.mark.parametrize("lab, check_every", [("target_99_1khz", 10**6), ("duke2024", 20)])
def test_gateware_lab_time_is_the_models(tmp_path, lab, check_every):
    """Seeded Z runs of 300 heralds: the budget's timeline model (its runs with their pause
    checks, its heralds) gives the simulated lab time to 2 mu per herald and 0.2 % of each pause
    check (≈ 200 mu of a check's 162 µs differ where it follows a herald's handling). Before
    2026-12-01 it counted 277 mu a run too many and no pause checks (each the RPC and a
    ``break_realtime``, one per ``check_every`` runs)."""
    from sim.physics.budget import LoopArguments, herald_timing
    from tests.experiments.simhelpers import run, simulation

    sim = simulation(tmp_path, lab=lab, seed=4)
    try:
        d = run(
            sim, "remote_entanglement", mode="z", heralds_per_setting=300, check_every=check_every
        )
        timing = herald_timing(sim.lab, "z", arguments=LoopArguments(check_every=check_every))
    finally:
        sim.close()
    n, runs = int(d["totals.heralds"]), int(d["totals.runs"])
    assert n == 300
    model = timing.lab_time_mu(int(d["totals.attempts"]), runs, n, settings=1)
    tolerance = 2 * n + 0.002 * timing.check_mu * runs / check_every
    lab_mu = d["totals.lab_time_s"] * 1e9
    assert abs(lab_mu - model) < tolerance, (lab_mu, model, tolerance)


def test_gateware_p_is_the_per_node_budgets_when_the_photons_arrive_apart(tmp_path):
    """``oxford2020`` with node B's photons 6 ns before node A's (``--set
    nodes.b.optics.photon_delay_s=24e-9``), the gate [30, 45) ns from the excitation (after A's
    arrival; B's photons are in it with 0.44 of A's probability): a seeded Z run of 2000 heralds
    gives P within 3σ (Poisson herald count) of the budget of that gate, whose P is per node
    (½ p1_A p1_B η_A η_B). Before, the gateware's cycle law averaged the detectors' acceptance
    over the two nodes: P = 1.1687e-4 against the budget's 9.965e-5 (+17.3 %, 7.7σ; seed 1;
    +0.93 % with B 6 ns late, too little for a test of this size:
    ``tests/physics/test_budget_gate.py`` checks that law exactly)."""
    from sim.lab_resolution import resolve_lab
    from sim.physics.budget import LoopArguments, predict
    from tests.experiments.simhelpers import run, simulation

    lab = resolve_lab("oxford2020", None, ["nodes.b.optics.photon_delay_s=24e-9"])
    sim = simulation(tmp_path, lab=lab, seed=1)
    try:
        gate = tuple(
            int(sim.dataset_db.get(f"calib.photon.gate_{x}_mu")) for x in ("start", "stop")
        )
        d = run(sim, "remote_entanglement", mode="z", heralds_per_setting=2000)
    finally:
        sim.close()
    assert gate == (30, 45)
    b = predict(lab, "z", arguments=LoopArguments(gate_mu=gate)).p_succ
    n, attempts = int(d["totals.heralds"]), int(d["totals.attempts"])
    assert n == 2000
    assert abs(n / attempts - b) < 3 * b / math.sqrt(n), (n / attempts, b)
