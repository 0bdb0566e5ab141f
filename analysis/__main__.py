# SPDX-License-Identifier: LGPL-3.0-or-later
"""``python -m analysis`` runs the ``ionlink-analyze`` command line."""

import sys

from .console import main

sys.exit(main())
