# SPDX-License-Identifier: LGPL-3.0-or-later
"""Minimal stand-ins for the simulation session, Core and TTL used by the foundation tests.

They let the environment, runner and results be tested without the RTIO engine. The time manager
implements ARTIQ's seven-method protocol with compiled semantics (int64 mu cursor, ``delay`` rounded
half away from zero, ``parallel`` = max of the branches) and records output events.
"""

from __future__ import annotations

import math
from typing import Any

from sim import artiq_env

artiq_env.activate()

from artiq.language.core import delay, kernel, now_mu  # noqa: E402

from sim.kernel import STATE, host_function  # noqa: E402

REF_PERIOD = 1e-9


class RecordingTimeManager:
    """Time manager with a stack of (kind, start, end) frames and an event log."""

    def __init__(self) -> None:
        self.now = 0
        self.stack: list[list] = []
        self.events: list[tuple[int, str, int]] = []

    def enter_sequential(self) -> None:
        self.stack.append(["seq", self.now, self.now])

    def enter_parallel(self) -> None:
        self.stack.append(["par", self.now, self.now])

    def exit(self) -> None:
        kind, start, end = self.stack.pop()
        if kind == "par":
            self.now = max(end, self.now)
        self._child_done()

    def _child_done(self) -> None:
        if self.stack and self.stack[-1][0] == "par":
            frame = self.stack[-1]
            frame[2] = max(frame[2], self.now)
            self.now = frame[1]

    def take_time_mu(self, duration: int) -> None:
        self.now += int(duration)
        self._child_done()

    def take_time(self, duration: float) -> None:
        x = duration / REF_PERIOD
        self.take_time_mu(int(math.copysign(math.floor(abs(x) + 0.5), x)))

    def get_time_mu(self) -> int:
        return self.now

    def set_time_mu(self, t: int) -> None:
        self.now = int(t)
        self._child_done()


class FakeSession:
    """What the runner needs from ``sim.session.SimSession``."""

    def __init__(self) -> None:
        self.engine = RecordingTimeManager()
        self.async_errors: list[str] = []
        self.closed = False

    def summary(self) -> dict:
        return {"min_slack_mu": 1000, "min_slack_where": "fake"}

    def close(self) -> None:
        self.closed = True


class Core:
    """Kernel runner: executes the kernel as host Python (nested kernels are one kernel)."""

    kernel_invariants = {"ref_period"}

    def __init__(
        self, dmgr: Any, host: str | None = None, ref_period: float = REF_PERIOD, **kwargs: Any
    ):
        self.ref_period = ref_period
        self.session = getattr(dmgr, "ionlink_session", None)
        self.closed = False

    def run(self, k_function: Any, k_args: tuple, k_kwargs: dict) -> Any:
        STATE.depth += 1
        try:
            return host_function(k_function)(*k_args, **k_kwargs)
        finally:
            STATE.depth -= 1

    def seconds_to_mu(self, seconds: float) -> int:
        return math.floor(seconds / self.ref_period)

    def record(self, name: str, value: int) -> None:
        self.session.engine.events.append((now_mu(), name, value))

    def close(self) -> None:
        self.closed = True


class TTLOut:
    """A TTL output that records its level changes."""

    def __init__(self, dmgr: Any, channel: int, core_device: str = "core"):
        self.core = dmgr.get(core_device)
        self.channel = channel
        self.name = "ttl{}".format(channel)

    @kernel
    def on(self) -> None:
        self.core.record(self.name, 1)

    @kernel
    def off(self) -> None:
        self.core.record(self.name, 0)

    @kernel
    def pulse(self, duration: float) -> None:
        self.on()
        delay(duration)
        self.off()


def device_db(n_ttl: int = 4) -> dict:
    """A device_db dict using the fakes."""
    ddb: dict = {
        "core": {
            "type": "local",
            "module": __name__,
            "class": "Core",
            "arguments": {"host": None, "ref_period": REF_PERIOD},
        }
    }
    for i in range(n_ttl):
        ddb["ttl{}".format(i)] = {
            "type": "local",
            "module": __name__,
            "class": "TTLOut",
            "arguments": {"channel": i},
        }
    ddb["led"] = "ttl0"
    ddb["led_alias"] = "led"
    return ddb
