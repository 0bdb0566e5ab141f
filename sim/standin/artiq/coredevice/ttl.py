# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.coredevice.ttl``: simulated TTL drivers."""
from sim.devices.ttl import TTLOut, TTLInOut, TTLClockGen  # noqa: F401

__all__ = ["TTLOut", "TTLInOut", "TTLClockGen"]
