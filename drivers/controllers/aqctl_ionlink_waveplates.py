# SPDX-License-Identifier: LGPL-3.0-or-later
"""``aqctl_ionlink_waveplates``: NDSP controller of the compensators' motorised waveplates
(:class:`drivers.controllers.waveplates.Waveplates`, target ``waveplates``, default port 3280).

    aqctl_ionlink_waveplates --simulation            # on ::1 and 127.0.0.1, port 3280
    aqctl_ionlink_waveplates --simulation -p 4000 --bind 10.0.0.5
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from drivers.controllers.ndsp import ControllerError, controller_parser, serve_controller
from drivers.controllers.waveplates import DEFAULT_SPEED_DEG_S, SimulatedMounts, Waveplates

__all__ = ["DEFAULT_PORT", "SIM_CLASS", "main"]

DEFAULT_PORT = 3280
#: What the simulator puts in place of this controller's client (``sim.device_manager``).
SIM_CLASS = "sim.devices.waveplates.SimWaveplates"


def _driver(args: argparse.Namespace) -> Waveplates:
    if not args.simulation:
        raise ControllerError(
            "no hardware backend for the rotation mounts yet: use --simulation "
            f"(-d {args.device!r} given)"
            if args.device
            else "no hardware backend for the rotation mounts yet: use --simulation"
        )
    return Waveplates(SimulatedMounts(), speed_deg_s=args.speed)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``aqctl_ionlink_waveplates``."""
    parser = controller_parser("ionlink motorised waveplates controller", DEFAULT_PORT)
    parser.add_argument(
        "--speed", type=float, default=DEFAULT_SPEED_DEG_S, help="rotation speed, deg/s"
    )
    return serve_controller("aqctl_ionlink_waveplates", "waveplates", parser, _driver, argv)


if __name__ == "__main__":
    raise SystemExit(main())
