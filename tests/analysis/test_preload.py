# SPDX-License-Identifier: LGPL-3.0-or-later
"""analysis.preload: a slow import started in the background is the module the caller's own
import then gets; a failing one is reported by the caller's import, not by the thread."""

from __future__ import annotations

import importlib
import sys
import textwrap
import threading
import time

import pytest

from analysis import preload as pl


def _module(tmp_path, monkeypatch, name: str, body: str) -> None:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(pl, "_started", {})


def test_the_background_import_is_the_one_the_caller_gets(tmp_path, monkeypatch):
    _module(
        tmp_path,
        monkeypatch,
        "ionlink_slow_mod",
        """
        import threading, time
        LOADED_BY = threading.current_thread().name
        time.sleep(0.2)
        COUNT = 1
        """,
    )
    pl.preload("ionlink_slow_mod")
    thread = pl._started["ionlink_slow_mod"]
    assert thread.is_alive()
    pl.preload("ionlink_slow_mod")  # once only
    assert pl._started["ionlink_slow_mod"] is thread
    mod = importlib.import_module("ionlink_slow_mod")  # waits for the thread's import
    assert mod.COUNT == 1
    assert mod.LOADED_BY == "import ionlink_slow_mod"
    thread.join(5)
    assert sys.modules["ionlink_slow_mod"] is mod


def test_an_imported_module_starts_no_thread(monkeypatch):
    monkeypatch.setattr(pl, "_started", {})
    before = threading.active_count()
    pl.preload("json")
    assert pl._started == {} and threading.active_count() == before


def test_a_failing_import_is_reported_by_the_callers_import(tmp_path, monkeypatch):
    _module(tmp_path, monkeypatch, "ionlink_broken_mod", "raise RuntimeError('broken module')\n")
    pl.preload("ionlink_broken_mod")
    pl._started["ionlink_broken_mod"].join(5)
    with pytest.raises(RuntimeError, match="broken module"):
        importlib.import_module("ionlink_broken_mod")


def test_the_summary_with_timing_starts_the_fit_import(monkeypatch, tmp_path):
    from analysis import summary

    seen = []
    monkeypatch.setattr(summary, "preload", seen.append)
    with pytest.raises(Exception):
        summary.fidelity_summary(tmp_path / "missing.h5")
    assert seen == ["scipy.optimize"]
    seen.clear()
    with pytest.raises(Exception):
        summary.fidelity_summary(tmp_path / "missing.h5", timing=False)
    assert seen == []


def test_a_fork_waits_for_the_background_import(tmp_path, monkeypatch):
    """A child forked while the import runs would inherit the module's import lock held by a
    thread it does not have, and its own import would wait forever: the fork waits for it."""
    import os

    _module(
        tmp_path,
        monkeypatch,
        "ionlink_forked_mod",
        """
        import time
        time.sleep(0.3)
        VALUE = 7
        """,
    )
    pl.preload("ionlink_forked_mod")
    pid = os.fork()
    if pid == 0:  # the child: its import must find the module, not wait
        try:
            ok = importlib.import_module("ionlink_forked_mod").VALUE == 7
        finally:
            os._exit(0 if ok else 1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child's import waited for a lock no thread of it held")
    assert os.waitstatus_to_exitcode(status) == 0
