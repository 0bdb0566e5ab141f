# SPDX-License-Identifier: LGPL-3.0-or-later
"""Entangler PHY with a fake CycleModel; VCD output and the peek API."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import numpy
import pytest
from artiq.language.core import delay, delay_mu, now_mu
from artiq.language.units import MHz, us

from drivers.entangler_registers import (
    ADDR_COUNTER_RESULT,
    ADDR_HERALD,
    ADDR_NCYCLES,
    ADDR_RUN,
    ADDR_STATUS,
    ADDR_TCYCLE,
    ADDR_TIMESTAMP,
    ADDR_TIMING,
    TIMEOUT,
)
from sim.rtio.channels import Kind
from sim.rtio.phy.entangler import EntanglerPhy
from sim.rtio.phy.ttl import GATE_OFFSET_MU
from sim.syscalls import rtio_input_data, rtio_input_timestamped_data, rtio_output

from .conftest import LOOP_DELAY_MU, base_db
from .cycle_stub import StubLaw
from .vcdfile import read_vcd

ENT_CH = 30


class FakeModel(StubLaw):
    """Each cycle: pattern 0b0101 (det0+det2) with p_herald, 0b0001 with 0.3, else nothing."""

    def __init__(self, p_herald):
        probs = numpy.zeros(16)
        probs[0b0101] = p_herald
        probs[0b0001] = 0.3
        probs[0] = 1 - p_herald - 0.3
        self.pattern_probs = probs
        self.committed = []

    def sample(self, rng, allowed):
        pat = 0b0101 if 0b0101 in allowed else 0b0001
        first = [37 if pat & (1 << i) else -1 for i in range(4)]
        return SimpleNamespace(pattern=pat, first_edge=first, clicks=[])


class FakeWorld:
    def __init__(self, p):
        self.model = FakeModel(p)
        self.args = None

    processed_mu = 1 << 62  # (the World the engine attaches: no state made of outputs ...)
    wires: dict = {}  # ... and no cables

    def attach(self, view):
        pass

    def input_edges(self, channel, t_end):
        return []

    def quiet_until(self, channel, t_need):
        return -(1 << 62)

    def reset(self):
        pass

    def cycle_model(self, outputs, gates, cycle_mu, *, t_start_mu=None):
        self.args = (outputs, gates, cycle_mu)
        return self.model

    def commit_cycle(self, sample, t_cycle_start_mu, **kw):
        self.model.committed.append(t_cycle_start_mu)

    def commit_timeout(self, model, excluded, t_run_start_mu, t_end_mu):
        pass


def _db():
    db = base_db()
    db["entangler"] = {
        "type": "local",
        "module": "drivers.entangler",
        "class": "Entangler",
        "arguments": {"channel": ENT_CH},
    }
    return db


def _run_entangler(env, timeout_coarse):
    core = env.core
    t = ENT_CH << 8

    def read(addr):
        core.break_realtime()  # a read consumes all slack
        rtio_output(t | addr, 0)
        return rtio_input_data(ENT_CH)

    def k():
        core.reset()
        rtio_output(t | ADDR_TCYCLE, 125)  # 1 us cycles
        delay_mu(8)
        rtio_output(t | (ADDR_TIMING + 1), ((30 + 1) << 16) | (10 + 1))  # output 1: 80..240 mu
        delay_mu(8)
        rtio_output(t | (ADDR_TIMING + 4), ((500 + 1) << 16) | (100 + 1))  # gate 0: 100..500 mu
        delay_mu(8)
        rtio_output(t | ADDR_HERALD, (1 << 16) | 0b0101)
        delay_mu(8)
        t_run = now_mu()
        rtio_output(t | ADDR_RUN, timeout_coarse)
        ts, data = rtio_input_timestamped_data(-1, ENT_CH)
        n = read(ADDR_NCYCLES)
        status = read(ADDR_STATUS)
        ts0 = read(ADDR_TIMESTAMP)
        c0 = read(ADDR_COUNTER_RESULT + 0)
        return t_run, ts, data, n, status, ts0, c0

    return env.run(k)


def test_entangler_without_physics_times_out(make_env):
    """No lab: nothing fires, the run ends at the timeout with data 0x3fff."""
    env = make_env(_db())
    t_run, ts, data, n, status, ts0, c0 = _run_entangler(env, 125 * 10)
    assert data == TIMEOUT and n == 10 and status == 0b101
    assert ts == t_run + 10 * 1000
    assert c0 == 0


def test_entangler_herald_fast_path(make_env):
    """With a fake physics world: geometric number of cycles, slot bitfield, counters,
    timestamps."""
    env = make_env(_db(), seed=7)
    world = FakeWorld(0.01)
    env.engine.attach_world(world)
    t_run, ts, data, n, status, ts0, c0 = _run_entangler(env, 125 * 100000)
    assert data == 1 and status == 0b011
    assert (ts - t_run) == n * 1000
    assert ts0 == 37
    assert world.args == ({1: (80, 240)}, {0: (100, 500)}, 1000)
    assert world.model.committed == [ts - 1000]
    # det0 fires in the herald cycle and in ~30 % of the others
    assert c0 >= 1
    assert abs((c0 - 1) - 0.3 * (n - 1)) < 5 * numpy.sqrt(0.21 * max(n, 1)) + 1


def test_engine_hands_the_cycle_world_to_entangler_phys(make_env):
    """The first attached CycleWorld reaches entangler PHYs registered before and after it (the
    loopback wiring, not a CycleWorld, does not); a later one does not replace it."""
    env = make_env(_db())
    eng = env.engine
    phy = eng.channels[ENT_CH].phy
    assert phy.world is None
    world = FakeWorld(0.5)
    eng.attach_world(world)
    assert phy.world is world
    late = EntanglerPhy(eng, ENT_CH + 1)
    eng.register_channel(ENT_CH + 1, Kind.ENTANGLER, "entangler_late", phy=late)
    assert late.world is world
    eng.attach_world(FakeWorld(0.1))
    assert phy.world is world and late.world is world


def test_entangler_cycle_statistics(make_env):
    """Mean number of cycles to a herald ≈ 1/p (geometric), over many runs."""
    env = make_env(_db(), seed=3)
    world = FakeWorld(0.05)
    env.engine.attach_world(world)
    ns = [_run_entangler(env, 125 * 100000)[3] for _ in range(200)]
    assert abs(numpy.mean(ns) - 20) < 4 * numpy.sqrt((1 - 0.05) / 0.05**2 / 200)


def test_vcd_written_and_readable(make_env, tmp_path):
    """--vcd, read back with pyvcd: device_db names (an alias names its device, the hardware name
    is an alias of the same variable), a real $date, TTL levels, every input edge that reached
    the PHY (also with the gate closed) beside the gate and the registered events, the AD9910's
    frequency/phase/amplitude as reals and its RF switch."""
    path = tmp_path / "out.vcd"
    env = make_env(vcd=str(path))
    core, ttl, loop_out, loop_in = (
        env.core,
        env.get("ttl_out"),
        env.get("loop_out"),
        env.get("loop_in"),
    )
    cpld, dds = env.get("urukul0_cpld"), env.get("urukul0_ch0")

    def k():
        core.reset()
        cpld.init()
        dds.init()
        dds.set(10 * MHz, phase=0.25, amplitude=0.5)
        t_closed = now_mu()
        loop_out.pulse(100e-9)  # the gate is closed: reaches the PHY, not the FIFO
        delay(1 * us)
        ttl.pulse(1 * us)
        t_gate = now_mu()
        loop_in.gate_rising(2 * us)
        delay(-1.5 * us)
        t_open = now_mu()
        loop_out.pulse(100e-9)
        delay(2 * us)
        return t_closed, t_gate, t_open, loop_in.count(now_mu())

    t_closed, t_gate, t_open, n = env.run(k)
    assert n == 1
    env.session.close()
    v = read_vcd(path)
    assert v.timescale == "1 ns"
    written = datetime.datetime.fromisoformat(v.date)
    assert abs((datetime.datetime.now(datetime.UTC) - written).total_seconds()) < 3600
    assert v.rising("rtio.ttl_out") == [t_gate - 1000]
    # loop_out's first alias names it; its own name is an alias of the same variable
    assert v.same("rtio.loop_alias", "rtio.hardware.loop_out")
    assert v.rising("rtio.loop_alias") == [t_closed, t_open]
    d = LOOP_DELAY_MU
    assert v.rising("rtio.loop_in.in") == [t_closed + d, t_open + d]
    assert [t for t, _ in v.of("rtio.loop_in.events")] == [t_open + d]
    gate = [(t, x) for t, x in v.of("rtio.loop_in.gate") if t > 0]
    assert gate == [(t_gate + GATE_OFFSET_MU, 1), (t_gate + 2000 + GATE_OFFSET_MU, 0)]
    assert v.rising("rtio.loop_in_counter.in") == [t_closed + d, t_open + d]
    assert v.vars["rtio.urukul0_ch0.freq_hz"][1] == "real"
    assert v.of("rtio.urukul0_ch0.freq_hz")[-1][1] == pytest.approx(10e6, abs=0.25)
    assert v.of("rtio.urukul0_ch0.phase_turns")[-1][1] == pytest.approx(0.25, abs=2**-16)
    assert v.of("rtio.urukul0_ch0.amplitude")[-1][1] == pytest.approx(0.5, abs=2**-14)
    assert "rtio.urukul0_ch0.sw" in v.vars  # its switch, ttl_urukul0_sw0, has no other name
    # a device a logical device names in its arguments is in that device's scope
    assert "rtio.urukul0_cpld.ttl_urukul0_io_update" in v.vars


def test_recording_off_without_vcd(env):
    """No VCD requested: the engine records nothing beyond its own logs (the hot path's cost)."""
    assert env.engine.recorder is None


def test_peek_api(env):
    """peek.value/events by device name: TTL level at t, edges, input events, DDS state."""
    core, ttl, loop_out, loop_in = (
        env.core,
        env.get("ttl_out"),
        env.get("loop_out"),
        env.get("loop_in"),
    )

    def k():
        core.reset()
        t0 = now_mu()
        ttl.pulse(1 * us)
        loop_in.gate_rising(2 * us)
        delay(-1.5 * us)
        loop_out.pulse(100e-9)
        delay(2 * us)
        loop_in.count(now_mu())
        return t0

    t0 = env.run(k)
    peek = env.session.peek()
    assert peek.value("ttl_out", t0 - 1) == 0
    assert peek.value("ttl_out", t0) == 1
    assert peek.value("ttl_out", t0 + 1000) == 0
    assert peek.events("ttl_out") == [(t0, 1), (t0 + 1000, 0)]
    assert peek.events("loop_alias") == [(t0 + 1500, 1), (t0 + 1600, 0)]
    assert peek.events("loop_in.in") == [(t0 + 1500 + 120, 1)]


def test_summary_min_slack(env):
    """The summary reports the minimum slack and the kernel line where it occurred."""
    core, ttl = env.core, env.get("ttl_out")

    def k():
        core.reset()
        delay(1 * us)
        ttl.on()  # slack ~126 us
        core.break_realtime()
        at = now_mu() - 100_000
        from artiq.language.core import at_mu

        at_mu(at)
        ttl.off()  # slack ~25 us: the minimum

    env.run(k)
    s = env.session.summary()
    assert 20_000 < s["min_slack_mu"] < 30_000
    assert s["min_slack_channel"] == "0x0000:ttl_out"
    assert "test_entangler_vcd.py" in s["min_slack_source"]
