# SPDX-License-Identifier: LGPL-3.0-or-later
"""The command line every ionlink controller shares, following ARTIQ's NDSP conventions:
``--simulation``, ``-d/--device``, ``-p/--port``, ``--bind`` (repeatable), ``--no-localhost-bind``
(by default the server listens on ::1 and 127.0.0.1 only), ``-v``/``-q``. The driver is served
with pc_rpc (sipyco's where it is installed, else :mod:`comms.pc_rpc`, the same wire protocol)
until a client calls ``terminate`` (``artiq_ctlmgr`` does) or SIGINT/SIGTERM arrives; its
``close()`` runs in every case.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from comms.backend import protocols
from comms.common_args import (
    bind_address_from_args,
    init_logger_from_args,
    simple_network_args,
    verbosity_args,
)

__all__ = ["ControllerError", "bind_addresses", "controller_parser", "serve_controller"]

logger = logging.getLogger(__name__)


class ControllerError(Exception):
    """A controller cannot start (bad options, no backend): one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    """Option errors as one line (argparse prints the usage block first), exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def controller_parser(description: str, default_port: int) -> argparse.ArgumentParser:
    """The shared options (errors in them: one line, exit 2); a controller adds its own to the
    parser returned."""
    parser = _Parser(description=description)
    parser.add_argument(
        "--simulation", action="store_true", help="run without hardware (a simulated backend)"
    )
    parser.add_argument("-d", "--device", default=None, help="hardware address (bus, serial)")
    simple_network_args(parser, default_port)
    verbosity_args(parser)
    return parser


def bind_addresses(args: argparse.Namespace) -> list[str] | None:
    """The addresses to listen on, each once: ``artiq_ctlmgr`` passes ``--bind`` with the
    controller's host (``::1``), which the loopback default already holds."""
    hosts = bind_address_from_args(args)
    return None if hosts is None else list(dict.fromkeys(hosts))


def serve_controller(
    prog: str,
    target: str,
    parser: argparse.ArgumentParser,
    make_driver: Callable[[argparse.Namespace], Any],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse ``argv``, build the driver and serve it as target ``target``; return the exit
    status (0 after ``terminate``/a signal, 2 when the controller cannot start)."""
    args = parser.parse_args(argv)
    init_logger_from_args(args)
    try:
        driver = make_driver(args)
    except (ControllerError, ValueError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    try:
        protocols().pc_rpc.simple_server_loop(
            {target: driver}, bind_addresses(args), args.port, description=prog
        )
    except OSError as exc:
        where = ", ".join(bind_addresses(args) or ["all addresses"])
        print(f"{prog}: error: cannot listen on {where} port {args.port}: {exc}", file=sys.stderr)
        return 2
    finally:
        driver.close()
    return 0
