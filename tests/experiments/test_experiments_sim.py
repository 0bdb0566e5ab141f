# SPDX-License-Identifier: LGPL-3.0-or-later
"""Each repository experiment runs in the simulator at a small size and gives physically right
outcomes against the lab description. Skipped until the simulator is complete."""

import math

import numpy as np
import pytest

from tests.experiments.simhelpers import REPO, run, simulation


@pytest.fixture
def sim(tmp_path):
    s = simulation(tmp_path, lab="oxford2020", seed=1)
    yield s
    s.close()


def test_startup(sim):
    run(sim, "startup")


def test_dark_counts(sim):
    # 20 x 50 ms = 1 s per detector: ~20 dark counts each at 20 s^-1
    d = run(sim, "dark_counts", gates=20, gate_length=0.05)
    lab = sim.lab
    duration = d["dark.duration_s"]
    assert abs(duration - 1.0) < 1e-6
    total_expected = 0.0
    for key in ("dark.counts", "background.counts"):
        for i, det in enumerate(lab.bsa.detectors):
            expected = det.dark_rate_hz * duration
            assert abs(d[key][i] - expected) < 4 * math.sqrt(expected), (key, i, d[key][i])
        total_expected = sum(det.dark_rate_hz for det in lab.bsa.detectors) * duration
        assert abs(int(np.sum(d[key])) - total_expected) < 4 * math.sqrt(total_expected)
    assert np.allclose(d["calib.bsa.dark_rate_hz"], np.asarray(d["dark.counts"]) / duration)
    # what the rates were measured from, for their uncertainty (analysis.dark_rate)
    assert d["calib.bsa.dark_counts"] == [int(k) for k in d["dark.counts"]]
    assert d["calib.bsa.dark_duration_s"] == pytest.approx(duration)


def test_dark_counts_at_30_khz_reads_every_count(tmp_path):
    """30 kHz dark counts a detector, the default 10 ms gate (5 of them): 300 counts a gate, far
    more than a detector's 64-event input FIFO. Every count is read (the sub-gates follow the
    rate): 1500 ± 4σ a detector and condition, the calibration stored. Before, the run stopped
    with ``RTIOOverflow`` on a detector (exit 1, one line naming drivers/bsa.py)."""
    from sim.lab_resolution import resolve_lab

    lab = resolve_lab("oxford2020", None, ["bsa.detectors[*].dark_rate_hz=30000"])
    sim = simulation(tmp_path, lab=lab, seed=1)
    try:
        d = run(sim, "dark_counts", gates=5)
    finally:
        sim.close()
    duration = d["dark.duration_s"]
    assert abs(duration - 0.05) < 1e-6
    expected = 30000 * duration
    for key in ("dark.counts", "background.counts"):
        assert np.all(np.abs(d[key] - expected) < 4 * math.sqrt(expected)), (key, d[key])
    assert np.allclose(d["calib.bsa.dark_rate_hz"], np.asarray(d["dark.counts"]) / duration)


def test_dark_counts_faster_than_the_cpu_reads_are_refused_saying_so(tmp_path):
    """2 MHz dark counts a detector: more than the CPU reads from four detectors, so a FIFO
    overflows even in the shortest sub-gate. The run stops in one line that says so and what to
    check; the stored dark rates stay."""
    from sim.lab_resolution import resolve_lab

    lab = resolve_lab("oxford2020", None, ["bsa.detectors[*].dark_rate_hz=2e6"])
    sim = simulation(tmp_path, lab=lab, seed=1, startup=False)  # Startup counts for seconds
    try:
        sim.dataset_db.set("calib.bsa.dark_rate_hz", [20.0] * 4, persist=True)
        r = sim.run(REPO / "dark_counts.py", None, {"gates": 1, "gate_length": 0.0002})
        assert r.exit_code == 1
        assert "faster than the CPU reads four detectors" in r.error_message, r.error_message
        assert "check the detectors" in r.error_message and "\n" not in r.error_message
        assert sim.dataset_db.get("calib.bsa.dark_rate_hz") == [20.0] * 4
    finally:
        sim.close()


@pytest.mark.slow
def test_readout_calibration_threshold(sim):
    d = run(sim, "readout_calibration", shots=200)
    for x in "ab":
        node = sim.lab.node(x)
        t = d["calib.readout.threshold_" + x]
        mb = node.readout.bright_rate_hz * d["calib.node_{}.detect.duration".format(x)]
        md = node.readout.dark_rate_hz * d["calib.node_{}.detect.duration".format(x)]
        assert md <= t < mb
        assert d["calib.readout.error_" + x] < 0.1


