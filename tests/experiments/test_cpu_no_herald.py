# SPDX-License-Identifier: LGPL-3.0-or-later
"""The CPU heralding path's herald timeout (``repository/remote_entanglement_cpu.py``): its one
line says what the four detector inputs counted, as the gateware path's does from the
entangler's input counters, and which causes fit. The CPU path has no counters: after the
timeout (and the loop's totals) one cooling and ``attempts_per_cool`` more attempts count in how
many each detector clicked in its gate; the heralding loop itself reads nothing more. Before
2026-12-03 the line said ``no click counts measured`` and listed every cause."""

from __future__ import annotations

import re

from .simhelpers import REPO, simulation

#: the span the line names: oxford2020's 191 attempts a cooling
SPAN = "191 more attempts (one cooling's, made after the timeout to count the clicks)"


def _timeout_run(tmp_path, *sets: str, herald_timeout: int = 2000):
    """The CPU experiment (Z) at oxford2020 with ``sets``, stopped by ``herald_timeout``: its
    run result."""
    from sim.lab_resolution import resolve_lab

    lab = resolve_lab("oxford2020", None, sets)
    sim = simulation(tmp_path, lab=lab, seed=2)
    try:
        args = {"mode": "z", "heralds_per_setting": 5, "herald_timeout": herald_timeout}
        return sim.run(REPO / "remote_entanglement_cpu.py", None, args)
    finally:
        sim.close()


def _clicks(message: str) -> list[int]:
    """The detectors' clicking attempts the line names."""
    found = re.search(r"the 4 detectors clicked in (\d+), (\d+), (\d+), (\d+) attempts", message)
    assert found, message
    return [int(x) for x in found.groups()]


def test_no_light_says_no_detector_clicked(tmp_path):
    """No light and no dark counts: no detector clicked in the attempts counted; the causes are
    those of no light at the detectors. The totals are the loop's (the attempts counted after
    it are not among them)."""
    r = _timeout_run(tmp_path, "bsa.detectors.*.efficiency=0.0", "bsa.detectors.*.dark_rate_hz=0.0")
    assert r.exit_code == 1, r.error_message
    m = r.error_message
    assert m.startswith("NoHeraldError: no herald in 2000 attempts"), m
    assert f"{SPAN} had no click on any of the 4 detectors in the gate: no light" in m, m
    assert "no click counts measured" not in m and "\n" not in m
    assert int(r.datasets["totals.attempts"]) == 2000


def test_dark_counts_are_counted_per_detector(tmp_path):
    """Dark counts on det0 and det2 alone (≈ 3 % of attempts each), the detectors blind to
    light: the line counts the clicking attempts of each detector, det1 and det3 none, and
    says they never made a herald pattern (det0 + det2 is none)."""
    r = _timeout_run(
        tmp_path,
        "bsa.detectors.*.efficiency=0.0",
        "bsa.detectors.*.afterpulse_prob=0.0",
        "bsa.detectors.*.dark_rate_hz=0.0",
        "bsa.detectors[0].dark_rate_hz=2e6",
        "bsa.detectors[2].dark_rate_hz=2e6",
    )
    assert r.exit_code == 1, r.error_message
    c = _clicks(r.error_message)
    assert c[1] == c[3] == 0 and c[0] > 0 and c[2] > 0, c
    assert f"in {SPAN} the 4 detectors clicked in" in r.error_message
    assert "never as a herald pattern" in r.error_message


def test_a_link_that_heralds_after_its_timeout_says_so(tmp_path):
    """An efficient link stopped after a single attempt: the attempts counted after it herald,
    and the line says so instead of blaming a dark node."""
    r = _timeout_run(
        tmp_path,
        "nodes.*.optics.collection_efficiency=0.5",
        "nodes.*.optics.fibre_transmission=1.0",
        herald_timeout=1,
    )
    assert r.exit_code == 1, r.error_message
    assert re.search(r"attempts, [1-9]\d* of them a herald: the link heralds", r.error_message), (
        r.error_message
    )
