# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.coredevice.edge_counter``: simulated gateware edge counter."""

from sim.devices.edge_counter import (  # noqa: F401
    CONFIG_COUNT_FALLING,
    CONFIG_COUNT_RISING,
    CONFIG_RESET_TO_ZERO,
    CONFIG_SEND_COUNT_EVENT,
    CounterOverflow,
    EdgeCounter,
)

__all__ = [
    "EdgeCounter",
    "CounterOverflow",
    "CONFIG_COUNT_RISING",
    "CONFIG_COUNT_FALLING",
    "CONFIG_SEND_COUNT_EVENT",
    "CONFIG_RESET_TO_ZERO",
]
