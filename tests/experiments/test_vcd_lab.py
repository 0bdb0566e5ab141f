# SPDX-License-Identifier: LGPL-3.0-or-later
"""The VCD of a short lab session (Startup, then remote entanglement in parity mode at
oxford2020), read back with pyvcd: the repository device_db's names, a real date, the detector
clicks of every herald on the Bell-state-analyser inputs at the timestamps the kernel read, the
qubit AD9910s as programmed, one herald event per herald."""

import datetime
import re

import pytest

from drivers.link import analysis_settings
from tests.experiments.simhelpers import ROOT, lab_calibration, run
from tests.rtio.vcdfile import read_vcd

PARITY_POINTS = 2


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """(VCD read back, remote-entanglement datasets, calibration) of one seeded session."""
    from sim.lab_resolution import resolve_lab
    from sim.runner import Simulation

    path = tmp_path_factory.mktemp("vcd") / "run.vcd"
    lab = resolve_lab("oxford2020", None)
    sim = Simulation(
        ROOT / "device_db.py",
        seed=2,
        lab=lab,
        results_dir=path.parent / "results",
        dataset_db=False,
        write_results=False,
        vcd=str(path),
    )
    cal = lab_calibration(lab)
    for key, value in cal.items():
        sim.dataset_db.set(key, value, persist=True)
    run(sim, "startup")
    d = run(
        sim,
        "remote_entanglement",
        mode="parity",
        parity_points=PARITY_POINTS,
        heralds_per_setting=2,
    )
    sim.close()
    return read_vcd(path), d, cal


def test_signals_have_device_db_names(session):
    v, _, _ = session
    for name in (
        "rtio.node_a.cool_sw",
        "rtio.node_b.excite",
        "rtio.node_a.qubit_sw",
        "rtio.node_a.pmt.in",
        "rtio.bsa.bsa_det0.in",
        "rtio.bsa.bsa_det3.gate",
        "rtio.node_b.qubit_dds.freq_hz",
        "rtio.entangler.herald",
        "rtio.entangler.running",
    ):
        assert name in v.vars, name
    # hardware names only as aliases of the same variables
    assert v.same("rtio.node_a.cool_sw", "rtio.hardware.ttl0")
    assert v.same("rtio.bsa.bsa_det2.in", "rtio.hardware.ttl18.in")
    assert v.same("rtio.node_a.qubit_dds.sw", "rtio.node_a.qubit_sw")
    bare = [
        n
        for n in v.vars
        if re.search(r"(^|\.)ttl\d+($|\.|_)", n) and not n.startswith("rtio.hardware.")
    ]
    assert not bare


def test_date_is_the_writing_time(session):
    v, _, _ = session
    written = datetime.datetime.fromisoformat(v.date)
    assert abs((datetime.datetime.now(datetime.UTC) - written).total_seconds()) < 3600
    assert "seed 2" in v.comment and "oxford2020" in v.comment


def test_herald_events_match_the_heralds(session):
    """One herald event per herald, at the run end the kernel recorded, with its pattern."""
    v, d, _ = session
    assert d["totals.heralds_discarded"] == 0
    heralds = [t for t, _ in v.of("rtio.entangler.herald")]
    assert len(heralds) == d["totals.heralds"] == len(d["herald.pattern"]) > 0
    assert heralds == list(d["herald.t_lab_mu"])
    pattern = v.of("rtio.entangler.pattern")  # a wire: a repeated pattern is no new change
    assert [[x for tc, x in pattern if tc <= t][-1] for t in heralds] == list(d["herald.pattern"])
    running = v.of("rtio.entangler.running")
    assert all(any(t == te and x == "0" for te, x in running) for t in heralds)


def test_detector_clicks_at_the_heralds(session):
    """Each herald's clicks are rising edges on the BSA inputs at the entangler's timestamps
    (relative to the heralding cycle's start); dark counts appear outside the runs too."""
    v, d, _ = session
    cycle = int(d["totals.cycle_mu"])
    rising = [set(v.rising(f"rtio.bsa.bsa_det{i}.in")) for i in range(4)]
    n_clicks = 0
    for t_end, pattern, ts in zip(d["herald.t_lab_mu"], d["herald.pattern"], d["herald.t_det_mu"]):
        for i in range(4):
            if pattern >> i & 1:
                assert int(t_end) - cycle + int(ts[i]) in rising[i], (t_end, i)
                n_clicks += 1
    assert n_clicks == 2 * len(d["herald.pattern"])
    assert sum(len(r) for r in rising) > n_clicks  # dark counts between the runs


def test_dds_values_as_programmed(session):
    """Qubit AD9910s: calibrated frequency and amplitude, the analysis phases of the settings."""
    v, _, cal = session
    phases = analysis_settings("parity", PARITY_POINTS)
    for node in "ab":
        base = f"rtio.node_{node}.qubit_dds."
        assert all(v.vars[base + q][1] == "real" for q in ("freq_hz", "phase_turns", "amplitude"))
        f = [x for t, x in v.of(base + "freq_hz") if t > 0]
        assert f and all(
            x == pytest.approx(cal[f"calib.node_{node}.qubit.frequency"], abs=0.25) for x in f
        )
        a = [x for t, x in v.of(base + "amplitude") if t > 0]
        assert a and all(
            x == pytest.approx(cal[f"calib.node_{node}.qubit.amplitude"], abs=2**-14) for x in a
        )
        got = {round(x, 4) for _, x in v.of(base + "phase_turns")}
        assert got == {round(p % 1.0, 4) for p in phases["phi_" + node]} | {0.0}
