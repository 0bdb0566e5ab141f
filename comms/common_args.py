# SPDX-License-Identifier: LGPL-3.0-or-later
"""Command-line options of ARTIQ's network servers (NDSP controllers, the master), as sipyco's
``common_args`` defines them: ``--bind`` (repeatable; ``*`` = every interface),
``--no-localhost-bind``, ``-p/--port`` or ``--port-<name>``, and ``-v``/``-q``.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any, Callable, Sequence

__all__ = [
    "bind_address_from_args",
    "init_logger_from_args",
    "simple_network_args",
    "verbosity_args",
    "checked_arg",
    "port_arg",
    "LOCALHOST",
]

#: The loopback addresses a server binds unless ``--no-localhost-bind``.
LOCALHOST = ("127.0.0.1", "::1")


def checked_arg(
    convert: Callable[[str], Any], ok: Callable[[Any], bool], message: str
) -> Callable[[str], Any]:
    """An ``argparse`` type: ``convert(text)`` if that succeeds and ``ok`` accepts it, else
    ``message`` with ``{text}`` the option's text quoted (argparse prints it as one line)."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(message.format(text=repr(text)))
        return value

    return parse


#: ``argparse`` type of a TCP port option: a number from 0 to 65535 (0: any free port)
port_arg = checked_arg(
    int, lambda port: 0 <= port <= 65535, "{text} is not a TCP port (0 to 65535)"
)


def verbosity_args(parser: argparse.ArgumentParser) -> None:
    """Add ``-v``/``-q`` (repeatable): each raises or lowers the log level by one step."""
    group = parser.add_argument_group("verbosity")
    group.add_argument("-v", "--verbose", default=0, action="count", help="more log messages")
    group.add_argument("-q", "--quiet", default=0, action="count", help="fewer log messages")


def init_logger_from_args(args: argparse.Namespace) -> None:
    """Configure the root logger: WARNING, one step per ``-v``/``-q``."""
    level = logging.WARNING + 10 * (args.quiet - args.verbose)
    logging.basicConfig(level=level, format="%(levelname)s:%(name)s:%(message)s")


def simple_network_args(
    parser: argparse.ArgumentParser, default_port: int | Sequence[tuple[str, str, int]]
) -> None:
    """Add ``--bind``, ``--no-localhost-bind`` and the port options: ``-p/--port`` for an int
    ``default_port``, else ``--port-<name>`` for each ``(name, purpose, default)``."""
    group = parser.add_argument_group("network server")
    group.add_argument(
        "--bind",
        default=[],
        action="append",
        help="additional hostname or IP address to bind to; '*' binds every interface",
    )
    group.add_argument(
        "--no-localhost-bind",
        default=False,
        action="store_true",
        help="do not also bind the loopback addresses 127.0.0.1 and ::1",
    )
    if isinstance(default_port, int):
        group.add_argument(
            "-p",
            "--port",
            default=default_port,
            type=port_arg,
            help="TCP port to listen on (default: %(default)d)",
        )
        return
    for name, purpose, default in default_port:
        group.add_argument(
            "--port-" + name,
            default=default,
            type=port_arg,
            help="TCP port for {} connections (default: {})".format(purpose, default),
        )


def bind_address_from_args(args: argparse.Namespace) -> list[str] | None:
    """The addresses to listen on: ``None`` (every interface) if ``--bind '*'``, else the
    loopback addresses (unless ``--no-localhost-bind``) and each ``--bind``."""
    if "*" in args.bind:
        return None
    if args.no_localhost_bind:
        return list(args.bind)
    return list(LOCALHOST) + list(args.bind)
