# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.coredevice.edge_counter``: simulated gateware edge counter."""
from sim.devices.edge_counter import (EdgeCounter, CounterOverflow, CONFIG_COUNT_RISING,  # noqa: F401
                                      CONFIG_COUNT_FALLING, CONFIG_SEND_COUNT_EVENT,
                                      CONFIG_RESET_TO_ZERO)

__all__ = ["EdgeCounter", "CounterOverflow", "CONFIG_COUNT_RISING", "CONFIG_COUNT_FALLING",
           "CONFIG_SEND_COUNT_EVENT", "CONFIG_RESET_TO_ZERO"]
