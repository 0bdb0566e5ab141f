# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-sim sweep`` stopped by Ctrl-C while its local cluster runs points: one line, exit 130,
at once (it waited 4 s for Dask's nannies to give up on the running points, with their
warnings on stderr)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_sweep_stopped_by_ctrl_c_kills_its_workers_at_once(tmp_path):
    argv = ["--set", "bsa.mode_overlap=0.9,1.0", "--heralds", "3000", "--calibration", "lab"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", "sweep", *argv, "--workers", "2", "-o", "s.h5", "-v"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    connected = threading.Event()
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "Receive client connection" in line:  # the points are submitted
                connected.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert connected.wait(60), "".join(lines)
        time.sleep(1.0)  # the points run (each takes tens of seconds)
        before = len(lines)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(30)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(5)
    after = "".join(lines[before:])
    assert rc == 130, after
    assert elapsed < 3.0, (elapsed, after)  # 0.4-0.5 s measured, 4.5 s before
    assert "WARNING" not in after, after
    assert after.strip().splitlines()[-1] == "ionlink-sim: interrupted", after
