# SPDX-License-Identifier: LGPL-3.0-or-later
"""Loop timing arguments a lab cannot play are refused in ``prepare`` with one line, exit 2
(bad input), on both heralding paths: a pump window that is empty or still on when the ion is
excited (before 2026-12-02 the gateware run with ``excite_time=200e-9`` inside the 30–500 ns
pump exited 0 with P −4 % and the fidelity of a link whose pump ends before the excitation;
``pump_start`` after ``pump_stop`` ran until the herald timeout, exit 1), and a cycle that does
not hold the calibrated gate (a ``ValueError``, exit 1, as if the experiment had failed)."""

from __future__ import annotations

import pytest

from .simhelpers import REPO, simulation

Z = {"mode": "z", "heralds_per_setting": 1}

REFUSED = [
    (
        "remote_entanglement.py",
        {"excite_time": 200e-9},
        "pump window [30, 500) ns and excitation at 200 ns",
    ),
    (
        "remote_entanglement.py",
        {"pump_start": 600e-9, "pump_stop": 500e-9},
        "need pump_start < pump_stop <= excite_time",
    ),
    ("remote_entanglement.py", {"cycle_length": 0.5e-6}, "ends after the 496 ns cycle"),
    (
        "remote_entanglement_cpu.py",
        {"excite_time": 200e-9},
        "pump window [30, 500) ns and excitation at 200 ns",
    ),
    (
        "remote_entanglement_cpu.py",
        {"pump_start": 600e-9, "pump_stop": 500e-9},
        "need pump_start < pump_stop <= excite_time",
    ),
    ("remote_entanglement_cpu.py", {"cycle_length": 0.3e-6}, "ends after the 300 ns cycle"),
    ("hom.py", {"delays": "[0, 4, 400]"}, "whole 8 ns steps"),
    ("hom.py", {"delays": "[0, 8, 16]"}, "the reference delay 16 ns is below 5 photon lifetimes"),
]


@pytest.mark.parametrize("experiment,arguments,message", REFUSED)
def test_unplayable_loop_timing_is_refused(tmp_path, experiment, arguments, message):
    sim = simulation(tmp_path)
    sim.dataset_db.set("calib.photon.tau_s", 7.4e-9, persist=True)  # (single photon's)
    with sim:
        common = Z if "remote" in experiment else {"runs_per_delay": 1}
        result = sim.run(REPO / experiment, None, {**common, **arguments})
    assert result.exit_code == 2, result.error_message
    assert message in result.error_message
    assert "\n" not in result.error_message


def test_pump_ending_at_the_excitation_is_played(tmp_path):
    """The boundary: a pump window that ends where the excitation starts is a loop the lab can
    play (the gateware's 8 ns grid: excitation at 504 ns, pump to 504 ns)."""
    sim = simulation(tmp_path)
    with sim:
        result = sim.run(
            REPO / "remote_entanglement.py",
            None,
            {**Z, "pump_stop": 504e-9, "excite_time": 504e-9},
        )
    assert result.exit_code == 0, result.error_message


def test_remote_gate_correction_delay_below_the_reads_is_refused(tmp_path):
    """``correction_delay`` under the CPU time of the network ions' reads before the
    corrections (≈ 1 µs at oxford2025) underflowed every shot, which the kernel retried without
    end and without a pause check: before 2026-12-02 ``correction_delay=0`` ran 914 s with no
    shot and stopped only at a second SIGTERM (0.9 µs likewise; 1 µs: 4 shots, 73 underflows
    recovered). Refused in one line, exit 2 (before Startup: a kernel that ran would stop at
    the Urukuls, exit 1, where the unrefused value looped); since 2026-12-02 every value below
    2.5 µs is (``MIN_CORRECTION_DELAY_S``: below it the shots kept are selected by their
    outcomes, ``test_remote_gate_underflow.py``)."""
    sim = simulation(tmp_path, lab="oxford2025", startup=False)
    with sim:
        result = sim.run(
            REPO / "remote_gate.py",
            None,
            {"analysis": "truth_table", "heralds_per_setting": 1, "correction_delay": 0.9e-6},
        )
    assert result.exit_code == 2, result.error_message
    assert result.error_message.startswith("argument 'correction_delay' = 0.9 us is below 2.5 us")
