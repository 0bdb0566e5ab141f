# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.coredevice.exceptions``: the core-device exceptions the simulator raises."""

from sim.rtio.standin_errors import (  # noqa: F401
    CacheError,
    ClockFailure,
    CoreException,
    CXPError,
    DMAError,
    I2CError,
    RTIODestinationUnreachable,
    RTIOOverflow,
    RTIOUnderflow,
    SPIError,
    SubkernelError,
    UnwrapNoneError,
)
