# SPDX-License-Identifier: LGPL-3.0-or-later
"""Polarisation paths: the Jones algebra the compensation uses, the fibre drift (a function of
the seed and lab time only, growing as a random walk), the lab keys, the path's effect on the
heralded state, and the plates kept as hardware state."""

from __future__ import annotations

import math
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from drivers.polarisation import (
    analyser_rotations,
    compensator,
    jones_from_rotation_vector,
    net_rotation_from_stokes,
    so3_from_jones,
    solve_compensator,
    unitary_infidelity,
)
from sim.physics.bsa import IDENTITY_JONES, PSI_PLUS, NodeEmission, build_round
from sim.physics.cycle_build import build_cycle_model, nominal_cycle
from sim.physics.lab import Fibre, LabError, lab_from_dict
from sim.physics.polarisation import FibreWalk
from sim.physics.world import PhysicsWorld

from .conftest import DEVICES, FakeView

ROOT = Path(__file__).resolve().parents[2]


def test_jones_algebra(rng):
    assert np.allclose(compensator({}), np.eye(2))
    for a, e in zip(analyser_rotations(), np.eye(3)):
        assert np.allclose(so3_from_jones(a) @ e, [1, 0, 0])
    for _ in range(4):
        u = jones_from_rotation_vector(rng.normal(size=3))
        r = so3_from_jones(u)
        assert unitary_infidelity(net_rotation_from_stokes(r[:, 0], r[:, 1]), u) < 1e-12
        angles = solve_compensator(u.conj().T)
        assert unitary_infidelity(compensator(angles) @ u, np.eye(2)) < 1e-9


def test_drift_depends_only_on_seed_and_lab_time():
    f = Fibre(drift_rad_per_sqrt_s=0.05, drift_step_s=0.5)
    w1, w2, w3 = FibreWalk(f, 11, 0), FibreWalk(f, 11, 0), FibreWalk(f, 12, 0)
    late, early = w1.step_index(600.2), w1.step_index(3.0)
    assert (late, early) == (1200, 6)
    j_late, j_early = w1.jones(late), w1.jones(early)  # asked late first, then early
    assert np.array_equal(w2.jones(early), j_early) and np.array_equal(w2.jones(late), j_late)
    assert not np.allclose(w3.jones(late), j_late)
    assert not np.allclose(FibreWalk(f, 11, 1).jones(late), j_late)  # each node its own fibre
    still = FibreWalk(Fibre(drift_rad_per_sqrt_s=0.0), 11, 0)
    assert not still.drifts and still.step_index(1e6) == 0


def test_drift_grows_as_a_random_walk():
    """Small angles: θ² after time t has mean 3σ²t (3 components); 150 fibres, the mean within
    4 of its standard errors (θ²/(σ²t) ~ χ²₃, variance 6)."""
    sigma, t, n = 0.01, 60.0, 150
    f = Fibre(drift_rad_per_sqrt_s=sigma, drift_step_s=1.0)
    theta2 = []
    for seed in range(n):
        u = FibreWalk(f, seed, 0).jones(int(t))
        theta2.append((2 * math.acos(min(abs(np.trace(u)) / 2, 1.0))) ** 2)
    mean = np.mean(theta2) / (sigma**2 * t)
    assert abs(mean - 3.0) < 4 * math.sqrt(6.0 / n)


def _oxford() -> dict:
    return tomllib.loads((ROOT / "sim" / "labs" / "oxford2020.toml").read_text())


@pytest.mark.parametrize(
    "table, key, value, match",
    [
        ("fibre", "drift_rad_per_sqrt_s", -0.1, r"nodes.a.fibre.drift_rad_per_sqrt_s = -0.1"),
        ("fibre", "drift_step_s", 0.0, r"nodes.a.fibre.drift_step_s"),
        ("fibre", "drift_rate", 0.1, r"nodes.a.fibre.drift_rate: unknown key"),
        ("reference", "rate_hz", -1.0, r"nodes.a.reference.rate_hz"),
    ],
)
def test_lab_keys_are_checked(table, key, value, match):
    d = _oxford()
    d["nodes"]["a"][table] = (
        {"device": "node_a.ref_sw", "rate_hz": 1e5}
        if table == "reference"
        else {"drift_rad_per_sqrt_s": 0.0}
    )
    d["nodes"]["a"][table][key] = value
    with pytest.raises(LabError, match=match):
        lab_from_dict(d)


def test_reference_must_be_an_output():
    d = _oxford()
    d["nodes"]["b"]["reference"] = {"device": "bsa_det0", "rate_hz": 1e5}
    kinds = {name: kind for name, (kind, _, _) in DEVICES.items()}
    with pytest.raises(LabError, match=r"nodes.b.reference.device: device 'bsa_det0'"):
        lab_from_dict(d).validate(kinds)


def _world(lab, rng, seed: int = 5) -> PhysicsWorld:
    w = PhysicsWorld(lab, rng, drift_seed=seed)
    w.attach(FakeView(rng))
    return w


def test_no_drift_leaves_the_analyser_exactly_as_before(oxford, rng):
    """Drift 0 and plates at 0°: the path is the identity object itself, so every round table
    and cycle law is the one without this model (bit for bit)."""
    w = _world(oxford, rng)
    assert w.jones_pair(10**12) == (IDENTITY_JONES, IDENTITY_JONES)
    outputs, gates, cycle = nominal_cycle(oxford)
    with_paths = build_cycle_model(oxford, outputs, gates, cycle, jones=w.jones_pair(0))
    without = build_cycle_model(oxford, outputs, gates, cycle)
    assert np.array_equal(with_paths.pattern_probs, without.pattern_probs)


