# SPDX-License-Identifier: LGPL-3.0-or-later
"""The real-ARTIQ path: ARTIQ's own ``artiq.language`` with the engine installed as time manager.

Skipped where ARTIQ is not installed; runs in the lab (e.g. ``/opt/artiq-venv/bin/python -m pytest
tests/foundation``), where the whole foundation suite runs against ARTIQ's own environment classes.
"""

from __future__ import annotations

import pytest

from sim import artiq_env

pytestmark = [
    pytest.mark.artiq,
    pytest.mark.skipif(
        not artiq_env.real_artiq_available(), reason="needs a real ARTIQ installation"
    ),
]


def test_uses_real_artiq():
    """activate() keeps the real ARTIQ; the stand-in is not imported."""
    assert artiq_env.activate() is False
    import artiq

    assert not getattr(artiq, "__ionlink_standin__", False)
    assert artiq_env.STANDIN_PATH not in __import__("sys").path


def test_time_manager_installed_via_set_time_manager(simulation, session):
    """ARTIQ's core module sees the engine during the run and its previous manager afterwards."""
    from artiq.experiment import EnvExperiment, delay_mu, kernel, now_mu
    from artiq.language import core

    class K(EnvExperiment):
        def build(self):
            self.setattr_device("core")

        @kernel
        def run(self):
            delay_mu(10)
            self.set_dataset("t", now_mu())
            self.set_dataset("is_engine", core._time_manager is session.engine)

    before = core._time_manager
    result = simulation.run(K)
    assert result.exit_code == 0, result.error_message
    assert result.datasets["is_engine"] is True
    assert result.datasets["t"] == 10
    assert core._time_manager is before


def test_device_error_is_artiqs():
    """sim's DeviceError is a subclass of ARTIQ's, so lab code that catches it keeps working."""
    from artiq.master.worker_db import DeviceError as ArtiqDeviceError

    from sim.device_manager import DeviceError

    assert issubclass(DeviceError, ArtiqDeviceError)
