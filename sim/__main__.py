# SPDX-License-Identifier: LGPL-3.0-or-later
"""``python -m sim`` = ``ionlink-sim``."""

import sys

from sim.cli import main

sys.exit(main())
