# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.coredevice.cache``: simulated core cache."""

from sim.devices.cache import CoreCache  # noqa: F401
from sim.syscalls import cache_get, cache_put  # noqa: F401

__all__ = ["CoreCache", "cache_get", "cache_put"]
