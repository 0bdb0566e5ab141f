# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.coredevice.ttl``: simulated TTL drivers."""

from sim.devices.ttl import TTLClockGen, TTLInOut, TTLOut  # noqa: F401

__all__ = ["TTLOut", "TTLInOut", "TTLClockGen"]
