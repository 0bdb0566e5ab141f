# SPDX-License-Identifier: LGPL-3.0-or-later
"""The hint a "not found" message adds for a relative path: the commands' defaults and the
README's examples (``device_db.py``, ``repository/startup.py``) are relative to the ionlink
checkout, so from another folder they name files that are not there."""

from __future__ import annotations

import os
import pathlib

__all__ = ["CHECKOUT", "relative_path_hint"]

#: the folder that holds the ``sim`` package: an ionlink checkout, with ``repository/`` and
#: ``device_db.py`` beside it (an installed package has neither)
CHECKOUT = pathlib.Path(__file__).resolve().parents[1]


def relative_path_hint(path: str | os.PathLike, option: str = "") -> str:
    """`` (relative to <cwd>; give the path to the repository's file, e.g. <option><file>)`` for
    a relative ``path`` that does not exist, ``""`` otherwise (an absolute path, or one that
    exists). ``<file>`` is ``path`` in the ionlink checkout when it is there, else
    ``<repo>/<path>``; ``option`` is the command-line option that takes it (``--device-db ``)."""
    p = pathlib.Path(path)
    if p.is_absolute() or p.exists():
        return ""
    there = CHECKOUT / p
    example = str(there) if there.exists() else "<repo>/" + p.as_posix()
    return " (relative to {}; give the path to the repository's file, e.g. {}{})".format(
        os.getcwd(), option, example
    )
