# SPDX-License-Identifier: LGPL-3.0-or-later
"""The ``ionlink-analyze`` console entry (and ``python -m analysis``): the command line's modules
(numpy, h5py; ≈ 0.3 s) are imported, and its parser built, inside it, so that a Ctrl-C then is
one line and exit 130, as it is while a command runs (:func:`analysis.cli.main`), not a
traceback. A Ctrl-C that lands in a weak reference's callback is delivered again
(:func:`comms.interrupts.keeping_interrupts`; found: ``report`` on a 10⁸-tag file ran on to exit
0 after "Exception ignored … KeyboardInterrupt")."""

from __future__ import annotations

import sys

from comms.interrupts import keeping_interrupts

__all__ = ["main"]


def main() -> int:
    """Run the command line; its exit status (130: interrupted while it loaded or built its
    parser; a command catches its own interruption)."""
    with keeping_interrupts():
        try:
            from analysis.cli import main as run

            return run()
        except KeyboardInterrupt:
            sys.stderr.write("ionlink-analyze: interrupted\n")
            return 130
