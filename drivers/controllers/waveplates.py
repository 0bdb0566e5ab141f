# SPDX-License-Identifier: LGPL-3.0-or-later
"""Motorised waveplates (Thorlabs K10CR1 / Elliptec ELL14 class): one controller for the
rotation mounts of both nodes' polarisation compensators and reference plates.

Plates are named ``<node>.<plate>``: ``a.qwp1``, ``a.hwp``, ``a.qwp2`` (the compensator after
node A's fibre, in beam order), ``a.ref`` (the reference light's half-wave plate), and the same
for ``b`` (:data:`drivers.polarisation.PLATES`). Angles are in degrees, in [0, 360). A move blocks
until the mount has arrived, as the devices' "move absolute" commands do; its duration is
``|Δ| / speed`` (the shorter way round).

:class:`Waveplates` is the driver the RPC server exposes: ``--simulation`` gives it an
in-memory :class:`SimulatedMounts` backend. (No hardware backend is written yet: a real bus
needs a backend with :class:`MountBus`'s three methods.) Inside the simulator the same driver
runs in the experiment's process with a backend bound to the simulated lab
(:mod:`sim.devices.waveplates`), so that the plates turn the photons' polarisation.
"""

import logging
import math
from dataclasses import dataclass
from typing import Protocol

from drivers.polarisation import PLATES

__all__ = [
    "DEFAULT_SPEED_DEG_S",
    "NODES",
    "MountBus",
    "SimulatedMounts",
    "WaveplateError",
    "Waveplates",
    "plate_names",
]

logger = logging.getLogger(__name__)

NODES = ("a", "b")
#: ELL14-class rotation speed, deg/s.
DEFAULT_SPEED_DEG_S = 180.0


class WaveplateError(ValueError):
    """A request the mounts cannot carry out (unknown plate, angle not a finite number, ...)."""


def plate_names() -> list[str]:
    """Every plate's name, ``<node>.<plate>``."""
    return [f"{n}.{p}" for n in NODES for p in PLATES]


def _split(plate: str) -> tuple[str, str]:
    node, _, name = str(plate).partition(".")
    if node not in NODES or name not in PLATES:
        raise WaveplateError(f"no waveplate {plate!r} (have {', '.join(plate_names())})")
    return node, name


def _angle(value: float) -> float:
    try:
        a = float(value)
    except (TypeError, ValueError):
        raise WaveplateError(f"angle {value!r} is not a number of degrees") from None
    if not math.isfinite(a):
        raise WaveplateError(f"angle {value!r} is not finite")
    return a % 360.0


def travel_deg(start: float, target: float) -> float:
    """Shortest rotation from ``start`` to ``target`` (deg), ≥ 0."""
    d = abs(target - start) % 360.0
    return min(d, 360.0 - d)


class MountBus(Protocol):
    """What a backend of rotation mounts offers."""

    def moved(self, node: str, angles: dict[str, float], duration_s: float) -> None:
        """The plates of ``node`` have been moved to ``angles`` (deg) taking ``duration_s``."""

    def homed(self, node: str, plates: list[str]) -> None:
        """The named plates of ``node`` have been homed (to 0°)."""

    def close(self):
        """Release the bus."""


class SimulatedMounts:
    """Backend of ``--simulation``: the mounts move at once (no wall-clock wait) and log."""

    def moved(self, node: str, angles: dict[str, float], duration_s: float) -> None:
        logger.info("node %s: plates at %s (%.3f s move)", node, angles, duration_s)

    def homed(self, node: str, plates: list[str]) -> None:
        logger.info("node %s: %s homed", node, plates)

    def close(self):
        pass


@dataclass
class _Mount:
    position_deg: float = 0.0
    homed: bool = False


class Waveplates:
    """Controller of the compensators' rotation mounts (see the module docstring).

    :param backend: the mounts (:class:`SimulatedMounts` for ``--simulation``).
    :param speed_deg_s: rotation speed, deg/s.
    :param initial: the plates' angles at start (deg, ``{"a.qwp1": ...}``; others at 0°).
    """

    def __init__(
        self,
        backend: MountBus,
        speed_deg_s: float = DEFAULT_SPEED_DEG_S,
        initial: dict[str, float] | None = None,
    ) -> None:
        if not speed_deg_s > 0:
            raise WaveplateError(f"speed {speed_deg_s!r} deg/s must be > 0")
        self._backend = backend
        self._speed = float(speed_deg_s)
        self._mounts = {name: _Mount() for name in plate_names()}
        for name, a in (initial or {}).items():
            _split(name)
            self._mounts[name].position_deg = _angle(a)
        self._closed = False

    def ping(self) -> bool:
        """True while the controller is up (ARTIQ's controller manager calls it)."""
        return not self._closed

    def plates(self) -> list[str]:
        """Names of all plates, ``<node>.<plate>``."""
        return plate_names()

    def position(self, plate: str) -> float:
        """Angle of ``plate`` in degrees, [0, 360)."""
        _split(plate)
        return self._mounts[plate].position_deg

    def positions(self) -> dict[str, float]:
        """Every plate's angle in degrees."""
        return {name: m.position_deg for name, m in self._mounts.items()}

    def move_to(self, plate: str, angle_deg: float) -> float:
        """Rotate ``plate`` to ``angle_deg`` (deg, taken modulo 360); blocks until it is there.

        :return: the move's duration in s."""
        return self.move_node(_split(plate)[0], {_split(plate)[1]: angle_deg})

    def move_by(self, plate: str, delta_deg: float) -> float:
        """Rotate ``plate`` by ``delta_deg`` (deg). :return: the move's duration in s."""
        return self.move_to(plate, self.position(plate) + _angle(delta_deg))

    def move_node(self, node: str, angles: dict[str, float]) -> float:
        """Rotate several plates of ``node`` (``{"qwp1": deg, ...}``) together; blocks until all
        are there. :return: the duration in s (the longest travel over the speed)."""
        if node not in NODES:
            raise WaveplateError(f"no node {node!r} (have {', '.join(NODES)})")
        if not isinstance(angles, dict) or not angles:
            raise WaveplateError("angles must be a non-empty dict {plate: degrees}")
        targets = {}
        for name, value in angles.items():
            _split(f"{node}.{name}")
            targets[name] = _angle(value)
        travel = max(
            travel_deg(self._mounts[f"{node}.{p}"].position_deg, a) for p, a in targets.items()
        )
        duration = travel / self._speed
        self._backend.moved(node, targets, duration)
        for name, a in targets.items():
            self._mounts[f"{node}.{name}"].position_deg = a
        return duration

    def home(self, plate: str) -> float:
        """Home ``plate`` (turn to its index, 0°). :return: the duration in s."""
        node, name = _split(plate)
        duration = self.move_node(node, {name: 0.0})
        self._backend.homed(node, [name])
        self._mounts[plate].homed = True
        return duration

    def is_homed(self, plate: str) -> bool:
        """Whether ``plate`` was homed since the controller started."""
        _split(plate)
        return self._mounts[plate].homed

    def get_speed(self) -> float:
        """Rotation speed in deg/s."""
        return self._speed

    def close(self):
        """Release the mounts (called once when the controller stops)."""
        if not self._closed:
            self._closed = True
            self._backend.close()
