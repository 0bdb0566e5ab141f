# SPDX-License-Identifier: LGPL-3.0-or-later
"""Fixtures of the foundation tests: a simulation on fake devices in a temporary directory."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ionlink_fakes  # noqa: E402

from sim.runner import Simulation  # noqa: E402


@pytest.fixture
def session() -> ionlink_fakes.FakeSession:
    """A fake simulation session with a recording time manager."""
    return ionlink_fakes.FakeSession()


@pytest.fixture
def simulation(tmp_path, session):
    """A Simulation on the fake device_db, results under ``tmp_path/results``."""
    sim = Simulation(
        ionlink_fakes.device_db(),
        results_dir=tmp_path / "results",
        dataset_db=tmp_path / "dataset_db.mdb",
        session=session,
    )
    yield sim
    sim.close()


@pytest.fixture
def write_experiment(tmp_path):
    """Write experiment source to ``tmp_path/<name>.py`` and return its path."""

    def write(source: str, name: str = "exp") -> str:
        path = tmp_path / (name + ".py")
        path.write_text("from artiq.experiment import *\n" + source)
        return str(path)

    return write
