# SPDX-License-Identifier: LGPL-3.0-or-later
"""The reads of a CPU-heralding pass drawn in law made from the world's edges
(``sim.devices.law_reads``, the ``bsa`` device argument ``law_reads``).

Two parts: the reads' timeline, exact to the mu against the executed reads (every pass the model
would take, run in detail and compared: pattern, first timestamps, the counter after the reads,
and how far each input was asked for events); and the law of the whole, against every attempt in
detail (``fast_forward=False``), as ``test_cpu_click_law`` holds the law pass to it."""

import numpy as np
import pytest

from drivers import bsa as bsa_driver
from sim.devices import bsa as sim_bsa
from sim.devices.law_reads import LawReads
from tests.experiments.simhelpers import simulation
from tests.experiments.test_cpu_click_law import _PSI, assert_same_click_law
from tests.experiments.test_cpu_fast_forward import AttemptCalls, _lab

BUSY_GATES = {"dead_time_s": 1e-9, "afterpulse_prob": 0.9, "afterpulse_delay_s": 8e-9}


@pytest.mark.parametrize("busy", [False, True])
def test_the_reads_timeline_is_the_executed_reads(tmp_path, monkeypatch, busy):
    """oxford2020 with 3 kHz dark counts and 19x the light: clicks of one and of several
    detectors, no second click in a gate (the dead time is longer than the gate); ``busy``: the
    dead time 11 ns and afterpulses of 8 ns after 90 % of the clicks, so that a few gates
    register a second click, which the reads read and drop. Every pass the model would make runs
    its reads in detail instead. The model's gates, asked first (their draws undone after; not
    with afterpulses, whose draws come in another order when the reads ask the world in several
    steps), must register the events the PHY's gates register; given those, the model must give
    the same pattern, first timestamps, counter after the reads and input horizons."""
    audit = {"later": 0, "same": 0, "differ": [], "pairs": 0, "gated": 0}
    orig_pattern = sim_bsa.BellStateAnalyser._pattern

    def audited(self, t_att, gate_end, timestamps, drawn, at_start):
        reads = self._reads
        eng = self.core.engine
        dets = reads._inputs(t_att, gate_end) if drawn and reads is not None else None
        if dets is None or eng.recorder is not None:
            return orig_pattern(self, t_att, gate_end, timestamps, False, at_start)
        counter0 = eng.counter
        logs = [len(inp.phy.log) for inp, _, _ in dets]
        # the events the model's gates register, the world's draws then undone (only where the
        # world need not move to give the edges)
        world, g1 = eng.cycle_world, t_att + gate_end + 88
        gated = None
        if not busy and (g1 <= world._t or world._next_beam_output(world._t) >= g1):
            rng = world.rng.bit_generator.state
            saved = [click.save_state() for _, click, _ in dets]
            gated = [reads._registered(inp, click, g0, g1)[0] for inp, click, g0 in dets]
            world.rng.bit_generator.state = rng
            for (_, click, _), rec in zip(dets, saved):
                click.load_state(rec)
        pattern = self.fetch_pattern(t_att + gate_end, timestamps)
        events = [
            [(ts + 16, ts) for ts, data in inp.phy.log[n0:] if data == 1]
            for (inp, _, _), n0 in zip(dets, logs)
        ]
        if gated is not None:
            audit["gated"] += 1
            if gated != events:
                audit["differ"].append(("gates", gated, events))
        model = reads._reads(events, t_att + gate_end, counter0, eng.costs)
        executed = (
            pattern,
            tuple(int(t) for t in timestamps),
            eng.counter,
            [inp.t_gen for inp, _, _ in dets],
        )
        if model == executed:
            audit["same"] += 1
            audit["pairs"] += bin(pattern).count("1") > 1
            audit["later"] += any(len(e) > 1 for e in events)
        else:
            audit["differ"].append((model, executed))
        return pattern

    monkeypatch.setattr(sim_bsa.BellStateAnalyser, "_pattern", audited)
    lab = _lab(
        tmp_path,
        "bright_dark",
        collection_efficiency=0.9,
        fibre_transmission=1.0,
        **(BUSY_GATES if busy else {"dark_rate_hz": 3e3}),
    )
    sim = simulation(tmp_path / "audit", lab=lab, seed=5)
    sim.device_db["bsa"]["arguments"]["law_reads"] = True
    result = sim.run(AttemptCalls, None, {"calls": 600, "every_call_cools": 0})
    assert result.exit_code == 0, result.error_message
    sim.close()
    assert not audit["differ"], audit["differ"][:3]
    assert audit["same"] > 100 and audit["pairs"] > 10, audit
    assert (audit["later"] >= 3) if busy else (audit["gated"] > 200), audit


