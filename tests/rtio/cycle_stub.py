# SPDX-License-Identifier: LGPL-3.0-or-later
"""A scripted cycle law's declared methods (:class:`sim.fastforward.CycleLaw`) beside its
``sample``: the tests' stand-ins for :class:`sim.physics.attempts.CycleModel` inherit them."""

from __future__ import annotations

from typing import Any


class StubLaw:
    """``first_edge`` from :meth:`sample`; no clicks of plain cycles for the waveform."""

    def sample(self, rng: Any, allowed: Any) -> Any:
        raise NotImplementedError

    def first_edge(self, rng: Any, allowed: Any, i: int) -> int:
        return int(self.sample(rng, allowed).first_edge[i])

    def plain_cycle_clicks(self, rng: Any, counts: Any, n_cycles: int) -> list[Any]:
        return []
