# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulator's linear algebra on one thread.

The physics' matrices are small (4×4 density matrices, 16×16 super-operators, round tables of a
few thousand rows by 16), and a simulated run calls BLAS many thousand times from one Python
thread. OpenBLAS's worker threads then cost more than they give: each threaded call wakes them,
and between calls they spin on the other core. On the 2-core machine of issue 18 a (3354×16)
complex product took 7–16 ms threaded against 0.12 ms on one thread, and a heralding run at
``target_99_1khz`` used more CPU than wall time (lab/CPU 0.93×, 1.27× on one thread). So a run
holds BLAS to one thread (``threadpoolctl``) and gives the process's setting back afterwards.
Nothing on the simulated timeline depends on it (the same values, the same draws).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

__all__ = ["single_threaded_blas"]


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Within: every BLAS library loaded in the process runs on one thread (restored after)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
