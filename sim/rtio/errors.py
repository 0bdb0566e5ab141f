# SPDX-License-Identifier: LGPL-3.0-or-later
"""Core-device exceptions as ARTIQ defines them: a real ARTIQ's own classes when one is installed
(so experiments that catch ``artiq.experiment.RTIOUnderflow`` catch what the simulator raises),
else the stand-in's (:mod:`sim.rtio.standin_errors`, which ``artiq.coredevice.exceptions`` of
the stand-in re-exports)."""

from __future__ import annotations

from sim.artiq_env import real_artiq_available

__all__ = [
    "RTIOUnderflow",
    "RTIOOverflow",
    "RTIODestinationUnreachable",
    "DMAError",
    "SubkernelError",
    "ClockFailure",
    "I2CError",
    "SPIError",
    "CacheError",
    "UnwrapNoneError",
    "CXPError",
    "CoreException",
]

if real_artiq_available():  # pragma: no cover - exercised in the lab
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
else:
    from sim.rtio.standin_errors import (
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
