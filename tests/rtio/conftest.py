# SPDX-License-Identifier: LGPL-3.0-or-later
"""Experiment-free harness: a device_db dict, a tiny device manager, the session's engine installed
as ARTIQ's time manager (restored after each test)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from artiq.language import core as lcore

from sim.device_manager import transform_device_db
from sim.session import SimSession

LOOP_DELAY_MU = 120


def base_db() -> dict:
    """Devices used by the golden tests (channel numbers as on a small Kasli)."""
    return {
        "core": {
            "type": "local",
            "module": "artiq.coredevice.core",
            "class": "Core",
            "arguments": {"host": None, "ref_period": 1e-9},
        },
        "core_dma": {"type": "local", "module": "artiq.coredevice.dma", "class": "CoreDMA"},
        "core_cache": {"type": "local", "module": "artiq.coredevice.cache", "class": "CoreCache"},
        "ttl_out": {
            "type": "local",
            "module": "artiq.coredevice.ttl",
            "class": "TTLOut",
            "arguments": {"channel": 0},
        },
        "ttl_sma": {
            "type": "local",
            "module": "artiq.coredevice.ttl",
            "class": "TTLOut",
            "arguments": {"channel": 1},
        },
        **{
            "ttl{}".format(i): {
                "type": "local",
                "module": "artiq.coredevice.ttl",
                "class": "TTLOut",
                "arguments": {"channel": 10 + i},
            }
            for i in range(5)
        },
        "loop_out": {
            "type": "local",
            "module": "artiq.coredevice.ttl",
            "class": "TTLOut",
            "arguments": {"channel": 2},
            "sim_loopback": {"to": ["loop_in", "loop_in_counter"], "delay_mu": LOOP_DELAY_MU},
        },
        "loop_in": {
            "type": "local",
            "module": "artiq.coredevice.ttl",
            "class": "TTLInOut",
            "arguments": {"channel": 3},
        },
        "loop_in_counter": {
            "type": "local",
            "module": "artiq.coredevice.edge_counter",
            "class": "EdgeCounter",
            "arguments": {"channel": 4},
        },
        "loop_clock": {
            "type": "local",
            "module": "artiq.coredevice.ttl",
            "class": "TTLClockGen",
            "arguments": {"channel": 5},
            "sim_loopback": {"to": "clock_in", "delay_mu": LOOP_DELAY_MU},
        },
        "clock_in": {
            "type": "local",
            "module": "artiq.coredevice.ttl",
            "class": "TTLInOut",
            "arguments": {"channel": 6},
        },
        "ttl_inout": {
            "type": "local",
            "module": "artiq.coredevice.ttl",
            "class": "TTLInOut",
            "arguments": {"channel": 7},
        },
        "spi_urukul0": {
            "type": "local",
            "module": "artiq.coredevice.spi2",
            "class": "SPIMaster",
            "arguments": {"channel": 20},
        },
        "ttl_urukul0_io_update": {
            "type": "local",
            "module": "artiq.coredevice.ttl",
            "class": "TTLOut",
            "arguments": {"channel": 21},
        },
        "ttl_urukul0_sw0": {
            "type": "local",
            "module": "artiq.coredevice.ttl",
            "class": "TTLOut",
            "arguments": {"channel": 22},
        },
        "urukul0_cpld": {
            "type": "local",
            "module": "artiq.coredevice.urukul",
            "class": "CPLD",
            "arguments": {
                "spi_device": "spi_urukul0",
                "io_update_device": "ttl_urukul0_io_update",
                "refclk": 125e6,
                "clk_sel": 2,
            },
        },
        "urukul0_ch0": {
            "type": "local",
            "module": "artiq.coredevice.ad9910",
            "class": "AD9910",
            "arguments": {
                "pll_n": 32,
                "chip_select": 4,
                "cpld_device": "urukul0_cpld",
                "sw_device": "ttl_urukul0_sw0",
            },
        },
        "loop_alias": "loop_out",
    }


class DMgr:
    """Minimal device manager: ``get(name)`` builds ``sim.devices`` models with ``Cls(dmgr,
    **args)``."""

    def __init__(self, db: dict, session: Any) -> None:
        self.db = db
        self.ionlink_session = session
        self.active: dict[str, Any] = {}

    def get_device_db(self) -> dict:
        return self.db

    def get(self, name: str) -> Any:
        while isinstance(self.db.get(name), str):
            name = self.db[name]
        if name in self.active:
            return self.active[name]
        desc = self.db[name]
        mod = importlib.import_module(desc["module"])
        dev = getattr(mod, desc["class"])(self, **desc.get("arguments", {}))
        self.active[name] = dev
        return dev


class Env:
    def __init__(self, db: dict, **session_kw: Any) -> None:
        self.session = SimSession(db, **session_kw)
        self.engine = self.session.engine
        # ARTIQ's coredevice entries → the simulator's models (with a real ARTIQ installed too)
        self.dmgr = DMgr(transform_device_db(db), self.session)
        self.core = self.dmgr.get("core")

    def get(self, name: str) -> Any:
        return self.dmgr.get(name)

    def run(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` as a kernel on the core."""
        return self.core.run(fn, args, {})


@pytest.fixture
def time_manager_guard():
    prev = lcore._time_manager
    yield
    lcore.set_time_manager(prev)


@pytest.fixture
def make_env(time_manager_guard):
    """``make_env(db=None, **session_kwargs) -> Env`` with the engine installed as time manager."""

    def make(db: dict | None = None, **kw: Any) -> Env:
        env = Env(db if db is not None else base_db(), **kw)
        lcore.set_time_manager(env.engine)
        return env

    return make


@pytest.fixture
def env(make_env):
    """The default harness (Kasli 2.0 cost profile, loopback wiring)."""
    return make_env()