def _run_calls(tmp_path, lab, fast, seed, calls, monkeypatch):
    """As ``test_cpu_click_law._run_calls``, with ``law_reads`` on in the fast run: per call
    that ends with a click, the pattern, the four timestamps, the gates' end and the heralded
    state's fidelity (read where the experiment's driver returns its pattern)."""
    rows, levels = [], []
    orig = sim_bsa.BellStateAnalyser._pattern
    orig_fetch = bsa_driver.BellStateAnalyser.fetch_pattern

    def note(self, pattern, timestamps, t_end_mu):
        if pattern:
            world = self.core.engine.cycle_world
            psi = bsa_driver.psi_of_pattern(pattern)
            f = float(np.real(_PSI[psi] @ world.ions.rho @ _PSI[psi])) if psi else np.nan
            rows.append((pattern, [int(t) for t in timestamps], int(t_end_mu), f))

    def pattern_fast(self, t_att, gate_end, timestamps, drawn, at_start):
        p = orig(self, t_att, gate_end, timestamps, drawn, at_start)
        note(self, p, timestamps, t_att + gate_end)
        # each input's level is what its delivered edges left: high while a click's falling
        # edge waits in the detector (also after the model's reads, whose edges reach no PHY)
        eng = self.core.engine
        for d in (self.det0, self.det1, self.det2, self.det3):
            click = eng.cycle_world._channels[d.channel]
            high = bool(click._pending) and click._pending[0][1] == 0
            levels.append(eng.inputs[d.channel].phy.level == int(high))
        return p

    def fetch_ref(self, t_end_mu, timestamps):
        p = orig_fetch(self, t_end_mu, timestamps)
        note(self, p, timestamps, t_end_mu)
        return p

    if fast:
        monkeypatch.setattr(sim_bsa.BellStateAnalyser, "_pattern", pattern_fast)
    else:
        monkeypatch.setattr(bsa_driver.BellStateAnalyser, "fetch_pattern", fetch_ref)
    sim = simulation(tmp_path / ("fast" if fast else "ref"), lab=lab, seed=seed)
    sim.device_db["bsa"]["arguments"]["fast_forward"] = fast
    sim.device_db["bsa"]["arguments"]["law_reads"] = fast
    result = sim.run(AttemptCalls, None, {"calls": calls, "every_call_cools": 0})
    assert result.exit_code == 0, result.error_message
    done = np.asarray(result.datasets["calls.done"])
    pattern = np.asarray(result.datasets["calls.pattern"])
    sim.close()
    monkeypatch.undo()
    assert len(rows) == int((pattern != 0).sum())
    assert all(levels), levels.count(False)
    return done, pattern, rows


@pytest.mark.slow
def test_clicks_with_law_reads_follow_the_reference(tmp_path, monkeypatch):
    """oxford2020 with 19x the light per node and 1 kHz dark counts (as ``test_cpu_click_law``):
    with the reads made from the world's edges, fast and reference agree on the attempts until
    a click (KS), the click patterns (χ²), each detector's click time relative to the gates'
    end (KS), the lab time between two clicks (KS) and the heralded state's fidelity (KS); every
    test at α = 0.001, means within 4σ. Most click passes' reads were made by the model."""
    made = []
    orig_run = LawReads.run

    def counting(self, t_att, gate_end):
        out = orig_run(self, t_att, gate_end)
        made.append(out is not None)
        return out

    lab = _lab(
        tmp_path,
        "bright_dark",
        collection_efficiency=0.9,
        fibre_transmission=1.0,
        dark_rate_hz=1e3,
    )
    res = {}
    for fast in (False, True):
        if fast:
            monkeypatch.setattr(LawReads, "run", counting)
        res[fast] = _run_calls(tmp_path, lab, fast, 13, 1500, monkeypatch)
    assert sum(made) > 500, sum(made)

    assert_same_click_law(res[False], res[True])
