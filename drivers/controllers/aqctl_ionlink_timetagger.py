# SPDX-License-Identifier: LGPL-3.0-or-later
"""``aqctl_ionlink_timetagger``: NDSP controller of the photon time tagger
(:class:`drivers.controllers.timetagger.TimeTagger`, target ``timetagger``). Ports: RPC
``-p`` (default 3274), the tag stream (ZeroMQ PUB, ``--stream-port``, default RPC + 1) and, with
``--simulation``, the simulator's feed (ZeroMQ PULL, ``--feed-port``, default RPC + 2), all bound
to the same addresses (::1 and 127.0.0.1 unless ``--no-localhost-bind``; ``--bind`` adds more).

    aqctl_ionlink_timetagger --simulation
    ionlink-sim run repository/hom.py --tag-feed tcp://127.0.0.1:3276
    ionlink-analyze tags tcp://127.0.0.1:3275          # live histograms, g2, HOM
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from comms.common_args import port_arg
from drivers.controllers.ndsp import (
    ControllerError,
    bind_addresses,
    controller_parser,
    serve_controller,
)

if TYPE_CHECKING:
    from drivers.controllers.timetagger import TimeTagger

__all__ = ["DEFAULT_PORT", "main"]

DEFAULT_PORT = 3274


def _driver(args: argparse.Namespace) -> TimeTagger:
    # here, not at the top: the simulator's device manager imports this module for every run
    # that has the controller in its device database, and the driver would bring in ZeroMQ
    from drivers.controllers.timetagger import TimeTagger, endpoints

    if not args.simulation:
        raise ControllerError("no hardware backend for the time tagger yet: use --simulation")
    hosts = bind_addresses(args)
    stream = args.stream_port if args.stream_port is not None else args.port + 1
    feed = args.feed_port if args.feed_port is not None else args.port + 2
    if len({args.port, stream, feed}) != 3:
        raise ControllerError(
            f"RPC, stream and feed ports must differ ({args.port}, {stream}, {feed})"
        )
    try:
        return TimeTagger(endpoints(hosts, stream), endpoints(hosts, feed))
    except Exception as exc:  # zmq.ZMQError: address in use, bad address
        raise ControllerError(
            f"cannot bind the stream ({stream}) or feed ({feed}) port: {exc}"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``aqctl_ionlink_timetagger``."""
    parser = controller_parser("ionlink photon time tagger controller", DEFAULT_PORT)
    parser.add_argument("--stream-port", type=port_arg, default=None, help="tag stream (PUB) port")
    parser.add_argument(
        "--feed-port", type=port_arg, default=None, help="simulation feed (PULL) port"
    )
    return serve_controller("aqctl_ionlink_timetagger", "timetagger", parser, _driver, argv)


if __name__ == "__main__":
    raise SystemExit(main())
