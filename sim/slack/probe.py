# SPDX-License-Identifier: LGPL-3.0-or-later
"""The slack of every submission, by kernel source line, run by run.

A :class:`SlackProbe` attached to an engine (:meth:`SlackProbe.attach`, e.g. as a
``Simulation(engine_setup=...)``) wraps its output path (``RTIOEngine.wrap_output``; nothing is
wrapped without a probe, so a plain run's hot path is unchanged) and notes, for each submission,
the slack ``timestamp − RTIO counter`` once the event is in (or was refused: an underflow is
noted with its slack and counted) under the kernel source line that made it: the innermost frame
outside the simulator (``sim.rtio.summary.source_line``), i.e. a line of the experiment or of a
driver in ``drivers/``. DMA playback submits its trace's events from the line that played it.
Costs ≈ 2 µs of host time per submission; the entangler's fast-forward is off while attached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from sim.rtio.errors import RTIOUnderflow
from sim.rtio.summary import source_line

__all__ = ["LineRun", "RunSlack", "SlackProbe"]


@dataclass(frozen=True)
class LineRun:
    """One line's submissions in one run: minimum slack (mu), underflows, and every slack value
    with its multiplicity."""

    min_mu: int
    underflows: int
    values: np.ndarray
    counts: np.ndarray


@dataclass
class RunSlack:
    """One run's :class:`LineRun` by ``file:line``."""

    lines: dict[str, LineRun] = field(default_factory=dict)


class SlackProbe:
    """Records the slack of each submission by source line; :meth:`start_run`/:meth:`end_run`
    delimit runs."""

    def __init__(self) -> None:
        self._samples: dict[str, list[int]] = {}
        self._underflows: dict[str, int] = {}

    def attach(self, engine: Any) -> None:
        """Wrap ``engine``'s output path (one engine per session: call for each)."""
        samples, underflows = self._samples, self._underflows

        def wrap(inner: Callable[[int, Any], None]) -> Callable[[int, Any], None]:
            def probed(target: int, data: Any) -> None:
                ts = engine.now
                try:
                    inner(target, data)
                except RTIOUnderflow:
                    where = source_line()
                    underflows[where] = underflows.get(where, 0) + 1
                    samples.setdefault(where, []).append(ts - engine.counter)
                    raise
                where = source_line()
                lst = samples.get(where)
                if lst is None:
                    lst = samples[where] = []
                lst.append(ts - engine.counter)

            return probed

        engine.wrap_output(wrap)

    def start_run(self) -> None:
        """Forget what was recorded since the last :meth:`end_run`."""
        self._samples.clear()
        self._underflows.clear()

    def end_run(self) -> RunSlack:
        """What was recorded since :meth:`start_run`, per line."""
        out = RunSlack()
        for where, lst in self._samples.items():
            values, counts = np.unique(np.asarray(lst, dtype=np.int64), return_counts=True)
            out.lines[where] = LineRun(
                int(values[0]), self._underflows.get(where, 0), values, counts
            )
        self.start_run()
        return out
