# SPDX-License-Identifier: LGPL-3.0-or-later
"""PhysicsWorld driven through a scripted fake PhyView: clicks are caused by what was played."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.physics.lab import Lab
from sim.physics.photon_modes import pulse_stats
from sim.physics.readout import fluorescence_rates, readout_errors
from sim.physics.view import DDSState
from sim.physics.world import PhysicsWorld

from .conftest import DEVICES, modify, scripted_world

DET_CH = [DEVICES[f"bsa_det{i}"][1] for i in range(4)]
PMT_A = DEVICES["node_a.pmt"][1]


def _ideal_optics(lab: Lab, eff: float = 1.0) -> Lab:
    return modify(
        lab,
        **{
            "nodes__*__optics__collection_efficiency": eff,
            "nodes__*__optics__transmission": 1.0,
            "nodes__*__optics__fibre_transmission": 1.0,
            "nodes__*__optics__polarisation_mixing": 0.0,
            "bsa__detectors__*__efficiency": 1.0,
            "bsa__detectors__*__dark_rate_hz": 0.0,
            "bsa__detectors__*__afterpulse_prob": 0.0,
        },
    )


def _rising(world: PhysicsWorld, t_end: int) -> list[list[int]]:
    return [[t for t, lvl in world.input_edges(ch, t_end) if lvl == 1] for ch in DET_CH]


def test_arrival_times_follow_lifetime(oxford: Lab) -> None:
    """Click times after the played pulse are Exp(τ) (mean and tail within 4σ)."""
    lab = _ideal_optics(oxford)
    world, view = scripted_world(lab, 1)
    n, period = 3000, 2000
    for j in range(n):
        view.pulse("node_a.pump_sw", j * period, 500)
        view.pulse("node_a.excite", j * period + 600, 8)
    clicks = np.concatenate([np.array(c) for c in _rising(world, n * period)])
    dt = (clicks % period) - 600 - 30  # minus excitation time and photon delay, mu
    tau_mu = lab.nodes[0].species.lifetime_s / 1e-9
    assert len(dt) > 0.9 * n
    sigma = tau_mu / math.sqrt(len(dt))
    assert abs(dt.mean() + 0.5 - tau_mu) < 4 * sigma  # floor to 1 mu biases by −0.5
    tail = np.mean(dt >= 2 * tau_mu)
    # P(floor(t) ≥ 2τ) = e^{−⌈2τ⌉/τ}
    p_tail = math.exp(-math.ceil(2 * tau_mu) / tau_mu)
    assert abs(tail - p_tail) < 4 * math.sqrt(p_tail * (1 - p_tail) / len(dt))


def test_no_photon_without_pulse_or_pumping(oxford: Lab) -> None:
    """No clicks without an excitation pulse, and none from an ion left in |1⟩ (not pumped)."""
    lab = _ideal_optics(oxford)
    world, view = scripted_world(lab, 2)
    view.pulse("node_a.pump_sw", 0, 500)  # pumped, never excited
    assert all(not c for c in _rising(world, 100_000))
    world, view = scripted_world(lab, 3)
    view.set_dds("node_a.qubit_dds", DDSState(0, 5e6, 0.0, 1.0))
    view.pulse("node_a.qubit_sw", 1000, 5000)  # π pulse: |0⟩ → |1⟩, not addressable
    for j in range(100):
        view.pulse("node_a.excite", 10_000 + 1000 * j, 8)
    assert sum(len(c) for c in _rising(world, 200_000)) == 0


@pytest.mark.slow
def test_success_probability_half_eta_squared(oxford: Lab) -> None:
    """Four-detector ψ± heralding: P = ½ η_A η_B (within 4σ), ψ± split evenly."""
    lab = _ideal_optics(oxford, eff=0.5)
    world, view = scripted_world(lab, 4)
    n, period = 4000, 2000
    for j in range(n):
        for node in "ab":
            view.pulse(f"node_{node}.pump_sw", j * period, 500)
            view.pulse(f"node_{node}.excite", j * period + 600, 8)
    rising = _rising(world, n * period)
    patterns = np.zeros(n, dtype=int)
    for i, ts in enumerate(rising):
        for t in ts:
            patterns[t // period] |= 1 << i
    heralds = np.isin(patterns, [0b0011, 0b1100, 0b1001, 0b0110]).sum()
    node = lab.nodes[0]
    stats = pulse_stats(node, 0, 8)
    eta = (stats.p_emit - stats.p_double) * node.species.branching_ratio * 0.5
    p = 0.5 * eta * eta
    assert abs(heralds / n - p) < 4 * math.sqrt(p * (1 - p) / n)
    plus = np.isin(patterns, [0b0011, 0b1100]).sum()
    assert abs(plus - heralds / 2) < 4 * math.sqrt(heralds / 4)


def test_dark_counts_rate_and_dead_time(oxford: Lab) -> None:
    """Dark counts are a Poisson process at the lab rate; no two clicks closer than the dead
    time."""
    lab = modify(
        oxford,
        **{"bsa__detectors__*__dark_rate_hz": 2e5, "bsa__detectors__*__afterpulse_prob": 0.0},
    )
    world, _ = scripted_world(lab, 5)
    t_end = 5_000_000  # 5 ms
    rising = _rising(world, t_end)
    expect = 2e5 * 5e-3
    for ts in rising:
        assert abs(len(ts) - expect) < 4 * math.sqrt(expect) + expect * 2e5 * 22e-9
        assert np.all(np.diff(ts) >= 22)
    again = world.input_edges(DET_CH[0], t_end)
    assert again == [] or again[0][0] >= t_end - 10 and again[0][1] == 0


def test_rotation_from_dds_state(oxford: Lab) -> None:
    """θ = Ω·amplitude·t with detuning from the DDS frequency: detuned Rabi formula, exactly."""
    world, view = scripted_world(oxford, 6)
    rabi, res = oxford.nodes[0].qubit.rabi_frequency_hz, oxford.nodes[0].qubit.resonance_hz
    amp, det_hz, t_s = 0.5, 30e3, 7e-6
    view.set_dds("node_a.qubit_dds", DDSState(0, res + det_hz, 0.0, amp))
    view.pulse("node_a.qubit_sw", 1000, int(t_s / 1e-9))
    world.advance(20_000)
    om, de = 2 * math.pi * rabi * amp, 2 * math.pi * det_hz
    w = math.hypot(om, de)
    p1 = om**2 / w**2 * math.sin(w * t_s / 2) ** 2
    assert world.rho[2, 2].real + world.rho[3, 3].real == pytest.approx(p1, abs=1e-3)


@pytest.mark.parametrize(
    ("att", "change", "p1"),
    [
        (10.0, None, 1.0),  # the lab's attenuation: a π pulse
        (10.0 + 20 * math.log10(2), None, 0.5),  # half the RF voltage: π/2
        (10.0, 10.0 + 20 * math.log10(2), math.sin(0.375 * math.pi) ** 2),  # π/2 + π/4
        (None, None, 1.0),  # not written since power-up: taken at the lab's
    ],
)
def test_rotation_follows_the_attenuator(
    oxford: Lab, att: float | None, change: float | None, p1: float
) -> None:
    """The Rabi frequency scales with the RF voltage through the Urukul attenuator,
    10^(−(att − attenuation_db)/20); a change of attenuation half-way cuts the pulse there."""
    world, view = scripted_world(oxford, 6)
    rabi, res = oxford.nodes[0].qubit.rabi_frequency_hz, oxford.nodes[0].qubit.resonance_hz
    assert oxford.nodes[0].qubit.attenuation_db == 10.0
    t_pi = round(0.5 / rabi / 1e-9)
    view.set_dds("node_a.qubit_dds", DDSState(0, res, 0.0, 1.0))
    if att is not None:
        view.set_att("node_a.qubit_dds", 0, att)
    if change is not None:
        view.set_att("node_a.qubit_dds", 1000 + t_pi // 2, change)
    view.pulse("node_a.qubit_sw", 1000, t_pi)
    world.advance(20_000)
    assert world.rho[2, 2].real + world.rho[3, 3].real == pytest.approx(p1, abs=2e-3)


def test_ramsey_phase_from_dds(oxford: Lab) -> None:
    """Two π/2 pulses: phase 0 then 0.5 turns return the ion to |0⟩; 0 then 0 give |1⟩."""
    t_half = round(0.25 / oxford.nodes[0].qubit.rabi_frequency_hz / 1e-9)
    res = oxford.nodes[0].qubit.resonance_hz
    for phase2, expect in ((0.5, 0.0), (0.0, 1.0)):
        world, view = scripted_world(oxford, 7)
        view.set_dds("node_a.qubit_dds", DDSState(0, res, 0.0, 1.0))
        view.pulse("node_a.qubit_sw", 1000, t_half)
        view.set_dds("node_a.qubit_dds", DDSState(8000, res, phase2, 1.0))
        view.pulse("node_a.qubit_sw", 10_000, t_half)
        world.advance(20_000)
        assert world.rho[2, 2].real == pytest.approx(expect, abs=2e-3)


def test_readout_error_is_poisson_overlap(oxford: Lab) -> None:
    """Thresholded PMT counts of bright and dark ions: errors = Poisson overlap (4σ)."""
    lab = modify(
        oxford,
        **{"nodes__*__readout__bright_rate_hz": 20e3, "nodes__*__readout__dark_rate_hz": 5e3},
    )
    world, view = scripted_world(lab, 8)
    node = lab.nodes[0]
    t_pi = round(0.5 / node.qubit.rabi_frequency_hz / 1e-9)
    view.set_dds("node_a.qubit_dds", DDSState(0, node.qubit.resonance_hz, 0.0, 1.0))
    n, period, det = 1500, 400_000, 300_000
    for j in range(n):
        t = j * period
        view.pulse("node_a.pump_sw", t, 1000)
        if j % 2:
            view.pulse("node_a.qubit_sw", t + 2000, t_pi)
        view.pulse("node_a.detect_sw", t + 10_000, det)
    counts = np.zeros(n, dtype=int)
    for t, lvl in world.input_edges(PMT_A, n * period):
        if lvl:
            counts[t // period] += 1
    n_bar = world.ions.thermal[0].n
    bright, dark = fluorescence_rates(node.readout, node.motion, n_bar)
    k = 2
    e_b, e_d = readout_errors(bright * det * 1e-9, dark * det * 1e-9, k)
    m_b = np.mean(counts[1::2] <= k)
    m_d = np.mean(counts[0::2] > k)
    assert abs(m_b - e_b) < 4 * math.sqrt(e_b * (1 - e_b) / (n / 2))
    assert abs(m_d - e_d) < 4 * math.sqrt(e_d * (1 - e_d) / (n / 2))


def test_determinism(oxford: Lab) -> None:
    """One seed gives identical clicks; another seed does not."""

    def run(seed: int) -> list:
        lab = modify(oxford, **{"bsa__detectors__*__dark_rate_hz": 1e5})
        world, view = scripted_world(lab, seed)
        for j in range(200):
            for node in "ab":
                view.pulse(f"node_{node}.pump_sw", j * 2000, 500)
                view.pulse(f"node_{node}.excite", j * 2000 + 600, 8)
        return [world.input_edges(ch, 400_000) for ch in DET_CH]

    assert run(11) == run(11)
    assert run(11) != run(12)


@pytest.mark.parametrize("dephasing", ["gaussian", "exponential"])
def test_deterministic_windows_match_segment_physics(oxford: Lab, dephasing: str) -> None:
    """Cooling/pumping windows applied as one memoised superoperator give the state that the
    segment-by-segment evolution gives: rho to 1e-12, n̄ and coherence origins exactly."""
    from sim.physics.ions import bell_state

    lab = modify(
        oxford,
        **{
            "nodes__*__dephasing": dephasing,
            "nodes__*__t2_s": 500e-6,
            "nodes__*__pumping_time_s": 2e-6,
        },
    )  # partial: coherence survives
    results = []
    for planned in (True, False):
        world, view = scripted_world(lab, 11)
        if not planned:
            world._deterministic = lambda events: False  # type: ignore[method-assign]
        world.ions.rho = bell_state(+1)
        for th in world.ions.thermal:
            th.n = 40.0
        period = 30_000
        for r in range(4):  # the same cooling/pumping pattern in every period (as between runs)
            t = 1_000 + r * period
            view.pulse("node_a.cool_sw", t, 200)  # short: coherence survives to be compared
            view.pulse("node_b.cool_sw", t + 150, 300)
            view.pulse("node_a.pump_sw", t + 9_000, 20)
            view.pulse("node_b.pump_sw", t + 9_100, 20)
        for r in range(4):  # windows with the same relative timing
            world.advance((r + 1) * period)
        world.advance(4 * period + 12_345)
        results.append(
            (world.rho, [th.n for th in world.ions.thermal], list(world._coh_t0), len(world._plans))
        )
    (rho_p, n_p, coh_p, plans), (rho_d, n_d, coh_d, _) = results
    assert np.allclose(rho_p, rho_d, atol=1e-12)
    assert abs(rho_p[1, 2]) > 1e-3  # coherence left to compare
    assert n_p == n_d  # (the same operations in the same order)
    assert coh_p == pytest.approx(coh_d, rel=1e-12)
    assert 1 <= plans <= 3  # the repeated window is built once and reused
