# SPDX-License-Identifier: LGPL-3.0-or-later
"""Choose between a real ARTIQ and ionlink's stand-in for ARTIQ's host-side API.

The stand-in lives in ``sim/standin/artiq``. It is put on ``sys.path`` only when no real ARTIQ
can be imported, so it never shadows an installed ARTIQ.
"""

from __future__ import annotations

import importlib.util
import os
import sys

STANDIN_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "standin")


def real_artiq_available() -> bool:
    """True when an ARTIQ other than the stand-in is importable."""
    mod = sys.modules.get("artiq")
    if mod is not None:
        return not getattr(mod, "__ionlink_standin__", False)
    if STANDIN_PATH in sys.path:
        sys.path.remove(STANDIN_PATH)
        try:
            return importlib.util.find_spec("artiq") is not None
        finally:
            sys.path.append(STANDIN_PATH)
    return importlib.util.find_spec("artiq") is not None


def activate() -> bool:
    """Make ``import artiq`` work. Returns True if the stand-in is used, False for a real ARTIQ."""
    if real_artiq_available():
        return False
    if STANDIN_PATH not in sys.path:
        sys.path.append(STANDIN_PATH)
    return True


def using_standin() -> bool:
    """True once ``artiq`` has been imported from the stand-in."""
    import artiq

    return bool(getattr(artiq, "__ionlink_standin__", False))
