# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.coredevice.ad9910``: simulated AD9910 DDS."""

from sim.devices.ad9910 import *  # noqa: F401,F403
from sim.devices.ad9910 import __all__  # noqa: F401
