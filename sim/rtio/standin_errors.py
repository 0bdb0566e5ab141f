# SPDX-License-Identifier: LGPL-3.0-or-later
"""The core-device exceptions as the ARTIQ stand-in defines them (``artiq.coredevice.exceptions``
re-exports them; :mod:`sim.rtio.errors` uses them when no real ARTIQ is installed). Imports
nothing, so that neither side depends on the other."""

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


class CoreException:
    """Information about an exception raised in a kernel (core-device traceback)."""

    def __init__(self, name: str, message: str, params: tuple = (), traceback: list | None = None):
        self.name = name
        self.message = message
        self.params = params
        self.traceback = traceback or []

    def __str__(self) -> str:
        return "Core Device Traceback:\n{}: {}".format(self.name, self.message)


class RTIOUnderflow(Exception):
    """An RTIO event was submitted with a timestamp too close to or behind the RTIO counter.

    The event is discarded; the timeline cursor is not changed.
    """

    artiq_builtin = True


class RTIOOverflow(Exception):
    """An input FIFO overflowed; events were lost. The sticky flag is cleared by this read."""

    artiq_builtin = True


class RTIODestinationUnreachable(Exception):
    """An RTIO event was submitted to a DRTIO destination that is down."""

    artiq_builtin = True


class DMAError(Exception):
    """Invalid DMA operation: nested recording, missing trace or an invalidated handle."""

    artiq_builtin = True


class SubkernelError(Exception):
    """A subkernel failed."""


class ClockFailure(Exception):
    """The RTIO clock failed."""


class I2CError(Exception):
    """An I2C transaction failed."""


class SPIError(Exception):
    """A non-realtime SPI transaction failed."""


class CacheError(Exception):
    """Invalid core-cache operation (replacing a value extracted in the same kernel)."""

    artiq_builtin = True


class UnwrapNoneError(Exception):
    """An option value was None."""

    artiq_builtin = True


class CXPError(Exception):
    """A CoaXPress operation failed."""
