# SPDX-License-Identifier: LGPL-3.0-or-later
"""ARTIQ's own coredevice tests of exceptions, the core cache and the Urukul CPLD, run as shipped
against the simulator's testbench (``sim/testbench/device_db.py``), where ARTIQ is installed. The
seven files of the README's table: ``make artiq-suite``."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from sim import artiq_env

REPO = pathlib.Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.artiq,
    pytest.mark.skipif(
        not artiq_env.real_artiq_available(), reason="needs a real ARTIQ installation"
    ),
]


def test_artiq_coredevice_tests_pass_against_the_testbench(tmp_path):
    """test_exceptions, test_cache and test_urukul of ARTIQ: every test passes, none skipped
    (ARTIQ skips a test whose devices cannot be made: a testbench the simulator refuses would
    otherwise pass here with every test skipped)."""
    env = dict(os.environ, ARTIQ_ROOT=str(REPO / "sim" / "testbench"), PYTHONPATH=str(REPO))
    modules = [
        "artiq.test.coredevice." + m for m in ("test_exceptions", "test_cache", "test_urukul")
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "unittest", *modules],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "skipped" not in proc.stderr.splitlines()[-1], proc.stderr[-3000:]
    assert "Ran 33 tests" in proc.stderr and "skipped" not in proc.stderr
