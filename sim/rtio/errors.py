# SPDX-License-Identifier: LGPL-3.0-or-later
"""Core-device exceptions as ARTIQ defines them, taken from the active ARTIQ: a real ARTIQ's own
classes when one is installed (so experiments that catch ``artiq.experiment.RTIOUnderflow`` catch
what the simulator raises), else the stand-in's (``sim/standin``; :func:`sim.artiq_env.activate`
must have run, as every entry point does)."""
from __future__ import annotations

from artiq.coredevice.exceptions import (
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

__all__ = ["RTIOUnderflow", "RTIOOverflow", "RTIODestinationUnreachable", "DMAError",
           "SubkernelError", "ClockFailure", "I2CError", "SPIError", "CacheError",
           "UnwrapNoneError", "CXPError", "CoreException"]
