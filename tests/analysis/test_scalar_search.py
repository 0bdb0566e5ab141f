# SPDX-License-Identifier: LGPL-3.0-or-later
"""analysis.scalar_search against scipy.optimize (the reference path it replaces), and the
lifetime fit against the same fit made with scipy.optimize's searches."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq, minimize_scalar

from analysis import lifetime
from analysis.scalar_search import bracketed_minimum, bracketed_root
from analysis.spam_correction import calibration_counts


@settings(max_examples=200, deadline=None)
@given(
    root=st.floats(-50, 50),
    scale=st.floats(0.01, 100),
    power=st.sampled_from([1, 3, 5]),
    left=st.floats(0.01, 100),
    right=st.floats(0.01, 100),
)
def test_root_agrees_with_brentq(
    root: float, scale: float, power: int, left: float, right: float
) -> None:
    def f(x: float) -> float:
        return scale * (x - root) ** power + 0.1 * math.atan(x - root)

    lo, hi = root - left, root + right
    ours = bracketed_root(f, lo, hi, xtol=1e-12)
    assert ours == pytest.approx(root, abs=1e-9)
    assert ours == pytest.approx(brentq(f, lo, hi, xtol=1e-12), abs=2e-9)


def test_root_takes_few_evaluations_on_smooth_functions() -> None:
    calls = []

    def f(x: float) -> float:
        calls.append(x)
        return math.exp(x) - 3.0

    assert bracketed_root(f, -10.0, 10.0) == pytest.approx(math.log(3.0), abs=1e-12)
    assert len(calls) < 20  # bisection alone would take ~44


def test_root_refuses_a_non_bracket_and_returns_exact_ends() -> None:
    with pytest.raises(ValueError, match="do not bracket"):
        bracketed_root(lambda x: x * x + 1.0, -1.0, 1.0)
    with pytest.raises(ValueError, match="do not bracket"):
        bracketed_root(lambda x: math.nan, -1.0, 1.0)
    assert bracketed_root(lambda x: x - 1.0, 1.0, 3.0) == 1.0


@settings(max_examples=200, deadline=None)
@given(centre=st.floats(-5, 5), width=st.floats(0.05, 20), skew=st.floats(0, 2))
def test_minimum_agrees_with_minimize_scalar(centre: float, width: float, skew: float) -> None:
    def f(x: float) -> float:
        u = (x - centre) / width
        return u * u + skew * u**4 + math.cosh(0.1 * u)

    lo, hi = centre - 3 * width * 0.7, centre + 3 * width * 1.3
    x, fx = bracketed_minimum(f, lo, hi, xatol=1e-7)
    ref = minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": 1e-7})
    assert x == pytest.approx(centre, abs=1e-6 + 1e-6 * width)
    assert fx <= float(ref.fun) + 1e-12
    assert x == pytest.approx(float(ref.x), abs=1e-5 * width + 1e-6)


def test_minimum_at_the_bracket_end() -> None:
    x, _ = bracketed_minimum(lambda x: x, 2.0, 5.0, xatol=1e-8)
    assert x == pytest.approx(2.0, abs=1e-7)


def _scipy_fit(
    t: np.ndarray, stop: float, monkeypatch: pytest.MonkeyPatch
) -> tuple[float, float, float]:
    """The lifetime fit's τ̂ and interval with scipy.optimize's searches put in its place."""

    def root(f: Callable[[float], float], lo: float, hi: float, xtol: float = 2e-12) -> float:
        return float(brentq(f, lo, hi, xtol=xtol))

    def minimum(
        f: Callable[[float], float], lo: float, hi: float, xatol: float = 1e-7
    ) -> tuple[float, float]:
        r = minimize_scalar(f, bounds=(lo, hi), method="bounded", options={"xatol": xatol})
        return float(r.x), float(r.fun)

    with monkeypatch.context() as m:
        m.setattr(lifetime, "bracketed_root", root)
        m.setattr(lifetime, "bracketed_minimum", minimum)
        fit = lifetime.fit_lifetime_tags(t, stop_mu=stop)
    return fit.tau.value, fit.tau.lo, fit.tau.hi


@pytest.mark.parametrize(
    ("n", "tau", "background", "seed"),
    [(300, 7.4, 0.0, 1), (3000, 7.4, 0.3, 2), (40, 20.0, 0.5, 3), (20000, 3.0, 0.05, 4)],
)
def test_lifetime_fit_agrees_with_the_scipy_searches(
    n: int, tau: float, background: float, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed)
    stop = 60.0
    signal = 10 + rng.exponential(tau, size=n)
    flat = rng.uniform(10, stop, size=rng.binomial(n, background))
    t = np.floor(np.concatenate([signal, flat]))
    t = t[t < stop]
    fit = lifetime.fit_lifetime_tags(t, stop_mu=stop)
    ref = _scipy_fit(t, stop, monkeypatch)
    assert fit.tau.value == pytest.approx(ref[0], rel=1e-5)
    assert fit.tau.lo == pytest.approx(ref[1], rel=1e-6)
    assert fit.tau.hi == pytest.approx(ref[2], rel=1e-6)


def test_calibration_counts_solves_its_equation() -> None:
    k, n = calibration_counts(0.01, 0.002)
    a, b = k + 0.5, n - k + 0.5
    assert math.sqrt(a * b / ((n + 1) ** 2 * (n + 2))) == pytest.approx(0.002, rel=1e-9)


def test_the_lifetime_fit_does_not_import_scipy_optimize() -> None:
    code = (
        "import sys, numpy as np\n"
        "from analysis.lifetime import fit_lifetime_tags\n"
        "from analysis.spam_correction import calibration_counts\n"
        "t = np.floor(10 + np.random.default_rng(0).exponential(7.4, 500))\n"
        "fit_lifetime_tags(t, stop_mu=60); calibration_counts(0.01, 0.002)\n"
        "print('scipy.optimize' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
