# SPDX-License-Identifier: LGPL-3.0-or-later
"""The ``ionlink-sim`` console entry (and ``python -m sim``): the command line's modules are
imported inside it, so that a Ctrl-C while they load, or while the parser is built, is one line
and exit 130, as it is while a command runs (:func:`sim.cli.main`), not a traceback."""

from __future__ import annotations

import signal
import sys

__all__ = ["entry_point"]


def entry_point() -> None:
    """Exit with :func:`sim.cli.main`'s status, without the interpreter's final collection over
    the run's objects (:func:`sim.collector.skip_final_collection`)."""
    try:
        from sim.cli import main

        status = main()
    except KeyboardInterrupt:
        from sim.termination import exit_status

        sys.stderr.write("ionlink-sim: interrupted\n")
        status = exit_status(signal.SIGINT)
    from sim.collector import skip_final_collection

    skip_final_collection()
    sys.exit(status)
