# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.coredevice.core``: the simulated core device."""

from sim.devices.core import Core  # noqa: F401
from sim.syscalls import (  # noqa: F401
    rtio_get_counter,
    rtio_get_destination_status,
    rtio_init,
    test_exception_id_sync,
)

__all__ = [
    "Core",
    "rtio_get_counter",
    "rtio_init",
    "rtio_get_destination_status",
    "test_exception_id_sync",
]
