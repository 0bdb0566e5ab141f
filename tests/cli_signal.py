# SPDX-License-Identifier: LGPL-3.0-or-later
"""A command of ``ionlink-sim`` run as a user runs it and sent a signal once it has reached a
given point (a line of its output), for the tests of how promptly and how cleanly it stops."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Signalled:
    """How a signalled command ended: exit status, seconds from the signal to the exit, its
    standard output and error, and the error lines written after the signal."""

    status: int
    seconds: float
    out: str
    err: str
    err_after: str


def signal_cli(
    argv: list[str], cwd: Path, signum: int, trigger: str, delay: float = 0.3
) -> Signalled:
    """``python -m sim *argv`` in ``cwd``, sent ``signum`` ``delay`` s after a line of its output
    (either stream) contains ``trigger`` (within 60 s); it must exit within 30 s of it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    seen = threading.Event()
    out: list[str] = []
    err: list[str] = []

    def read(stream, kept: list[str]) -> None:
        for line in stream:
            kept.append(line)
            if trigger in line:
                seen.set()

    readers = [
        threading.Thread(target=read, args=(proc.stdout, out), daemon=True),
        threading.Thread(target=read, args=(proc.stderr, err), daemon=True),
    ]
    for r in readers:
        r.start()
    try:
        assert seen.wait(60), "".join(err)
        time.sleep(delay)
        before = len(err)
        sent = time.monotonic()
        proc.send_signal(signum)
        status = proc.wait(30)
        seconds = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for r in readers:
        r.join(5)
    return Signalled(status, seconds, "".join(out), "".join(err), "".join(err[before:]))
