# SPDX-License-Identifier: LGPL-3.0-or-later
"""DMA (``test_rtio.py`` DMA tests), the FAQ lane example, edge counter (``test_edge_counter.py``),
core cache and cost profiles."""

from __future__ import annotations

import numpy as np
import pytest
from artiq.coredevice.exceptions import CacheError, DMAError, RTIOUnderflow
from artiq.language.core import at_mu, delay, delay_mu, now_mu, parallel, sequential
from artiq.language.units import ms, ns, us

from sim.rtio.costs import CostProfile, load_profile


def _record_pulse(dma, ttl, name="pulse", pre_delay=0.0):
    with dma.record(name):
        if pre_delay:
            delay(pre_delay)
        delay(100 * ns)
        ttl.on()
        delay(100 * ns)
        ttl.off()


def test_dma_storage(env):
    """19. record twice, playback, erase → DMAError; nested record → DMAError."""
    core, dma, ttl = env.core, env.get("core_dma"), env.get("ttl_out")

    def k():
        core.reset()
        _record_pulse(dma, ttl)
        _record_pulse(dma, ttl)
        dma.playback("pulse")
        dma.erase("pulse")
        with pytest.raises(DMAError, match="DMA trace not found"):
            dma.playback("pulse")
        with pytest.raises(DMAError, match="DMA is already recording"):
            with dma.record("a"):
                with dma.record("b"):
                    pass

    env.run(k)


def test_dma_trace(env):
    """20. Playback gives exactly two outputs, addr 0, data 1 then 0, 100 mu apart."""
    core, dma, ttl = env.core, env.get("core_dma"), env.get("ttl_out")

    def k():
        core.reset()
        _record_pulse(dma, ttl)
        t = now_mu()
        dma.playback("pulse")
        return t

    t = env.run(k)
    raw = env.engine.channels[0].raw
    assert [(a, d) for _, a, d in raw] == [(0, 1), (0, 0)]
    assert raw[0][0] == t + 100 and raw[1][0] - raw[0][0] == 100


def test_dma_delta(env):
    """21. Playback advances now by the trace duration: 200 mu (1000200 with a 1 ms pre-delay)."""
    core, dma, ttl = env.core, env.get("core_dma"), env.get("ttl_out")

    def k():
        core.reset()
        _record_pulse(dma, ttl, "short")
        _record_pulse(dma, ttl, "long", pre_delay=1 * ms)
        t0 = now_mu()
        dma.playback("short")
        t1 = now_mu()
        dma.playback("long")
        return t1 - t0, now_mu() - t1

    assert env.run(k) == (200, 1000200)


def test_dma_record_and_playback_time(env):
    """22. Record < 11 us/event; a 40-event playback via handle < 4.5 us of CPU (Kasli)."""
    core, dma, ttl = env.core, env.get("core_dma"), env.get("ttl_out")

    def k():
        core.reset()
        c0 = core.get_rtio_counter_mu()
        with dma.record("p40"):
            for _ in range(20):
                ttl.pulse(100 * ns)
                delay(100 * ns)
        c1 = core.get_rtio_counter_mu()
        h = dma.get_handle("p40")
        core.break_realtime()
        delay(1 * ms)
        c2 = core.get_rtio_counter_mu()
        dma.playback_handle(h)
        c3 = core.get_rtio_counter_mu()
        return c1 - c0, c3 - c2

    rec, play = env.run(k)
    assert rec / 40 < 11000
    assert play < 4500


def test_dma_underflow(env):
    """22. 20000 back-to-back playbacks of the 200-mu trace underflow."""
    core, dma, ttl = env.core, env.get("core_dma"), env.get("ttl_out")

    def k():
        core.reset()
        _record_pulse(dma, ttl)
        h = dma.get_handle("pulse")
        core.break_realtime()
        for _ in range(20000):
            dma.playback_handle(h)

    with pytest.raises(RTIOUnderflow, match=r"RTIO underflow at channel 0x0000:ttl_out, \d+ mu"):
        env.run(k)


