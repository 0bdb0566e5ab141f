# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.coredevice.rtio``: the RTIO syscalls, simulated (``sim.syscalls``)."""

from sim.syscalls import (  # noqa: F401
    rtio_input_data,
    rtio_input_timestamp,
    rtio_input_timestamped_data,
    rtio_output,
    rtio_output_wide,
)

__all__ = [
    "rtio_output",
    "rtio_output_wide",
    "rtio_input_timestamp",
    "rtio_input_data",
    "rtio_input_timestamped_data",
]