@pytest.mark.parametrize(
    "name, arguments, taken, checks",
    [
        (
            "readout_calibration",
            {"shots": 120},
            lambda d: [len(d[f"readout.{s}_counts_{x}"]) for x in "ab" for s in ("dark", "bright")],
            None,
        ),
        (
            "single_photon",
            {"attempts": 700, "gate_length": 0.0},
            lambda d: list(d["photons.attempts"]),
            None,
        ),
        # one check between the two conditions (none again on resuming)
        (
            "dark_counts",
            {"gates": 5},
            lambda d: [len(d["dark.counts"]), len(d["background.counts"])],
            1,
        ),
        # a check after each delay but the last and every 500 runs within one: the first cuts
        # delay 0 after 500 of its 700 runs
        (
            "hom",
            {"runs_per_delay": 700, "delays": "[0, 400]"},
            lambda d: [len(d["hom.attempts"]), int(np.count_nonzero(d["hom.attempts"]))],
            3,
        ),
    ],
)
def test_experiments_resume_after_a_pause(sim, monkeypatch, name, arguments, taken, checks):
    """A pause requested at the first check: the kernel returns, the host pauses and runs the
    kernel again, which takes only what is still missing (nothing lost, nothing twice)."""
    calls = []

    def check_pause(rid=None):
        calls.append(rid)
        return len(calls) == 1

    pauses = []
    monkeypatch.setattr(sim.scheduler, "check_pause", check_pause)
    monkeypatch.setattr(sim.scheduler, "pause", lambda: pauses.append(1))
    d = run(sim, name, **arguments)
    got = taken(d)
    assert pauses == [1] and got == [got[0]] * len(got) and got[0] > 0, (got, pauses)
    if checks is None:
        n = arguments.get("shots", arguments.get("attempts"))
        assert len(calls) >= 2 and got[0] == n
    else:
        assert len(calls) == checks, calls
    if name == "hom":  # every delay its runs' attempts (timed-out runs: the same number)
        assert len(set(d["hom.attempts"].tolist())) == 1, d["hom.attempts"]
    if name == "dark_counts":
        assert len(d["calib.bsa.dark_rate_hz"]) == 4


@pytest.mark.slow
def test_single_photon_lifetime_and_eta(sim):
    from sim.physics.budget import predict
    from sim.physics.excitation import pumping_probability
    from sim.physics.photon_modes import pulse_stats

    d = run(sim, "single_photon", attempts=5000, gate_length=0.0)  # gate: gate_taus lifetimes
    assert d["photon.underflows_recovered"] == 0
    assert list(d["photons.attempts"]) == [5000, 5000]
    lab = sim.lab
    tau = lab.nodes[0].species.lifetime_s
    assert abs(d["photon.tau_s"] - tau) < 4 * d["photon.tau_err_s"]
    b = predict(lab)
    qe = np.mean([x.efficiency for x in lab.bsa.detectors])
    jit = np.mean([x.jitter_s for x in lab.bsa.detectors])
    for i, x in enumerate("ab"):
        node = lab.nodes[i]
        st = pulse_stats(node, 0, 0)
        # budget eta (per photon, nominal 15 ns gate) scaled to this run's 1000 ns window (clicks
        # relative to the excitation; photons arrive after photon_delay) and per attempt
        delay = node.optics.photon_delay_s
        g_nom = st.gate_probability(
            lab.loop.gate_start_s, lab.loop.gate_start_s + lab.loop.gate_length_s, 0.0, jit
        )
        g_run = st.gate_probability(-delay, 1000e-9 - delay, 0.0, jit)
        assert (
            abs(b.eta[i] - node.species.branching_ratio * node.optics.efficiency * qe * g_nom)
            < 1e-12
        )
        p_pump = pumping_probability(999e-9, node.pumping_time_s)
        expected = b.eta[i] / g_nom * g_run * st.p_emit * p_pump
        eta = d["photon.eta_" + x]
        assert abs(eta - expected) < 4 * d["photon.eta_err_" + x], (x, eta, expected)
    # recommended gate: from the photon arrival (photon_delay) for gate_taus = 3 lifetimes
    start, stop = d["photon.gate_recommended_mu"]
    delay_mu = lab.nodes[0].optics.photon_delay_s * 1e9
    assert abs(start - delay_mu) <= 2
    assert abs((stop - start) - 3 * tau * 1e9) < 4 * 3 * d["photon.tau_err_s"] * 1e9 + 2
    assert d["calib.photon.gate_start_mu"] == start and d["calib.photon.gate_stop_mu"] == stop


