# SPDX-License-Identifier: LGPL-3.0-or-later
"""The detailed rounds' shortcuts draw exactly as what they replace, so that seeded runs are
unchanged: ``draw_index`` as ``Generator.choice`` (same index, same generator state after),
``round_overlap`` as ``round`` (numpy's rounding for numpy floats, Python's for floats), the
quiet skip's heated overlap as the detailed round's, and ``RoundTable.record_probs`` as the
trace of each record's Kraus operator on the state."""

from types import SimpleNamespace

import numpy as np

from sim.physics.bsa import IDENTITY_JONES, NodeEmission, build_round, draw_index
from sim.physics.photon_modes import thermal_overlap
from sim.physics.quiet import round_overlap
from sim.physics.quiet_skip import _heated_overlap


def test_draw_index_is_rng_choice():
    g = np.random.default_rng(11)
    for _ in range(400):
        n = int(g.integers(2, 300))
        p = g.random(n) ** 4
        p[g.random(n) < 0.5] = 0.0
        p[int(g.integers(n))] = 0.3
        p = p / p.sum()
        seed = int(g.integers(1 << 30))
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        assert [int(a.choice(n, p=p)) for _ in range(3)] == [draw_index(b, p) for _ in range(3)]
        assert a.random() == b.random()  # the same number of draws


def test_round_overlap_is_round():
    g = np.random.default_rng(12)
    xs = np.concatenate([g.random(20000), (np.arange(20000) + 0.5) / 1e4, g.random(5000) * 1e-3])
    for x in xs:
        assert round_overlap(np.float64(x)) == round(np.float64(x), 4)
        assert round_overlap(float(x)) == round(float(x), 4)


def test_heated_overlap_is_the_rounds_overlap():
    """The skip's overlap of a heated excitation (one frame) is what the detailed round keys
    its table by: ``round_overlap(thermal_overlap(...))`` of the heated n̄."""
    g = np.random.default_rng(13)
    for _ in range(4000):
        lab = SimpleNamespace(
            nodes=[
                SimpleNamespace(motion=SimpleNamespace(n_mode=float(x)))
                for x in g.random(2) * 50 + 1
            ]
        )
        timed = float(g.random())
        heat = (g.random(2) * 1e-2).tolist()
        dt = int(g.integers(0, 10**4))
        for n0 in (g.random(2) * 30).tolist(), list(np.float64(g.random(2) * 30)):
            want = round_overlap(
                thermal_overlap(lab, timed, tuple(n + h * dt for n, h in zip(n0, heat)))
            )
            got = _heated_overlap(lab, timed, n0, heat, dt)
            assert got == want and type(got) is type(want)


def test_record_probs_are_the_kraus_traces():
    jones = (0.8, 0.6j, 0.6j, 0.8)  # a unitary path rotation: complex Kraus operators
    em = NodeEmission(p1=0.3, p2=0.01, eta=0.2, eps_pol=0.01, jones=jones)
    table = build_round(
        em,
        NodeEmission(0.3, 0.01, 0.2, 0.01, IDENTITY_JONES),
        0.9,
        (0.9, 0.8, 0.9, 0.8),
        (0.0,) * 4,
    )
    g = np.random.default_rng(13)
    a = g.normal(size=(4, 4)) + 1j * g.normal(size=(4, 4))
    rho = a @ a.conj().T
    rho /= np.trace(rho)
    for pattern in (1, 3, 6, 12):
        k = table.kraus
        q = np.real(np.einsum("rij,jk,rik->r", k, rho, k.conj()))
        w = table.weights[:, pattern] * np.clip(q, 0, None)
        np.testing.assert_allclose(table.record_probs(pattern, rho), w / w.sum(), atol=1e-14)


def test_round_tables_are_bitwise_their_direct_forms():
    """``build_round``'s weights (multiplied detector by detector) and super-operators (the
    products K_r ⊗ K_r* laid out records last) and ``record_probs`` (Gram rows computed once for
    all records) are the same bits as the direct forms they replace: the products over the four
    detectors, the records-first matrix product, each pattern's Gram rows of its own records."""
    em_a = NodeEmission(p1=0.3, p2=0.01, eta=0.2, eps_pol=0.01, jones=(0.8, 0.6j, 0.6j, 0.8))
    em_b = NodeEmission(0.25, 0.02, 0.3, 0.02, IDENTITY_JONES)
    table = build_round(em_a, em_b, 0.87, (0.9, 0.8, 0.7, 0.6), (1e-4, 3e-3, 2e-5, 1e-6))
    pc = 1.0 - (1.0 - table.dark) * (1.0 - table.accept) ** table.photons
    bits = (np.arange(16)[:, None] >> np.arange(4)) & 1
    weights = np.prod(np.where(bits[None] == 1, pc[:, None, :], 1.0 - pc[:, None, :]), axis=2)
    assert weights.tobytes() == table.weights.tobytes()
    k, r_n = table.kraus, len(table.kraus)
    kk = (k[:, :, None, :, None] * k.conj()[:, None, :, None, :]).reshape(r_n, 256)
    superops = np.ascontiguousarray((kk.T @ weights).T).reshape(16, 16, 16)
    assert superops.tobytes() == table.superops.tobytes()
    g = np.random.default_rng(14)
    a = g.normal(size=(4, 4)) + 1j * g.normal(size=(4, 4))
    rho = a @ a.conj().T
    rho /= np.trace(rho)
    for pattern in range(16):
        idx = np.nonzero(table.weights[:, pattern] > 0)[0]
        k = table.kraus[idx]
        gram = np.einsum("rkj,rkm->rjm", k, k.conj()).reshape(len(idx), 16)
        q = np.einsum("rj,j->r", gram, rho.reshape(16)).real
        w = np.zeros(len(table.kraus))
        w[idx] = table.weights[idx, pattern] * np.clip(q, 0, None)
        assert (w / w.sum()).tobytes() == table.record_probs(pattern, rho).tobytes(), pattern


