# SPDX-License-Identifier: LGPL-3.0-or-later
"""What the waveform file needs beyond the engine's own logs, recorded only when one is requested.

The engine keeps every output submission (levels, gate sensitivities, DDS states and entangler
register writes are resolved from those); it does not keep the input edges the worlds deliver to
the input PHYs (each PHY consumes them), the times of ``core.reset()`` (which close every input
gate), an account of each entangler run and the clicks of its cycles, or the RTIO exceptions
(:mod:`sim.rtio.exception_log`). A :class:`WaveRecorder` on
:attr:`sim.rtio.engine.RTIOEngine.recorder` collects them; without one (no VCD requested) nothing
is recorded and nothing costs time. Recording never changes the timeline: it only copies what
the engine and the PHYs compute anyway, and what it draws for the waveform alone (where the
clicks of an entangler run's non-herald cycles fall) comes from its own generator
:attr:`WaveRecorder.rng`, never from the simulation's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy

from sim.rtio.exception_log import ExceptionMark
from sim.seed import generator_words

__all__ = ["EntanglerRun", "WaveRecorder"]

_WAVEFORM_STREAM = 0x76_63_64  # second seed word of the waveform-only generator ("vcd")


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
    :ivar entangler_clicks: entangler RTIO channel → ``(gate input, t_mu)`` of the clicks of every
        cycle of its runs (the heralding cycle as the fast path sampled it; the non-herald cycles
        materialised for the waveform from the pattern counts the PHY drew).
    :ivar exceptions: every RTIO exception met, in the order met (:mod:`sim.rtio.exception_log`).
    :ivar rng: the generator of what is drawn for the waveform only, separate from the
        simulation's generator but determined by its state (:meth:`follow`).
    :ivar on_run: called with the entangler's RTIO channel, the run and its number of clicks
        after each run is recorded (a time tagger's feed, :mod:`sim.tag_feed`), else None.
    """

    edges: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    resets: list[int] = field(default_factory=list)
    entangler_runs: dict[int, list[EntanglerRun]] = field(default_factory=dict)
    entangler_clicks: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    exceptions: list[ExceptionMark] = field(default_factory=list)
    rng: Any = field(default_factory=numpy.random.default_rng)
    on_run: Callable[[int, EntanglerRun, int], None] | None = None

    def follow(self, rng: numpy.random.Generator) -> None:
        """Draw the waveform-only numbers from now on from a stream that the state of the
        simulation's generator ``rng`` determines, without drawing from ``rng`` (a session
        restored from a stored hardware state continues that state's stream: its seed alone
        would repeat one waveform stream in every experiment, or have none to give)."""
        self.rng = numpy.random.default_rng([*generator_words(rng), _WAVEFORM_STREAM])

    def add_edges(self, channel: int, edges: list[tuple[int, int]]) -> None:
        """Input transitions ``(t_mu, level)`` that reached the PHY of ``channel``."""
        log = self.edges.get(channel)
        if log is None:
            log = self.edges[channel] = []
        log.extend(edges)

    def add_run(
        self, channel: int, run: EntanglerRun, clicks: list[tuple[int, int]] | None = None
    ) -> int:
        """One entangler run on ``channel`` and the clicks ``(gate input, t_mu)`` of its cycles;
        returns the index of the first of them in ``entangler_clicks[channel]``."""
        self.entangler_runs.setdefault(channel, []).append(run)
        log = self.entangler_clicks.setdefault(channel, [])
        first = len(log)
        if clicks:
            log.extend(clicks)
        if self.on_run is not None:
            self.on_run(channel, run, len(clicks) if clicks else 0)
        return first

    def move_click(self, channel: int, index: int, t_mu: int) -> None:
        """Click ``index`` of ``channel``'s runs happened at ``t_mu`` (a timestamp the simulation
        drew after the run, when the kernel read it)."""
        log = self.entangler_clicks[channel]
        log[index] = (log[index][0], int(t_mu))
