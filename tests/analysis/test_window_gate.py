# SPDX-License-Identifier: LGPL-3.0-or-later
"""The detection-window trade-off speaks the calibrated gate's convention: [start, stop) in mu
from the excitation pulse start (``calib.photon.gate_*``, ``ionlink-sim budget
--detection-gate``), converted from the click times (mu from the attempt cycle's start) with the
excitation time the run played, and beside the gate it played."""

import json

import numpy as np
import pytest
from analysis_synth import remote_datasets, write_artiq

from analysis import fidelity_summary, load
from analysis import photons as ph
from analysis import plots as pl
from analysis.remote_runs import PlayedGate, played_gate
from analysis.report import render_markdown

#: a run's calibrated gate and loop design, as the link experiments archive them
GATE = {"calib.photon.gate_start_mu": 29, "calib.photon.gate_stop_mu": 44}


def _run(
    path, *, excite_mu, seed=1, archive=None, arguments=None, heralding="gateware", mode="parity"
):
    """A run (parity unless ``mode``) whose clicks sit ``excite_mu`` + [29, 44) mu after its
    cycle's start."""
    d = remote_datasets(np.random.default_rng(seed), n=1500, tau_mu=4.0, mode=mode)
    t = d["herald.t_det_mu"]
    clicked = t >= 0
    t[clicked] = excite_mu + 29 + np.minimum(t[clicked] - 10, 14)
    d["ionlink.heralding"] = heralding
    expid = json.dumps(
        {
            "file": "repository/remote_entanglement.py",
            "class_name": "RemoteEntanglement",
            "arguments": arguments or {},
            "log_level": 30,
        }
    )
    return write_artiq(path, d, archive=archive, expid=expid)


def test_the_trade_off_speaks_the_calibrated_gate(tmp_path):
    """A gateware run excited at 584 mu of its cycle with the gate [29, 44): its clicks at
    613–627 mu of the cycle; the trade-off's full gate is [29, 44), the calibrated one, in the
    table, beside the gate the run played (the labels were 613–627, the cycle's times)."""
    archive = {"calib.link.excite_time_s": 584e-9, **GATE}
    p = _run(tmp_path / "000000001-RemoteEntanglement.h5", excite_mu=584, archive=archive)
    rep = fidelity_summary(p, n_boot=50)
    pts = rep.timing.window
    assert pts and pts[-1].gate_stop_mu == 44 and pts[-1].fraction == 1.0
    assert all(29 < w.gate_stop_mu <= 44 for w in pts)
    assert [w.last_click_mu - 584 + 1 for w in pts] == [w.gate_stop_mu for w in pts]
    assert rep.timing.played_gates == ((29, 44),)
    md = render_markdown(rep, {})
    section = md.split("## Detection-window trade-off")[1].split("## Notes")[0]
    assert "| gate [start, stop) (mu from the excitation) |" in section
    assert "| [29, 44) | 1500 | 1.000 |" in section
    assert "[29, 44) mu from the excitation" in section and "calib.photon.gate_start_mu" in section
    assert "| 627 |" not in section and "records no excitation time" not in md
    fig = pl.window_figure([w for w in pts if w.fidelity is not None])
    ax = fig.axes[0]
    assert "ns from the excitation" in ax.get_xlabel()
    assert [t.get_text() for t in ax.texts][-1] == "44"
    # the arrival histogram in the same frame: the clicks 29–43 ns after the excitation (they
    # read 613–627, the cycle's times), the lifetime the same in either frame
    arr = rep.timing.arrival
    assert rep.timing.arrival_from_excitation
    occupied = arr.edges[:-1][arr.counts > 0]
    assert occupied.min() == 29 and occupied.max() == 43
    ax = pl.arrival_figure(arr.edges, arr.counts, None, "herald.t_det_mu", from_excitation=True)
    assert ax.axes[0].get_xlabel() == "click time after the excitation pulse (ns)"


@pytest.mark.parametrize(
    "archive, arguments, heralding, want",
    [
        ({"calib.link.excite_time_s": 584e-9}, {}, "gateware", 584),
        # an argument overrides the calibration; the gateware plays 8 ns steps, the CPU 1 ns
        ({"calib.link.excite_time_s": 584e-9}, {"excite_time": 596e-9}, "gateware", 592),
        ({"calib.link.excite_time_s": 584e-9}, {"excite_time": 596e-9}, "cpu", 596),
        ({}, {"excite_time": 600e-9}, "cpu", 600),
        ({}, {}, "gateware", None),  # the experiment's fallback: the file does not say
    ],
)
def test_the_excitation_is_the_one_the_run_played(tmp_path, archive, arguments, heralding, want):
    """``excite_time`` as given, else the archived ``calib.link.excite_time_s``, rounded to the
    entangler's 8 ns steps on the gateware path (``drivers/gateware_loop.py``) and to 1 mu on the
    CPU path; neither: unknown, with the reason."""
    p = _run(
        tmp_path / "000000001-RemoteEntanglement.h5",
        excite_mu=584,
        archive={**archive, **GATE},
        arguments=arguments,
        heralding=heralding,
    )
    played = played_gate(load(p))
    assert played.excite_mu == want and played.gate_mu == (29, 44)
    assert bool(played.unknown) == (want is None)