def _table_and_states():
    em = NodeEmission(p1=0.3, p2=0.01, eta=0.2, eps_pol=0.01, jones=(0.8, 0.6j, 0.6j, 0.8))
    table = build_round(
        em, NodeEmission(0.3, 0.01, 0.2, 0.01), 0.9, (0.9, 0.8, 0.9, 0.8), (0.0,) * 4
    )
    g = np.random.default_rng(14)
    states = [np.diag([1.0, 0, 0, 0]).astype(complex)]
    for _ in range(3):
        a = g.normal(size=(4, 4)) + 1j * g.normal(size=(4, 4))
        rho = a @ a.conj().T
        states.append(rho / np.trace(rho))
    return table, states


def test_round_start_draws_as_the_table_laws():
    """``RoundStart`` (the world's detailed round: laws and conditional states kept per initial
    state) draws the same patterns and records as ``draw_index`` on the table's laws, the
    non-empty law as the pattern law with its empty entry zeroed, and gives the table's
    conditional states, bit for bit; a start is shared by equal states, its states are new
    arrays."""
    table, states = _table_and_states()
    for seed, rho in enumerate(states):
        start = table.start(rho.copy())
        assert table.start(rho.copy()) is start
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        for _ in range(40):
            nonempty = bool(a.random() < 0.5)
            assert b.random() < 0.5 if nonempty else b.random() >= 0.5
            p = table.pattern_probs(rho)
            if nonempty:
                p = p.copy()
                p[0] = 0.0
            pattern = start.draw_pattern(a, nonempty)
            assert pattern == draw_index(b, p / p.sum())
            post = start.conditional_state(pattern)
            assert post.tobytes() == table.conditional_state(pattern, rho)[0].tobytes()
            post[0, 0] = 7.0  # a copy: the start's own state is untouched
            if pattern:
                assert start.draw_record(a, pattern) == draw_index(
                    b, table.record_probs(pattern, rho)
                )
        assert a.random() == b.random()  # the same number of draws


def test_one_photon_time_is_sample_times():
    """``ExcitationStats.sample_times_one`` (a detailed round's photon time) is
    ``sample_times(rng, 1)[0]``: the same value and generator state, inside and after the
    pulse."""
    from sim.physics.excitation import excitation_stats

    for area, length in ((np.pi, 2e-9), (0.4 * np.pi, 30e-9), (3 * np.pi, 8e-9)):
        st = excitation_stats(area, length, 8e-9, 0.5)
        a, b = np.random.default_rng(15), np.random.default_rng(15)
        for _ in range(300):
            assert st.sample_times_one(a) == float(st.sample_times(b, 1)[0])
        assert a.random() == b.random()


def test_scaled_standard_draws_are_the_scaled_draws():
    """σ·``standard_normal()`` and τ·``standard_exponential()`` (an entangler herald cycle's
    photon time and jitter) are ``normal(0.0, σ)`` and ``exponential(τ)``: the same values
    (added to a time) and generator state."""
    a, b = np.random.default_rng(16), np.random.default_rng(16)
    for sigma, tau in ((3.3e-10, 2.7e-8), (1e-9, 7.1e-9), (5e-11, 1.2e-6)):
        for t in np.random.default_rng(17).random(2000) * 1e-6:
            t = float(t)
            assert t + a.normal(0.0, sigma) == t + sigma * b.standard_normal()
            assert t + a.exponential(tau) == t + tau * b.standard_exponential()
    assert a.random() == b.random()


def test_a_transient_skips_overlap_is_the_overlap_laws_first(oxford):
    """A transient pass's skip takes the mode overlap of its excitation directly
    (``QuietSkips._overlap_at``): the value of the overlap law at that pass, the ions heated
    from where the world stands (heated enough to change the overlap visibly)."""
    from sim.physics.world import PhysicsWorld

    world = PhysicsWorld(oxford, np.random.default_rng(16))
    g = np.random.default_rng(17)
    moved = 0
    for _ in range(300):
        for th in world.ions.thermal:
            th.n = float(g.random() * 30)
            th.heating_rate_per_s = float(g.random() * 1e5)
        world._t = int(g.integers(0, 10**9))
        dt_s = float(g.normal(0.0, 5e-9))
        t_fire = world._t + int(g.integers(-2000, 10**8))
        period, j = int(g.integers(500, 5000)), int(g.integers(0, 3))
        law = world._overlap_law(dt_s, t_fire, period)
        assert world._overlap_at(dt_s, t_fire + j * period) == law(j)
        moved += world._overlap_at(dt_s, t_fire) != world._overlap_at(dt_s, world._t)
    assert moved > 100  # the heating matters in most cases
