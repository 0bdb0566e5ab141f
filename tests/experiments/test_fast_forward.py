# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulator's fast-forward of identical timed-out entangler runs (``sim.devices.entangler``).

The reference is the same driver loop executed run by run (``fast_forward=False``): with no herald
pattern enabled every run times out and the two must leave the engine, the PHY and the physics in
the same state, event for event; with heralds the number of timeouts before a herald and the herald
cycle must follow the same laws (geometric, truncated geometric) in both.
"""

import math

import numpy as np
import pytest
from artiq.experiment import (
    EnvExperiment,
    NumberValue,
    at_mu,
    delay_mu,
    kernel,
    now_mu,
    rpc,  # the stand-in, activated by tests/conftest.py
)
from numpy import int32, int64
from scipy import stats

import sim.rtio.capture as capture
from drivers.bsa import HERALD_PATTERNS
from drivers.entangler import GATE_DET0, OUT_EXCITE_A, OUT_EXCITE_B, OUT_PUMP_A, OUT_PUMP_B, TIMEOUT
from tests.experiments.simhelpers import engine_state, run, simulation

CYCLE_MU = 1048
RUN_MU = 200_000


class HeraldLoop(EnvExperiment):
    """run_until_herald_mu until ``heralds`` heralds (or one call of ``max_runs`` timeouts)"""

    def build(self):
        self.setattr_device("core")
        self.setattr_device("core_dma")
        self.setattr_device("entangler")
        self.setattr_device("node_a")
        self.setattr_device("node_b")
        self.setattr_argument("heralds", NumberValue(10, precision=0, step=1, type="int"))
        self.setattr_argument("max_runs", NumberValue(100, precision=0, step=1, type="int"))
        self.setattr_argument("enable_heralds", NumberValue(1, precision=0, step=1, type="int"))
        # between calls: a register read this far (mu) after a coarse boundary, which leaves the
        # RTIO counter at another phase (8 mu) as a readout does: the loop then passes through
        # a transient pass before it reaches its fixed point
        self.setattr_argument("phase", NumberValue(0, precision=0, step=1, type="int"))
        # odd calls cool with a second, longer trace
        self.setattr_argument("alternate", NumberValue(0, precision=0, step=1, type="int"))
        # every third call starts after this long (mu) without cooling, with the usual slack:
        # the ions come to its first run warmer (another cycle law)
        self.setattr_argument("idle", NumberValue(0, precision=0, step=1, type="int"))

    def prepare(self):
        self.gate0 = int32(600)
        self.timeouts = []
        self.ncycles = []

    @rpc(flags={"async"})
    def record(self, timeouts: int, ncycles: int):
        self.timeouts.append(timeouts)
        self.ncycles.append(ncycles)

    def run(self):
        self.loop()
        self.set_dataset("timeouts", np.array(self.timeouts))
        self.set_dataset("ncycles", np.array(self.ncycles))

    @kernel
    def loop(self) -> int64:
        self.core.reset()
        with self.core_dma.record("ff.cool"):
            t0 = now_mu()
            self.node_a.cool_mu(int64(20000))
            at_mu(t0)
            self.node_b.cool_mu(int64(20000))
        with self.core_dma.record("ff.cool2"):
            t0 = now_mu()
            self.node_a.cool_mu(int64(30000))
            at_mu(t0)
            self.node_b.cool_mu(int64(30000))
        cool = self.core_dma.get_handle("ff.cool")
        cool2 = self.core_dma.get_handle("ff.cool2")
        self.core.break_realtime()
        e = self.entangler
        e.init()
        e.set_cycle_length_mu(int32(CYCLE_MU))
        e.set_timing_mu(OUT_PUMP_A, int32(32), int32(496))
        e.set_timing_mu(OUT_PUMP_B, int32(32), int32(496))
        e.set_timing_mu(OUT_EXCITE_A, int32(584), int32(600))
        e.set_timing_mu(OUT_EXCITE_B, int32(584), int32(600))
        for i in range(4):
            e.set_timing_mu(GATE_DET0 + i, self.gate0, self.gate0 + 60)
        if self.enable_heralds:
            e.set_heralds(HERALD_PATTERNS)
        else:
            e.clear_heralds()
        for i in range(self.heralds):
            handle = cool2 if self.alternate and i % 2 else cool
            end_mu, reason, timeouts = e.run_until_herald_mu(
                handle, int64(RUN_MU), int64(3000), self.max_runs, True
            )
            n = 0
            if reason != TIMEOUT:
                n = e.get_ncycles()
            self.record(timeouts, n)
            if self.idle and i % 3 == 0:
                delay_mu(int64(self.idle))
                self.core.wait_until_mu(now_mu())
            self.core.break_realtime()
            if self.phase:
                delay_mu(int64(self.phase))
                e.get_status()
                delay_mu(int64(10000))
        return now_mu()


#: the engine's choice of what a repeat need not log (:mod:`sim.rtio.unlogged`)
UNLOGGED = capture.unlogged_channels


@pytest.fixture(autouse=True)
def _every_repeat_logged(monkeypatch):
    """The fast-forward is compared with the run-by-run loop event for event: its repeats are
    all logged here (:func:`test_repeats_not_logged_change_no_number` checks what leaving them
    out changes)."""
    monkeypatch.setattr(capture, "unlogged_channels", lambda *a: [])


def _run(tmp_path, fast, seed, lab="oxford2020", **args):
    sim = simulation(tmp_path, lab=lab, seed=seed)
    sim.device_db["entangler"]["arguments"]["fast_forward"] = fast
    result = sim.run(HeraldLoop, None, args)
    assert result.exit_code == 0, result.error_message
    return sim, result


def _state(sim):
    eng = sim.session.engine
    world = sim.session.world
    ent = eng.resolve_device("entangler")[1]
    phy = eng.channels[ent].phy
    logs = {ch: list(st.raw) for ch, st in eng.channels.items()}
    return dict(
        now=eng.now,
        counter=eng.counter,
        lane=eng._lane,
        lane_last=list(eng._lane_last),
        logs=logs,
        herald_log=list(phy.herald_log),
        status=phy.status,
        ncycles=phy.ncycles,
        rho=world.rho,
        n=[t.n for t in world.ions.thermal],
        t=world.processed_mu,
        skipped=phy.skipped,
    )


@pytest.mark.parametrize("alternate", [0, 1])
def test_timeouts_fast_forwarded_equal_run_by_run(tmp_path, alternate):
    """No herald pattern: 3 × 150 timeouts, with a counter-phase change between the calls (the
    loop passes through a transient pass, fast-forwarded on its own). The fast-forward must
    reproduce the run-by-run engine state exactly (every logged event, cursor, counter, SED
    lanes), the PHY's run log and the physics (ions' state, processed time; n̄ to 1e-12
    relative: closed form vs step by step). ``alternate``: the second call cools with another
    trace (what the first call learnt must not be replayed for it)."""
    args = dict(heralds=3, max_runs=150, enable_heralds=0, phase=3, alternate=alternate)
    fast, _ = _run(tmp_path / "fast", True, 3, **args)
    slow, _ = _run(tmp_path / "slow", False, 3, **args)
    try:
        a, b = _state(fast), _state(slow)
        # the fast path was taken (how many passes ran in detail is a performance figure:
        # benchmarks/link_realtime.py prints it), the reference ran every pass
        print("passes run in detail:", 450 - a["skipped"])
        assert a["skipped"] > 0
        assert b["skipped"] == 0
        for key in ("now", "counter", "lane", "lane_last", "herald_log", "status", "ncycles", "t"):
            assert a[key] == b[key], key
        assert a["logs"].keys() == b["logs"].keys()
        for ch in a["logs"]:
            assert a["logs"][ch] == b["logs"][ch], "channel 0x{:x}".format(ch)
        np.testing.assert_allclose(a["rho"], b["rho"], atol=1e-12)
        np.testing.assert_allclose(a["n"], b["n"], rtol=1e-12)
    finally:
        fast.close()
        slow.close()


@pytest.mark.slow
def test_timeouts_before_a_herald_are_geometric(tmp_path):
    """With heralds: timeouts per herald ~ Geometric(q) − 1, q = 1 − (1 − p)^n_max with p the
    cycle law's herald probability, fast-forwarded (600 heralds) and run by run (250); the herald
    run's cycle count ~ geometric truncated at n_max. Tolerances: 4σ on the means, and a two-sample
    KS test between the two paths at α = 0.001."""
    fast, rf = _run(tmp_path / "fast", True, 5, heralds=600, max_runs=10_000, phase=5)
    slow, rs = _run(tmp_path / "slow", False, 6, heralds=250, max_runs=10_000, phase=5)
    tf, ts = rf.datasets["timeouts"], rs.datasets["timeouts"]
    cf, cs = rf.datasets["ncycles"], rs.datasets["ncycles"]
    try:
        phy = fast.session.engine.channels[fast.session.engine.resolve_device("entangler")[1]].phy
        model = fast.session.world.cycle_model(*phy.windows())
        p = model.herald_probability()
        n_max = -(-(RUN_MU >> 3) // (CYCLE_MU >> 3))
        q = 1 - (1 - p) ** n_max
        assert phy.skipped > 0.8 * tf.sum()
        for t, c in ((tf, cf), (ts, cs)):
            n = len(t)
            mean, sd = (1 - q) / q, math.sqrt(1 - q) / q
            assert abs(t.mean() - mean) < 4 * sd / math.sqrt(n)
            k = np.arange(1, n_max + 1)
            w = p * (1 - p) ** (k - 1) / q
            m, v = (k * w).sum(), (k * k * w).sum() - (k * w).sum() ** 2
            assert abs(c.mean() - m) < 4 * math.sqrt(v / n)
            assert c.min() >= 1 and c.max() <= n_max
        assert stats.ks_2samp(tf, ts).pvalue > 1e-3
        assert stats.ks_2samp(cf, cs).pvalue > 1e-3
    finally:
        fast.close()
        slow.close()


def _exact_state(sim, datasets):
    """Everything a pass can leave behind, for exact comparison: engine (clocks, logs, SED lanes
    and their queues), the generator's state (every draw made), the entangler's registers and
    run log, the physics (ions' state and temperatures bit for bit, beams, coherence origins)
    and the experiment's datasets."""
    eng = sim.session.engine
    world = sim.session.world
    phy = eng.channels[eng.resolve_device("entangler")[1]].phy
    return dict(
        now=eng.now,
        counter=eng.counter,
        lanes=(eng._lane, eng._last_c, list(eng._lane_last), [list(q) for q in eng._lane_q]),
        logs={ch: list(st.raw) for ch, st in eng.channels.items()},
        rng=repr(eng.rng.bit_generator.state),
        phy=(
            list(phy.herald_log),
            phy.status,
            phy.ncycles,
            phy.time_remaining,
            phy.config,
            list(phy.counters),
            list(phy.timestamps),
            sorted(phy._stale),
        ),
        rho=world.rho.tobytes(),
        n=[t.n for t in world.ions.thermal],
        world=(world.processed_mu, world._on, world._coh_t0, world._staged),
        datasets={k: np.asarray(datasets[k]).tolist() for k in ("timeouts", "ncycles")},
    )


@pytest.mark.parametrize(
    "lab, phase, alternate, idle",
    [("oxford2020", 5, 0, 0), ("oxford2020", 0, 0, 3_000_000_000), ("target_99_1khz", 0, 0, 0)],
)
def test_first_passes_followed_equal_detailed(tmp_path, monkeypatch, lab, phase, alternate, idle):
    """Audit of the first pass after a herald (``FastForwardLoop.start`` marks the call's start,
    the pass seen once from an equal start is followed, with the fixed point in the same engine
    call): against the same session with every such pass run in detail (``resume`` disabled),
    the same draws (the generator's state), submissions, SED lanes, entangler registers and run
    log, the ions' state and temperatures bit for bit, and datasets. With heralds; a phase
    change between calls (the first pass is then followed by a transient); every third call
    after an idle time (its first run has another cycle law: not followed from a colder start,
    which a follow without the cycle-law check gets wrong); at ``target_99_1khz`` many first
    passes herald (the follow's drawn herald cycle goes to the detailed run)."""
    from sim.fastforward_loop import FastForwardLoop
    from sim.rtio.phy.entangler_fastforward import EntanglerFastForward

    drawn = []  # follows that drew a herald (the pass then ran in detail with it)
    follow_start = EntanglerFastForward._follow_start

    def counted(phy, ref, writes):
        done = follow_start(phy, ref, writes)
        drawn.append(phy._predrawn is not None)
        return done

    monkeypatch.setattr(EntanglerFastForward, "_follow_start", counted)
    args = dict(heralds=40, max_runs=10_000, phase=phase, alternate=alternate, idle=idle)
    fast, rf = _run(tmp_path / "fast", True, 7, lab=lab, **args)
    try:
        a = _exact_state(fast, rf.datasets)
        followed = fast.session.engine.channels[
            fast.session.engine.resolve_device("entangler")[1]
        ].phy.skipped
    finally:
        fast.close()
    monkeypatch.setattr(FastForwardLoop, "resume", lambda self, t, e, m: (t, e))
    ref, rr = _run(tmp_path / "ref", True, 7, lab=lab, **args)
    try:
        b = _exact_state(ref, rr.datasets)
        followed -= ref.session.engine.channels[
            ref.session.engine.resolve_device("entangler")[1]
        ].phy.skipped
    finally:
        ref.close()
    print("first passes followed:", followed, "heralds drawn by a follow:", sum(drawn))
    assert followed >= 8  # (passes the reference ran in detail)
    assert sum(drawn) >= (5 if lab == "target_99_1khz" else 0)
    for key in a:
        assert a[key] == b[key], key


def test_first_passes_of_the_link_experiment_equal_detailed(tmp_path, monkeypatch):
    """The same audit on ``repository/remote_entanglement.py`` (Z heralds at ``oxford2020``),
    whose first passes meet the phase writes' SPI events still waiting in SED lanes: every
    dataset, the draws, the engine's logs and lanes and the ions' state equal the session
    that runs those passes in detail."""
    from sim.fastforward_loop import FastForwardLoop

    def session(path):
        sim = simulation(path, lab="oxford2020", seed=4)
        d = run(sim, "remote_entanglement", mode="z", heralds_per_setting=60)
        eng = sim.session.engine
        out = dict(
            datasets={k: repr(v) for k, v in d.items() if "wall" not in k}, **engine_state(sim)
        )
        phy = eng.channels[eng.resolve_device("entangler")[1]].phy
        skipped = phy.skipped
        sim.close()
        return out, skipped

    a, fast_skipped = session(tmp_path / "fast")
    monkeypatch.setattr(FastForwardLoop, "resume", lambda self, t, e, m: (t, e))
    b, ref_skipped = session(tmp_path / "ref")
    print("first passes followed:", fast_skipped - ref_skipped)
    assert fast_skipped - ref_skipped >= 40
    for key in a:
        assert a[key] == b[key], key


@pytest.mark.parametrize("lab", ["oxford2020", "target_99_1khz"])
def test_herald_passes_not_recorded_equal_recorded(tmp_path, monkeypatch, lab):
    """A pass whose run the fast-forward has already drawn to herald (``herald_drawn``: armed
    by a skip, or its herald cycle drawn by a follow) is not recorded for learning: against the
    same session recording every pass, the same draws, submissions, SED lanes, entangler
    registers and run log, the ions' state and temperatures bit for bit, and datasets, with
    fewer recordings (most heralds come from such passes)."""
    from sim.rtio.capture import PeriodCapture
    from sim.rtio.phy.entangler_fastforward import EntanglerFastForward

    starts = []
    capture_start = PeriodCapture.capture_start

    def counted(eng):
        started = capture_start(eng)
        starts.append(started)
        return started

    monkeypatch.setattr(PeriodCapture, "capture_start", counted)
    args = dict(heralds=40, max_runs=10_000)
    skip, rs = _run(tmp_path / "skip", True, 7, lab=lab, **args)
    try:
        a = _exact_state(skip, rs.datasets)
    finally:
        skip.close()
    n_skip = sum(starts)
    starts.clear()
    monkeypatch.setattr(EntanglerFastForward, "herald_drawn", lambda phy: False)
    rec, rr = _run(tmp_path / "rec", True, 7, lab=lab, **args)
    try:
        b = _exact_state(rec, rr.datasets)
    finally:
        rec.close()
    print("recordings:", n_skip, "of", sum(starts))
    assert sum(starts) - n_skip >= 10
    for key in a:
        assert a[key] == b[key], key


@pytest.mark.parametrize("lab, enable_heralds", [("oxford2020", 1), ("target_99_1khz", 0)])
def test_repeats_not_logged_change_no_number(tmp_path, monkeypatch, lab, enable_heralds):
    """Without a waveform file the fast-forward's repeated passes log only what someone may read
    (:mod:`sim.rtio.unlogged`: the cooling beams' outputs, once their level views and the world
    are past them): against every repeat logged, the same heralds, registers, clocks, SED lanes,
    physics, output count and final levels, and logs that are the logged run's less repeats
    (``target_99_1khz`` heralds within a run or two: there every run times out instead)."""
    args = dict(heralds=6, max_runs=400, phase=3, alternate=1, enable_heralds=enable_heralds)
    counted = []

    def counting(*a):
        out = UNLOGGED(*a)
        counted.append(len(out))
        return out

    runs = {}
    for unlogged in (False, True):
        monkeypatch.setattr(capture, "unlogged_channels", counting if unlogged else lambda *a: [])
        sim, result = _run(tmp_path / str(unlogged), True, 5, lab=lab, **args)
        eng = sim.session.engine
        world = sim.session.world
        st = _state(sim)
        st["datasets"] = {k: list(v) for k, v in result.datasets.items()}
        st["n_outputs"] = eng.summary()["n_outputs"]
        st["levels"] = {ch: eng.ttl_level_at(ch, eng.now) for ch in world._beam_channels}
        runs[unlogged] = st
        sim.close()
    logged, fast = runs[False], runs[True]
    assert sum(counted) > 0  # some repeats went unlogged
    for key in ("now", "counter", "lane", "lane_last", "herald_log", "status", "ncycles", "t"):
        assert fast[key] == logged[key], key
    for key in ("datasets", "n_outputs", "levels", "skipped"):
        assert fast[key] == logged[key], key
    np.testing.assert_array_equal(fast["rho"], logged["rho"])
    assert fast["n"] == logged["n"]
    shorter = 0
    for ch, log in fast["logs"].items():
        it = iter(logged["logs"][ch])
        assert all(e in it for e in log), "channel 0x{:x}".format(ch)
        shorter += len(logged["logs"][ch]) - len(log)
    assert shorter > 0


@pytest.mark.parametrize(
    "lab, phase, alternate", [("oxford2020", 0, 0), ("oxford2020", 5, 1), ("target_99_1khz", 0, 0)]
)
def test_answered_passes_equal_detailed(tmp_path, monkeypatch, lab, phase, alternate):
    """Audit of the pass after a skip whose run the skip drew to herald, made at once
    (``FastForwardLoop.answered_pass``: the fixed point's submissions again, the run made by the
    PHY, the clocks from the fixed point's end less what the run ended earlier): against the
    same session with every such pass run in detail through the driver, the same draws, clocks,
    submissions, SED lanes and their queues, entangler registers and run log, the ions' state
    and temperatures bit for bit, and datasets; the clocks also where each call's loop ends
    (the reads after a herald make the counter the answer's again); with a phase change
    between calls and two cooling traces (a transient before the fixed point)."""
    from sim.fastforward_loop import FastForwardLoop

    args = dict(heralds=40, max_runs=10_000, phase=phase, alternate=alternate)
    made = []
    answered_pass = FastForwardLoop.answered_pass
    forget = FastForwardLoop.forget
    clocks: list[tuple[int, int]] = []

    def counted(loop):
        done = answered_pass(loop)
        made.append(done is not None)
        return done

    def noted(loop):  # (where a call's loop ends, among others)
        clocks.append((loop.engine.now, loop.engine.counter))
        forget(loop)

    def state(where: str, answering) -> dict:
        """The session's exact state and the clocks noted, answered passes made by ``answering``."""
        clocks.clear()
        monkeypatch.setattr(FastForwardLoop, "answered_pass", answering)
        sim, result = _run(tmp_path / where, True, 7, lab=lab, **args)
        try:
            return {**_exact_state(sim, result.datasets), "clocks": list(clocks)}
        finally:
            sim.close()

    monkeypatch.setattr(FastForwardLoop, "forget", noted)
    a = state("fast", counted)
    b = state("ref", lambda loop: None)
    print("passes answered at once:", sum(made), "of", len(made))
    assert sum(made) >= (5 if lab == "target_99_1khz" else 20)
    for key in a:
        assert a[key] == b[key], key


@pytest.mark.parametrize("lab", ["oxford2020", "target_99_1khz"])
def test_answered_passes_of_the_link_experiment_equal_detailed(tmp_path, monkeypatch, lab):
    """The same audit on ``repository/remote_entanglement.py`` (Z heralds), whose passes meet
    the phase writes' SPI events still waiting in SED lanes after a call's start: every dataset,
    the draws, the clocks (at the end and where each call's loop ends), the engine's logs and
    lanes and the ions' state equal the session that runs the passes drawn to herald in
    detail."""
    from sim.fastforward_loop import FastForwardLoop

    forget = FastForwardLoop.forget
    ends: list[tuple[int, int]] = []

    def noted(loop):  # (where a call's loop ends, among others)
        ends.append((loop.engine.now, loop.engine.counter))
        forget(loop)

    monkeypatch.setattr(FastForwardLoop, "forget", noted)

    def session(path):
        ends.clear()
        sim = simulation(path, lab=lab, seed=4)
        d = run(sim, "remote_entanglement", mode="z", heralds_per_setting=60)
        eng = sim.session.engine
        out = dict(
            datasets={k: repr(v) for k, v in d.items() if "wall" not in k},
            loop_ends=list(ends),
            **engine_state(sim),
        )
        answered = eng.channels[eng.resolve_device("entangler")[1]].phy.answered
        sim.close()
        return out, answered

    a, answered = session(tmp_path / "fast")
    monkeypatch.setattr(FastForwardLoop, "answered_pass", lambda loop: None)
    b, none = session(tmp_path / "ref")
    print("passes answered at once:", answered)
    assert answered >= (50 if lab == "oxford2020" else 10) and none == 0
    for key in a:
        assert a[key] == b[key], key
