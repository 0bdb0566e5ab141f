# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.coredevice.exceptions``: the core-device exceptions, re-exported from the simulator."""
from sim.rtio.errors import (  # noqa: F401
    RTIOUnderflow, RTIOOverflow, RTIODestinationUnreachable, DMAError, SubkernelError,
    ClockFailure, I2CError, SPIError, CacheError, UnwrapNoneError, CXPError, CoreException,
)
