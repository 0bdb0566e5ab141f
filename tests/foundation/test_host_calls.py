# SPDX-License-Identifier: LGPL-3.0-or-later
"""A kernel's calls of host code cost the core what ARTIQ's compiler makes of them.

ARTIQ compiles a kernel's call of a plain host method into a synchronous RPC: the CPU waits for
the host's answer. ARTIQ's own hardware test of this (``test_rtio.py``: a kernel timing a call of
an empty host method with two counter reads, 100 times) accepts a mean between 100 ns and 3.5 ms
and a standard deviation below 1 ms; on the simulated Kasli 2.0 it is the cost table's
synchronous RPC (40 µs). A portable function is no RPC; an ``@rpc(flags={"async"})`` costs the
async figure; host code an RPC runs (other methods, the scheduler) costs the kernel nothing more;
the scheduler's ``check_pause`` from a kernel is a synchronous RPC itself. After the kernel the
experiment's methods are its own again.
"""

from __future__ import annotations

import numpy as np
import pytest
from artiq.experiment import EnvExperiment, kernel, portable, rpc
from artiq.language.types import TInt32, TNone

from sim.rtio.costs import KASLI2
from tests.experiments.simhelpers import simulation


class HostCalls(EnvExperiment):
    """Kernel calls of host code, each between two counter reads"""

    def build(self):
        self.setattr_device("core")
        self.setattr_device("scheduler")
        self.repeats = 100

    def nop(self):
        pass

    def outer(self):
        self.nop()
        self.nop()
        self.scheduler.check_pause()

    @portable
    def twice(self, x: TInt32) -> TInt32:
        return 2 * x

    @rpc(flags={"async"})
    def note(self) -> TNone:
        pass

    @kernel
    def bench(self):
        for i in range(self.repeats):
            t1 = self.core.get_rtio_counter_mu()
            self.nop()
            t2 = self.core.get_rtio_counter_mu()
            self.ts[i] = self.core.mu_to_seconds(t2 - t1)
        t1 = self.core.get_rtio_counter_mu()
        self.twice(3)
        t2 = self.core.get_rtio_counter_mu()
        self.note()
        t3 = self.core.get_rtio_counter_mu()
        self.outer()
        t4 = self.core.get_rtio_counter_mu()
        self.scheduler.check_pause()
        t5 = self.core.get_rtio_counter_mu()
        self.others = [t2 - t1, t3 - t2, t4 - t3, t5 - t4]

    def run(self):
        self.ts = [0.0] * self.repeats
        self.others = [0] * 4
        self.bench()
        self.set_dataset("rpc_time_mean", float(np.mean(self.ts)))
        self.set_dataset("rpc_time_stddev", float(np.std(self.ts)))
        self.set_dataset("others_mu", np.array(self.others))
        self.set_dataset("nop_is_the_method", type(self).nop is getattr(self.nop, "__func__", None))


def test_host_calls_cost_what_artiq_makes_of_them(tmp_path):
    sim = simulation(tmp_path, startup=False)
    try:
        r = sim.run(HostCalls, None, {})
    finally:
        sim.close()
    assert r.exit_code == 0, r.error_message
    d = r.datasets
    counter = KASLI2.get_counter
    # ARTIQ's test_rtio.RPCTest.test_rpc_timing bounds, and the cost table's figure
    assert 100e-9 < d["rpc_time_mean"] < 3.5e-3 and d["rpc_time_stddev"] < 1e-3
    assert d["rpc_time_mean"] == pytest.approx((KASLI2.rpc + counter) * 1e-9, rel=1e-12)
    portable_mu, async_mu, outer_mu, pause_mu = (int(x) for x in d["others_mu"])
    assert portable_mu == counter
    assert async_mu == KASLI2.rpc_async + counter
    assert outer_mu == KASLI2.rpc + counter  # one RPC, whatever host code it runs
    assert pause_mu == KASLI2.rpc + counter
    assert d["nop_is_the_method"]


def test_no_driver_kernel_calls_a_plain_host_method_of_a_driver():
    """The simulator charges the plain host methods that an experiment's kernels name (and
    ``@rpc`` methods), not those of other objects: a driver's kernel (or an experiment's) calling
    a driver's plain method would be an uncharged synchronous RPC on hardware. None of
    ``drivers/`` does; a driver that needs a host call declares it ``@rpc``. (By name: a method
    whose name any kernel of ``drivers/`` or ``repository/`` uses.)"""
    import importlib
    import inspect
    import pkgutil
    from pathlib import Path

    from artiq.language.environment import HasEnvironment

    import drivers
    from sim.devices.core import _names_kernels_use
    from sim.experiment_file import load_experiment_module

    def own_classes(mod):
        return [
            c for _, c in inspect.getmembers(mod, inspect.isclass) if c.__module__ == mod.__name__
        ]

    driver_classes = []
    for info in pkgutil.iter_modules(drivers.__path__):
        driver_classes += own_classes(importlib.import_module("drivers." + info.name))
    root = Path(drivers.__file__).resolve().parents[1]
    experiments = []
    for path in sorted((root / "repository").glob("*.py")):
        experiments += own_classes(load_experiment_module(path))
    named = set().union(*(_names_kernels_use(c) for c in driver_classes + experiments))
    assert {"fetch_counts", "attempts_until_herald_mu", "run_until_herald_mu"} <= named
    called = [
        f"{c.__module__}.{c.__name__}.{name}"
        for c in driver_classes
        # (an experiment's methods, its mixins' among them, are charged)
        if not any(issubclass(e, c) for e in experiments if issubclass(e, HasEnvironment))
        for name in dir(c)
        if name in named
        and not name.startswith("__")
        and inspect.isfunction(f := inspect.getattr_static(c, name, None))
        and getattr(f, "artiq_embedded", None) is None
        and f.__module__ == c.__module__
    ]
    assert not called, called
