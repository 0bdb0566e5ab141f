# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ttl.pulse``/``pulse_mu`` in one engine call (``sim.rtio.ttl_outputs.ttl_pulse``, the driver's
``pulse`` itself, and ``SEDOutputs.rtio_pulse``) and ``ttl.on(); delay(d); ttl.off()`` (the
drivers' ``on``/``off``: ``sim.rtio.ttl_outputs.ttl_on``/``ttl_off``) against the reference
``rtio_output(target, 1); delay(d); rtio_output(target, 0)`` through the syscalls: event for event
the same channel logs, lanes, counter, cursor, exceptions, async errors (underflow, collision,
sequence error), DMA traces and VCD file, also while DMA records, the lane log is on and in a
parallel block."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from artiq.language.core import at_mu, delay, delay_mu, now_mu, parallel
from artiq.language.units import us

from sim.rtio.errors import RTIOUnderflow
from sim.syscalls import rtio_output

_EXCLUDE_VCD = ("$date",)
_AT = re.compile(r" \(at [^)]*\)")  # the kernel's source line differs by construction


def _fused(ttl: Any, d: float, mu: bool) -> None:
    if mu:
        ttl.pulse_mu(d)
    else:
        ttl.pulse(d)


def _levels(ttl: Any, d: float, mu: bool) -> None:
    ttl.on()
    if mu:
        delay_mu(d)
    else:
        delay(d)
    ttl.off()


def _reference(ttl: Any, d: float, mu: bool) -> None:
    rtio_output(ttl.target_o, 1)
    if mu:
        delay_mu(d)
    else:
        delay(d)
    rtio_output(ttl.target_o, 0)


def _shrinking(env: Any, pulse: Any) -> Any:
    """A kernel whose pulses, in order, each set a new least slack; returns it and its event."""
    core, ttl, eng = env.core, env.get("ttl_out"), env.engine

    def shrinking() -> tuple:
        core.break_realtime()
        for _ in range(20):
            pulse(ttl, 8, True)
            delay_mu(8)
        return eng.min_slack, eng.min_slack_info[:2]

    return shrinking


def _kernels(env: Any, pulse: Any) -> tuple:
    """Kernels exercising every branch of the submission path, run in turn (the last with the
    lane log on)."""
    core, dma = env.core, env.get("core_dma")
    ttl, ttl2 = env.get("ttl_out"), env.get("ttl_sma")
    eng = env.engine

    shrinking = _shrinking(env, pulse)

    def train() -> None:  # full lanes: the CPU stalls on the head event
        core.reset()
        for _ in range(300):
            pulse(ttl, 1 * us, False)
            delay(1 * us)

    def collide() -> None:  # 1-mu pulses: same coarse time on one channel
        core.break_realtime()
        delay(5 * us)
        for _ in range(16):
            pulse(ttl, 1, True)
            delay_mu(1)

    def sequence() -> None:  # back in time across all lanes: sequence errors
        core.break_realtime()
        delay(55 * 64 * us)
        for _ in range(64):
            pulse(ttl2, 25 * us, False)
            delay(-75 * us)

    def underflow_first() -> None:
        at_mu(core.get_rtio_counter_mu())
        pulse(ttl, 1 * us, False)

    def underflow_second() -> None:
        core.break_realtime()
        pulse(ttl, -200000, True)

    def underflow_second_late() -> None:  # in order, the second event too close to the counter
        core.reset()
        at_mu(core.get_rtio_counter_mu() + 400)
        pulse(ttl, 8, True)

    def record() -> int:  # routed through the DMA recorder, then played back
        core.break_realtime()
        with dma.record("p"):
            for _ in range(3):
                pulse(ttl, 2 * us, False)
                delay(1 * us)
        dma.playback("p")
        return now_mu()

    def par() -> None:  # bare statements of a parallel block
        core.break_realtime()
        with parallel:
            pulse(ttl, 3 * us, False)
            pulse(ttl2, 5 * us, False)
        eng.enter_parallel()  # a parallel block whose statements are not rewritten
        pulse(ttl, 3 * us, False)
        pulse(ttl2, 5 * us, True)
        eng.exit()
        pulse(ttl, 1 * us, False)

    def lanes() -> None:  # routed through the lane logger
        core.break_realtime()
        for _ in range(20):
            pulse(ttl, 8, True)
            pulse(ttl2, 16, True)

    return (
        shrinking,
        train,
        collide,
        sequence,
        underflow_first,
        underflow_second,
        underflow_second_late,
        record,
        par,
        lanes,
    )


def _steps(env: Any, pulse: Any) -> list:
    """What each of :func:`_kernels` returned or raised, with the cursor, the counter and the SED
    lanes after it; the lane log."""
    eng = env.engine
    kernels = _kernels(env, pulse)
    out = []
    for k in kernels:
        if k is kernels[-1]:
            eng.lane_log = []
        try:
            res: Any = env.run(k)
        except Exception as e:  # noqa: BLE001 - the exception is the result compared
            res = (type(e).__name__, _AT.sub("", str(e)))
        lanes = (eng._lane, eng._last_c, list(eng._lane_last), eng.lane_queues())
        out.append((k.__name__, res, eng.now, eng.counter, lanes))
    out.append(("lane_log", list(eng.lane_log)))
    eng.lane_log = None
    return out


def _run(make_env: Any, tmp_path: Path, pulse: Any, tag: str) -> tuple[list, dict, str]:
    vcd = tmp_path / (tag + ".vcd")
    env = make_env(seed=5, vcd=str(vcd))
    steps = _steps(env, pulse)
    eng = env.engine
    logs = {ch: list(st.raw) for ch, st in eng.channels.items()}
    logs["dma"] = {k: (d, list(ev)) for k, (d, ev, _) in eng.dma_traces.items()}
    logs["async"] = [_AT.sub("", m) for m in env.session.async_errors]
    logs["summary"] = {  # the kernel's source line of the least slack differs by construction
        k: v for k, v in env.session.summary().items() if not k.endswith("_source")
    }
    env.session.close()
    text = "".join(
        line for line in vcd.read_text().splitlines(True) if not line.startswith(_EXCLUDE_VCD)
    )
    return steps, logs, text


@pytest.mark.parametrize("path", [_fused, _levels])
def test_pulse_in_one_call_is_on_delay_off(make_env, tmp_path, path):
    """Same steps, logs, errors and VCD, and every interesting branch was taken."""
    fused = _run(make_env, tmp_path, path, "fused")
    ref = _run(make_env, tmp_path, _reference, "reference")
    assert fused[0] == ref[0]
    assert fused[1] == ref[1]
    assert fused[2] == ref[2]
    steps = {s[0]: s for s in fused[0]}
    slack, (channel, ts) = steps["shrinking"][1]
    assert 0 < slack < 125000 - 19 * 400 and ts == steps["shrinking"][2] - 8  # the last pulse's
    assert steps["underflow_first"][1][0] == "RTIOUnderflow"
    assert steps["underflow_second"][1][0] == "RTIOUnderflow"
    assert steps["underflow_second_late"][1][0] == "RTIOUnderflow"
    late = steps["underflow_second_late"]
    assert late[1][1].endswith("{} mu, slack -40 mu".format(late[2]))  # the second event's
    assert (late[2] - 8, 0, 1) in fused[1][0]  # after the first was logged
    assert steps["lane_log"][1]
    assert any(m.startswith("RTIO sequence error") for m in fused[1]["async"])
    assert any(m.startswith("RTIO collision") for m in fused[1]["async"])
    assert fused[1]["dma"]["p"][1]
    assert "1" in fused[2] and len(fused[2]) > 1000


def test_underflow_boundary_at_every_fine_phase(make_env):
    """``ttl.on()`` and both events of ``ttl.pulse_mu`` (in order, the per-event path's common
    case) underflow exactly when the event's coarse time is not after coarse counter + 12, at
    every fine phase of the timestamp and of the counter, around the boundary."""
    env = make_env()
    ttl = env.get("ttl_out")
    eng = env.engine
    c_out, c_gap = eng.costs.rtio_output, eng.costs.rtio_output + eng.costs.delay
    cases = [
        (kind, phase, slack, width)
        for kind in ("on", "pulse")
        for phase in range(8)
        for slack in [
            *range(c_out + 80, c_out + 130),
            *range(c_out + c_gap + 64, c_out + c_gap + 130),
        ]
        for width in ((8, 9, 15) if kind == "pulse" else (0,))
    ]

    def attempts() -> list:
        out = []
        base = 1 << 20
        for kind, phase, slack, width in cases:
            base += 1 << 12  # every attempt later than the last: in order, in the same lane
            eng.counter = base + phase
            ts = base + phase + slack
            at_mu(ts)
            try:
                if kind == "on":
                    ttl.on()
                else:
                    ttl.pulse_mu(width)
                out.append(0)
            except RTIOUnderflow:
                out.append(1 if now_mu() == ts else 2)  # the second event: after the delay
        return out

    def expected(phase: int, slack: int, width: int, kind: str) -> int:
        # ``at_mu`` charges a delay; the base cancels out of both comparisons
        counter = (1 << 20) + phase + eng.costs.delay + c_out
        ts = (1 << 20) + phase + slack
        if ts >> 3 <= (counter >> 3) + 12:
            return 1
        if kind == "pulse" and (ts + width) >> 3 <= ((counter + c_gap) >> 3) + 12:
            return 2
        return 0

    got = env.run(attempts)
    want = [expected(p, s, w, k) for k, p, s, w in cases]
    assert got == want
    assert {1, 2} <= set(want)  # both events' boundaries were crossed


def test_a_lane_holds_two_events_at_least():
    """``ttl.pulse``'s common case reads the slot its second event waits for: lanes of one event
    are refused, with the reason."""
    from sim.rtio.engine import RTIOEngine

    with pytest.raises(ValueError, match="lane_depth"):
        RTIOEngine(lane_depth=1)
    assert RTIOEngine(lane_depth=2).lane_depth == 2
