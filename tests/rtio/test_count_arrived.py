# SPDX-License-Identifier: LGPL-3.0-or-later
"""``count`` of a gate whose events have all arrived when the count starts (a readout counted
after it closed, or after another node's) reads them without stepping through the FIFO
(:meth:`sim.rtio.inputs.InputReads._read_arrived`); it must stay ARTIQ's loop of
``rtio_input_timestamp`` reads: the same number, the same RTIO counter afterwards, the same
overflow, whether more edges arrive during the back-to-back reads or not."""

import pytest
from artiq.language.core import at_mu, delay, now_mu
from artiq.language.units import ns, us

from sim.rtio.errors import RTIOOverflow


def _burst_then_count(env, by_count, pulses, period_ns, wait_mu):
    """A 30 µs rising gate with ``pulses`` loopback pulses (even) every ``period_ns`` from its
    start; the count starts when the counter is ``wait_mu`` past the gate start. Returns the count
    (-1 on overflow) and the counter afterwards, relative to the gate end."""
    from sim.syscalls import rtio_input_timestamp

    core, loop_in, loop_out = env.core, env.get("loop_in"), env.get("loop_out")
    core.reset()
    loop_in.input()
    loop_out.output()
    delay(5 * us)
    t0 = now_mu()
    loop_in.gate_rising(30 * us)
    t_end = now_mu()
    for half in range(2):  # even pulses, then odd ones: two SED lanes of ≤ 128 events each
        at_mu(t0 + half * period_ns)
        for _ in range(pulses // 2):
            delay(period_ns / 2 * ns)
            loop_out.pulse(period_ns / 2 * ns)
            delay(period_ns * ns)
    at_mu(t_end)
    core.wait_until_mu(t0 + wait_mu)
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


@pytest.mark.parametrize(
    "pulses, period_ns, wait_mu",
    [
        (20, 1000, 40_000),  # all arrived, read after the gate: the back-to-back reads at once
        (62, 400, 40_000),  # the FIFO's depth less two
        (64, 400, 40_000),  # as many as the FIFO holds
        (66, 400, 40_000),  # more: the overflow, reported by the loop
        (100, 200, 3_000),  # a few arrived, more arrive during the reads: back to back at once
        (120, 200, 6_000),  # ... more than fit meanwhile: the FIFO filled, the loop steps on
        (120, 200, 9_000),
        (120, 100, 5_000),  # an overflow while the arrived ones are read back to back
    ],
)
def test_count_of_arrived_events_is_the_read_loop(make_env, pulses, period_ns, wait_mu):
    out = []
    for by_count in (True, False):
        env = make_env()
        out.append(env.run(lambda: _burst_then_count(env, by_count, pulses, period_ns, wait_mu)))
    assert out[0] == out[1]
