# SPDX-License-Identifier: LGPL-3.0-or-later
"""Golden tests: the scenarios of ARTIQ's ``artiq/test/coredevice/test_rtio.py`` (reference §7)."""

from __future__ import annotations

import logging

import pytest
from artiq.coredevice.exceptions import RTIOOverflow, RTIOUnderflow
from artiq.language.core import at_mu, delay, delay_mu, now_mu, parallel, sequential
from artiq.language.units import ms, ns, us

from .conftest import LOOP_DELAY_MU


def test_rtio_counter(env):
    """1. Consecutive counter reads differ by 50 ns .. 1 us."""
    core = env.core

    def k():
        t0 = core.get_rtio_counter_mu()
        t1 = core.get_rtio_counter_mu()
        return t0, t1

    t0, t1 = env.run(k)
    assert t0 % 8 == 0 and t1 % 8 == 0
    assert 50 <= t1 - t0 <= 1000


def test_wait_for_rtio_counter(env):
    """2. After break_realtime, wait_until_mu(now+10000) leaves the counter at or past the
    target."""
    core = env.core

    def k():
        core.break_realtime()
        target = now_mu() + 10000
        core.wait_until_mu(target)
        return target, core.get_rtio_counter_mu()

    target, counter = env.run(k)
    assert counter >= target


def test_reset_and_break_realtime_slack(env):
    """reset() and break_realtime() give 125000 mu of slack; break_realtime never moves back."""
    core = env.core

    def k():
        core.reset()
        s0 = now_mu() - core.get_rtio_counter_mu()
        delay(1 * ms)
        t = now_mu()
        core.break_realtime()
        return s0, t, now_mu()

    s0, t, t_after = env.run(k)
    assert 125000 - 200 <= s0 <= 125000
    assert t_after == t


def test_loopback(env):
    """3. Loopback: 20 ns < t1 - t0 < 170 ns (here: the wiring delay)."""
    core, loop_in, loop_out = env.core, env.get("loop_in"), env.get("loop_out")

    def k():
        core.reset()
        loop_in.input()
        loop_out.off()
        delay(1 * us)
        with parallel:
            loop_in.gate_rising(2 * us)
            with sequential:
                delay(1 * us)
                t0 = now_mu()
                loop_out.pulse(1 * us)
        t1 = loop_in.timestamp_mu(now_mu())
        return t0, t1

    t0, t1 = env.run(k)
    assert t1 >= 0
    assert 20 < t1 - t0 < 170
    assert t1 - t0 == LOOP_DELAY_MU


def test_clock_generator_loopback(env):
    """4. A 1 MHz clock started 200 ns into a 10 us rising gate gives 10 edges."""
    core, clock, clock_in = env.core, env.get("loop_clock"), env.get("clock_in")

    def k():
        core.reset()
        clock_in.input()
        clock.stop()
        delay(200 * us)
        with parallel:
            clock_in.gate_rising(10 * us)
            with sequential:
                delay(200 * ns)
                clock.set(1 * 1e6)
        return clock_in.count(now_mu())

    assert env.run(k) == 10


def _pulse_rate_min_dt(env, ttl_name="ttl_out"):
    core, ttl = env.core, env.get(ttl_name)

    def k():
        dt = 100
        while True:
            try:
                for _ in range(10000):
                    ttl.pulse_mu(dt)
                    delay_mu(dt)
            except RTIOUnderflow:
                dt += 1
                core.break_realtime()
            else:
                return dt

    def outer():
        core.reset()
        return k()

    return env.run(outer)


def test_pulse_rate_kasli(make_env, caplog):
    """5. PulseRate: minimal sustainable dt in (100, 480) ns under the Kasli 2.0 profile."""
    env = make_env(cost_profile="kasli2")
    with caplog.at_level(logging.CRITICAL):
        dt = _pulse_rate_min_dt(env)
    assert 100 < dt < 480