def test_dma_handle_invalidation(env):
    """22. Re-record or erase, then playback_handle(old) → DMAError("Invalid handle")."""
    core, dma, ttl = env.core, env.get("core_dma"), env.get("ttl_out")

    def k():
        core.reset()
        _record_pulse(dma, ttl, "a")
        h = dma.get_handle("a")
        _record_pulse(dma, ttl, "a")
        with pytest.raises(DMAError, match="Invalid handle"):
            dma.playback_handle(h)
        h = dma.get_handle("a")
        dma.erase("a")
        with pytest.raises(DMAError, match="Invalid handle"):
            dma.playback_handle(h)

    env.run(k)


def test_faq_lane_example(env):
    """FAQ "diagnose sequence errors": lanes 0,1,1,2,3,4,5,5,6,7,0, then ttl0.off() errors."""
    core = env.core
    ttl0, ttl_sma = env.get("ttl0"), env.get("ttl_sma")
    t1, t2, t3, t4 = (env.get("ttl{}".format(i)) for i in range(1, 5))

    def k():
        core.reset()
        env.engine.lane_log = []
        with parallel:
            ttl0.on()
            ttl_sma.pulse(800 * us)
            with sequential:
                t1.on()
                t2.on()
                t3.on()
                t4.on()
                delay(800 * us)
                t1.off()
                t2.off()
                t3.off()
                t4.off()
        ttl0.off()

    env.run(k)
    assert [lane for _, lane in env.engine.lane_log] == [0, 1, 1, 2, 3, 4, 5, 5, 6, 7, 0]
    assert env.session.async_errors == ["RTIO sequence error involving channel 0x000a:ttl0"]


def test_lane_rule_offset_invariant(make_env):
    """Adding a constant to all timestamps does not change lane outcomes."""
    results = []
    for offset in (0, 8 * 12345):
        env = make_env(cost_profile="zero")
        core, a, b = env.core, env.get("ttl0"), env.get("ttl1")

        def k():
            core.reset()
            delay_mu(offset)
            env.engine.lane_log = []
            for i in range(20):
                a.pulse_mu(16)
                delay_mu(-8 * (i % 3))
                b.on()

        env.run(k)
        results.append((env.engine.lane_log, list(env.session.async_errors)))
    assert results[0] == results[1]


def test_saved_lane_state_in_coarse_cycles(make_env):
    """The hardware state's lane cursor and queues are coarse timestamps in coarse cycles (the
    saved format); restoring them into a fresh engine gives the same lanes."""
    env = make_env(cost_profile="zero")
    core, a, b = env.core, env.get("ttl0"), env.get("ttl1")
    eng = env.engine
    times = []

    def k():
        core.reset()
        for _ in range(3):
            times.append(now_mu())
            a.pulse_mu(16)
            delay_mu(-13)  # back into the same coarse cycle: the next event takes the next lane
            times.append(now_mu())
            b.on()

    env.run(k)
    lane, last_c, lane_last = eng.lane_state()
    assert last_c == lane_last[lane] == times[-1] >> 3
    coarse = {t >> 3 for t in times} | {(t + 16) >> 3 for t in times[::2]}
    queued = [c for q in eng.lane_queues() for c in q]
    assert len(queued) == 9 and set(queued) == coarse
    fresh = make_env(cost_profile="zero").engine
    fresh.load_lane_state(lane, last_c, lane_last)
    fresh.load_lane_queues(eng.lane_queues())
    assert (fresh._lane, fresh._last_c, fresh._lane_last) == (lane, eng._last_c, eng._lane_last)
    assert [list(q) for q in fresh._lane_q] == [list(q) for q in eng._lane_q]
    assert fresh.lane_state() == (lane, last_c, lane_last)


# ---------------------------------------------------------------- edge counter


def _two_gates(env, method):
    core, counter, out = env.core, env.get("loop_in_counter"), env.get("loop_out")

    def k():
        core.reset()
        out.output()
        out.off()
        delay(10 * us)
        with parallel:
            with sequential:
                getattr(counter, method)(10 * us)
                delay(1 * us)
                getattr(counter, method)(10 * us)
            with sequential:
                delay(5 * us)
                out.pulse(10 * us)
        return counter.fetch_count(), counter.fetch_count()

    return env.run(k)


@pytest.mark.parametrize(
    "method,expected", [("gate_rising", (1, 0)), ("gate_falling", (0, 1)), ("gate_both", (1, 1))]
)
def test_edge_counter_gates(env, method, expected):
    """A 10 us pulse starting 5 us into the first of two gates: rising/falling/both counts."""
    assert _two_gates(env, method) == expected


