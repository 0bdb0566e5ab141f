# SPDX-License-Identifier: LGPL-3.0-or-later
"""Drawn CPU costs and the slack predictor: a drifting loop underflows where the random-walk
model says, the predicted underflow probability of a marginal loop is the observed frequency, and
RTIO exceptions appear in the VCD on their own signals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from artiq.language.core import at_mu, delay_mu, now_mu

from sim.rtio.cost_spread import KASLI2_SPREAD, DrawnCosts
from sim.rtio.costs import KASLI2, CostProfile
from sim.rtio.errors import RTIOOverflow, RTIOUnderflow
from sim.rtio.exception_log import RTIOException
from sim.slack.estimate import UNDERFLOW_SLACK_MU, first_underflow
from sim.slack.probe import SlackProbe
from sim.slack.report import summarise

from .vcdfile import read_vcd


def test_drawn_costs_only_on_request_and_mean_preserving(make_env):
    """A session draws costs only when asked; the drawn costs keep the profile's means (4σ of
    the mean of 20000 draws) and have the spread's variance (within 10 %)."""
    assert isinstance(make_env().engine.costs, CostProfile)
    costs = make_env(seed=5, drawn_costs=True).engine.costs
    assert isinstance(costs, DrawnCosts)
    for name in ("rtio_output", "rpc", "dma_playback_start"):
        x = np.array([costs.draw(name) for _ in range(20_000)], dtype=float)
        sp = KASLI2_SPREAD.ops[name]
        mean = getattr(KASLI2, name)
        assert abs(x.mean() - mean) < 4 * math.sqrt(sp.variance / x.size), name
        assert abs(x.var() / sp.variance - 1) < 0.1, name
    assert costs.delay == KASLI2.delay  # no spread: a plain attribute


def _drift_loop(env, ttl, width, gap, n):
    """``pulse_mu(width); delay_mu(gap)`` from 20 µs of slack until the first underflow;
    returns (the slack at the start, the 1-based iteration that underflowed). 20 µs, not
    break_realtime's 125: a lane holds 128 events, 25.6 µs of this loop; more slack would fill
    it and the CPU would wait on it (which caps the slack there)."""
    at_mu(env.core.get_rtio_counter_mu() + 20_000)
    slack0 = env.engine.now - env.engine.counter
    for i in range(n):
        try:
            ttl.pulse_mu(width)
            delay_mu(gap)
        except RTIOUnderflow:
            return slack0, i + 1
    return slack0, -1


@pytest.mark.parametrize("drawn", [False, True])
def test_drifting_slack_underflows_at_the_predicted_iteration(make_env, drawn):
    """Each iteration costs the CPU 2 outputs + 2 delays (448 mu at Kasli 2.0) and advances the
    timeline 400 mu: the slack drifts by 48 mu per iteration from 20 µs. Mean costs: the
    underflow comes at the predicted iteration (±1, of ≈ 415). Drawn costs (8 seeds): each at
    the predicted iteration within 4 predicted σ (≈ 18.5 iterations), their mean within 4σ/√8, and
    their spread of the predicted size (sample σ within a factor 2)."""
    width, gap = 200, 200
    drift = 2 * KASLI2.rtio_output + 2 * KASLI2.delay - (width + gap)
    var = 2 * KASLI2_SPREAD.ops["rtio_output"].variance if drawn else 0.0
    seen, predicted = [], []
    for seed in range(8 if drawn else 1):
        env = make_env(seed=seed, drawn_costs=drawn)
        slack0, k = env.run(_drift_loop, env, env.get("ttl_out"), width, gap, 10_000)
        # the lowest submission of an iteration: its second output (2 outputs, 1 delay in)
        dip = 2 * KASLI2.rtio_output + KASLI2.delay - width
        pred = first_underflow(slack0 - dip, drift, var)
        seen.append(k)
        predicted.append(pred)
    if not drawn:
        assert abs(seen[0] - predicted[0].iteration) <= 1, (seen, predicted)
        return
    sd = predicted[0].sd
    assert 15 < sd < 22
    for k, p in zip(seen, predicted):
        assert abs(k - p.iteration) < 4 * p.sd, (k, p)
    mean_pred = np.mean([p.iteration for p in predicted])
    assert abs(np.mean(seen) - mean_pred) < 4 * sd / math.sqrt(len(seen)), (seen, mean_pred)
    assert sd / 2 < np.std(seen, ddof=1) < 2 * sd, seen


def _marginal(env, ttl, iterations, margin):
    """Re-establish ``margin`` of slack, then 8 outputs 8 mu apart, ``iterations`` times (an
    underflow is caught; the next iteration re-establishes the margin)."""
    for _ in range(iterations):
        t = env.core.get_rtio_counter_mu() + margin
        if now_mu() < t:
            at_mu(t)
        try:
            for j in range(8):
                ttl.set_o(j & 1 == 1)
                delay_mu(8)
        except RTIOUnderflow:
            pass


def _runs(env, probe, n, margin):
    out = []
    for _ in range(n):
        probe.start_run()
        env.run(_marginal, env, env.get("ttl_out"), 50, margin)
        out.append(probe.end_run())
    return out


def _underflowed(run) -> bool:
    return any(line.underflows for line in run.lines.values())


