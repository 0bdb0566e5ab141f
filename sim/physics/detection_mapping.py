# SPDX-License-Identifier: LGPL-3.0-or-later
"""The readout's state-mapping error (``readout.prep_error``: the state mapped wrongly before its
fluorescence is collected) of the network ions' detections (mixed into
:class:`~sim.physics.world.PhysicsWorld`).

A detection starts when the detection light comes on (the switch opens with RF, or the RF
returns while the switch is open); its error is drawn then, once, and flips the bit the ion's
fluorescence shows. Light that returns while the switch stayed open since it went off
(:mod:`.beam_rf`: the DDS at amplitude 0, then back) continues that detection: the ion is
measured again (the same bit if nothing acted on it meanwhile) and keeps the same error, so a dark
ion stays dark. Closing the switch ends the detection: the next one draws its own error (the
model has no separate shelving step; each detection maps the state anew). A gap longer than the
history the engine keeps for the world (:data:`~sim.rtio.retire.KEEP_MU`, 10 ms) ends it too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.rtio.retire import KEEP_MU

__all__ = ["DetectionMapping"]


class DetectionMapping:
    """The detections' state-mapping errors (mixed into the physics world)."""

    lab: Any
    view: Any
    rng: np.random.Generator
    _beam_ch: list[dict[str, int]]

    def _init_mapping(self) -> None:
        #: per node, the error of its current (or last) detection: 1 flips its bit
        self._map_flip = [0, 0]
        #: per node, when its detection light last went off with the switch open (the RF
        #: off: :meth:`_detect_dark`), None otherwise
        self._dark_gap: list[int | None] = [None, None]
        #: per node, the times of the changes of detection light made by the RF while the
        #: switch was open, ascending, not yet processed (:meth:`BeamLight._rf_events` adds them)
        self._rf_detect_t: list[list[int]] = [[], []]

    def _mapping_error(self, t: int, k: int) -> int:
        """The mapping error (0 or 1) of node ``k``'s detection whose light comes on at ``t``:
        its own draw, or the one of the detection it continues (see the module docstring)."""
        gap, self._dark_gap[k] = self._dark_gap[k], None
        if (
            self._by_rf(t, k)
            and gap is not None
            and t - gap <= KEEP_MU
            and not self.view.ttl_levels(self._beam_ch[k]["detect"], gap, t + 1)
        ):
            return self._map_flip[k]  # the switch stayed open: the same detection
        p = self.lab.nodes[k].readout.prep_error
        flip = 1 if p and self.rng.random() < p else 0
        self._map_flip[k] = flip
        return flip

    def _detect_dark(self, t: int, k: int) -> None:
        """Node ``k``'s detection light went off at ``t``: by its RF while the switch stays
        open (a gap the detection may continue after), or by its switch (it ends)."""
        self._dark_gap[k] = t if self._by_rf(t, k) else None

    def _by_rf(self, t: int, k: int) -> bool:
        """Whether node ``k``'s change of detection light at ``t`` was made by the RF while
        the switch was open (the record of earlier ones is dropped)."""
        times = self._rf_detect_t[k]
        if not times:
            return False
        while times and times[0] < t:
            times.pop(0)
        if times and times[0] == t:
            times.pop(0)
            return True
        return False
