# SPDX-License-Identifier: LGPL-3.0-or-later
"""The CPU-heralding path's rate model (``drivers.cpu_link_timing``, ``ionlink-sim budget LAB
--path cpu``) against the simulated loop of ``repository/remote_entanglement_cpu.py``.

Silent detectors make the loop deterministic: the lab time of N attempts is the model's to the mu
(the attempt period, the cooling blocks' ends, the pause checks; the difference of two runs, so
the kernel's start cancels). Dark counts alone check a click's cost (statistical, from each
detector's click probability), and a short heralding run the handling of each herald to the mu
from its pattern, det0's click time and node B's counts. Checked with planted errors, each fails
its test: the counter read left out of the attempt's tail (80 mu per attempt), det0's click
costed nothing (its first read returns at the click: the dark-count test 7σ off) and node B's
count reads left out of the herald handling (≈ 1 600 mu per herald). The heralded state's Z
populations are the budget's and the gateware path's exactly (each herald's state at its
readout); checked with the CPU path's rounds drawn without polarisation mixing (odd population
0.9997 against 0.9848): it fails.
"""

import json

import pytest

from sim.physics.cpu_budget import cpu_budget_dict, cpu_herald_timing, predict_cpu
from tests.experiments.simhelpers import REPO, assert_lab_duty_is_the_budgets, simulation

SILENT = ("bsa.detectors.*.efficiency=0.0", "bsa.detectors.*.dark_rate_hz=0.0")


def _lab(name, *sets):
    from sim.lab_resolution import resolve_lab

    return resolve_lab(name, None, sets)


def _run(tmp_path, lab, seed=1, device_db="device_db.py", **arguments):
    """The CPU experiment in Z mode at ``lab``; its datasets (a run that stops at its herald
    timeout still writes them)."""
    sim = simulation(tmp_path, lab=lab, seed=seed, device_db=device_db)
    try:
        args = {"mode": "z", **arguments}
        return sim.run(REPO / "remote_entanglement_cpu.py", None, args).datasets
    finally:
        sim.close()


def _handling_model(t, d) -> float:
    """The model's herald handling (mu) summed over a run's heralds (datasets ``d``), each from
    its pattern, det0's click time and node B's counts (:meth:`after_trace_mu`)."""
    model = 0.0
    for pattern, ts, counts in zip(d["herald.pattern"], d["herald.t_det_mu"], d["herald.counts_b"]):
        clicks = 240 * bin(int(pattern) & 0b1110).count("1")
        if pattern & 1:
            clicks += t.det0_click_mu(int(ts[0]))
        model += t.after_trace_mu(clicks, int(counts))
    return model


def _handling_is_the_models(t, d, heralds: int) -> tuple[int, float]:
    """A run's ``heralds`` heralds, without underflows, and its herald handling within the 8 mu
    grid of :func:`_handling_model`'s a herald: ``(heralds, handling in mu)``."""
    n = int(d["totals.heralds"])
    assert n == heralds and d["totals.underflows_recovered"] == 0
    model = _handling_model(t, d)
    handling = d["totals.herald_handling_s"] * 1e9
    assert abs(handling - model) <= 8 * n, (handling, model)
    return n, handling


def test_constants_are_the_simulators():
    """The model's constants are the driver's, the PHY's and the cost table's."""
    from drivers import bsa
    from drivers import cpu_link_timing as c
    from sim.rtio.costs import KASLI2
    from sim.rtio.phy import ttl

    assert c.GATE_INPUT_OFFSET_MU == bsa.GATE_INPUT_OFFSET_MU == ttl.GATE_OFFSET_MU
    assert c.INPUT_ARRIVAL_MU == ttl.INPUT_ARRIVAL_MU
    assert c.GATE_LATENCY_MU == 13 * 8
    assert (c._INPUT_READ_MU, c._COUNTER_READ_MU, c._CURSOR_STEP_MU) == (
        KASLI2.rtio_input,
        KASLI2.get_counter,
        KASLI2.delay,
    )
    assert c._HERALD_FIXED_MU == c.GATE_LATENCY_MU + KASLI2.rtio_input + KASLI2.rpc_async + 80
    assert c.RPC_MU == KASLI2.rpc
    from drivers import link_timing
    from sim.rtio.engine import BREAK_REALTIME_SLACK_MU

    assert link_timing.BREAK_REALTIME_MU == BREAK_REALTIME_SLACK_MU
    assert c._COOL_PLAYBACK_MU == KASLI2.dma_playback_start + 8 * KASLI2.dma_playback_event + 24


