# SPDX-License-Identifier: LGPL-3.0-or-later
"""Device database transformation and the device manager."""

from __future__ import annotations

import ionlink_fakes
import pytest

from sim.device_manager import (
    DeviceDBError,
    DeviceError,
    DeviceManager,
    SimCoreLog,
    load_device_db,
    transform_device_db,
)

KASLI_LIKE = {
    "core": {
        "type": "local",
        "module": "artiq.coredevice.core",
        "class": "Core",
        "arguments": {"host": "192.168.1.70", "ref_period": 1e-9},
    },
    "zotino0": {
        "type": "local",
        "module": "artiq.coredevice.zotino",
        "class": "Zotino",
        "arguments": {},
    },
    "core_log": {
        "type": "controller",
        "host": "::1",
        "port": 1068,
        "command": "aqctl_corelog -p {port} --bind {bind} 192.168.1.70",
    },
    "core_moninj": {
        "type": "controller",
        "host": "::1",
        "port": 1384,
        "command": "aqctl_moninj_proxy --port-proxy {port_proxy}",
    },
    "wavemeter": {
        "type": "controller",
        "host": "::1",
        "port": 3000,
        "command": "aqctl_x",
        "sim_class": "ionlink_fakes.FakeWavemeter",
    },
    "node": {
        "type": "local",
        "module": "drivers.node",
        "class": "IonNode",
        "arguments": {"a": 1},
        "sim_args": {"b": 2},
    },
    "ent": {
        "type": "local",
        "module": "drivers.entangler",
        "class": "Entangler",
        "arguments": {"channel": 39},
        "sim_class": "sim.devices.entangler.Entangler",
    },
    "dummy": {"type": "dummy"},
    "alias": "zotino0",
}


class FakeWavemeter:
    def __init__(self, simulation=False):
        self.simulation = simulation


ionlink_fakes.FakeWavemeter = FakeWavemeter


def test_transform_maps_and_keeps():
    """drivers.* kept (sim_args merged), aliases and dummies kept, controllers become local."""
    ddb = transform_device_db(KASLI_LIKE)
    assert ddb["node"] == {
        "type": "local",
        "module": "drivers.node",
        "class": "IonNode",
        "arguments": {"a": 1, "b": 2},
        "sim_args": {"b": 2},
    }
    assert ddb["alias"] == "zotino0" and ddb["dummy"] == {"type": "dummy"}
    assert ddb["core_log"]["class"] == "SimCoreLog"
    assert all(
        d["type"] == "local" for d in ddb.values() if isinstance(d, dict) and d["type"] != "dummy"
    )
    assert KASLI_LIKE["node"]["arguments"] == {"a": 1}  # input untouched
    # a driver with a simulator subclass: that class, same arguments, no sim_class key left
    assert ddb["ent"] == {
        "type": "local",
        "module": "sim.devices.entangler",
        "class": "Entangler",
        "arguments": {"channel": 39},
    }


def test_missing_model_error_names_device():
    """A device without a model fails on request with a one-line error naming it."""
    dmgr = DeviceManager(transform_device_db(KASLI_LIKE))
    with pytest.raises(DeviceError) as info:
        dmgr.get("alias")
    assert str(info.value) == (
        "Failed to create device 'alias': no simulation model for device "
        "'zotino0' (artiq.coredevice.zotino.Zotino)"
    )
    with pytest.raises(DeviceError, match="core_moninj.*sim_class"):
        dmgr.get("core_moninj")


def test_controllers_simulated():
    """core_log gets the simulated client; sim_class controllers are built with simulation=True."""
    dmgr = DeviceManager(transform_device_db(KASLI_LIKE), session=object())
    assert isinstance(dmgr.get("core_log"), SimCoreLog)
    assert dmgr.get("wavemeter").simulation is True


def test_aliases_share_instances_and_close_in_reverse():
    """Aliases resolve recursively to one instance; close in reverse; notify_run_end."""
    ddb = ionlink_fakes.device_db()
    dmgr = DeviceManager(transform_device_db(ddb), {"scheduler": "S"})
    assert dmgr.get("scheduler") == "S"
    led = dmgr.get("led_alias")
    assert led is dmgr.get("ttl0") is dmgr.get("led")
    core = dmgr.get("core")
    closed = []
    core.close = lambda: closed.append("core")
    led.close = lambda: closed.append("ttl0")
    led.notify_run_end = lambda: closed.append("notified")
    dmgr.notify_run_end()
    dmgr.close_devices()
    assert closed == ["notified", "ttl0", "core"]  # ttl0 requested (and created) after core
    assert dmgr.active_devices == []


def test_unknown_device_and_alias_loop():
    """Unknown names and alias loops are DeviceErrors with the name in the message."""
    dmgr = DeviceManager({"a": "b", "b": "a"})
    with pytest.raises(DeviceError, match="'nope'"):
        dmgr.get("nope")
    with pytest.raises(DeviceError, match="alias loop"):
        dmgr.get("a")


def test_load_device_db_errors(tmp_path):
    """Broken or missing device_db files raise DeviceDBError with the reason."""
    bad = tmp_path / "device_db.py"
    bad.write_text("device_db = {\n")
    with pytest.raises(DeviceDBError, match="SyntaxError"):
        load_device_db(bad)
    with pytest.raises(DeviceDBError, match="not found"):
        load_device_db(tmp_path / "missing.py")
    bad.write_text("x = 1\n")
    with pytest.raises(DeviceDBError, match="no 'device_db'"):
        load_device_db(bad)
    with pytest.raises(DeviceDBError, match="malformed"):
        transform_device_db({"x": 3})


def test_repository_device_db_transforms():
    """The lab's device_db.py loads and transforms; device_db_sim.py exposes the result."""
    import importlib.util
    import os
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2]
    ddb = transform_device_db(load_device_db(root / "device_db.py"))
    spec = importlib.util.spec_from_file_location("device_db_sim", root / "device_db_sim.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    # ARTIQ's process per experiment: the state kept where the database is read
    ddb["core"]["arguments"]["sim_state"] = os.getcwd()
    ddb["core"]["arguments"]["lab"] = str(root / "lab.toml")  # the physics ionlink-sim would use
    assert mod.device_db == ddb
    assert ddb["core_log"]["class"] == "SimCoreLog"


def test_syscall_stubs_bound_in_the_modules_of_a_simulator_subclass(monkeypatch):
    """A ``sim_class`` subclass runs its driver's methods: ARTIQ's syscall stubs in the driver's
    module (not only the subclass's) must call the simulator (real-ARTIQ path)."""
    import sys
    import types

    from sim import syscalls
    from sim.device_manager import _create_device

    def stub(target, data):
        raise NotImplementedError("syscall not simulated")

    stub.artiq_embedded = types.SimpleNamespace(syscall="rtio_output")

    base = types.ModuleType("fake_driver")
    exec(
        "class Driver:\n"
        "    def __init__(self, dmgr):\n        pass\n"
        "    def out(self):\n        return rtio_output\n",
        base.__dict__,
    )
    base.rtio_output = stub
    sub = types.ModuleType("fake_sim_driver")
    sub.Driver = type("Driver", (base.Driver,), {"__module__": "fake_sim_driver"})
    monkeypatch.setitem(sys.modules, "fake_driver", base)
    monkeypatch.setitem(sys.modules, "fake_sim_driver", sub)
    dev = _create_device(
        {"type": "local", "module": "fake_sim_driver", "class": "Driver"}, None, {}
    )
    assert dev.out() is syscalls.rtio_output
