# SPDX-License-Identifier: LGPL-3.0-or-later
"""Python's cyclic garbage collector around simulated kernels.

A kernel logs every output event as a small tuple that lives as long as its run: millions in a long
pulse train. The collector's young passes visit each new tuple once and find nothing to free
(≈ 5 % of ``ionlink-sim run``'s time per event); the simulator's kernels make almost no cyclic
garbage (a gateware-heralding run of 1200 heralds frees the same ≈ 1200 objects by collection as
one of 300). So while a kernel runs, automatic collection is paused (:func:`kernel_running`); it
runs during the kernel's RPCs (:func:`rpc_running`: host code, which may make garbage) and again
once the kernel has ended. During a kernel the young generation's clock counts the RPCs'
allocations only: CPython counts every tracked allocation, the kernel's too, so with the plain
threshold nearly every RPC would start with a young pass over what the kernel made since the last
one (≈ 280 young passes and their older ones in 1000 heralds at ``oxford2020``, ≈ 4 % of the
run, for a few dozen objects freed); an RPC instead moves the threshold past the kernel's
allocations, so that a young pass comes once the RPCs together have allocated the threshold's
number of objects since the last one, as the host code alone would trigger it.

A process that keeps what its kernels allocate to its end (``ionlink-sim run``) says so with
:func:`keep_kernel_objects`: the end of each kernel then moves what is tracked out of the
collector's view (``gc.freeze``) instead of leaving it to the next young pass, and
:func:`skip_final_collection` spares the interpreter's last pass at exit over the run's objects
(every file is closed by then: it only frees memory the process returns anyway). Nothing here
touches the simulated timeline.
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator

__all__ = ["kernel_running", "rpc_running", "keep_kernel_objects", "skip_final_collection"]


class _State:
    paused = False  # automatic collection paused by the running kernel
    freeze_at_end = False  # the process keeps the kernels' objects (keep_kernel_objects)
    kept = False  # a run of this process kept its kernels' objects
    #: tracked objects the host allocated (net) since the last young pass, while kernels run
    rpc_made = 0


_S = _State()


@contextlib.contextmanager
def kernel_running() -> Iterator[None]:
    """Pause automatic collection while the outermost kernel runs (no-op if it is off already);
    resumed when the kernel ends, also by an exception."""
    if _S.paused or not gc.isenabled():
        yield
        return
    gc.disable()
    _S.paused = True
    _S.rpc_made = gc.get_count()[0]  # the host's allocations since the last young pass
    try:
        yield
    finally:
        _S.paused = False
        if _S.freeze_at_end:
            gc.freeze()
        gc.enable()


class _RpcRunning:
    """:func:`rpc_running`'s context (a class, not a generator: one is entered per RPC)."""

    __slots__ = ("resumed", "count", "threshold", "moved")

    def __enter__(self) -> None:
        self.resumed = _S.paused
        if self.resumed:
            # the young pass comes once the RPCs have allocated threshold0 objects since the
            # last one: the kernel's allocations (counted as well) are stepped over
            self.count = count = gc.get_count()[0]
            self.threshold = threshold = gc.get_threshold()
            if threshold[0] > 0:
                self.moved = (
                    count + max(threshold[0] - _S.rpc_made, 1),
                    threshold[1],
                    threshold[2],
                )
                gc.set_threshold(*self.moved)
            gc.enable()
            _S.paused = False

    def __exit__(self, *exc: object) -> None:
        if self.resumed:
            _S.paused = True
            gc.disable()
            threshold = self.threshold
            if threshold[0] > 0:
                count = gc.get_count()[0]
                # after a young pass the count restarts from 0 (then it is what the RPC made
                # since); without one it moved by what the RPC made (frees count down)
                _S.rpc_made = min(count, max(_S.rpc_made + count - self.count, 0))
                if gc.get_threshold() == self.moved:  # (unless the RPC set its own)
                    gc.set_threshold(*threshold)


def rpc_running() -> _RpcRunning:
    """Collect during an RPC of a kernel that paused collection, the young pass due by the
    RPCs' own allocations (see the module docstring)."""
    return _RpcRunning()


@contextlib.contextmanager
def keep_kernel_objects() -> Iterator[None]:
    """Within: what a kernel allocated is frozen when it ends (see the module docstring)."""
    before = _S.freeze_at_end
    _S.freeze_at_end = _S.kept = True
    try:
        yield
    finally:
        _S.freeze_at_end = before


def skip_final_collection() -> None:
    """If a run kept its kernels' objects (:func:`keep_kernel_objects`), freeze everything now, at
    the end of the process: the interpreter's final collection then neither visits nor frees the
    run's objects one by one. Only for a process about to exit, its files closed."""
    if _S.kept:
        gc.freeze()