@pytest.mark.parametrize(
    "name, fibre_m",
    [("oxford2020", None), ("duke2024", None), ("oxford2020", 2), ("target_99_1khz", 20_000)],
)
def test_silent_loop_lab_time_is_the_models(tmp_path, name, fibre_m):
    """N attempts without a click (stopped by ``herald_timeout``): the lab time between two
    such runs is the model's exactly: oxford2020 re-cools every 191 attempts, duke2024 and
    target_99_1khz cool continuously and pay for their pause checks. With ``fibre_m``, node B
    on a DRTIO satellite (``device_db_drtio.py``) that far away: the slack margin holds three
    link latencies (870 mu at 2 m, 300 840 mu at 20 km; the latter's 4000 attempts take 1.2 s,
    past 2**31 mu of lab time, where a block cut at the herald timeout once overflowed the
    simulated driver's int32 arithmetic)."""
    two = fibre_m is not None
    lab = _lab(name, *SILENT, *([f"drtio.fibre_m={fibre_m}"] if two else []))
    t = cpu_herald_timing(lab, "z", two_chassis=two)
    db = "device_db_drtio.py" if two else "device_db.py"
    k = -(-t.check_every // t.attempts_per_cool)  # coolings between two pause checks
    lab_mu = []
    model = []
    for i, n in enumerate((7, 7 + 4 * k * t.attempts_per_cool + 13)):
        d = _run(tmp_path / str(i), lab, device_db=db, heralds_per_setting=1, herald_timeout=n)
        assert d["totals.attempts"] == n and d["totals.heralds"] == 0
        coolings = int(d["totals.runs"])
        assert coolings == -(-n // t.attempts_per_cool)
        lab_mu.append(round(d["totals.lab_time_s"] * 1e9))
        model.append(t.lab_time_mu(n, coolings, 0, settings=0, checks=(coolings - 1) // k))
    assert t.clicks == (0.0, 0.0, 0.0, 0.0)
    assert lab_mu[1] - lab_mu[0] == pytest.approx(model[1] - model[0], abs=0.5), (lab_mu, model)
    # the attempt period the budget prints
    periods = {("oxford2020", None): 3248, ("duke2024", None): 4152}
    periods |= {("oxford2020", 2): 3248 + 872, ("target_99_1khz", 20_000): 3232 + 300_840}
    assert t.attempt_mu == periods[name, fibre_m]
    assert t.loop.link_mu == (0 if not two else {2: 290, 20_000: 100_280}[fibre_m])


@pytest.mark.parametrize(
    "sets,arguments,fields",
    [
        (
            (),
            {"attempts_per_cool": 20, "check_every": 45},
            {"attempts_per_cool": 20, "check_every": 45},
        ),
        (("loop.cycle_s=2e-6",), {"excite_time": 1500e-9}, {"excite_time_s": 1500e-9}),
    ],
)
def test_silent_loop_follows_the_runs_arguments(tmp_path, sets, arguments, fields):
    """The budget of a run with its own ``attempts_per_cool`` and ``check_every`` (``budget
    --path cpu --attempts-per-cool 20 --check-every 45``) or ``excite_time`` (``--excite-time
    1500e-9``) is that run's lab time to the mu. Before 2026-12-02 the CPU budget kept the
    lab's 191 attempts per cooling, 500 per check and excitation at 584 ns whatever the run
    played (at oxford2020, Z mode, gate [29, 44), 300 heralds each: ``attempts_per_cool=20``
    simulated R = 47.7 ± 2.8 s⁻¹ against the budget's 62.8, −5.5σ, now 49.8;
    ``excite_time=1500e-9 cycle_length=2e-6`` 47.2 ± 2.7 against 61.0 with ``--set
    loop.cycle_s=2e-6``, −5.1σ, now 48.6)."""
    from dataclasses import replace

    from sim.physics.cpu_budget import CPU_ARGUMENTS

    lab = _lab("oxford2020", *SILENT, *sets)
    t = cpu_herald_timing(lab, "z", replace(CPU_ARGUMENTS, **fields))
    k = -(-t.check_every // t.attempts_per_cool)
    lab_mu = []
    model = []
    for i, n in enumerate((7, 7 + 4 * k * t.attempts_per_cool + 13)):
        d = _run(tmp_path / str(i), lab, heralds_per_setting=1, herald_timeout=n, **arguments)
        coolings = int(d["totals.runs"])
        assert coolings == -(-n // t.attempts_per_cool)
        lab_mu.append(round(d["totals.lab_time_s"] * 1e9))
        model.append(t.lab_time_mu(n, coolings, 0, settings=0, checks=(coolings - 1) // k))
    assert lab_mu[1] - lab_mu[0] == pytest.approx(model[1] - model[0], abs=0.5), (lab_mu, model)


def test_dark_count_clicks_cost_what_the_model_says(tmp_path):
    """Dark counts in det0 and det2 alone (3 % each per attempt; never a herald pattern): the
    lab time beyond the silent loop's is the clicks' (det0 ≈ 225 mu, det2 240), within 3σ of
    the click count (≈ 350)."""
    lab = _lab(
        "oxford2020",
        "bsa.detectors.*.efficiency=0.0",
        "bsa.detectors.*.afterpulse_prob=0.0",
        "bsa.detectors.*.dark_rate_hz=0.0",
        "bsa.detectors[0].dark_rate_hz=2e6",
        "bsa.detectors[2].dark_rate_hz=2e6",
    )
    t = cpu_herald_timing(lab, "z")
    assert t.clicks[1] == t.clicks[3] == 0 and t.clicks[0] == t.clicks[2] > 0.02
    n = 6_000
    d = _run(tmp_path, lab, heralds_per_setting=1, herald_timeout=n)
    assert d["totals.attempts"] == n and d["totals.heralds"] == 0
    coolings = int(d["totals.runs"])
    k = -(-t.check_every // t.attempts_per_cool)  # coolings between two pause checks
    expected = n * t.click_mu
    silent = t.lab_time_mu(n, coolings, 0, settings=1, checks=(coolings - 1) // k) - expected
    clicks_mu = d["totals.lab_time_s"] * 1e9 - silent
    sigma = 240 * (n * sum(t.clicks)) ** 0.5
    assert abs(clicks_mu - expected) < 3 * sigma, (clicks_mu, expected, sigma)


def test_herald_handling_and_rate_against_the_simulation(tmp_path):
    """target_99_1khz, 12 heralds: each herald's handling is the model's from its pattern,
    det0's click time and node B's counts (to the 8 mu grid); the lab time is the model's for
    the counts observed (0.1 %; the clicks are the expected ones); P within 3σ."""
    lab = _lab("target_99_1khz")
    b = predict_cpu(lab, "z")
    t = b.timing
    d = _run(tmp_path, lab, seed=3, heralds_per_setting=12)
    n, handling = _handling_is_the_models(t, d, 12)
    att, coolings = int(d["totals.attempts"]), int(d["totals.runs"])
    lab_mu = d["totals.lab_time_s"] * 1e9
    assert t.lab_time_mu(att, coolings, n, settings=1) == pytest.approx(lab_mu, rel=1e-3)
    p = n / att
    assert abs(p - b.link.p_succ) < 3 * b.link.p_succ / n**0.5, (p, b.link.p_succ)
    assert_lab_duty_is_the_budgets(d, cpu_budget_dict(lab, "z"))


def test_herald_handling_and_rate_on_two_chassis(tmp_path):
    """target_99_1khz with node B on a DRTIO satellite (``device_db_drtio.py``), 12 heralds: each
    herald's handling is the model's from its pattern, det0's click time and node B's counts,
    each of node B's PMT reads (its counts and the one that times out) a round trip over the
    link (580 mu); the loop's lab time is the model's for the attempts and coolings made; P
    within 3σ of the one-chassis physics (the satellite's TTLs play node B's trace at its
    timestamps)."""
    lab = _lab("target_99_1khz")
    b = predict_cpu(lab, "z", two_chassis=True)
    t = b.timing
    assert t.loop.link_mu == 290 and t.loop.margin_mu == 1799 + 3 * 290
    d = _run(tmp_path, lab, seed=3, device_db="device_db_drtio.py", heralds_per_setting=12)
    n, handling = _handling_is_the_models(t, d, 12)
    att, coolings = int(d["totals.attempts"]), int(d["totals.runs"])
    expected_handling = n * (t.herald_handling_mu - (t.attempt_mu - t.loop.cycle_mu))
    loop_model = t.lab_time_mu(att, coolings, n, settings=1) - expected_handling
    loop_mu = d["totals.lab_time_s"] * 1e9 - (handling - n * (t.attempt_mu - t.loop.cycle_mu))
    assert loop_model == pytest.approx(loop_mu, rel=1e-3), (loop_model, loop_mu)
    p = n / att
    assert abs(p - b.link.p_succ) < 3 * b.link.p_succ / n**0.5, (p, b.link.p_succ)


def test_heralded_z_populations_are_the_budgets(tmp_path, monkeypatch):
    """oxford2020, 15 heralds: the odd-parity population of each herald's state at its readout
    (the exact conditional state the world keeps, before the readout samples it) is the
    budget's (genuine heralds with F_pol, double excitations and dark counts at ½; from its
    terms) and the gateware path's (its cycle model's herald patterns) to 3e-4: the CPU loop
    heralds the same populations (0.98482; budget 0.98476, gateware 0.98477)."""
    import numpy as np

    from sim.physics import world
    from sim.physics.attempts import HERALD_PATTERNS
    from sim.physics.budget import predict
    from sim.physics.cycle_build import build_cycle_model, nominal_cycle

    lab = _lab("oxford2020")
    terms = predict(lab, "z").terms
    wrong = 4 / 3 * (terms["double excitation"] + terms["dark counts"])  # P_2X + P_dc over P
    budget = (1 - wrong) * (1 - terms["polarisation mixing"]) + wrong / 2
    cycle = build_cycle_model(lab, *nominal_cycle(lab), n_bars=(10.0, 10.0))
    probs = [cycle.pattern_probs[q] for q in HERALD_PATTERNS]
    states = [cycle.table.conditional_state(q, cycle.rho0)[0] for q in HERALD_PATTERNS]
    odd = [np.real(rho[1, 1] + rho[2, 2]) for rho in states]
    gateware = float(np.dot(probs, odd) / np.sum(probs))
    sim = simulation(tmp_path, lab=lab, seed=1)
    seen = []
    measure = world.measure_z

    def recording(rho, ion, rng):
        if ion == 0:
            seen.append(float(np.real(rho[1, 1] + rho[2, 2])))
        return measure(rho, ion, rng)

    monkeypatch.setattr(world, "measure_z", recording)
    try:
        args = {"mode": "z", "heralds_per_setting": 15}
        d = sim.run(REPO / "remote_entanglement_cpu.py", None, args).datasets
    finally:
        sim.close()
    assert int(d["totals.heralds"]) == len(seen) == 15
    assert abs(gateware - budget) < 3e-4, (gateware, budget)
    for p_odd in seen:
        assert abs(p_odd - budget) < 3e-4, (p_odd, budget)


def test_cli_cpu_path(capsys):
    """``budget LAB --path cpu --json``: the CPU loop's figures, R from R_loop and T_herald, P
    and the error terms but T2 the gateware budget's; ``--path cpu --gate``: one line, exit 2."""
    from sim.cli import main

    assert main(["budget", "oxford2020", "--path", "cpu", "--mode", "z", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert main(["budget", "oxford2020", "--mode", "z", "--json"]) == 0
    g = json.loads(capsys.readouterr().out)
    assert d["path"] == "cpu" and d["p_success"] == g["p_success"]
    assert d["attempt_period_s"] == pytest.approx(3.248e-6)
    assert d["rate_hz"] == pytest.approx(1 / (1 / d["loop_rate_hz"] + d["herald_time_s"]))
    assert d["loop_rate_hz"] == pytest.approx(d["p_success"] / d["loop_time_per_attempt_s"])
    assert d["gateware"]["rate_hz"] == pytest.approx(g["rate_hz"])
    assert 2e-6 < d["herald_to_rotation_s"] < 4e-6
    assert {k: v for k, v in d["terms"].items() if "T2" not in k and "SPAM" not in k} == {
        k: v for k, v in g["terms"].items() if "T2" not in k and "SPAM" not in k
    }
    assert main(["budget", "oxford2020", "--path", "cpu", "--gate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--path cpu" in err[0], err
    # on two chassis: the margin's three latencies in the period, the line that says so
    db = str(REPO.parent / "device_db_drtio.py")
    assert main(["budget", "oxford2020", "--path", "cpu", "--device-db", db, "--json"]) == 0
    two = json.loads(capsys.readouterr().out)
    assert two["two_chassis"] and two["drtio_latency_s"] == pytest.approx(290e-9)
    assert two["attempt_period_s"] == pytest.approx(4.120e-6)
    assert two["p_success"] == d["p_success"] and two["rate_hz"] < d["rate_hz"]
    assert main(["budget", "oxford2020", "--path", "cpu", "--device-db", db]) == 0
    assert "two chassis: node B on a DRTIO satellite, fibre 2 m" in capsys.readouterr().out
