# SPDX-License-Identifier: LGPL-3.0-or-later
"""``python -m sim`` = ``ionlink-sim``."""

from sim.console import entry_point

entry_point()
