# SPDX-License-Identifier: LGPL-3.0-or-later
"""The budget's measured figures from its state's: each ion's readout flips its bit with its
SPAM error, independently. P_odd as measured is the odd-parity probability after the flips
(enumerated here over the four outcomes), the coherence shrinks by (1 − 2ε_A)(1 − 2ε_B), and
F = ½(P_odd + C). Before, P_odd' dropped the 2ε_Aε_B term (both flip: parity kept)."""

import itertools

import pytest

from sim.physics.budget import budget_dict, predict
from sim.physics.lab import load_lab


def _flipped_p_odd(p_odd: float, ea: float, eb: float) -> float:
    """P(odd after flips), enumerating both bits' flips."""
    out = 0.0
    for odd, fa, fb in itertools.product((True, False), (True, False), (True, False)):
        p = (p_odd if odd else 1 - p_odd) * (ea if fa else 1 - ea) * (eb if fb else 1 - eb)
        if odd ^ fa ^ fb:
            out += p
    return out


@pytest.mark.parametrize("lab", ["oxford2020", "duke2024", "target_99_1khz"])
@pytest.mark.parametrize("mode", ["z", "parity"])
def test_measured_p_odd_and_fidelity_follow_the_flips(lab, mode):
    b = predict(load_lab(lab), mode)
    ea, eb = b.spam
    assert 0.5 < b.p_odd_state <= 1 and b.p_odd_measured < b.p_odd_state
    assert b.p_odd_measured == pytest.approx(_flipped_p_odd(b.p_odd_state, ea, eb), abs=1e-15)
    c = 2 * b.fidelity_state - b.p_odd_state
    expected = 0.5 * (b.p_odd_measured + c * (1 - 2 * ea) * (1 - 2 * eb))
    assert b.fidelity_measured == pytest.approx(expected, abs=1e-15)


def test_unequal_errors():
    assert _flipped_p_odd(1.0, 0.1, 0.2) == pytest.approx(1 - (0.1 * 0.8 + 0.2 * 0.9))


def test_budget_dict_and_text_carry_p_odd(capsys):
    from sim.cli import main

    d = budget_dict(load_lab("oxford2020"), "z")
    assert d["p_odd_measured"] < d["p_odd_state"]
    assert main(["budget", "oxford2020", "--mode", "z"]) == 0
    assert f"P_odd = {d['p_odd_state']:.4f}, measured {d['p_odd_measured']:.4f}" in (
        capsys.readouterr().out
    )
    assert main(["budget", "oxford2020", "--mode", "z", "--path", "cpu"]) == 0
    assert "P_odd = " in capsys.readouterr().out
