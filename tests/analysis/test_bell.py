# SPDX-License-Identifier: LGPL-3.0-or-later
import math

import numpy as np
import pytest
from analysis_synth import counts4, sample_outcomes, scan_counts, werner

from analysis import bell
from analysis.spam_correction import calibration_counts, spam_error_draws
from analysis.tomography import state_fidelity

PHASES = np.arange(12) / 12


def _random_rho(rng):
    g = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    r = g @ g.conj().T
    return r / np.trace(r)


def _z_counts(rng, rho, n, errors=(0.0, 0.0)):
    u = bell.analysis_unitary(bell.Z)
    return counts4(sample_outcomes(rng, rho, u, u, n, errors))


def test_analysis_pulses_measure_minus_x_and_minus_y():
    """R(π/2, 0.25) maps −X, R(π/2, 0.5) maps −Y onto Z (so XX and YY signs cancel)."""
    z = np.diag([1.0, -1.0])
    sx = np.array([[0, 1], [1, 0]])
    sy = np.array([[0, -1j], [1j, 0]])
    for basis, op in ((bell.X, -sx), (bell.Y, -sy)):
        u = bell.analysis_unitary(basis)
        assert np.allclose(u.conj().T @ z @ u, op)


def test_parity_of_opposite_phase_scan_matches_derived_form(rng):
    """Π(φ) = (YY−XX)/2 + (XX+YY)/2 cos4πφ + (YX−XY)/2 sin4πφ for any ρ (exact probabilities)."""
    sx = np.array([[0, 1], [1, 0]])
    sy = np.array([[0, -1j], [1j, 0]])
    for _ in range(5):
        r = _random_rho(rng)

        def ev(a, b):
            return np.real(np.trace(r @ np.kron(a, b)))

        xx, yy, xy, yx = ev(sx, sx), ev(sy, sy), ev(sx, sy), ev(sy, sx)
        for ph in np.linspace(0, 1, 7):
            ua, ub = bell.scan_unitaries(ph)
            p = np.real(np.einsum("oij,ji->o", bell.povm(ua, ub), r))
            want = (
                (yy - xx) / 2
                + (xx + yy) / 2 * np.cos(4 * np.pi * ph)
                + (yx - xy) / 2 * np.sin(4 * np.pi * ph)
            )
            assert p[0] + p[3] - p[1] - p[2] == pytest.approx(want, abs=1e-12)


def test_psi_plus_and_minus_fringes_have_opposite_sign(rng):
    """Simulated scans: ψ± parity is ±C cos 4πφ with no offset or sine part (4σ)."""
    for psi in (1, -1):
        rho = werner(psi, 0.85)  # C = (4F − 1)/3 = 0.8
        ne, n = scan_counts(rng, rho, PHASES, 2000)
        fit = bell.fit_parity_scan(PHASES, ne, n)
        sigma = 1 / math.sqrt(n.sum())
        assert fit.coef[1] == pytest.approx(psi * 0.8, abs=4 * sigma * math.sqrt(2))
        assert abs(fit.coef[0]) < 4 * sigma and abs(fit.coef[2]) < 4 * sigma * math.sqrt(2)


def test_exact_ideal_states_give_unit_fidelity():
    for psi in (1, -1):
        z = np.array([0, 500, 500, 0])
        even = 1000 * (1 + psi * np.cos(4 * np.pi * PHASES)) / 2  # ideal fringe ±cos 4πφ
        f = bell.fidelity_parity_scan(z, PHASES, even, np.full(12, 1000), psi=psi, n_boot=200)
        assert f.fidelity.value == pytest.approx(1.0)
        assert f.fidelity.lo < 1.0  # never a zero-width interval at the boundary
        xx = np.array([500, 0, 0, 500]) if psi > 0 else np.array([0, 500, 500, 0])
        g = bell.fidelity_correlations(xx, xx, z, psi=psi, n_boot=200)
        assert g.fidelity.value == pytest.approx(1.0)


def test_exact_product_state_fidelity_half():
    """|01⟩ has F = ½ with both ψ±: P_odd = 1, no coherence."""
    z = np.array([0, 1000, 0, 0])
    even_half = np.full(12, 500)
    for psi in (1, -1):
        f = bell.fidelity_parity_scan(z, PHASES, even_half, np.full(12, 1000), psi=psi, n_boot=200)
        assert f.fidelity.value == pytest.approx(0.5)


