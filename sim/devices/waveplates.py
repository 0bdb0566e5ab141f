# SPDX-License-Identifier: LGPL-3.0-or-later
"""The waveplate controller inside the simulator: the same driver as ``aqctl_ionlink_waveplates``
(:class:`drivers.controllers.waveplates.Waveplates`) with a backend bound to the simulated lab.

A move is a blocking host call, as on the real mounts: the RTIO counter (the lab's present)
runs on by the move's duration, and the plates are at their new angles from then on in the
physics world (:meth:`sim.physics.polarisation.PolarisationTracking.set_plates`), which keeps
them between experiments as hardware state. Light that passes during a move sees the old angles.
"""

from __future__ import annotations

from typing import Any

from drivers.controllers.waveplates import DEFAULT_SPEED_DEG_S, NODES, Waveplates, plate_names

__all__ = ["SimWaveplates", "WorldMounts"]


class WorldMounts:
    """Backend moving the plates of the session's physics world (see the module docstring)."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def moved(self, node: str, angles: dict[str, float], duration_s: float) -> None:
        eng = self._session.engine
        eng.advance_counter(int(round(duration_s / eng.ref_period)))
        world = self._session.world
        if world is not None:
            t = max(int(eng.rtio_get_counter()), world.processed_mu)
            world.set_plates(NODES.index(node), angles, t)

    def homed(self, node: str, plates: list[str]) -> None:
        pass

    def close(self) -> None:
        pass


class SimWaveplates(Waveplates):
    """Simulated client of the ``waveplates`` controller (made by the simulator's device manager
    from the device_db's ``controller`` entry).

    :param dmgr: the device manager (its ``ionlink_session`` is the simulated lab).
    :param speed_deg_s: rotation speed, deg/s.
    """

    def __init__(
        self, dmgr: Any, simulation: bool = True, speed_deg_s: float = DEFAULT_SPEED_DEG_S
    ) -> None:
        del simulation
        session = getattr(dmgr, "ionlink_session", None)
        if session is None and hasattr(dmgr, "get"):  # ARTIQ's device manager: the core's lab
            session = getattr(dmgr.get("core"), "session", None)
        if session is None:
            raise RuntimeError("the simulated waveplates need a simulation session")
        world = session.world
        initial: dict[str, float] = {}
        if world is not None:
            for k, node in enumerate(NODES):
                for plate, angle in world.plates_at(k, world.processed_mu).items():
                    initial[f"{node}.{plate}"] = angle
        super().__init__(WorldMounts(session), speed_deg_s, initial)
        assert set(initial) <= set(plate_names())

    def close_rpc(self) -> None:
        """As a pc_rpc client's: nothing to close in process."""
