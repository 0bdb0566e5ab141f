# SPDX-License-Identifier: LGPL-3.0-or-later
"""A ZeroMQ endpoint given on a command line (``--tag-feed``, ``ionlink-analyze tags``), checked
before anything runs: ZeroMQ's own parser (a socket connects to it), and for ``tcp://`` a port
from 1 to 65535, which ZeroMQ does not check."""

from __future__ import annotations

import argparse

__all__ = ["check_endpoint", "endpoint_arg"]

EXAMPLE = "tcp://127.0.0.1:3276"


def check_endpoint(address: str) -> str:
    """``address`` if a ZeroMQ socket can connect to it, else :class:`ValueError` (one line)."""
    import zmq  # here: importing this module must not bring in ZeroMQ

    problem = None
    if address.startswith("tcp://"):
        port = address.rpartition(":")[2]
        if not (port.isdigit() and 1 <= int(port) <= 65535):
            problem = "the port must be a number from 1 to 65535"
    if problem is None:
        ctx = zmq.Context()
        sock = ctx.socket(zmq.PUSH)
        sock.setsockopt(zmq.IPV6, 1)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.connect(address)
        except zmq.ZMQError as exc:
            problem = "ZeroMQ: {}".format(zmq.strerror(exc.errno))
        finally:
            sock.close()
            ctx.term()
    if problem is not None:
        raise ValueError(
            "{!r} is not a ZeroMQ address like {} ({})".format(address, EXAMPLE, problem)
        )
    return address


def endpoint_arg(text: str) -> str:
    """``argparse`` type of an endpoint option: :func:`check_endpoint`."""
    try:
        return check_endpoint(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