def test_parity_scan_fidelity_equals_overlap_for_random_states(rng):
    """F = ½(P_odd ± A) equals ⟨ψ±|ρ|ψ±⟩ within 4σ for arbitrary ρ."""
    for _ in range(3):
        r = _random_rho(rng)
        for psi in (1, -1):
            z = _z_counts(rng, r, 20000)
            ne, n = scan_counts(rng, r, PHASES, 2000)
            f = bell.fidelity_parity_scan(z, PHASES, ne, n, psi=psi, n_boot=400, rng=rng)
            half = (f.fidelity.hi - f.fidelity.lo) / 2
            assert abs(f.fidelity.value - state_fidelity(r, psi)) < 2.1 * half  # ≈ 4σ at 95 % CL


def _coverage(trials, cl, fn):
    cover = sum(fn(i) for i in range(trials))
    sd = math.sqrt(trials * cl * (1 - cl))
    return cover, trials * cl - 3 * sd, trials * cl + 3 * sd


def test_parity_scan_interval_coverage():
    """The bootstrap interval covers the true F at its nominal rate (200 seeds, 3σ)."""
    rho, truth, cl = werner(1, 0.9), 0.9, 0.68

    def one(seed):
        r = np.random.default_rng(seed)
        z = _z_counts(r, rho, 150)
        ne, n = scan_counts(r, rho, PHASES, 25)
        e = bell.fidelity_parity_scan(z, PHASES, ne, n, psi=1, cl=cl, n_boot=400, rng=r).fidelity
        return e.lo <= truth <= e.hi

    cover, lo, hi = _coverage(200, cl, one)
    assert lo <= cover <= hi


def test_correlation_interval_coverage():
    rho, truth, cl = werner(-1, 0.8), 0.8, 0.68

    def one(seed):
        r = np.random.default_rng(1000 + seed)
        c = [
            counts4(sample_outcomes(r, rho, bell.analysis_unitary(b), bell.analysis_unitary(b), 60))
            for b in (1, 2, 0)
        ]
        e = bell.fidelity_correlations(*c, psi=-1, cl=cl, n_boot=400, rng=r).fidelity
        return e.lo <= truth <= e.hi

    cover, lo, hi = _coverage(200, cl, one)
    assert lo <= cover <= hi


def _tails(trials, cl, intervals, truth):
    """Misses above and below ``intervals`` (pairs lo, hi) of ``truth``, with the most each tail
    may miss, (1 − cl)/2 + 3σ, and the least the interval must cover, cl − 3σ (σ the binomial
    spread over ``trials``)."""
    lo, hi = np.array(intervals).T
    a = (1 - cl) / 2
    most = trials * a + 3 * math.sqrt(trials * a * (1 - a))
    _, least, _ = _coverage(trials, cl, lambda i: 0)
    return int(np.sum(truth > hi)), int(np.sum(truth < lo)), most, least


def _correlation_counts(r, fidelity, psi, n, size, errors=(0.0, 0.0)):
    """``size`` draws of Werner-state XX, YY, ZZ counts (n00, n01, n10, n11) with ``n`` heralds
    per setting (an int or one per setting) and symmetric readout flips ``errors``: only
    p_even matters, so the even outcomes go to 00 and the odd ones to 01."""
    k = (1 - 2 * errors[0]) * (1 - 2 * errors[1]) * (4 * fidelity - 1) / 3  # measured ⟨PP⟩ scale
    p_even = (1 + np.array([psi, psi, -1]) * k) / 2
    n = np.broadcast_to(n, 3)
    even = r.binomial(n, p_even, size=(size, 3))
    return [[np.array([e, m - e, 0, 0]) for e, m in zip(row, n)] for row in even]


@pytest.mark.parametrize("truth, n", [(0.95, 30), (0.99, 30), (0.99, 200), (0.8, (10, 30, 200))])
def test_correlation_interval_tails_near_unit_fidelity(truth, n):
    """Near F = 1 each tail of the 95 % interval misses at most 2.5 % + 3σ and the interval
    covers at least 95 % − 3σ (400 seeds). The Jeffreys-draw percentile interval it replaced
    missed above 8 %, 10 % and 5.5 % of the time in the first three cases (1000 seeds), below
    never. With unequal heralds per setting (10, 30, 200) the setting with few heralds must get
    most of the pseudo-outcome (shared by herald number instead, 8 % missed below)."""
    cl, trials = 0.95, 400
    c = _correlation_counts(np.random.default_rng(int(truth * 1000)), truth, 1, n, trials)
    iv = []
    for i, (xx, yy, zz) in enumerate(c):
        e = bell.fidelity_correlations(xx, yy, zz, psi=1, n_boot=1000, rng=np.random.default_rng(i))
        iv.append((e.fidelity.lo, e.fidelity.hi))
    above, below, most, least = _tails(trials, cl, iv, truth)
    assert above <= most and below <= most and trials - above - below >= least