def test_a_file_without_its_arguments_does_not_say(tmp_path):
    """``artiq_run -o`` writes no expid: an argument may have overridden the calibration, so the
    excitation is not guessed from it."""
    p = _run(tmp_path / "a.h5", excite_mu=584, archive={"calib.link.excite_time_s": 584e-9})
    run = load(p)
    object.__setattr__(run, "expid", None)
    assert played_gate(run) == PlayedGate(None, None, played_gate(run).unknown)
    assert "excite_time argument" in played_gate(run).unknown


def test_without_the_excitation_the_old_labels_stay_and_say_so(tmp_path):
    """A run that does not record its excitation time: the cycle's click times as before,
    labelled as such in the table and the plot, and a note saying why."""
    p = _run(tmp_path / "000000001-RemoteEntanglement.h5", excite_mu=584, archive=GATE)
    rep = fidelity_summary(p, n_boot=50)
    pts = rep.timing.window
    assert pts[-1].gate_stop_mu is None and pts[-1].last_click_mu == 627
    (note,) = [n for n in rep.notes if n.startswith("detection-window trade-off")]
    assert "records no excitation time" in note and "calib.link.excite_time_s" in note
    md = render_markdown(rep, {})
    assert "| latest click kept (mu from the cycle's start) |" in md and "| 627 | 1500 |" in md
    assert "[29, 44) mu from the excitation" in md  # the gate it played, stated all the same
    ax = pl.window_figure([w for w in pts if w.fidelity is not None]).axes[0]
    assert "cycle's start" in ax.get_xlabel()
    arr = rep.timing.arrival
    assert not rep.timing.arrival_from_excitation
    assert arr.edges[:-1][arr.counts > 0].min() == 613


def test_runs_excited_at_different_times_pool_by_the_excitation(tmp_path):
    """Two runs whose clicks sit equally after excitations 8 ns apart: pooled by their time
    after the excitation, the full gate is still [29, 44) (by cycle times the later run's clicks
    were all 'later'), with a note; no common cycle time."""
    a = _run(
        tmp_path / "000000001-RemoteEntanglement.h5",
        excite_mu=584,
        archive={"calib.link.excite_time_s": 584e-9, **GATE},
    )
    b = _run(
        tmp_path / "000000002-RemoteEntanglement.h5",
        excite_mu=592,
        seed=2,
        arguments={"excite_time": 592e-9},
        archive={"calib.link.excite_time_s": 584e-9, **GATE},
    )
    rep = fidelity_summary([a, b], n_boot=50)
    pts = rep.timing.window
    assert pts[-1].gate_stop_mu == 44 and all(w.last_click_mu is None for w in pts)
    after = np.concatenate(
        [load(f).read("herald.t_det_mu").max(axis=1) - e for f, e in ((a, 584), (b, 592))]
    )
    assert [w.heralds for w in pts] == [int((after < w.gate_stop_mu).sum()) for w in pts]
    assert all(29 < w.gate_stop_mu <= 44 for w in pts)
    assert any("excited at different times" in n and "592 mu" in n for n in rep.notes)
    # the pooled arrival histogram cannot be aligned after the fact: it stays in cycle times
    assert not rep.timing.arrival_from_excitation


def test_window_tradeoff_in_the_gate_convention():
    """:func:`~analysis.photons.window_tradeoff` with the excitation: a gate [start, 44) keeps
    the clicks up to 43 mu after it."""
    t_last = 584 + np.arange(29, 44)
    pts = ph.window_tradeoff(t_last, [30, 44], lambda m: None, excite_mu=584)
    assert [(w.gate_stop_mu, w.last_click_mu, w.heralds) for w in pts] == [
        (30, 613, 1),
        (44, 627, 15),
    ]


def test_a_z_run_s_arrivals_are_given_from_the_excitation_too(tmp_path):
    """A Z run has no fidelity, so no trade-off; its arrival histogram is still drawn from the
    excitation where the run says where it sat (it stayed in cycle times: 613–627 here, while a
    parity run's read 29–43)."""
    archive = {"calib.link.excite_time_s": 584e-9, **GATE}
    p = _run(tmp_path / "000000001-RemoteEntanglement.h5", excite_mu=584, archive=archive, mode="z")
    rep = fidelity_summary(p, n_boot=50)
    assert rep.timing.window is None and rep.timing.arrival_from_excitation
    arr = rep.timing.arrival
    occupied = arr.edges[:-1][arr.counts > 0]
    assert occupied.min() == 29 and occupied.max() == 43
    assert not any(n.startswith("detection-window trade-off") for n in rep.notes)
