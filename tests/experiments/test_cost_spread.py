# SPDX-License-Identifier: LGPL-3.0-or-later
"""The timing calibration measures the spread of the CPU costs: run against drawn costs of a known
spread, it stores that spread (within its statistical error), and the simulator reads it back."""

from __future__ import annotations

import math

from drivers.timing_spread import OpSpread, fit_spread
from sim.rtio.cost_spread import CostSpread
from tests.experiments.simhelpers import run, simulation

KNOWN = CostSpread(
    "known",
    {
        "rtio_output": OpSpread(20.0, 0.0, 0.0),
        "rpc": OpSpread(4000.0, 0.0, 0.0),
        "dma_playback_start": OpSpread(30.0, 0.1, 600.0),
    },
)


def test_timing_calibration_recovers_a_known_spread(tmp_path):
    """120 single measurements per operation: the core standard deviations within 4σ of their
    estimate (σ ≈ sd/√(2n)), the slow events' probability within 4σ of its binomial error and
    their mean excess within 4σ (exponential: σ = mean/√k); with mean costs every spread is 0."""
    sim = simulation(tmp_path, calibration=False, startup=False)
    d = run(sim, "timing_calibration", repeats=120)
    assert sim.session.summary()["cost_profile"] == "kasli2"
    for name in ("output_mu", "rpc_mu", "dma_playback_start_mu"):
        assert d[f"calib.timing.{name}_sd_mu"] == 0.0, name
        assert d[f"calib.timing.{name}_p_slow"] == 0.0, name
    sim.drawn_costs = KNOWN
    d = run(sim, "timing_calibration", repeats=120)
    assert sim.session.summary()["cost_profile"] == "kasli2+drawn"  # ionlink.sim.cost_profile
    n = 120
    for name, field in (("output_mu", "rtio_output"), ("rpc_mu", "rpc")):
        sd = d[f"calib.timing.{name}_sd_mu"]
        true = KNOWN.ops[field].sd_mu
        assert abs(sd - true) < 4 * true / math.sqrt(2 * n), (name, sd)
    p = d["calib.timing.dma_playback_start_mu_p_slow"]
    assert abs(p - 0.1) < 4 * math.sqrt(0.1 * 0.9 / n), p
    k = max(round(p * n), 1)
    slow = d["calib.timing.dma_playback_start_mu_slow_mu"]
    assert abs(slow - 600) < 4 * 600 / math.sqrt(k), slow
    # the fit stored is the fit of the archived samples, and the simulator reads it back
    samples = d["timing.samples.dma_playback_start_mu"]
    assert fit_spread(samples).p_slow == p
    back = CostSpread.from_dataset({k: v for k, v in d.items() if k.startswith("calib.timing.")})
    assert back.ops["dma_playback_start"].p_slow == p
    assert back.ops["rpc"].sd_mu == d["calib.timing.rpc_mu_sd_mu"]
