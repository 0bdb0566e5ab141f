# SPDX-License-Identifier: LGPL-3.0-or-later
"""Shared fixtures: the ARTIQ stand-in is activated (unless a real ARTIQ is installed) and a seeded
rng."""

import os
import pathlib

import numpy
import pytest

from sim import artiq_env

artiq_env.activate()


@pytest.fixture
def rng():
    """A numpy Generator with a fixed seed."""
    return numpy.random.default_rng(12345)


_ROOT = pathlib.Path(__file__).resolve().parents[1]
#: what tools leave in the checkout's top folder (caches, the venv), not the tests
_TOOL_ENTRIES = frozenset(
    (".hypothesis", ".pytest_cache", ".mypy_cache", ".ruff_cache", "__pycache__", ".venv")
)


@pytest.fixture(scope="session")
def _checkout_entries():
    """What the checkout's top folder and the working directory held when the session began."""
    folders = {_ROOT, pathlib.Path.cwd().resolve()}
    return {f: set(os.listdir(f)) for f in folders}


@pytest.fixture(autouse=True)
def _checkout_untouched(_checkout_entries):
    """A test (with its fixtures, module-wide ones included) writes nothing into the checkout's
    top folder or the working directory, where the command lines keep a lab's dataset store,
    hardware state and run ids: a stale ``last_rid.pyon`` or ``dataset_db.mdb`` there would change
    what the next test or a user's ``make demo`` sees. Fails the first test after which something
    new is there, naming it."""
    yield
    for f, names in _checkout_entries.items():
        new = set(os.listdir(f)) - names - _TOOL_ENTRIES
        if new:
            names |= new  # (reported once)
            pytest.fail("the test wrote {} into {}".format(", ".join(sorted(new)), f))