@pytest.mark.parametrize("truth, n", [(0.95, 10), (0.99, 30)])
def test_combined_interval_tails(truth, n):
    """The herald-weighted ψ± mean keeps both tails (300 seeds, as above). The Jeffreys draws
    combined sample by sample missed above 35 % and 34 % of the time here (600 seeds)."""
    cl, trials = 0.95, 300
    r = np.random.default_rng(77)
    plus, minus = (_correlation_counts(r, truth, s, n, trials) for s in (1, -1))
    iv = []
    for i in range(trials):
        parts = [
            bell.fidelity_correlations(*c[i], psi=s, n_boot=1000, rng=np.random.default_rng(i))
            for s, c in ((1, plus), (-1, minus))
        ]
        e = bell.combine_fidelities(parts)
        iv.append((e.lo, e.hi))
    above, below, most, least = _tails(trials, cl, iv, truth)
    assert above <= most and below <= most and trials - above - below >= least


def test_spam_corrected_interval_tails_near_unit_fidelity():
    """The SPAM-corrected interval (readout errors 0.01, 0.02 taken as exact) keeps both tails at
    F = 0.99 with 30 heralds per setting (400 seeds, as above; the Jeffreys percentile missed
    above 6 %)."""
    cl, trials, truth, errs = 0.95, 400, 0.99, (0.01, 0.02)
    c = _correlation_counts(np.random.default_rng(3), truth, 1, 30, trials, errs)
    iv = []
    for i, (xx, yy, zz) in enumerate(c):
        e = bell.fidelity_correlations(
            xx, yy, zz, psi=1, n_boot=1000, rng=np.random.default_rng(i), readout_errors=errs
        ).fidelity_spam
        iv.append((e.lo, e.hi))
    above, below, most, least = _tails(trials, cl, iv, truth)
    assert above <= most and below <= most and trials - above - below >= least


def test_all_even_counts_give_the_pooled_clopper_pearson_bound():
    """With every outcome right (F̂ = 1) the interval is [1 − 1.5·u, 1], u the Clopper–Pearson
    upper bound of 0 wrong outcomes in the 3n pooled heralds: F = 1 − ¾·P(wrong) per setting
    pooled, where n Jeffreys priors made the old bound 0.924 at n = 30 (pooled: 0.940)."""
    for n in (10, 30, 200):
        even, odd = np.array([n, 0, 0, 0]), np.array([0, n, 0, 0])
        e = bell.fidelity_correlations(even, even, odd, psi=1, n_boot=4000).fidelity
        u = 1 - 0.025 ** (1 / (3 * n))
        assert e.value == 1.0 and e.hi == 1.0
        assert e.lo == pytest.approx(1 - 1.5 * u, abs=0.15 * u)


def test_combined_all_even_counts_pool_every_setting():
    """ψ+ and ψ− with every outcome right, 30 heralds per setting each: the mean's lower bound is
    the Clopper–Pearson one of 0 wrong outcomes in all 180 heralds (1 − 1.5·u = 0.970), not
    that of two pseudo-outcomes (0.954, the parts' draws combined draw by draw)."""
    even, odd = np.array([30, 0, 0, 0]), np.array([0, 30, 0, 0])
    parts = [
        bell.fidelity_correlations(even, even, odd, psi=1, n_boot=4000),
        bell.fidelity_correlations(odd, odd, odd, psi=-1, n_boot=4000),
    ]
    u = 1 - 0.025 ** (1 / 180)
    combined = bell.combine_fidelities(parts)
    assert combined.lo == pytest.approx(1 - 1.5 * u, abs=0.15 * u)
    # its method names the parts' draws whole (their parenthesis closed, B=4000), then the mean
    # (cut at the first ";" it ended inside the parenthesis, without B)
    m = combined.method
    assert m.count("(") == m.count(")") and "B=4000" in m, m
    assert m.endswith("; herald-weighted mean of ψ+ and ψ−"), m


