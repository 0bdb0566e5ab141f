# SPDX-License-Identifier: LGPL-3.0-or-later
"""Simulated ``artiq.coredevice.dma.CoreDMA`` (behaviour of ``artiq/coredevice/dma.py``).

Recording redirects ``rtio_output`` into a trace with timestamps relative to 0 (the cursor is set to
0 on entry and restored on exit); playback replays it at ``now`` through the SED and advances the
cursor by the trace duration. Any ``record``/``erase`` bumps ``epoch`` and so invalidates every
handle.
"""

from __future__ import annotations

from typing import Any

from artiq.language.core import at_mu, delay_mu, now_mu

from sim.rtio.errors import DMAError
from sim.syscalls import (
    bind_hot,
    dma_erase,
    dma_playback,
    dma_record_start,
    dma_record_stop,
    dma_retrieve,
)

__all__ = ["CoreDMA", "DMARecordContextManager"]


class DMARecordContextManager:
    """``with core_dma.record(name):`` — record outputs instead of submitting them."""

    def __init__(self) -> None:
        self.name = ""
        self.saved_now_mu = 0
        self.enable_ddma = False

    def __enter__(self) -> None:
        dma_record_start(self.name)  # raises DMAError when already recording
        self.saved_now_mu = now_mu()
        at_mu(0)

    def __exit__(self, typ: Any, value: Any, tb: Any) -> None:
        dma_record_stop(now_mu(), self.enable_ddma)
        at_mu(self.saved_now_mu)


class CoreDMA:
    """Core device DMA: record, retrieve and play back RTIO event traces."""

    kernel_invariants = {"core", "recorder"}

    def __init__(self, dmgr: Any, core_device: str = "core", **sim_args: Any) -> None:
        bind_hot(globals())  # its per-event calls go straight to the active engine
        self.core = dmgr.get(core_device)
        self.recorder = DMARecordContextManager()
        self.epoch = 0

    def record(self, name: str, enable_ddma: bool = False) -> DMARecordContextManager:
        """Context manager recording a trace under ``name`` (overwrites; invalidates handles)."""
        self.epoch += 1
        self.recorder.name = name
        self.recorder.enable_ddma = enable_ddma
        return self.recorder

    def erase(self, name: str) -> None:
        """Remove a trace (invalidates handles)."""
        self.epoch += 1
        dma_erase(name)

    def playback(self, name: str) -> None:
        """Replay a trace at ``now``. Blocks the CPU until every event is submitted; advances the
        timeline cursor by the trace duration. ``DMAError`` if absent, ``RTIOUnderflow`` at the
        first late event (the rest is discarded)."""
        advance_mu, ptr, uses_ddma = dma_retrieve(name)
        dma_playback(now_mu(), ptr, uses_ddma)
        delay_mu(advance_mu)

    def get_handle(self, name: str) -> tuple[int, int, int, bool]:
        """``(epoch, advance_mu, ptr, uses_ddma)`` for :meth:`playback_handle`."""
        advance_mu, ptr, uses_ddma = dma_retrieve(name)
        return self.epoch, advance_mu, ptr, uses_ddma

    def playback_handle(self, handle: tuple[int, int, int, bool]) -> None:
        """Replay from a handle; ``DMAError("Invalid handle")`` after any record/erase. Advances the
        timeline cursor by the trace duration."""
        epoch, advance_mu, ptr, uses_ddma = handle
        if self.epoch != epoch:
            raise DMAError("Invalid handle")
        dma_playback(now_mu(), ptr, uses_ddma)
        delay_mu(advance_mu)
