# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.coredevice.urukul``: simulated Urukul CPLD."""

from sim.devices.urukul import *  # noqa: F401,F403
from sim.devices.urukul import __all__  # noqa: F401
