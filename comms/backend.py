# SPDX-License-Identifier: LGPL-3.0-or-later
"""Which implementation of the two protocols to use: sipyco's when it is importable (a lab's
ARTIQ environment), else ionlink's own (:mod:`comms.pc_rpc`, :mod:`comms.sync_struct`,
:mod:`comms.broadcast`), which speak the same bytes.

``IONLINK_COMMS=ionlink`` forces ionlink's own even where sipyco is installed (to test it
against sipyco), ``IONLINK_COMMS=sipyco`` requires sipyco. All come from the same
place, so a :class:`Notifier` always suits the :class:`Publisher` it is given to.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from types import ModuleType

__all__ = ["Protocols", "protocols"]

ENV = "IONLINK_COMMS"


@dataclass(frozen=True)
class Protocols:
    """The pc_rpc, sync_struct and broadcast modules in use, and where they come from."""

    pc_rpc: ModuleType
    sync_struct: ModuleType
    broadcast: ModuleType
    source: str  # "sipyco" or "ionlink"


def protocols() -> Protocols:
    """The implementation to use (see the module docstring).

    :raises ValueError: ``IONLINK_COMMS`` is set to something else than ``auto``, ``sipyco``,
        ``ionlink``.
    :raises ImportError: ``IONLINK_COMMS=sipyco`` without sipyco.
    """
    choice = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if choice not in ("auto", "sipyco", "ionlink"):
        raise ValueError("{}={!r}: expected auto, sipyco or ionlink".format(ENV, choice))
    if choice != "ionlink":
        try:
            return Protocols(
                importlib.import_module("sipyco.pc_rpc"),
                importlib.import_module("sipyco.sync_struct"),
                importlib.import_module("sipyco.broadcast"),
                "sipyco",
            )
        except ImportError:
            if choice == "sipyco":
                raise
    return Protocols(
        importlib.import_module("comms.pc_rpc"),
        importlib.import_module("comms.sync_struct"),
        importlib.import_module("comms.broadcast"),
        "ionlink",
    )
