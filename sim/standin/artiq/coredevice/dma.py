# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.coredevice.dma``: simulated core DMA and its syscalls."""

from sim.devices.dma import CoreDMA, DMARecordContextManager  # noqa: F401
from sim.syscalls import dma_erase, dma_playback, dma_record_start, dma_record_stop, dma_retrieve  # noqa: F401

__all__ = [
    "CoreDMA",
    "DMARecordContextManager",
    "dma_record_start",
    "dma_record_stop",
    "dma_erase",
    "dma_retrieve",
    "dma_playback",
]