def test_path_rotation_costs_fidelity_as_its_trace():
    """An ideal link with node A's photon rotated by U: the ψ+ herald leaves the ions in ψ+ with
    fidelity |Tr U / 2|² (a local unitary on the photon becomes one on the ion)."""
    psi = np.zeros(4, complex)
    psi[[1, 2]] = 1 / math.sqrt(2)
    rho0 = np.zeros((4, 4), complex)
    rho0[0, 0] = 1
    for v in ([0.0, 0.0, 0.0], [0.0, 0.6, 0.0], [0.3, -0.4, 0.5]):
        u = jones_from_rotation_vector(np.array(v))
        em_a = NodeEmission(1.0, 0.0, 1.0, 0.0, tuple(complex(x) for x in u.reshape(4)))
        em_b = NodeEmission(1.0, 0.0, 1.0, 0.0)
        table = build_round(em_a, em_b, 1.0, (1.0,) * 4, (0.0,) * 4)
        rho, p = table.conditional_state(PSI_PLUS[0], rho0)
        fid = float(np.real(psi.conj() @ rho @ psi))
        assert fid == pytest.approx(abs(np.trace(u) / 2) ** 2, abs=1e-12)
        assert p > 0


def test_plates_compensate_and_persist(oxford, rng):
    lab = replace(
        oxford,
        nodes=tuple(replace(n, fibre=Fibre(drift_rad_per_sqrt_s=0.05)) for n in oxford.nodes),
    )
    w = _world(lab, rng, seed=9)
    t = 120 * 10**9  # 120 s in mu
    assert unitary_infidelity(np.array(w.path_jones(0, t)).reshape(2, 2), np.eye(2)) > 1e-3
    angles = solve_compensator(w.fibre_jones(0, t).conj().T)
    w.set_plates(0, angles, t)
    assert unitary_infidelity(np.array(w.path_jones(0, t)).reshape(2, 2), np.eye(2)) < 1e-9
    assert w.plates_at(0, t - 1)["hwp"] == 0.0  # not before the move
    rec = w.save_state()
    w2 = _world(lab, np.random.default_rng(1), seed=123)  # another power-up seed ...
    w2.load_state(rec)  # ... but the state's fibre history and plates
    for k in range(2):
        assert w2.path_jones(k, t + 5 * 10**9) == w.path_jones(k, t + 5 * 10**9)
    with pytest.raises(KeyError, match="no waveplate"):
        w.set_plates(1, {"qwp3": 1.0}, t)


def test_remembered_paths_are_the_paths_at_that_time(oxford, rng):
    """The quiet skips' remembered photon paths (``_paths_at``) answer as ``jones_pair`` and
    ``next_polarisation_change_mu`` do at every time asked, across drift steps (1 s), plate
    moves added later (also inside the remembered interval) and a restored state."""
    lab = replace(
        oxford,
        nodes=tuple(replace(n, fibre=Fibre(drift_rad_per_sqrt_s=0.05)) for n in oxford.nodes),
    )
    w = _world(lab, rng, seed=9)
    s = 10**9  # 1 s in mu: one drift step
    times = [0, 5, s // 2, s - 2, s - 1, s, s + 1, s + 200, 2 * s - 1, 3 * s + 7, 3 * s + 9]
    moves = {s + 1: (s + 100, {"hwp": 20.0}), 3 * s + 7: (3 * s + 8, {"qwp1": 5.0})}
    for t in times:
        assert w._paths_at(t) == (w.jones_pair(t), w.next_polarisation_change_mu(t)), t
        if t in moves:
            t_move, angles = moves[t]
            w.set_plates(0, angles, t_move)
    # a restored state with as many plate moves, other angles: a new list of them
    w2 = _world(lab, np.random.default_rng(1), seed=9)
    w2.set_plates(0, {"hwp": 40.0}, s + 100)
    w2.set_plates(0, {"qwp1": 5.0}, 3 * s + 8)
    w.load_state(w2.save_state())
    t = 3 * s + 9
    assert w._paths_at(t) == (w.jones_pair(t), w.next_polarisation_change_mu(t))


def test_kept_paths_and_last_cycle_law_follow_every_change(oxford, rng):
    """Without drift the paths are kept and the last cycle law is handed out again without its
    key; a plate move, warmer ions or other windows still give the law of the new state."""
    w = _world(oxford, rng)
    outputs, gates, cycle = nominal_cycle(oxford)
    m1 = w.cycle_model(outputs, gates, cycle, t_start_mu=1000)
    assert w.cycle_model(outputs, gates, cycle, t_start_mu=2000) is m1
    w.set_plates(0, {"hwp": 20.0}, 3000)
    assert w.jones_pair(2999) == (IDENTITY_JONES, IDENTITY_JONES)
    moved = w.jones_pair(3000)
    assert moved == (w.path_jones(0, 3000), w.path_jones(1, 3000))
    assert moved[0] != IDENTITY_JONES
    m2 = w.cycle_model(outputs, gates, cycle, t_start_mu=3000)
    assert m2 is not m1 and not np.array_equal(m2.pattern_probs, m1.pattern_probs)
    assert w.cycle_model(outputs, gates, cycle, t_start_mu=4000) is m2
    for th in w.ions.thermal:
        th.n += 50.0  # warmer ions: another thermal factor of the mode overlap
    m3 = w.cycle_model(outputs, gates, cycle, t_start_mu=5000)
    assert m3 is not m2 and m3.pattern_probs[PSI_PLUS[0]] < m2.pattern_probs[PSI_PLUS[0]]
    narrower = {i: (a, b - 8) for i, (a, b) in gates.items()}
    assert w.cycle_model(outputs, narrower, cycle, t_start_mu=6000) is not m3
    assert w.cycle_model(outputs, gates, cycle, t_start_mu=7000) is m3  # (from the cache)