def test_pulse_rate_kasli_soc(make_env, caplog):
    """5'. PulseRate under the Kasli-SoC (Zynq) profile: below 810 ns."""
    env = make_env(cost_profile="kasli_soc")
    with caplog.at_level(logging.CRITICAL):
        dt = _pulse_rate_min_dt(env)
    assert 100 < dt < 810


def test_loopback_count(env):
    """6. Two 25 ns pulses 25 ns apart inside a 10 us gate: count == 2."""
    core, loop_in, loop_out = env.core, env.get("loop_in"), env.get("loop_out")

    def k():
        core.reset()
        loop_in.input()
        loop_out.output()
        delay(5 * us)
        with parallel:
            loop_in.gate_rising(10 * us)
            with sequential:
                for _ in range(2):
                    delay(25 * ns)
                    loop_out.pulse(25 * ns)
        return loop_in.count(now_mu())

    assert env.run(k) == 2


@pytest.mark.parametrize(
    "pulses, period_ns, late", [(40, 200, True), (64, 200, True), (80, 200, True), (80, 16, False)]
)
def test_count_equals_its_read_loop(make_env, pulses, period_ns, late):
    """``count`` (one engine call) = ARTIQ's loop of ``rtio_input_timestamp`` reads: same number,
    same RTIO counter afterwards; more than 64 edges in the gate overflow the FIFO either way.
    ``late``: the gate is read when the counter is already past it (as after another node's
    readout); otherwise the reads start while a burst of edges is still arriving faster than
    they are read. Each way runs in a fresh session."""
    from sim.syscalls import rtio_input_timestamp

    def k(env, by_count):
        core, loop_in, loop_out = env.core, env.get("loop_in"), env.get("loop_out")
        core.reset()
        loop_in.input()
        loop_out.output()
        delay(5 * us)
        t0 = now_mu()
        loop_in.gate_rising(20 * us)
        t_end = now_mu()
        for half in range(2):  # even pulses, then odd ones: two SED lanes of ≤ 128 events each
            at_mu(t0 + half * period_ns)
            for _ in range(pulses // 2):
                delay(period_ns / 2 * ns)
                loop_out.pulse(period_ns / 2 * ns)
                delay(period_ns * ns)
        at_mu(t_end)
        if late:
            core.wait_until_mu(t_end + 5000)
        n = 0
        try:
            if by_count:
                n = loop_in.count(t_end)
            else:
                while rtio_input_timestamp(t_end + loop_in.gate_latency_mu, loop_in.channel) >= 0:
                    n += 1
        except RTIOOverflow:
            n = -1
        return n, env.engine.counter - t_end

    out = []
    for by_count in (True, False):
        env = make_env()
        out.append(env.run(lambda: k(env, by_count)))
    assert out[0] == out[1]
    assert out[0][0] == (pulses if pulses <= 64 else -1)


def test_loopback_gate_timing(env):
    """7. A 48-mu pulse at gate_start - loop_delay + 88 is registered; the window is [start,
    end)."""
    core, loop_in, loop_out = env.core, env.get("loop_in"), env.get("loop_out")

    def k():
        core.reset()
        loop_in.input()
        loop_out.output()
        delay(1 * us)
        # measure the loop delay
        t0 = now_mu()
        with parallel:
            loop_in.gate_rising_mu(1000)
            loop_out.pulse_mu(100)
        loop_delay = loop_in.timestamp_mu(now_mu()) - t0
        core.break_realtime()
        delay(10 * us)
        gate_start = now_mu()
        at_mu(gate_start - loop_delay + 88)
        loop_out.pulse_mu(48)
        at_mu(gate_start)
        gate_end = loop_in.gate_both_mu(48)
        in_mu = loop_in.timestamp_mu(gate_end)
        second = loop_in.timestamp_mu(gate_end)
        return loop_delay, gate_start, gate_end, in_mu, second

    loop_delay, gate_start, gate_end, in_mu, second = env.run(k)
    assert loop_delay == LOOP_DELAY_MU
    assert gate_start <= in_mu - 88 <= gate_end
    assert second == -1


def test_level(env):
    """8. sample_get_nonrt is False after off(), True after on()."""
    core, loop_in, loop_out = env.core, env.get("loop_in"), env.get("loop_out")

    def k():
        core.reset()
        loop_in.input()
        loop_out.output()
        delay(200 * us)
        loop_out.off()
        delay(5 * us)
        a = loop_in.sample_get_nonrt()
        loop_out.on()
        delay(5 * us)
        b = loop_in.sample_get_nonrt()
        return a, b

    assert env.run(k) == (0, 1)


def test_watch(env):
    """9. watch_stay_off/watch_done: True while unchanged, False after an edge during the watch."""
    core, loop_in, loop_out = env.core, env.get("loop_in"), env.get("loop_out")

    def k():
        core.reset()
        loop_in.input()
        loop_out.output()
        delay(200 * us)
        loop_out.off()
        delay(5 * us)
        a = loop_in.watch_stay_off()
        delay(10 * us)
        b = loop_in.watch_done()
        core.break_realtime()
        delay(10 * us)
        c = loop_in.watch_stay_off()
        delay(1 * us)
        loop_out.on()
        delay(10 * us)
        d = loop_in.watch_done()
        return a, b, c, d

    assert env.run(k) == (True, True, True, False)


def test_underflow(env):
    """10. ``delay(25ns); pulse(25ns)`` forever underflows; the exception reaches the host."""
    core, ttl = env.core, env.get("ttl_out")

    def k():
        core.reset()
        while True:
            delay(25 * ns)
            ttl.pulse(25 * ns)

    with pytest.raises(RTIOUnderflow):
        env.run(k)


def test_underflow_message(env):
    """Underflow text: channel hex:name, timestamp, negative slack and the kernel source line."""
    core, ttl = env.core, env.get("ttl_out")

    def k():
        core.reset()
        at_mu(core.get_rtio_counter_mu() - 1000)
        ttl.on()  # the late event

    with pytest.raises(RTIOUnderflow) as info:
        env.run(k)
    msg = str(info.value)
    assert msg.startswith("RTIO underflow at channel 0x0000:ttl_out, ")
    assert " mu, slack -" in msg
    assert "test_golden_rtio.py:" in msg and "ttl.on()" not in msg
    line = int(msg.rsplit(":", 1)[1].rstrip(")"))
    import inspect

    src, first = inspect.getsourcelines(test_underflow_message)
    assert src[line - first].strip().startswith("ttl.on()")


def test_core_log_has_uncaught_underflows_only(env, caplog):
    """An underflow the kernel catches leaves no core-log error (as on hardware); one that leaves
    the kernel is logged; sequence errors stay core-log errors even when nothing raises."""
    core, ttl = env.core, env.get("ttl_out")

    def late():
        at_mu(core.get_rtio_counter_mu() - 1000)
        ttl.on()

    def caught():
        core.reset()
        try:
            late()
        except RTIOUnderflow:
            core.break_realtime()
        ttl.off()

    def sequence_error():
        core.reset()
        delay(55 * 256 * us)
        for _ in range(256):
            ttl.pulse(25 * us)
            delay(-75 * us)

    def core_log():
        return [r.getMessage() for r in caplog.records if r.name == "ionlink.core_log"]

    with caplog.at_level(logging.INFO):
        env.run(caught)
        assert core_log() == []
        with pytest.raises(RTIOUnderflow) as info:
            env.run(late)
        assert core_log() == [str(info.value)]
        env.run(sequence_error)
    assert core_log()[1].startswith("RTIO sequence error involving channel 0x0000:ttl_out")
    assert all(r.levelno == logging.ERROR for r in caplog.records if r.name == "ionlink.core_log")


def test_overflow(env):
    """11. 100000 samples without reading, then sample_get → RTIOOverflow."""
    core, loop_in = env.core, env.get("loop_in")

    def k():
        core.reset()
        for _ in range(100000):
            loop_in.sample_input()
            delay(1 * us)
        loop_in.sample_get()

    with pytest.raises(RTIOOverflow, match=r"RTIO input overflow on channel 0x0003:loop_in"):
        env.run(k)


def test_overflow_flag_cleared_by_read(env):
    """After the overflow is reported, older buffered events are still readable."""
    core, loop_in = env.core, env.get("loop_in")

    def k():
        core.reset()
        for _ in range(70):
            loop_in.sample_input()
            delay(1 * us)
        core.wait_until_mu(now_mu() + 1000)
        try:
            loop_in.sample_get()
        except RTIOOverflow:
            pass
        n = 0
        while loop_in.timestamp_mu(now_mu()) >= 0:
            n += 1
        return n

    assert env.run(k) == 64


def test_sequence_error(env, caplog):
    """12. Going back in time on one channel: no exception, core log has "RTIO sequence error"."""
    core, ttl = env.core, env.get("ttl_out")

    def k():
        core.reset()
        delay(55 * 256 * us)
        for _ in range(256):
            ttl.pulse(25 * us)
            delay(-75 * us)

    with caplog.at_level(logging.WARNING):
        env.run(k)
    reports = [m for m in env.session.async_errors if m.startswith("RTIO sequence error")]
    # one sticky flag: one report per kernel, however many events it dropped
    assert reports == ["RTIO sequence error involving channel 0x0000:ttl_out"]
    assert env.session.summary()["sequence_errors"] > 100
    assert "sequence error(s) reported during kernel execution" in caplog.text


def test_collision(env, caplog):
    """13. 1-mu pulses on one TTL collide: "RTIO collision" in the core log."""
    core, ttl = env.core, env.get("ttl_out")

    def k():
        core.reset()
        delay(5 * us)
        for _ in range(16):
            ttl.pulse_mu(1)
            delay_mu(1)

    with caplog.at_level(logging.WARNING):
        env.run(k)
    assert any(
        m.startswith("RTIO collision involving channel 0x0000:ttl_out")
        for m in env.session.async_errors
    )
    assert "collision(s) reported during kernel execution" in caplog.text


def test_address_collision(env, caplog):
    """14. input() then pulse() at the same timestamp on a TTLInOut: OE and O collide."""
    core, loop_in = env.core, env.get("loop_in")

    def k():
        core.reset()
        loop_in.input()
        loop_in.pulse(10 * us)

    with caplog.at_level(logging.WARNING):
        env.run(k)
    assert any(
        "RTIO collision involving channel 0x0003:loop_in" in m for m in env.session.async_errors
    )


def test_replacement_suppresses_on_off(env):
    """on() then off() at the same timestamp: replacement, the channel stays low, no collision."""
    core, ttl = env.core, env.get("ttl_out")

    def k():
        core.reset()
        ttl.on()
        ttl.off()
        delay(1 * us)

    env.run(k)
    assert env.session.async_errors == []
    assert env.engine.ttl_levels(0, -(1 << 60), 1 << 60) == []


def test_time_keeps_running(make_env):
    """15. now_mu() after reset() in two consecutive experiments: 1 ms .. 2.5 s apart."""
    env = make_env()
    core = env.core

    def k():
        core.reset()
        return now_mu()

    t1 = env.run(k)
    # a second experiment: new device manager, same session
    from .conftest import DMgr

    core2 = DMgr(env.dmgr.db, env.session).get("core")
    t2 = core2.run(k, (), {})
    assert 1_000_000 <= t2 - t1 <= 2_500_000_000


def test_handover(env):
    """16. Two kernels each delay_mu(1234): t2 == t1 + 1234, also when each kernel raises."""

    def k():
        t = now_mu()
        delay_mu(1234)
        return t

    t1 = env.run(k)
    t2 = env.run(k)
    assert t2 == t1 + 1234

    def k_raise(out):
        out.append(now_mu())
        delay_mu(1234)
        raise ValueError

    out: list = []
    for _ in range(2):
        with pytest.raises(ValueError):
            env.run(k_raise, out)
    assert out[1] == out[0] + 1234


def test_rounding(env):
    """17. delay(8*us) advances by exactly 8000 mu; half-way values round away from zero."""

    def k():
        t0 = now_mu()
        delay(8 * us)
        t1 = now_mu()
        delay(2.5e-9)
        t2 = now_mu()
        delay(-2.5e-9)
        return t1 - t0, t2 - t1, now_mu() - t2

    assert env.run(k) == (8000, 3, -3)


def test_parallel_statement_semantics(env):
    """``with parallel: ttl.pulse(2us)`` is a 2 us pulse; the block lasts the longest statement."""
    core, a, b = env.core, env.get("ttl0"), env.get("ttl1")

    def k():
        core.reset()
        t0 = now_mu()
        with parallel:
            a.pulse(2 * us)
            with sequential:
                delay(1 * us)
                b.pulse(3 * us)
        return t0, now_mu()

    t0, t1 = env.run(k)
    assert t1 - t0 == 4000
    assert env.engine.ttl_levels(10, 0, 1 << 60) == [(t0, 1), (t0 + 2000, 0)]
    assert env.engine.ttl_levels(11, 0, 1 << 60) == [(t0 + 1000, 1), (t0 + 4000, 0)]


def test_full_lane_stalls_cpu(make_env):
    """More than 128 events far in the future in one lane stall the CPU until the head executes."""
    env = make_env(cost_profile="zero")
    core, ttl = env.core, env.get("ttl_out")

    def k():
        core.reset()
        delay(1 * ms)
        c0 = core.get_rtio_counter_mu()
        t_first = now_mu()
        for _ in range(128):
            delay(1 * us)
            ttl.on()
        c1 = core.get_rtio_counter_mu()
        delay(1 * us)
        ttl.on()
        c2 = core.get_rtio_counter_mu()
        return c0, c1, c2, t_first

    c0, c1, c2, t_first = env.run(k)
    assert c1 == c0
    assert c2 == t_first + 1000


def test_out_of_order_events_fold_into_resolution(env):
    """A replacement and a collision early in a long kernel: once the counter has passed them the
    channel's log is folded (reads stay O(1)), the waveform is unchanged, and the collision is
    logged exactly once."""
    core, ttl = env.core, env.get("ttl_out")
    eng = env.engine

    def k():
        core.reset()
        ttl.on()
        ttl.off()  # replaced: nothing at this timestamp
        delay(1 * us)
        ttl.pulse_mu(8)
        delay_mu(-8)
        ttl.pulse_mu(3)  # same coarse cycles, other fine time: collision
        delay(2 * us)
        for _ in range(50):
            ttl.pulse(100 * ns)
            delay(100 * ns)
        core.wait_until_mu(now_mu())  # every event is now in the past: final

    env.run(k)
    st = eng.channels[0]
    before = eng.ttl_levels(0, -(1 << 60), 1 << 60)
    assert not st.flagged  # folded once the counter passed the mixed cycles
    assert eng.ttl_levels(0, -(1 << 60), 1 << 60) == before
    assert len(before) == 100  # 50 pulses; the replaced and collided events are gone
    assert sum("RTIO collision" in m for m in env.session.async_errors) == 1


def test_hot_syscalls_bound_to_the_running_kernel_only(env):
    """Device models and the kernel's module call the active engine directly while a kernel runs
    (no wrapper frame per event); outside a kernel the names are the syscall/timeline functions
    again, and a DMA recording started inside the kernel still captures the device's events."""
    import sys

    from sim import syscalls
    from sim.devices import ttl as ttl_module

    core, ttl = env.core, env.get("ttl_out")
    here = sys.modules[__name__]
    seen = {}

    def k():
        core.reset()
        seen["out"] = ttl_module.rtio_output
        seen["delay"] = here.delay
        with env.get("core_dma").record("hot"):
            ttl.pulse(1 * us)
        seen["recorded"] = len(env.engine.dma_traces["hot"][1])
        return env.engine.rtio_output

    bound = env.run(k)
    assert seen["out"] == bound and seen["delay"] == env.engine.take_time
    assert seen["recorded"] == 2
    assert ttl_module.rtio_output is syscalls.rtio_output
    assert here.delay is __import__("artiq.language.core", fromlist=["delay"]).delay
