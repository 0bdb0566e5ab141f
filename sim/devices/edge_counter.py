# SPDX-License-Identifier: LGPL-3.0-or-later
"""Simulated ``artiq.coredevice.edge_counter.EdgeCounter``
(``artiq/coredevice/edge_counter.py``)."""

from __future__ import annotations

from typing import Any

from artiq.language.core import delay_mu, now_mu

from sim.rtio.channels import Kind
from sim.rtio.phy.edge_counter import EdgeCounterPhy
from sim.syscalls import bind_hot, rtio_input_data, rtio_input_timestamped_data, rtio_output

__all__ = [
    "EdgeCounter",
    "CounterOverflow",
    "CONFIG_COUNT_RISING",
    "CONFIG_COUNT_FALLING",
    "CONFIG_SEND_COUNT_EVENT",
    "CONFIG_RESET_TO_ZERO",
]

CONFIG_COUNT_RISING = 0b0001
CONFIG_COUNT_FALLING = 0b0010
CONFIG_SEND_COUNT_EVENT = 0b0100
CONFIG_RESET_TO_ZERO = 0b1000


class CounterOverflow(Exception):
    """The edge count reached the gateware counter's maximum (the value is saturated)."""


class EdgeCounter:
    """Gateware edge counter on an RTIO input.

    :param gateware_width: counter width in bits (31); ``counter_max = 2**(width-1) - 1``.
    """

    kernel_invariants = {"core", "channel", "counter_max"}

    def __init__(
        self,
        dmgr: Any,
        channel: int,
        gateware_width: int = 31,
        core_device: str = "core",
        **sim_args: Any,
    ) -> None:
        bind_hot(globals())  # its per-event calls go straight to the active engine
        self.core = dmgr.get(core_device)
        self.channel = channel
        self.counter_max = (1 << (gateware_width - 1)) - 1
        eng = getattr(self.core, "engine", None)
        if eng is not None:
            eng.register_channel(
                channel,
                Kind.EDGE_COUNTER,
                sim_args.get("name"),
                phy=EdgeCounterPhy(eng, channel, gateware_width),
            )

    @staticmethod
    def get_rtio_channels(channel: int, **kwargs: Any) -> list:
        return [(channel, None)]

    def set_config(
        self, count_rising: bool, count_falling: bool, send_count_event: bool, reset_to_zero: bool
    ) -> None:
        """Write the config at ``now``. Does not modify the timeline cursor."""
        config = 0
        if count_rising:
            config |= CONFIG_COUNT_RISING
        if count_falling:
            config |= CONFIG_COUNT_FALLING
        if send_count_event:
            config |= CONFIG_SEND_COUNT_EVENT
        if reset_to_zero:
            config |= CONFIG_RESET_TO_ZERO
        rtio_output(self.channel << 8, config)

    def _gate_mu(self, rising: bool, falling: bool, duration_mu: int) -> int:
        self.set_config(rising, falling, False, True)
        delay_mu(duration_mu)
        self.set_config(False, False, True, False)
        return now_mu()

    def gate_rising_mu(self, duration_mu: int) -> int:
        """Count rising edges for ``duration_mu``. Advances the timeline cursor by ``duration_mu``;
        returns the gate end in mu."""
        return self._gate_mu(True, False, duration_mu)

    def gate_falling_mu(self, duration_mu: int) -> int:
        return self._gate_mu(False, True, duration_mu)

    def gate_both_mu(self, duration_mu: int) -> int:
        return self._gate_mu(True, True, duration_mu)

    def gate_rising(self, duration: float) -> int:
        """Advances the cursor by ``core.seconds_to_mu(duration)`` (floor, unlike ``delay``)."""
        return self.gate_rising_mu(int(self.core.seconds_to_mu(duration)))

    def gate_falling(self, duration: float) -> int:
        return self.gate_falling_mu(int(self.core.seconds_to_mu(duration)))

    def gate_both(self, duration: float) -> int:
        return self.gate_both_mu(int(self.core.seconds_to_mu(duration)))

    def fetch_count(self) -> int:
        """Count of the next gate (blocks). ``CounterOverflow`` if saturated."""
        count = rtio_input_data(self.channel)
        if count == self.counter_max:
            raise CounterOverflow(
                "Input edge counter overflow on RTIO channel {0}".format(self.channel)
            )
        return count

    def fetch_timestamped_count(self, timeout_mu: int = -1) -> tuple[int, int]:
        """``(timestamp, count)`` of the next gate, or ``(-1, 0)`` if none arrives by ``timeout_mu``
        (``-1``: wait forever)."""
        ts, count = rtio_input_timestamped_data(timeout_mu, self.channel)
        if count == self.counter_max:
            raise CounterOverflow(
                "Input edge counter overflow on RTIO channel {0}".format(self.channel)
            )
        return ts, count
