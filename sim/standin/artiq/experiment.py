# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.experiment``: everything an experiment file imports with ``*``."""

from artiq import coredevice as _coredevice
from artiq import language as _language
from artiq.coredevice import *  # noqa: F401,F403
from artiq.language import *  # noqa: F401,F403

__all__ = _language.__all__ + _coredevice.__all__
