# SPDX-License-Identifier: LGPL-3.0-or-later
"""Importing a Python file as a fresh module, as ARTIQ's ``tools.file_import`` does."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import sys
from types import ModuleType

__all__ = ["import_file"]


def import_file(path: str | os.PathLike, module_name: str) -> ModuleType:
    """Execute ``path`` as a new module named ``module_name``; its directory is on ``sys.path``
    while it runs (so it can import its neighbours).

    :raises FileNotFoundError: ``path`` is not a file
    :raises ImportError: ``path`` is not a Python source file
    :raises Exception: whatever executing the file raises
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(str(path))
    directory = str(path.resolve().parent)
    sys.path.insert(0, directory)
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"{path} is not a Python file (.py)")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(directory)
    return module
