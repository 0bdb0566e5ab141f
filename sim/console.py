# SPDX-License-Identifier: LGPL-3.0-or-later
"""The ``ionlink-sim`` console entry (and ``python -m sim``): the command line's modules are
imported inside it, so that a Ctrl-C while they load is one line and exit 130, as it is while
the parser is built or a command runs (:func:`sim.cli.entry_point`), not a traceback. An
installation made before this module calls :func:`sim.cli.entry_point` directly."""

from __future__ import annotations

import sys

__all__ = ["entry_point"]


def entry_point() -> None:
    """:func:`sim.cli.entry_point`, imported here."""
    try:
        from sim.cli import entry_point as run
    except KeyboardInterrupt:
        sys.stderr.write("ionlink-sim: interrupted\n")
        sys.exit(130)
    run()
