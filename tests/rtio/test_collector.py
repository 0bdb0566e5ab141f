# SPDX-License-Identifier: LGPL-3.0-or-later
"""The cyclic garbage collector around kernels (:mod:`sim.collector`): paused while a kernel runs,
running during its RPCs (a young pass due by the RPCs' own allocations, not the kernel's) and after
it (also when it raises); under ``keep_kernel_objects`` what a kernel allocated is frozen at its
end."""

from __future__ import annotations

import gc
import threading

import pytest
from artiq.language.core import rpc

from sim import collector


def test_paused_in_kernel_running_in_rpc_and_after(env):
    seen = {}

    class Host:
        @rpc
        def probe(self) -> None:
            seen["rpc"] = gc.isenabled()

        def k(self):
            seen["kernel"] = gc.isenabled()
            self.probe()
            seen["after rpc"] = gc.isenabled()

        def fails(self):
            raise ValueError("kernel error")

    assert gc.isenabled()
    env.run(Host.k, Host())
    assert seen == {"kernel": False, "rpc": True, "after rpc": False}
    assert gc.isenabled()
    with pytest.raises(ValueError):
        env.run(Host.fails, Host())
    assert gc.isenabled()


def test_rpc_young_pass_due_by_the_rpcs_allocations_only(env):
    """A kernel that allocated far beyond the young threshold makes no pass in a quiet RPC (the
    plain threshold would collect at its first allocation); RPCs that together allocate beyond
    it do make one; the threshold is the caller's again after each RPC."""
    threshold = gc.get_threshold()
    n = threshold[0]
    young = []  # passes while the probe is on (each collects the young generation)
    held: list = []
    seen = {}

    me = threading.get_ident()

    def count(phase: str, info: dict) -> None:
        # (only passes this thread's allocations made: a thread left running by another test,
        # e.g. an event loop, may collect on its own at any time; any generation: a young pass
        # that finds generation 1 over its own threshold collects generation 1 with it, and is
        # reported as that — one young pass in ten, by the collector's state when the test starts)
        if phase == "stop" and threading.get_ident() == me:
            young.append(1)

    class Host:
        @rpc
        def quiet(self) -> None:
            seen.setdefault("threshold in rpc", gc.get_threshold())

        @rpc
        def busy(self) -> None:
            held.extend([i] for i in range(n // 3 + 1))  # a third of the threshold, tracked

        def k(self):
            held.extend([i] for i in range(5 * n))  # the kernel: 5 thresholds, tracked
            gc.callbacks.append(count)
            try:
                self.quiet()
                seen["after quiet"] = len(young)
                for _ in range(4):
                    self.busy()
                seen["after busy"] = len(young)
            finally:
                gc.callbacks.remove(count)
            seen["threshold after"] = gc.get_threshold()

    env.run(Host.k, Host())
    assert seen["after quiet"] == 0
    assert seen["after busy"] >= 1
    assert seen["threshold in rpc"][0] > n  # (moved past the kernel's allocations)
    assert seen["threshold after"] == threshold
    assert gc.get_threshold() == threshold


def test_collector_off_stays_off(env):
    seen = []
    gc.disable()
    try:
        env.run(lambda: seen.append(gc.isenabled()))
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert seen == [False]


def test_kernel_objects_frozen_at_kernel_end_when_kept(env):
    held = []

    def k() -> None:
        held.extend([i] for i in range(1000))  # tracked objects that outlive the kernel

    # (frozen objects that die leave the permanent generation: its count may fall at any time,
    # e.g. when an earlier test's sockets are released, but only gc.freeze() raises it)
    frozen = gc.get_freeze_count()
    try:
        env.run(k)
        assert gc.get_freeze_count() <= frozen  # by default left to the collector
        with collector.keep_kernel_objects():
            env.run(k)
        assert gc.get_freeze_count() >= frozen + 1000
        env.run(k)
        after = gc.get_freeze_count()
        env.run(k)
        assert gc.get_freeze_count() <= after  # the policy ends with the block
    finally:
        gc.unfreeze()
    assert gc.isenabled()


def test_final_collection_skipped_only_after_a_kept_run(monkeypatch):
    frozen = gc.get_freeze_count()
    monkeypatch.setattr(collector._S, "kept", False)
    gc.unfreeze()
    try:
        collector.skip_final_collection()
        assert gc.get_freeze_count() == 0  # no run kept its objects: the collector is untouched
        with collector.keep_kernel_objects():
            pass
        collector.skip_final_collection()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        if frozen:
            gc.freeze()