def _spam_parts(kind, r, errs, sigmas):
    """ψ+ and ψ− estimates with negligible statistics (10⁶ heralds per setting or per scan bin)
    from a Werner state of F = 0.9 read with flips ``errs``, SPAM-corrected with ``sigmas``."""
    kw = dict(rng=r, readout_errors=errs, readout_sigmas=sigmas)
    if kind == "correlations":
        return [
            bell.fidelity_correlations(*c, psi=s, **kw)
            for s in (1, -1)
            for c in _correlation_counts(r, 0.9, s, 10**6, 1, errs)
        ]
    k = (1 - 2 * errs[0]) * (1 - 2 * errs[1]) * (4 * 0.9 - 1) / 3
    t = errs[0] + errs[1] - 2 * errs[0] * errs[1]
    z_odd = r.binomial(10**6, t + (1 - 2 * t) * (1 + k) / 2)
    parts = []
    for s in (1, -1):
        ne = r.binomial(10**6, (1 + s * k * np.cos(4 * np.pi * PHASES)) / 2)
        z = [10**6 - z_odd, z_odd, 0, 0]
        parts.append(bell.fidelity_parity_scan(z, PHASES, ne, np.full(12, 10**6), psi=s, **kw))
    return parts


@pytest.mark.parametrize("kind", ["correlations", "parity"])
def test_combined_spam_shares_the_calibration(kind):
    """ψ± from one run share one readout calibration: with statistics negligible and
    ε = 0.02 ± 0.01, the mean's SPAM-corrected interval is as wide as each part's (within
    10 %), not narrower by √2 as if the parts had independent calibrations."""
    parts = _spam_parts(kind, np.random.default_rng(4), (0.02, 0.02), (0.01, 0.01))
    e = bell.combine_fidelities(parts, spam=True)
    width = np.mean([p.fidelity_spam.hi - p.fidelity_spam.lo for p in parts])
    assert e.hi - e.lo == pytest.approx(width, rel=0.1)


def test_spam_correction_reported_beside_raw(rng):
    """With readout errors the corrected F recovers the truth; the raw value is unchanged."""
    rho, errs = werner(1, 0.92), (0.03, 0.05)
    z = _z_counts(rng, rho, 40000, errs)
    ne, n = scan_counts(rng, rho, PHASES, 4000, errs)
    raw = bell.fidelity_parity_scan(
        z, PHASES, ne, n, psi=1, n_boot=400, rng=np.random.default_rng(1)
    )
    both = bell.fidelity_parity_scan(
        z, PHASES, ne, n, psi=1, n_boot=400, rng=np.random.default_rng(1), readout_errors=errs
    )
    assert both.fidelity == raw.fidelity and both.fidelity_spam is not None
    assert raw.fidelity.hi < 0.92 - 0.05  # raw is clearly degraded
    assert both.fidelity_spam.lo <= 0.92 <= both.fidelity_spam.hi
    assert "SPAM-corrected" in both.fidelity_spam.method


def _calibrated_errors(r, truth, shots):
    """Readout errors as a calibration of ``shots`` bright and ``shots`` dark shots per ion
    measures them (symmetric flips of probability ``truth``), with their standard errors (the
    Jeffreys posterior's, as the readout calibration's bootstrap gives them)."""
    k = r.binomial(2 * shots, truth, size=2)
    e = k / (2 * shots)
    p = (k + 0.5) / (2 * shots + 1)
    return tuple(map(float, e)), tuple(map(float, np.sqrt(p * (1 - p) / (2 * shots))))


def test_spam_interval_covers_with_the_calibration_uncertainty():
    """A SPAM-corrected interval covers the true F at least at its nominal rate when the readout
    errors come from a small calibration (2 × 100 shots per ion) and their standard errors are
    given (200 seeds, 3σ: 127 of 200 at 68 %). The split Clopper–Pearson draws of the errors
    cover 164 (missing 19 above, 17 below: like Clopper–Pearson, more than asked); the normal
    draws they replaced covered 128 but missed 47 above, 25 below. Taking the same errors as
    exact covers far less often
    (16 of 200: the calibration's error, ≈ 0.01 in ε, dominates 3 × 20000 heralds' statistics);
    the raw estimate is the same either way."""
    rho, truth, cl, eps = werner(-1, 0.9), 0.9, 0.68, (0.02, 0.03)

    def one(seed):
        r = np.random.default_rng(5000 + seed)
        c = [
            counts4(
                sample_outcomes(
                    r, rho, bell.analysis_unitary(b), bell.analysis_unitary(b), 20000, eps
                )
            )
            for b in (1, 2, 0)
        ]
        errs, sigmas = _calibrated_errors(r, np.array(eps), 100)
        kw = dict(psi=-1, cl=cl, n_boot=400, readout_errors=errs)
        with_sd = bell.fidelity_correlations(
            *c, rng=np.random.default_rng(seed), readout_sigmas=sigmas, **kw
        )
        exact = bell.fidelity_correlations(*c, rng=np.random.default_rng(seed), **kw)
        assert with_sd.fidelity == exact.fidelity
        assert with_sd.fidelity_spam.value == exact.fidelity_spam.value
        a, b = with_sd.fidelity_spam, exact.fidelity_spam
        return (a.lo <= truth <= a.hi), (b.lo <= truth <= b.hi)

    runs = [one(i) for i in range(200)]
    cover, lo, _ = _coverage(200, cl, lambda i: runs[i][0])
    assert lo <= cover
    assert sum(r[1] for r in runs) < lo
    e = bell.fidelity_correlations(
        *([[50, 5, 5, 40]] * 3),
        psi=1,
        readout_errors=(0.02, 0.03),
        readout_sigmas=(0.005, 0.004),
    ).fidelity_spam
    assert "0.02 ± 0.005, 0.03 ± 0.004" in e.method and "propagated" in e.method


