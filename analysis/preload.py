# SPDX-License-Identifier: LGPL-3.0-or-later
"""Slow imports started early, in a background thread, while the caller reads its files.

The lifetime fit of the fidelity summary needs ``scipy.optimize`` (its Brent minimiser and root
finder), whose import takes ≈ 0.3–0.5 s, as long as the rest of the summary of a 10⁸-tag file. The
summary knows it will fit before it starts reading, so it starts the import then
(:func:`preload`) and the tag histogram's I/O and numpy work (which release the interpreter lock)
run beside it. The caller's own ``from scipy.optimize import …`` later waits for the module, as
any import does while another thread is loading it; a failing background import is silent: the
caller's import then fails again in the foreground, where it is reported. A process forked
while such an import runs would inherit its module locks held by a thread it does not have (its
own import of the module would wait forever): a fork waits for the imports started here first.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading

__all__ = ["preload"]

_started: dict[str, threading.Thread] = {}
_lock = threading.Lock()
_fork_hook = False


def preload(name: str) -> None:
    """Start importing module ``name`` in a background thread, unless it is imported or being
    imported already. Returns at once."""
    if name in sys.modules:
        return
    global _fork_hook
    with _lock:
        if name in _started:
            return
        if not _fork_hook:
            os.register_at_fork(before=_finish_imports)
            _fork_hook = True
        thread = threading.Thread(target=_import, args=(name,), name=f"import {name}", daemon=True)
        _started[name] = thread
    thread.start()


def _finish_imports() -> None:
    """Before a fork: wait for the imports started here (see the module docstring)."""
    for thread in list(_started.values()):
        if thread is not threading.current_thread():
            thread.join()


def _import(name: str) -> None:
    try:
        importlib.import_module(name)
    except Exception:  # reported by the caller's own import (see the module docstring)
        return
