# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulator's fast-forward of quiet CPU-heralding attempts (``sim.devices.bsa``,
``sim.physics.quiet``).

The reference is the same driver loop, ``BellStateAnalyser.attempts_until_click_mu``, executed
attempt by attempt (``fast_forward=False``): with detectors that never click the two must leave
the engine and the physics in the same state, event for event; with clicks the attempts until
a click and the click patterns must follow the same law in both.
"""

import re
import runpy
import threading
import time

import numpy as np
import pytest
from artiq.experiment import NumberValue, kernel, rpc  # the stand-in (tests/conftest.py)
from numpy import int64
from scipy import stats

from sim.devices.bsa import AttemptLoop, AttemptSkipper
from tests.experiments.simhelpers import REPO, simulation


def _lab(tmp_path, name, **subs):
    """oxford2020 with ``key = value`` lines replaced (every occurrence)."""
    from sim.physics.lab import LABS_DIR

    text = (LABS_DIR / "oxford2020.toml").read_text()
    for key, value in subs.items():
        text, k = re.subn(r"(?m)^{} = [0-9.e-]+".format(key), "{} = {}".format(key, value), text)
        assert k > 0, key
    text = text.replace('name = "oxford2020"', 'name = "{}"'.format(name))
    path = tmp_path / (name + ".toml")
    path.write_text(text)
    return path


#: the experiment's class, as its file defines it
RemoteEntanglementCPU = runpy.run_path(str(REPO / "remote_entanglement_cpu.py"))[
    "RemoteEntanglementCPU"
]


class CpuCalls(RemoteEntanglementCPU):
    """The CPU experiment with the start of its kernel, for tests whose kernels call the BSA's
    attempt loops themselves (:meth:`start_calls`)."""

    @kernel
    def start_calls(self):
        """The experiment kernel's start (``run_kernel``'s, with ``break_realtime`` for the slack):
        the traces recorded, the BSA's inputs on, both nodes idle; returns the cooling's and the
        attempt's DMA handles."""
        self.core.reset()
        self.record_traces()
        cool = self.core_dma.get_handle("remote_entanglement_cpu.cool")
        attempt = self.core_dma.get_handle("remote_entanglement_cpu.attempt")
        self.core.break_realtime()
        self.bsa.input_mode()
        self.node_a.idle()
        self.node_b.idle()
        return cool, attempt


class AttemptCalls(CpuCalls):
    """The CPU experiment's traces; ``calls`` x (cooling, ``attempts_until_click_mu`` of at most
    one cooling block), each call's attempts and pattern recorded. ``every_call_cools`` 0: a
    cooling only every ``attempts_per_cool`` attempts, as in the experiment."""

    def build(self):
        super().build()
        self.setattr_argument("calls", NumberValue(100, precision=0, step=1, type="int"))
        self.setattr_argument("every_call_cools", NumberValue(1, precision=0, step=1, type="int"))

    def run(self):
        self.done, self.patterns = [], []
        self.calls_kernel()
        self.set_dataset("calls.done", np.array(self.done))
        self.set_dataset("calls.pattern", np.array(self.patterns))

    @rpc(flags={"async"})
    def note(self, done: int, pattern: int):
        self.done.append(done)
        self.patterns.append(pattern)

    @kernel
    def calls_kernel(self):
        cool, attempt = self.start_calls()
        ts = [int64(-1)] * 4
        since_cool = 0
        for _ in range(self.calls):
            if since_cool == 0 or self.every_call_cools:
                self.core_dma.playback_handle(cool)
                since_cool = 0
            done, pattern, _t = self.bsa.attempts_until_click_mu(
                attempt, self.sens_end_mu, self.margin_mu, self.attempts_per_cool - since_cool, ts
            )
            since_cool = (since_cool + done) % self.attempts_per_cool
            self.note(done, pattern)
            self.resync()


def _run(tmp_path, lab, fast, seed, device_db="device_db.py", vcd=False, **args):
    where = tmp_path / ("fast" if fast else "ref")
    options = {"vcd": str(where / "run.vcd")} if vcd else {}
    sim = simulation(where, lab=lab, seed=seed, device_db=device_db, **options)
    sim.device_db["bsa"]["arguments"]["fast_forward"] = fast
    result = sim.run(REPO / "remote_entanglement_cpu.py", None, dict(mode="z", **args))
    return sim, result


def _count_skips(monkeypatch):
    """A list that receives the number of attempts of every skip."""
    skipped = []
    orig = AttemptSkipper.skip_runs

    def counting(self, *a):
        k = orig(self, *a)
        skipped.append(k)
        return k

    monkeypatch.setattr(AttemptSkipper, "skip_runs", counting)
    return skipped


