# SPDX-License-Identifier: LGPL-3.0-or-later
"""ionlink's stand-in for ARTIQ's host-side API (used only when ARTIQ is not installed)."""

__ionlink_standin__ = True
__version__ = "9.0+ionlink.standin"
