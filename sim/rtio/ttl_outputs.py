# SPDX-License-Identifier: LGPL-3.0-or-later
""":func:`ttl_pulse`, :func:`ttl_on` and :func:`ttl_off` are the simulator TTL drivers' ``pulse``,
``on`` and ``off`` methods themselves: the common case of
:meth:`~sim.rtio.sed.SEDOutputs.rtio_pulse` and :meth:`~sim.rtio.sed.SEDOutputs.rtio_output` for
the active engine, one Python frame per call instead of two (plain functions as class attributes,
so the call stays on the interpreter's inlined path). Every other case goes to the engine before
any state is written; ``tests/rtio/test_pulse_path.py`` holds them to the engine's calls, event for
event. Times in mu, durations in s.
"""

from __future__ import annotations

from typing import Any, Callable

from sim.syscalls import ACTIVE

__all__ = ["ttl_pulse", "ttl_on", "ttl_off"]


def ttl_pulse(device: Any, duration: float) -> None:
    """``pulse(duration)`` of the simulator's TTL drivers (``TTLOut.pulse``, ``TTLInOut.pulse``,
    whose output level is address 0 of ``device.channel``): high for ``duration`` seconds,
    advancing the timeline cursor by ``duration``.

    :meth:`~sim.rtio.sed.SEDOutputs.rtio_pulse` of the active engine with ``target =
    device.target_o``, run as the driver's method itself (as compiled code inlines ``pulse``: no
    driver frame per pulse). Its common case is decided here on locals, with the same conditions and
    writes; every other case goes to the engine (:meth:`~sim.rtio.sed.SEDOutputs._pulse_events`, or
    ``rtio_pulse`` while outputs are routed or in a bare statement of a parallel block) before any
    state is written. (A copy of ``rtio_pulse``'s common case: sharing it through one more call cost
    415 instructions an output event, +10 %, measured through the CLI;
    ``tests/rtio/test_pulse_path.py`` holds both to the three-call reference, event for event.)"""
    eng = ACTIVE.engine
    if eng._diverted:  # routed, or a bare statement of a parallel block
        eng.rtio_pulse(device.target_o, duration)
        return
    if duration == eng._pulse_s:  # the last duration's mu (a pulse train repeats it)
        mu = eng._pulse_mu
    else:
        memo = eng._mu_of.get(duration)
        mu = eng._seconds_to_mu(duration) if memo is None else memo
        eng._pulse_s, eng._pulse_mu = duration, mu
    ts = eng.now
    c = ts & -8  # coarse timestamps in mu (see the module docstring)
    ts2 = ts + mu
    c2 = ts2 & -8
    try:
        st = eng.channels[device.channel]
    except KeyError:
        st = None
    # as in SEDOutputs.rtio_pulse (the conditions negated, for short jumps): both events in the
    # current lane, the second waiting for the slot after the first's
    if c2 <= c or c <= eng._last_c or st is None or st.hook is not None or c <= st.max_c:
        eng._pulse_events(device.target_o, mu, st)
        return
    lane = eng._lane
    q = eng._lane_q[lane]
    counter = eng.counter + eng._c_out
    head = q[0]
    if head > counter:
        counter = head
    counter2 = counter + eng._c_gap
    head = q[1]
    if head > counter2:
        counter2 = head
    floor = eng._slack_floor
    if ts - counter < floor or ts2 - counter2 < floor:
        eng._pulse_events(device.target_o, mu, st)
        return
    q.append(c)
    q.append(c2)
    eng.now = ts2
    eng.counter = counter2
    eng._last_c = eng._lane_last[lane] = st.max_c = c2
    log = st.log  # compactly: the two timestamps (ChannelState.log)
    if st.pend is None:
        st.pend = len(log)
    log.append(ts)
    log.append(ts2)


def _ttl_level(data: int) -> Callable[[Any], None]:
    """The driver method that outputs ``data`` at ``now`` (:func:`ttl_on`, :func:`ttl_off`): a copy
    of :meth:`~sim.rtio.sed.SEDOutputs.rtio_output`'s common case, for the reason :func:`ttl_pulse`
    gives; ``tests/rtio/test_pulse_path.py`` holds it to ``rtio_output``, event for event."""

    def level(device: Any) -> None:
        eng = ACTIVE.engine
        if not eng._routed:
            ts = eng.now
            c = ts & -8
            if c > eng._last_c:  # no lane switch, so no sequence error
                lane = eng._lane
                q = eng._lane_q[lane]
                counter = eng.counter + eng._c_out
                head = q[0]
                if head > counter:
                    counter = head
                try:
                    st = eng.channels[device.channel]
                except KeyError:
                    st = None
                if (
                    ts - counter >= eng._slack_floor
                    and st is not None
                    and st.hook is None
                    and c > st.max_c
                ):
                    eng.counter = counter
                    q.append(c)
                    eng._last_c = eng._lane_last[lane] = st.max_c = c
                    st.log.append((ts, 0, data))
                    return
        eng.rtio_output(device.target_o, data)

    return level


ttl_on = _ttl_level(1)
ttl_on.__name__ = ttl_on.__qualname__ = "ttl_on"
ttl_on.__doc__ = """``on()`` of the simulator's TTL drivers (``TTLOut``, ``TTLInOut``: address 0 of
``device.channel``): output high at ``now``; does not modify the timeline cursor.

:meth:`~sim.rtio.sed.SEDOutputs.rtio_output` of the active engine with ``target = device.target_o``
and data 1, run as the driver's method itself (no driver frame). Its common case (no lane switch,
the event in the channel's order, no hook, neither near underflow nor below the least slack so far)
is decided here on locals, with the same writes; every other case, and routed outputs, go to the
engine's ``rtio_output`` before any state is written."""
ttl_off = _ttl_level(0)
ttl_off.__name__ = ttl_off.__qualname__ = "ttl_off"
ttl_off.__doc__ = """``off()`` of the simulator's TTL drivers: output low at ``now``, as
:func:`ttl_on` with data 0; does not modify the timeline cursor."""
