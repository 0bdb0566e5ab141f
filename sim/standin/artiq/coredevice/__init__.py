# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.coredevice``. Device modules re-export ionlink's simulated device models."""

from artiq.coredevice.exceptions import RTIOOverflow, RTIOUnderflow

__all__ = ["RTIOUnderflow", "RTIOOverflow"]
