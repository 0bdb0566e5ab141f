# SPDX-License-Identifier: LGPL-3.0-or-later
"""Nothing happens at import time: importing the runner and the device models leaves ``sys.path``
and the device modules' globals as they were; the hot syscalls are bound once a device is made."""

from __future__ import annotations

import subprocess
import sys

_CHECK = """
import importlib, pkgutil, sys
from sim import artiq_env
artiq_env.activate()
path = list(sys.path)
import sim.runner, sim.devices, sim.syscalls
from artiq.language import core as lcore
mods = [importlib.import_module("sim.devices." + m.name)
        for m in pkgutil.iter_modules(sim.devices.__path__)]
assert sys.path == path, "sys.path changed at import"
assert sim.syscalls._hot_modules == [], "hot globals registered at import"
import sim.devices.ttl as ttl
assert ttl.rtio_output is sim.syscalls.rtio_output and ttl.delay is lcore.delay
assert lcore._hooks is lcore._NO_HOOKS

class DMgr:
    def get(self, name):
        return None

ttl.TTLOut(DMgr(), 3)
assert any(g is vars(ttl) for g, _ in sim.syscalls._hot_modules)
print(len(mods))
"""


def _fresh_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter; it must succeed. Returns its standard output."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_imports_change_nothing_until_a_device_is_made():
    assert int(_fresh_python(_CHECK)) >= 8


def test_runner_imports_without_artiq_on_the_path():
    """``sim.runner`` is importable before activation (the CLI activates at the point of use)."""
    code = (
        "import sys\nimport sim.runner\n"
        "assert not any(p.endswith('standin') for p in sys.path)\n"
        "assert 'artiq' not in sys.modules\n"
    )
    _fresh_python(code)


def test_physics_and_budget_need_no_artiq_language():
    """The lab descriptions and the budget are host-side physics: in a fresh process, without the
    stand-in activated, they import and ``ionlink-sim budget`` answers."""
    code = (
        "import sys\n"
        "from sim.physics import load_lab, predict\n"
        "assert 'artiq' not in sys.modules, 'sim.physics imported artiq'\n"
        "print(predict(load_lab('oxford2020')).p_succ)\n"
    )
    assert 1e-4 < float(_fresh_python(code)) < 1e-3
    cli = subprocess.run(
        [sys.executable, "-m", "sim", "budget", "duke2024", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert '"rate_hz"' in cli.stdout


def test_start_up_loads_no_scipy():
    """``ionlink-sim run`` start-up (runner, device models, the physics world) does not import
    scipy (~1.5 s of CPU): it is loaded where a law needs it (issue 18)."""
    code = (
        "import sys\n"
        "from sim import artiq_env\n"
        "artiq_env.activate()\n"
        "import sim.runner, sim.devices.urukul, sim.devices.ttl, sim.physics.world, sim.cli\n"
        "import sim.physics\n"
        "sim.cli.get_argparser()\n"
        "assert sim.physics.PhysicsWorld is sim.physics.world.PhysicsWorld\n"
        "print(sorted(m for m in sys.modules if m.startswith('scipy')))\n"
    )
    assert _fresh_python(code) == "[]"


def test_heralding_loads_no_scipy_asyncio_or_zmq():
    """A heralding run's one-off work does not import scipy (~0.25 s of CPU inside the measured
    window): the first cycle model's gate law (``sim.physics.normal``) and the live dashboard's
    rate interval (``analysis.gamma_quantile``); nor asyncio (the master's) or ZeroMQ (the time
    tagger's driver) through the CLI and the device database (issue 18)."""
    code = (
        "import sys\n"
        "from sim import artiq_env\n"
        "artiq_env.activate()\n"
        "import sim.cli\n"
        "sim.cli.get_argparser()\n"
        "from sim.device_manager import transform_device_db, load_device_db\n"
        "transform_device_db(load_device_db('device_db.py'))\n"
        "from sim.physics import cycle_build, load_lab\n"
        "lab = load_lab('target_99_1khz')\n"
        "m = cycle_build.build_cycle_model(lab, *cycle_build.nominal_cycle(lab))\n"
        "assert m.pattern_probs.sum() > 0\n"
        "from drivers.live import live_figures\n"
        "f = live_figures(10, 0, 10**6, 5000, 1e-9, 1000, 0.9, 0.01)\n"
        "assert 0 < f.herald_rate_lo < f.herald_rate_hz < f.herald_rate_hi\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'asyncio', 'zmq'}))\n"
    )
    assert _fresh_python(code) == "[]"
