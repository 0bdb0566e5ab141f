# SPDX-License-Identifier: LGPL-3.0-or-later
"""What the waveform file needs beyond the engine's own logs, recorded only when one is requested.

The engine keeps every output submission (levels, gate sensitivities, DDS states and entangler
register writes are resolved from those); it does not keep the input edges the worlds deliver to
the input PHYs (each PHY consumes them), the times of ``core.reset()`` (which close every input
gate) or an account of each entangler run. A :class:`WaveRecorder` on
:attr:`sim.rtio.engine.RTIOEngine.recorder` collects them; without one (no VCD requested) nothing
is recorded and nothing costs time. Recording never changes the timeline: it only copies what
the engine and the PHYs compute anyway.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["EntanglerRun", "WaveRecorder"]


@dataclass(frozen=True, slots=True)
class EntanglerRun:
    """One run of the entangler core (``run_until_herald``), all times in mu.

    :param t_start_mu: the RUN write (the first cycle starts here).
    :param t_end_mu: end of the last cycle (the input event with the result is timestamped here).
    :param data: what the kernel reads: the matched herald slots (1, 2, 4, 8) or 0x3fff (timeout).
    :param pattern: detector pattern (bit i = gate input i clicked) of the last cycle; 0 on timeout.
    :param cycles: number of cycles the run executed.
    """

    t_start_mu: int
    t_end_mu: int
    data: int
    pattern: int
    cycles: int


@dataclass
class WaveRecorder:
    """Recorded data for the VCD (see the module docstring).

    :ivar edges: RTIO input channel → ``(t_mu, level)`` transitions delivered to its PHY by the
        worlds (physics, loopback), whether or not the kernel's gate was open.
    :ivar resets: RTIO counter (mu) of every ``core.reset()`` (``rtio_init``).
    :ivar entangler_runs: entangler RTIO channel → its runs, in order.
    :ivar entangler_clicks: entangler RTIO channel → ``(gate input, t_mu)`` of the clicks of each
        run's heralding cycle (the one cycle the fast path samples click by click; the other
        cycles' clicks exist only as the core's counters).
    """

    edges: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    resets: list[int] = field(default_factory=list)
    entangler_runs: dict[int, list[EntanglerRun]] = field(default_factory=dict)
    entangler_clicks: dict[int, list[tuple[int, int]]] = field(default_factory=dict)

    def add_edges(self, channel: int, edges: list[tuple[int, int]]) -> None:
        """Input transitions ``(t_mu, level)`` that reached the PHY of ``channel``."""
        log = self.edges.get(channel)
        if log is None:
            log = self.edges[channel] = []
        log.extend(edges)

    def add_run(self, channel: int, run: EntanglerRun,
                clicks: list[tuple[int, int]] | None = None) -> None:
        """One entangler run on ``channel`` and the clicks ``(gate input, t_mu)`` of its last
        cycle."""
        self.entangler_runs.setdefault(channel, []).append(run)
        if clicks:
            self.entangler_clicks.setdefault(channel, []).extend(clicks)