def test_edge_counter_no_gate_timeout(env):
    """fetch_timestamped_count(now) with no gate open returns -1."""
    core, counter = env.core, env.get("loop_in_counter")

    def k():
        core.reset()
        return counter.fetch_timestamped_count(now_mu())[0]

    assert env.run(k) == -1


def test_edge_counter_timestamp(env):
    """The gate event's timestamp is 0 <= ts - gate_end < 100 mu; gate_rising floors (999 mu)."""
    core, counter = env.core, env.get("loop_in_counter")

    def k():
        core.reset()
        t0 = now_mu()
        end = counter.gate_rising(1 * us)
        ts, n = counter.fetch_timestamped_count()
        return end - t0, end, ts, n

    width, end, ts, n = env.run(k)
    assert width == 999
    assert 0 <= ts - end < 100 and n == 0


def test_edge_counter_no_reset_accumulates(env):
    """500 pulses on both edges without reset: first fetch 1000, second 2000."""
    core, counter, out = env.core, env.get("loop_in_counter"), env.get("loop_out")

    def k():
        core.reset()
        out.output()
        counter.set_config(True, True, False, True)
        for _ in range(2):
            for _ in range(500):
                delay(1 * us)
                out.pulse(1 * us)
            delay(1 * us)
            counter.set_config(True, True, True, False)
            core.break_realtime()
        return counter.fetch_count(), counter.fetch_count()

    assert env.run(k) == (1000, 2000)


# ---------------------------------------------------------------- cache and costs


def test_core_cache(env):
    """get of a missing key is empty; put/get round trip; replacing an extracted value fails."""
    cache = env.get("core_cache")

    def k():
        assert cache.get("x") == []
        cache.put("x", [1, 2, 3])

    def k2():
        v = cache.get("x")
        with pytest.raises(CacheError):
            cache.put("x", [4])
        return v

    env.run(k)
    assert env.run(k2) == [1, 2, 3]


def test_cost_profile_from_dataset(tmp_path):
    """Calibration datasets override fields of a base profile; profiles load by name or file."""
    p = CostProfile.from_dataset({"cpu_cost.rtio_output": 150.4, "delay": 30, "junk": 1})
    assert (
        p.rtio_output == 150
        and p.delay == 30
        and p.get_counter == load_profile("kasli2").get_counter
    )
    path = tmp_path / "cal.json"
    path.write_text('{"base": "kasli_soc", "rtio_output": 999}')
    q = load_profile(str(path))
    assert q.rtio_output == 999 and q.delay == load_profile("kasli_soc").delay
    with pytest.raises(ValueError):
        load_profile("nope")


def test_rpc_cost_is_charged_once_per_kernel_call(env):
    """An RPC whose host body calls other RPCs (``set_dataset`` is one) costs the core one RPC:
    host code runs on the host, however long it takes. The RPCs are methods of the kernel's
    object, as an experiment's are (with a real ARTIQ, only those are charged)."""
    from artiq.language.core import rpc

    core = env.core

    class Host:
        @rpc(flags={"async"})
        def inner(self) -> None:
            pass

        @rpc(flags={"async"})
        def outer(self) -> None:
            for _ in range(5):
                self.inner()

        def k(self):
            t0 = core.get_rtio_counter_mu()
            self.outer()
            t1 = core.get_rtio_counter_mu()
            self.inner()
            return t1 - t0, core.get_rtio_counter_mu() - t1

    nested, single = env.run(Host.k, Host())
    assert nested == single
    assert abs(single - env.engine.costs.rpc_async) <= 8 + env.engine.costs.get_counter


def test_int64_delay_keeps_the_cursor_a_python_int(env):
    """A kernel's int64 ``delay_mu`` (a numpy scalar, e.g. a driver's ``coarse_mu``) moves the
    cursor by its value and leaves it a Python int, as ``at_mu`` does: the timestamps, counter
    and world times derived from it stay Python ints (numpy scalar arithmetic costs many times
    more on every event). The same in a parallel block."""
    at_mu(np.int64(1_000_000))
    delay_mu(np.int64(8))
    assert now_mu() == 1_000_008 and type(env.engine.now) is int
    with parallel:
        delay_mu(np.int64(16))
        delay_mu(np.int64(24))
    assert now_mu() == 1_000_032 and type(env.engine.now) is int