@pytest.mark.slow
def test_hom_visibility_equals_mode_overlap(sim):
    from sim.physics.photon_modes import mode_overlap

    d = run(sim, "hom", runs_per_delay=10000, delays="[0, 400]")
    assert d["hom.underflows_recovered"] == 0
    lab = sim.lab
    # ~133 cycles of 1.496 us per 200 us run (the gate held open 800 ns after the calibrated one)
    assert d["hom.attempts"][0] == d["hom.attempts"][1] > 10000 * 130
    m = mode_overlap(lab, 0.0, tuple(n.motion.doppler_n for n in lab.nodes))
    assert abs(m - lab.bsa.mode_overlap) < 1e-4
    assert abs(d["hom.visibility"] - m) < 4 * d["hom.visibility_err"]


@pytest.mark.slow
def test_remote_entanglement_cpu_quick(sim):
    """CPU heralding (gate_rising + timestamp_mu per attempt): honest lab-time rate, P_succ vs the
    budget, Z anti-correlation. Three heralds (~21k attempts, seed 1) keep it under 20 s."""
    from sim.physics.budget import predict

    b = predict(sim.lab)
    d = run(sim, "remote_entanglement_cpu", mode="z", heralds_per_setting=3)
    n = d["totals.heralds"]
    att = d["totals.attempts"]
    assert n == 3 and d["totals.underflows_recovered"] == 0 and d["totals.heralds_discarded"] == 0
    assert att == int(np.sum(d["herald.attempts"]))
    # heralds ~ Poisson(P_succ * attempts)
    mu = b.p_succ * att
    assert abs(n - mu) < 4 * math.sqrt(mu)
    # the attempt period is CPU-bound: DMA start + 16 events + 4 input reads + resync on Kasli
    period = d["totals.lab_time_s"] / att
    assert 2.5e-6 < period < 5e-6, period
    span = (d["herald.t_lab_mu"][-1] - d["herald.t_lab_mu"][0]) * 1e-9
    assert span <= d["totals.lab_time_s"]
    assert (
        abs(d["totals.duty_cycle"] - att * d["totals.cycle_mu"] * 1e-9 / d["totals.lab_time_s"])
        < 1e-9
    )
    assert np.all(d["herald.bit_a"] != d["herald.bit_b"])
    assert set(d["herald.pattern"]) <= {0b0011, 0b1100, 0b1001, 0b0110}


@pytest.mark.slow
def test_remote_entanglement_cpu_rate_and_fidelity(tmp_path):
    """CPU heralding at the target_99_1khz lab (η ≈ 0.047 per node, so ~5× fewer attempts per
    herald than oxford2020): heralds ~ Poisson(P_succ · attempts) and Z anti-correlation within
    4σ."""
    from sim.physics.budget import predict

    s = simulation(tmp_path, lab="target_99_1khz", seed=3)
    try:
        b = predict(s.lab)
        d = run(s, "remote_entanglement_cpu", mode="z", heralds_per_setting=25)
    finally:
        s.close()
    n = d["totals.heralds"]
    att = d["totals.attempts"]
    assert n == 25 and d["totals.underflows_recovered"] == 0
    assert att == int(np.sum(d["herald.attempts"]))
    mu = b.p_succ * att
    assert abs(n - mu) < 4 * math.sqrt(mu)
    odd = int(np.sum(d["herald.bit_a"] != d["herald.bit_b"]))
    p_odd = 1 - sum(b.spam)
    assert n - odd < n * (1 - p_odd) + 4 * math.sqrt(n * p_odd * (1 - p_odd)) + 1


def test_timing_calibration_stores_costs(sim):
    from sim.rtio.costs import KASLI2

    d = run(sim, "timing_calibration", repeats=20)
    expected = {
        "output_mu": KASLI2.rtio_output,
        "input_read_mu": KASLI2.rtio_input,
        "counter_read_mu": KASLI2.get_counter,
        "dma_playback_start_mu": KASLI2.dma_playback_start,
        "dma_playback_per_event_mu": KASLI2.dma_playback_event,
        "delay_mu": KASLI2.delay,
    }
    for key, value in expected.items():
        # the counter reads in multiples of 8 mu: averaged over 20 operations, +-1 mu
        assert abs(d["calib.timing." + key] - value) <= 1, (key, d["calib.timing." + key])
    p = d["calib.timing.min_pulse_period_mu"]
    assert abs(p - 2 * (KASLI2.rtio_output + KASLI2.delay)) <= 8
    assert 100 <= p <= 480 and 100 <= p // 2 <= 480  # ARTIQ PulseRate bounds
    assert d["calib.timing.rpc_mu"] >= 0


def test_timing_calibration_rpc_cost(sim):
    """A synchronous RPC costs the Kasli profile's round trip on the RTIO counter."""
    from sim.rtio.costs import KASLI2

    d = run(sim, "timing_calibration", repeats=20)
    assert abs(d["calib.timing.rpc_mu"] - KASLI2.rpc) <= 8
