# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulator's fast-forward of quiet CPU-heralding attempts (``sim.devices.bsa``,
``sim.physics.quiet``).

The reference is the same driver loop, ``BellStateAnalyser.attempts_until_click_mu``, executed
attempt by attempt (``fast_forward=False``): with detectors that never click the two must leave
the engine and the physics in the same state, event for event; with clicks the attempts per
herald and the herald patterns must follow the same law in both.
"""

import re

import numpy as np
import pytest
from scipy import stats

from sim.devices.bsa import AttemptSkipper
from tests.experiments.simhelpers import REPO, simulation


def _lab(tmp_path, name, **subs):
    """oxford2020 with ``key = value`` lines replaced (every occurrence)."""
    from sim.physics.lab import LABS_DIR

    text = (LABS_DIR / "oxford2020.toml").read_text()
    for key, value in subs.items():
        text, k = re.subn(r"(?m)^{} = [0-9.e-]+".format(key), "{} = {}".format(key, value), text)
        assert k > 0, key
    text = text.replace('name = "oxford2020"', 'name = "{}"'.format(name))
    path = tmp_path / (name + ".toml")
    path.write_text(text)
    return path


def _run(tmp_path, lab, fast, seed, **args):
    sim = simulation(tmp_path / ("fast" if fast else "ref"), lab=lab, seed=seed)
    sim.device_db["bsa"]["arguments"]["fast_forward"] = fast
    result = sim.run(REPO / "remote_entanglement_cpu.py", None, dict(mode="z", **args))
    return sim, result


def test_quiet_attempts_event_for_event(tmp_path, monkeypatch):
    """Detectors that never click (efficiency 0, no dark counts): the fast-forwarded loop and the
    attempt-by-attempt loop leave every logged event, the clocks and the ions alike."""
    skipped = []
    orig = AttemptSkipper.skip_runs

    def counting(self, *a):
        k = orig(self, *a)
        skipped.append(k)
        return k

    monkeypatch.setattr(AttemptSkipper, "skip_runs", counting)
    lab = _lab(tmp_path, "silent", efficiency=0.0, dark_rate_hz=0.0)
    out = {}
    for fast in (False, True):
        sim, result = _run(tmp_path, lab, fast, 3, herald_timeout=900)
        assert result.exit_code == 1 and "no herald in 900 attempts" in result.error_message
        eng = sim.session.engine
        world = eng.cycle_world
        out[fast] = (
            {ch: list(st.raw) for ch, st in eng.channels.items()},
            eng.now,
            eng.counter,
            world.processed_mu,
            [th.n for th in world.ions.thermal],
            world.rho,
        )
        sim.close()
    (logs0, now0, c0, t0, n0, rho0), (logs1, now1, c1, t1, n1, rho1) = out[False], out[True]
    assert sum(skipped) > 800  # the fast path was taken
    assert logs1 == logs0
    assert (now1, c1, t1) == (now0, c0, t0)
    assert n1 == pytest.approx(n0, rel=1e-12)  # heating in closed form
    assert np.allclose(rho1, rho0, atol=1e-9)


@pytest.mark.slow
def test_attempts_per_herald_follow_the_reference(tmp_path):
    """With clicks (collection raised for ~200 attempts per herald, dark counts raised so that a
    quarter of the attempts after a skip are forced by a dark count): attempts per herald agree
    (two-sample KS at α = 0.001, means within 4σ), and so do the ψ+ fraction (4σ)."""
    lab = _lab(tmp_path, "bright", collection_efficiency=0.5, dark_rate_hz=2e4, afterpulse_prob=0.0)
    res = {}
    for fast in (False, True):
        sim, result = _run(tmp_path, lab, fast, 11, heralds_per_setting=60)
        assert result.exit_code == 0, result.error_message
        res[fast] = result.datasets
        sim.close()
    a0 = np.asarray(res[False]["herald.attempts"], dtype=float)
    a1 = np.asarray(res[True]["herald.attempts"], dtype=float)
    assert stats.ks_2samp(a0, a1).pvalue > 0.001
    se = np.sqrt(a0.var() / len(a0) + a1.var() / len(a1))
    assert abs(a0.mean() - a1.mean()) < 4 * se
    p0 = np.mean(np.asarray(res[False]["herald.psi"]) > 0)
    p1 = np.mean(np.asarray(res[True]["herald.psi"]) > 0)
    se = np.sqrt(0.25 / len(a0) * 2)
    assert abs(p0 - p1) < 4 * se
