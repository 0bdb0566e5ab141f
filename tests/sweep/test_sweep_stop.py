# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-sim sweep`` stopped by Ctrl-C while its local cluster runs points: one line, exit 130,
at once (it waited 4 s for Dask's nannies to give up on the running points, with their
warnings on stderr)."""

from __future__ import annotations

import signal

import pytest

from tests.cli_signal import signal_cli


@pytest.mark.slow
def test_a_sweep_stopped_by_ctrl_c_kills_its_workers_at_once(tmp_path):
    argv = ["sweep", "--set", "bsa.mode_overlap=0.9,1.0", "--heralds", "3000"]
    argv += ["--calibration", "lab", "--workers", "2", "-o", "s.h5", "-v"]
    # the points are submitted once the scheduler has the client; each runs tens of seconds
    r = signal_cli(argv, tmp_path, signal.SIGINT, "Receive client connection", delay=1.0)
    rc, elapsed, after = r.status, r.seconds, r.err_after
    assert rc == 130, after
    assert elapsed < 3.0, (elapsed, after)  # 0.4-0.5 s measured, 4.5 s before
    assert "WARNING" not in after, after
    assert after.strip().splitlines()[-1] == "ionlink-sim: interrupted", after