@pytest.mark.parametrize("vcd", [True, False])
@pytest.mark.parametrize("device_db", ["device_db.py", "device_db_drtio.py"])
def test_quiet_attempts_event_for_event(tmp_path, monkeypatch, device_db, vcd):
    """Detectors that never click (efficiency 0, no dark counts): the fast-forwarded loop and the
    attempt-by-attempt loop leave every logged event, the clocks and the ions alike; also with
    node B on a DRTIO satellite (its pump and excitation outputs cross the link). Without a
    waveform file the repeated passes are counted but not logged (``sim.rtio.unlogged``): the
    count of outputs, each TTL's level and each detector's gate sensitivity at the end agree,
    and the fast loop's logs are the reference's without those passes."""
    skipped = _count_skips(monkeypatch)
    lab = _lab(tmp_path, "silent", efficiency=0.0, dark_rate_hz=0.0)
    out = {}
    for fast in (False, True):
        sim, result = _run(
            tmp_path / device_db, lab, fast, 3, device_db, vcd=vcd, herald_timeout=900
        )
        assert result.exit_code == 1 and "no herald in 900 attempts" in result.error_message
        eng = sim.session.engine
        world = eng.cycle_world
        out[fast] = (
            {ch: list(st.raw) for ch, st in eng.channels.items()},
            eng.now,
            eng.counter,
            world.processed_mu,
            [th.n for th in world.ions.thermal],
            world.rho,
            eng.summary()["n_outputs"],
            {ch: eng.ttl_level_at(ch, eng.now) for ch in world._beam_channels},
            {ch: eng.channels[ch].phy.sens for ch in world._det_ch},
        )
        sim.close()
    (logs0, now0, c0, t0, n0, rho0, *ends0) = out[False]
    (logs1, now1, c1, t1, n1, rho1, *ends1) = out[True]
    assert sum(skipped) > 800  # the fast path was taken
    if vcd:
        assert logs1 == logs0
    else:
        for ch, log in logs1.items():  # the reference's, less the repeats
            it = iter(logs0[ch])
            assert all(e in it for e in log)
        assert sum(map(len, logs1.values())) < sum(map(len, logs0.values())) - 800 * 8
    assert ends1 == ends0
    assert (now1, c1, t1) == (now0, c0, t0)
    assert n1 == pytest.approx(n0, rel=1e-12)  # heating in closed form
    assert np.allclose(rho1, rho0, atol=1e-9)


@pytest.mark.slow
def test_attempts_until_a_click_follow_the_reference(tmp_path, monkeypatch):
    """oxford2020 with dark counts raised to 3 kHz per detector (≈ 4 % of the attempts get one,
    besides ≈ 5 % photon clicks): the attempts until a click (at most a cooling block) and the
    click patterns agree with attempt-by-attempt execution (two-sample KS and χ² at α = 0.001;
    means within 4σ), and the fast path skipped most attempts."""
    skipped = _count_skips(monkeypatch)
    lab = _lab(tmp_path, "darker", dark_rate_hz=3e3)
    res = {}
    for fast in (False, True):
        sim = simulation(tmp_path / ("fast" if fast else "ref"), lab=lab, seed=5)
        sim.device_db["bsa"]["arguments"]["fast_forward"] = fast
        result = sim.run(AttemptCalls, None, {"calls": 500})
        assert result.exit_code == 0, result.error_message
        res[fast] = result.datasets
        sim.close()
    d0, d1 = (np.asarray(res[f]["calls.done"], dtype=float) for f in (False, True))
    assert sum(skipped) > 0.5 * d1.sum()
    assert stats.ks_2samp(d0, d1).pvalue > 0.001
    se = np.sqrt(d0.var() / len(d0) + d1.var() / len(d1))
    assert abs(d0.mean() - d1.mean()) < 4 * se

    # patterns: no click (a full block), one detector, more
    def classes(f):
        p = np.asarray(res[f]["calls.pattern"])
        ones = np.array([bin(int(x)).count("1") for x in p])
        return [int((ones == 0).sum()), int((ones == 1).sum()), int((ones > 1).sum())]

    table = np.array([classes(False), classes(True)])
    table = table[:, table.sum(axis=0) > 0]
    assert stats.chi2_contingency(table).pvalue > 0.001