def test_spam_corrected_mean_tails_with_a_small_calibration():
    """The SPAM-corrected ψ± mean keeps both tails (400 seeds, as above) when the calibration
    (2 × 100 shots per ion, true ε = 0.005: 1 misread on average) dominates the statistics
    (20000 heralds per setting). The normal draws of the errors (cut at 0) missed the truth
    above 7.2 % of the time (below 0.5 %); split Clopper–Pearson draws: 0.0 % above, 1.5 %
    below."""
    cl, trials, truth, eps = 0.95, 400, 0.95, np.array([0.005, 0.005])
    r = np.random.default_rng(2026)
    plus, minus = (_correlation_counts(r, truth, s, 20000, trials, eps) for s in (1, -1))
    iv = []
    for i in range(trials):
        errs, sigmas = _calibrated_errors(r, eps, 100)
        kw = dict(n_boot=1000, rng=np.random.default_rng(i), readout_errors=errs)
        parts = [
            bell.fidelity_correlations(*c[i], psi=s, readout_sigmas=sigmas, **kw)
            for s, c in ((1, plus), (-1, minus))
        ]
        e = bell.combine_fidelities(parts, spam=True, rng=np.random.default_rng(10**6 + i))
        iv.append((e.lo, e.hi))
    above, below, most, least = _tails(trials, cl, iv, truth)
    assert above <= most and below <= most and trials - above - below >= least


@pytest.mark.parametrize("k, n", [(0, 200), (2, 200), (30, 400)])
def test_calibration_counts_invert_the_jeffreys_spread(k, n):
    """The effective counts of an error k/n whose σ is its Jeffreys law's spread are (k, n);
    a σ of 0 keeps that ion's error exact in the draws."""
    a, b = k + 0.5, n - k + 0.5
    sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    assert calibration_counts(k / n, sd) == pytest.approx((k, n), rel=1e-6, abs=1e-9)
    ea, eb = spam_error_draws((k / n, 0.01), (sd, 0.0), 50, np.random.default_rng(0))
    assert np.all(eb.lower == 0.01) and np.all(eb.upper == 0.01)
    assert np.all(ea.lower <= ea.upper.max()) and ea.upper.mean() > ea.lower.mean()


def test_too_few_phases_is_refused():
    """Two phases 1/2 turn apart cannot separate the fringe from the offset."""
    with pytest.raises(ValueError, match="3 distinct phases"):
        bell.fit_parity_scan([0.0, 0.5], [90, 95], [100, 100])


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError):
        bell.fidelity_parity_scan([0, 0, 0, 0], PHASES, np.ones(12), np.ones(12) * 2, psi=1)
    with pytest.raises(ValueError):
        bell.fidelity_parity_scan([0, 5, 5, 0], PHASES, np.ones(11), np.ones(12), psi=1)
    with pytest.raises(ValueError):
        bell.fidelity_parity_scan(
            [0, 5, 5, 0], np.full(12, np.nan), np.ones(12), np.ones(12), psi=1
        )
    with pytest.raises(ValueError):
        bell.fidelity_correlations([1, 0, 0, 1], [0, 0, 0, 0], [0, 1, 1, 0], psi=1)
    with pytest.raises(ValueError):
        bell.p_odd([0, 0, 0])


def test_combined_is_herald_weighted():
    a = bell.fidelity_parity_scan(
        [0, 90, 90, 0], PHASES, np.full(12, 95), np.full(12, 100), psi=1, n_boot=300
    )
    b = bell.fidelity_parity_scan(
        [0, 40, 40, 10], PHASES, np.full(12, 20), np.full(12, 100), psi=-1, n_boot=300
    )
    c = bell.combine_fidelities([a, b])
    w = a.heralds / (a.heralds + b.heralds)
    assert c.value == pytest.approx(w * a.fidelity.value + (1 - w) * b.fidelity.value)
    assert c.lo <= c.value <= c.hi
