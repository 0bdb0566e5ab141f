# SPDX-License-Identifier: LGPL-3.0-or-later
"""The qubit drive follows the Urukul attenuator: the Rabi frequency scales with the RF voltage,
10^(−Δ/20) at Δ dB more attenuation than the lab's ``qubit_drive.attenuation_db``. Before, the
simulated drive ignored the attenuator: Startup with the qubit at 20 dB gave perfect π pulses
(readout error 0.01) where a lab's pulses rotate by 0.32 π."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sim.rtio.phy.urukul import UrukulDecoder
from tests.experiments.simhelpers import run, simulation

REPO = Path(__file__).resolve().parents[2] / "repository"


def _readout(tmp_path, att_db: float):
    """Node A's and B's readout calibration (400 shots) after Startup with both nodes' qubit
    attenuation at ``att_db``: its run."""
    sim = simulation(tmp_path / str(att_db), lab="oxford2020", seed=2, startup=False)
    try:
        for x in "ab":
            sim.dataset_db.set(f"calib.node_{x}.dds.qubit.attenuation", att_db, persist=True)
        run(sim, "startup")
        return sim.run(REPO / "readout_calibration.py", None, {"shots": 400})
    finally:
        sim.close()


def _bright_fraction(tmp_path, att_db: float) -> tuple[float, int]:
    """The fraction of node A's bright shots (readout calibration) with more than 5 counts (its
    dark shots give 0.4 a shot, its bright ones 18), with both nodes' qubit attenuation
    ``att_db`` at Startup."""
    bright = np.asarray(_readout(tmp_path, att_db).datasets["readout.bright_counts_a"])
    return float(np.mean(bright > 5)), bright.size


def test_the_pi_pulse_follows_the_attenuator(tmp_path):
    """At the lab's 10 dB the π pulse is whole (≥ 97 % of the bright shots bright, the preset's
    SPAM ≈ 1 %); at 20 dB it rotates by π·10^(−1/2): sin²(0.158 π) = 0.228 of the shots turn
    bright (±4σ of 400 shots, 0.084)."""
    whole, _ = _bright_fraction(tmp_path, 10.0)
    assert whole >= 0.97
    part, n = _bright_fraction(tmp_path, 20.0)
    expected = math.sin(math.pi / 2 * 10 ** (-10 / 20)) ** 2
    assert part == pytest.approx(expected, abs=4 * math.sqrt(expected * (1 - expected) / n))


def test_attenuation_history_of_a_channel():
    """The attenuator register as the run found it, then its writes: channel 3's byte at chip
    select 7 (ARTIQ's att_mu = 255 − 8·dB); None before the first write since power-up."""
    dec = UrukulDecoder(None, 5)
    assert dec.attenuation_db(7, 0, 100) == (None, [])
    dec.att_initial = 175 << 24  # 10 dB on channel 3
    dec.att_log = [(50, 95 << 24), (80, 175 << 24)]  # 20 dB at 50, 10 dB at 80
    assert dec.attenuation_db(7, 0, 100) == (10.0, [(50, 20.0), (80, 10.0)])
    assert dec.attenuation_db(7, 60, 100) == (20.0, [(80, 10.0)])
    assert dec.attenuation_db(4, 60, 100) == (31.875, [(80, 31.875)])


def test_a_readout_calibration_whose_pi_pulses_failed_is_refused(tmp_path):
    """The qubit drive 10 dB weaker than the lab's (Startup at 20 dB): ≈ 77 % of the bright shots
    stay dark. The readout calibration stored that (readout error 0.39, below its 0.4 refusal,
    exit 0): every later run's SPAM correction then took 39 % for readout error. It is now
    refused in one line naming the π pulse, and nothing is stored; at the lab's 10 dB the share
    is the preparation error (≈ 1 %) and the calibration is stored."""
    r = _readout(tmp_path, 20.0)
    assert r.exit_code == 1
    assert "of the bright shots counted as dark ones do" in r.error_message, r.error_message
    assert "pi pulse left them dark" in r.error_message and "\n" not in r.error_message
    assert 0.65 < r.datasets["readout.bright_left_dark_a"] < 0.88
    assert not any(k.startswith("calib.readout") for k in r.datasets)
    ok = _readout(tmp_path / "ok", 10.0)
    assert ok.exit_code == 0, ok.error_message
    assert ok.datasets["readout.bright_left_dark_a"] < 0.03