def test_the_pass_after_a_call_start_is_what_detail_gives(tmp_path, monkeypatch):
    """The fast path follows the pass after a call's start (after a click, the loop starts
    again) or after a pass that was not quiet as it saw it follow the same state before
    (``AttemptLoop``). Audited: every
    time it would, the pass runs in detail instead and must make the same submissions relative
    to the cursor and end in the same state (slack, world signature, ions to 9 decimals) as the
    one learnt."""
    audit = {"same": 0, "differ": 0}

    def resume(self, attempts, t_att, max_attempts):
        return attempts, t_att  # never follow: run the pass in detail, compared below

    orig = AttemptLoop.after_timeout

    def after_timeout(self, period, end_mu, timeouts, max_runs):
        start = self._prev_end
        if start is not None and start.run not in {("start",), ("after",)}:
            start = None
        seen = self._after.get(start) if start is not None else None
        out = orig(self, period, end_mu, timeouts, max_runs)
        new = self._after.get(start) if start is not None else None
        if seen is not None and new is not None and new is not seen:
            same = (new.period.key, new.content, new.ended) == (
                seen.period.key,
                seen.content,
                seen.ended,
            )
            audit["same" if same else "differ"] += 1
        return out

    monkeypatch.setattr(AttemptLoop, "resume", resume)
    monkeypatch.setattr(AttemptLoop, "after_timeout", after_timeout)
    lab = _lab(tmp_path, "darker", dark_rate_hz=3e3)
    sim = simulation(tmp_path / "audit", lab=lab, seed=5)
    result = sim.run(AttemptCalls, None, {"calls": 120, "every_call_cools": 0})
    assert result.exit_code == 0, result.error_message
    sim.close()
    assert audit["differ"] == 0, audit
    assert audit["same"] > 30, audit


def test_a_termination_request_leaves_the_cpu_loop_soon(tmp_path, monkeypatch, record_property):
    """A termination request during the CPU-heralding loop (at ``oxford2020``) is seen by the
    kernel's next pause check and the run ends with the heralds taken so far. The host time
    from the request to the check that sees it is recorded (``latency_s``; ≈ 0.05-0.1 s on an
    idle machine, the issue's target is 0.5 s); the bound asserted is loose, for a loaded CI."""
    from drivers.link import LinkExperiment

    seen: dict[str, float] = {}
    orig = LinkExperiment.should_stop

    def should_stop(self, loop_mu):
        stop = orig(self, loop_mu)
        if stop and "seen" not in seen:
            seen["seen"] = time.monotonic()
        return stop

    sim = simulation(tmp_path, seed=2)

    def request():
        seen["request"] = time.monotonic()
        sim.scheduler.request_termination()

    timer = threading.Timer(1.0, request)  # 1 s into the heralding loop
    run_link = LinkExperiment.run_link

    def run_link_timed(self, kernel_fn):
        timer.start()
        return run_link(self, kernel_fn)

    monkeypatch.setattr(LinkExperiment, "should_stop", should_stop)
    monkeypatch.setattr(LinkExperiment, "run_link", run_link_timed)
    try:
        result = sim.run(
            REPO / "remote_entanglement_cpu.py", None, {"mode": "z", "heralds_per_setting": 10**6}
        )
    finally:
        timer.cancel()
    t_end = time.monotonic()
    sim.close()
    assert "request" in seen and "seen" in seen, seen
    latency = seen["seen"] - seen["request"]
    record_property("latency_s", latency)
    print("termination request seen after {:.3f} s of host time".format(latency))
    assert result.exit_code != 0  # terminated, not finished
    assert 0 <= latency < 5.0
    assert t_end - seen["seen"] < 10.0
    d = result.datasets
    assert len(d["herald.pattern"]) == int(d["totals.heralds"]) < 10**6
    assert int(d["totals.attempts"]) > 0


@pytest.mark.slow
def test_attempts_per_herald_follow_the_reference(tmp_path):
    """The experiment itself with ≈ 6x more light per node (collection 0.3, fibre 1.0: ≈ 130
    attempts per herald, and calls that restart after clicks and after passes that were not
    quiet, as at oxford2020): attempts per herald and herald patterns agree with
    attempt-by-attempt execution (KS and χ² at α = 0.001, means within 4σ)."""
    lab = _lab(tmp_path, "brighter", collection_efficiency=0.3, fibre_transmission=1.0)
    res = {}
    for fast in (False, True):
        sim, result = _run(tmp_path, lab, fast, 7, heralds_per_setting=60)
        assert result.exit_code == 0, result.error_message
        res[fast] = result.datasets
        sim.close()
    a0, a1 = (np.asarray(res[f]["herald.attempts"], dtype=float) for f in (False, True))
    assert len(a0) == len(a1) == 60
    assert stats.ks_2samp(a0, a1).pvalue > 0.001
    se = np.sqrt(a0.var() / len(a0) + a1.var() / len(a1))
    assert abs(a0.mean() - a1.mean()) < 4 * se
    table = np.array(
        [
            [int((np.asarray(res[f]["herald.pattern"]) == p).sum()) for p in (3, 12, 9, 6)]
            for f in (False, True)
        ]
    )
    table = table[:, table.sum(axis=0) > 0]
    assert stats.chi2_contingency(table).pvalue > 0.001
