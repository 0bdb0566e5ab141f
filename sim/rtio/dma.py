# SPDX-License-Identifier: LGPL-3.0-or-later
"""DMA recording and playback, and the core's key-value cache (ARTIQ's ``core_dma`` and
``core_cache`` syscalls).

While DMA records, submissions go into the trace instead of the SED (each charged
``dma_record_event``); playback submits the trace through the SED at a new start time, the CPU
blocked until every event is in, and stops at the first underflow.
"""

from __future__ import annotations

from typing import Any, Callable

from sim.rtio.errors import CacheError, DMAError, RTIOUnderflow

__all__ = ["DMACache"]


class DMACache:
    """DMA traces and core cache (mixed into the engine)."""

    now: int
    counter: int
    costs: Any
    _c_out: int
    rtio_output: Callable[[int, Any], None]
    channel_name: Callable[[int], str]
    _swap_output: Callable[[], None]

    def _init_dma(self) -> None:
        self._rec: tuple[str, list] | None = None
        self.dma_traces: dict[str, tuple[int, list, int]] = {}
        self._dma_ptr = 0
        self.cache: dict[str, list[int]] = {}
        self._cache_taken: set[str] = set()

    # ------------------------------------------------------------------ DMA
    def _record(self, target: int, data: int) -> None:
        self.counter += self.costs.dma_record_event
        self._rec[1].append((self.now, target, data))  # type: ignore[index]

    def dma_record_start(self, name: str) -> None:
        """Syscall: redirect outputs into a trace."""
        if self._rec is not None:
            raise DMAError("DMA is already recording")
        self._rec = (name, [])
        self._swap_output()

    def dma_record_stop(self, duration: int, enable_ddma: bool = False) -> None:
        """Syscall: store the recorded trace with its duration (the cursor at ``__exit__``)."""
        if self._rec is None:
            raise DMAError("DMA is not recording")
        name, events = self._rec
        self._rec = None
        self._swap_output()
        self._dma_ptr += 1
        self.dma_traces[name] = (int(duration), events, self._dma_ptr)

    def dma_erase(self, name: str) -> None:
        self.dma_traces.pop(name, None)

    def dma_retrieve(self, name: str) -> tuple[int, int, bool]:
        """Syscall: ``(duration, ptr, uses_ddma)``; a missing name raises
        ``DMAError("DMA trace not found")``."""
        try:
            duration, _, ptr = self.dma_traces[name]
        except KeyError:
            raise DMAError("DMA trace not found") from None
        return duration, ptr, False

    def dma_playback(self, timestamp: int, ptr: int, enable_ddma: bool = False) -> None:
        """Syscall: replay a trace at ``timestamp`` through the SED. The CPU blocks until every
        event is submitted; at the first underflow the DMA engine discards the rest and the kernel
        gets ``RTIOUnderflow`` after playback."""
        for _, events, p in self.dma_traces.values():
            if p == ptr:
                break
        else:
            raise DMAError("Invalid DMA trace pointer")
        self.counter += self.costs.dma_playback_start
        per_event = self.costs.dma_playback_event
        saved_now, saved_cost = self.now, self._c_out
        self._c_out = per_event
        error = None
        try:
            for rel, target, data in events:
                self.now = timestamp + rel
                try:
                    self.rtio_output(target, data)
                except RTIOUnderflow:
                    error = "RTIO underflow at channel 0x{:04x}:{}, {} mu".format(
                        target >> 8, self.channel_name(target >> 8), self.now
                    )
                    break
        finally:
            self.now, self._c_out = saved_now, saved_cost
        if error is not None:
            raise RTIOUnderflow(error)

    # ------------------------------------------------------------------ cache
    def cache_get(self, key: str) -> list[int]:
        """Syscall: the stored list (empty if absent); marks the key as extracted in this kernel."""
        self.counter += self.costs.cache
        self._cache_taken.add(key)
        return list(self.cache.get(key, []))

    def cache_put(self, key: str, value: list[int]) -> None:
        """Syscall: store a list; replacing a value extracted in this kernel → ``CacheError``."""
        self.counter += self.costs.cache
        if key in self._cache_taken and key in self.cache:
            raise CacheError("cannot put into a busy cache row")
        self.cache[key] = [int(v) for v in value]
