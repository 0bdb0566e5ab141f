# SPDX-License-Identifier: LGPL-3.0-or-later
"""Simulated ``artiq.coredevice.cache.CoreCache`` (``artiq/coredevice/cache.py``): a key →
list[int32] store in core-device memory that persists across kernels and experiments of a
session."""

from __future__ import annotations

from typing import Any

from sim.syscalls import cache_get, cache_put

__all__ = ["CoreCache"]


class CoreCache:
    """Core device cache."""

    kernel_invariants = {"core"}

    def __init__(self, dmgr: Any, core_device: str = "core", **sim_args: Any) -> None:
        self.core = dmgr.get(core_device)

    def get(self, key: str) -> list[int]:
        """The stored list (empty if absent). Does not modify the timeline cursor."""
        return cache_get(key)

    def put(self, key: str, value: list[int]) -> None:
        """Store ``value``; replacing a value extracted in the same kernel raises ``CacheError``."""
        cache_put(key, value)
