# SPDX-License-Identifier: LGPL-3.0-or-later
"""Shared fixtures: the ARTIQ stand-in is activated (unless a real ARTIQ is installed) and a seeded
rng."""

import numpy
import pytest

from sim import artiq_env

artiq_env.activate()


@pytest.fixture
def rng():
    """A numpy Generator with a fixed seed."""
    return numpy.random.default_rng(12345)