@pytest.mark.slow
def test_predicted_underflow_probability_matches_observed_frequency(make_env):
    """A marginal loop (2300 mu of margin for 8 outputs): the probability predicted from 30 runs
    contains the frequency observed over 300 further seeded runs (its 95 % interval), and the
    Gumbel point estimate lies within the observed frequency's 99 % Clopper-Pearson interval.
    Then the loop at the margin predicted for p ≤ 0.01 underflows in at most 3 % of 300 runs
    (expected ≤ 3 runs; 9 would be 3.5σ)."""
    from scipy import stats

    margin = 2300
    nominal_env = make_env(seed=7)
    probe0 = SlackProbe()
    probe0.attach(nominal_env.engine)
    nominal = _runs(nominal_env, probe0, 1, margin)[0]

    env = make_env(seed=7, drawn_costs=True)
    probe = SlackProbe()
    probe.attach(env.engine)
    runs = _runs(env, probe, 330, margin)
    (est,) = summarise(nominal, runs[:30])
    observed = [_underflowed(r) for r in runs[30:]]
    k, n = sum(observed), len(observed)
    freq = k / n
    assert 0.05 < freq < 0.9, freq  # a marginal loop indeed
    lo, hi = est.p_underflow_ci
    assert lo <= freq <= hi, (est, freq)
    cp_lo = stats.beta.ppf(0.005, k, n - k + 1)
    cp_hi = stats.beta.ppf(0.995, k + 1, n - k)
    assert cp_lo <= est.p_underflow <= cp_hi, (est.p_underflow, k, n)

    (at_1pc,) = summarise(nominal, runs[:30], target=0.01)
    safer = margin + at_1pc.margin_mu - at_1pc.nominal_min_slack_mu
    assert safer > margin
    again = _runs(env, probe, 300, safer)
    assert sum(_underflowed(r) for r in again) <= 9


def test_exceptions_appear_in_the_vcd_on_their_signals(make_env, tmp_path):
    """An underflow, a sequence error, a collision and an input overflow, and a destination
    marked unreachable (as a DRTIO model marks it): each an event on
    ``rtio.exceptions.<kind>`` at its time, with its channel on ``<kind>_channel``; the kinds
    that did not happen are declared without events."""
    path = tmp_path / "x.vcd"
    env = make_env(seed=1, vcd=str(path))
    out, loop_out, loop_in = env.get("ttl_out"), env.get("loop_out"), env.get("loop_in")
    marks: dict[str, int] = {}

    def kernel():
        env.core.break_realtime()
        t = now_mu()
        loop_in.gate_rising_mu(100_000)
        try:
            at_mu(env.engine.counter)  # already past: underflow
            out.on()
        except RTIOUnderflow:
            marks["underflow"] = now_mu()
        at_mu(t + 1000)
        for i in range(70):  # 70 rising edges into a 64-deep input FIFO
            loop_out.pulse_mu(400)
            delay_mu(400)
        for i in range(9):  # going back in time 9 times: the 9th wraps onto a used lane
            at_mu(t + 200_000 - 800 * i)
            out.on()
        marks["sequence_error"] = t + 200_000 - 800 * 8
        at_mu(t + 300_000)
        out.on()
        at_mu(t + 300_003)  # same coarse cycle, another fine timestamp: a collision
        out.off()
        marks["collision"] = ((t + 300_000) >> 3) << 3
        env.engine.note_exception(RTIOException.DESTINATION_UNREACHABLE, t + 310_000, 0x10005)
        env.core.wait_until_mu(t + 100_000)  # every edge has arrived
        try:
            loop_in.timestamp_mu(t + 320_000)
        except RTIOOverflow:
            marks["overflow_raised"] = 1

    env.run(kernel)
    env.engine.check_collisions()
    env.session.close()
    vcd = read_vcd(path)
    ch_out = env.get("ttl_out").channel
    for kind in RTIOException:
        assert "rtio.exceptions." + kind.value in vcd.vars
        assert "rtio.exceptions." + kind.value + "_channel" in vcd.vars

    def events(kind):
        return [t for t, _ in vcd.of("rtio.exceptions." + kind)]

    def channels(kind):
        return [int(v) for t, v in vcd.of("rtio.exceptions." + kind + "_channel") if t]

    assert events("underflow") == [marks["underflow"]]
    assert channels("underflow") == [ch_out]
    assert events("sequence_error") == [marks["sequence_error"]]
    assert channels("sequence_error") == [ch_out]
    assert events("collision") == [marks["collision"]]
    assert channels("collision") == [ch_out]
    assert marks["overflow_raised"]
    assert len(events("overflow")) == 70 - 64
    assert set(channels("overflow")) == {loop_in.channel}
    assert events("destination_unreachable") == [marks["collision"] + 10_000]
    assert channels("destination_unreachable") == [0x10005]
    assert events("busy") == []


def test_underflow_threshold_is_the_sed_minimum(make_env):
    """The predictor's threshold lies in the SED's window: a submission with ≥ 104 mu of slack
    is accepted and one with ≤ 96 mu refused, whatever the fine phase."""
    assert 96 < UNDERFLOW_SLACK_MU < 104
    env = make_env(cost_profile="zero")
    ttl = env.get("ttl_out")

    def submit(slack):
        at_mu(env.engine.counter + slack)
        try:
            ttl.on()
        except RTIOUnderflow:
            return False
        return True

    for phase in range(8):
        env.engine.counter = 1_000_000 + phase
        assert env.run(submit, 104)
        env.engine.counter = 2_000_000 + phase
        assert not env.run(submit, 96)
