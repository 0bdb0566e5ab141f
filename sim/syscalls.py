# SPDX-License-Identifier: LGPL-3.0-or-later
"""Simulated core-device syscalls, by their ARTIQ names (``artiq/coredevice/rtio.py``, ``dma.py``,
``cache.py``; firmware ``artiq/firmware/ksupport/``).

Each call goes to the engine of the core whose kernel is running (set by ``Core.run`` through
:func:`activate`). With a real ARTIQ installed, :func:`bind_syscalls` replaces a driver module's
syscall stubs (functions whose ``artiq_embedded.syscall`` is set) by these functions, so real
drivers run on the simulator unchanged.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

from sim.collector import rpc_running

__all__ = [
    "rtio_output",
    "rtio_output_wide",
    "rtio_pulse",
    "rtio_input_timestamp",
    "rtio_input_data",
    "rtio_input_timestamped_data",
    "input_count",
    "rtio_get_counter",
    "rtio_init",
    "rtio_get_destination_status",
    "dma_record_start",
    "dma_record_stop",
    "dma_erase",
    "dma_retrieve",
    "dma_playback",
    "cache_get",
    "cache_put",
    "test_exception_id_sync",
    "activate",
    "active_engine",
    "charge_rpc",
    "call_rpc",
    "bind_syscalls",
    "bind_class",
    "bind_globals",
    "bind_hot",
    "hot_names",
    "rebind",
    "refresh_hot",
    "SYSCALLS",
    "ACTIVE",
]


class _Active:
    engine: Any = None
    in_rpc: int = 0  # host RPCs being executed for the running kernel


_A = _Active()
#: the holder of the active engine (``ACTIVE.engine``, None outside a kernel), for a per-event
#: path that runs as a driver's own method (:func:`sim.rtio.ttl_outputs.ttl_pulse`)
ACTIVE = _A


# Hot calls: modules that make these per event are registered with :func:`bind_hot` when one of
# their devices is made (the device manager, the device models' constructors); while a kernel
# runs, their module globals of these names are the active engine's bound methods (no wrapper
# frame per event, as compiled code calls the syscall directly). The timeline functions go to the
# same engine, which is also the installed time manager while a simulated kernel runs.
HOT = {
    "rtio_output": "rtio_output",
    "rtio_pulse": "rtio_pulse",
    "rtio_input_timestamp": "rtio_input_timestamp",
    "rtio_input_data": "rtio_input_data",
    "rtio_input_timestamped_data": "rtio_input_timestamped_data",
    "delay": "take_time",
    "delay_mu": "take_time_mu",
    "now_mu": "get_time_mu",
    "at_mu": "set_time_mu",
    "dma_playback": "dma_playback",
}
_hot_modules: list[tuple[dict, dict[str, Any]]] = []
#: per hot name, the globals of the registered modules that hold it (for :func:`refresh_hot`)
_hot_holders: dict[str, list[dict]] = {}


def _unbound() -> dict[str, Any]:
    """The functions the hot names hold outside a kernel (syscall wrappers, language core)."""
    from artiq.language import core as lcore

    g = globals()
    return {
        name: g[name] if name.startswith(("rtio_", "dma_")) else getattr(lcore, name)
        for name in HOT
    }


def hot_names(module_globals: dict) -> dict[str, Any]:
    """The globals of a module that hold a hot function (see :data:`HOT`), with that function;
    empty for a module registered with :func:`bind_hot` (the registry rebinds those)."""
    if any(g is module_globals for g, _ in _hot_modules):
        return {}
    return {n: f for n, f in _unbound().items() if module_globals.get(n) is f}


def bind_hot(module_globals: dict) -> None:
    """Register a module for good (pass ``globals()``; called when a device of a device model or
    driver module is made, never at import): its hot globals are rebound to the active engine's
    methods by :func:`activate`. Registering a module again does nothing."""
    names = hot_names(module_globals)
    if names:
        _hot_modules.append((module_globals, names))
        for name in names:
            _hot_holders.setdefault(name, []).append(module_globals)
        rebind(module_globals, names, _A.engine)


def rebind(g: dict, names: dict[str, Any], engine: Any) -> None:
    """Point the hot ``names`` of module globals ``g`` at ``engine`` (None: the plain functions).
    For a kernel's own module, bound only while its kernel runs (experiment files are imported
    afresh for every run, so they are not registered)."""
    for name, fn in names.items():
        g[name] = getattr(engine, HOT[name]) if engine is not None else fn


def refresh_hot(engine: Any, name: str | None = None) -> None:
    """Rebind the hot names again if ``engine`` is active (it swapped one of its methods);
    ``name``: only that hot name (the one swapped; the others are bound already)."""
    if _A.engine is not engine:
        return
    if name is None:
        for g, names in _hot_modules:
            rebind(g, names, engine)
        return
    method = getattr(engine, HOT[name])
    for g in _hot_holders.get(name, ()):
        g[name] = method


def activate(engine: Any) -> Any:
    """Make ``engine`` the target of the syscalls; returns the previously active engine."""
    prev = _A.engine
    _A.engine = engine
    for g, names in _hot_modules:
        rebind(g, names, engine)
    return prev


def active_engine() -> Any:
    """The engine of the kernel being run (``RuntimeError`` outside a kernel)."""
    eng = _A.engine
    if eng is None:
        raise RuntimeError("RTIO syscall outside a simulated kernel (no active core)")
    return eng


def charge_rpc(is_async: bool) -> None:
    """Charge a kernel→host RPC to the RTIO counter (``CostProfile.rpc``/``rpc_async``): the CPU
    waits for a synchronous call's round trip and only queues an asynchronous one. No-op outside
    a kernel."""
    eng = _A.engine
    if eng is not None:
        eng.advance_counter(eng.costs.rpc_async if is_async else eng.costs.rpc)


def call_rpc(function: Any, args: tuple, kwargs: dict, is_async: bool) -> Any:
    """Call an explicit RPC ``function``: when a kernel makes the call, charge it once
    (:func:`charge_rpc`). What the RPC then does on the host, other ``@rpc`` methods included
    (``set_dataset`` is one), runs on the host and costs the kernel nothing, however long it
    takes: the RTIO counter never depends on host code or host time."""
    eng = _A.engine
    if eng is None or _A.in_rpc:
        return function(*args, **kwargs)
    eng.advance_counter(eng.costs.rpc_async if is_async else eng.costs.rpc)  # charge_rpc, inline
    _A.in_rpc += 1
    try:
        with rpc_running():  # host code: the cyclic collector runs as usual (sim.collector)
            return function(*args, **kwargs)
    finally:
        _A.in_rpc -= 1


def rtio_output(target: int, data: int) -> None:
    """Submit ``data`` to ``target = channel << 8 | address`` at ``now_mu``."""
    _A.engine.rtio_output(target, data)


def rtio_pulse(target: int, duration: Any, seconds: bool = True) -> None:
    """``rtio_output(target, 1)``, ``delay(duration)`` (``delay_mu`` if not ``seconds``),
    ``rtio_output(target, 0)`` in one call (the simulator's ``ttl.pulse``; not an ARTIQ
    syscall)."""
    _A.engine.rtio_pulse(target, duration, seconds)


def rtio_output_wide(target: int, data: Any) -> None:
    """Submit a multi-word event."""
    _A.engine.rtio_output_wide(target, data)


def rtio_input_timestamp(timeout_mu: int, channel: int) -> int:
    """Timestamp of the next input event on ``channel`` or -1 if the counter reaches
    ``timeout_mu``."""
    return _A.engine.rtio_input_timestamp(timeout_mu, channel)


def input_count(timeout_mu: int, channel: int) -> int:
    """``rtio_input_timestamp(timeout_mu, channel)`` until it returns -1, in one call (the loop of
    ``TTLInOut.count``; each read is charged); the number of events read."""
    return _A.engine.rtio_input_count(timeout_mu, channel)


def rtio_input_data(channel: int) -> int:
    """Data of the next input event on ``channel`` (blocks)."""
    return _A.engine.rtio_input_data(channel)


def rtio_input_timestamped_data(timeout_mu: int, channel: int) -> tuple[int, int]:
    """``(timestamp, data)`` of the next input event or ``(-1, 0)`` on timeout."""
    return _A.engine.rtio_input_timestamped_data(timeout_mu, channel)


def rtio_get_counter() -> int:
    """The RTIO counter (a multiple of 8 mu)."""
    return active_engine().rtio_get_counter()


def rtio_init() -> None:
    """Reset the RTIO core (lanes, FIFOs, sensitivities)."""
    active_engine().rtio_init()


def rtio_get_destination_status(destination: int) -> bool:
    """DRTIO destination status: the local destination 0 is always up, a satellite when its link
    is (:mod:`sim.rtio.drtio`)."""
    return active_engine().rtio_get_destination_status(destination)


def dma_record_start(name: str) -> None:
    active_engine().dma_record_start(name)


def dma_record_stop(duration: int, enable_ddma: bool = False) -> None:
    active_engine().dma_record_stop(duration, enable_ddma)


def dma_erase(name: str) -> None:
    active_engine().dma_erase(name)


def dma_retrieve(name: str) -> tuple[int, int, bool]:
    return active_engine().dma_retrieve(name)


def dma_playback(timestamp: int, ptr: int, enable_ddma: bool = False) -> None:
    active_engine().dma_playback(timestamp, ptr, enable_ddma)


def cache_get(key: str) -> list[int]:
    return active_engine().cache_get(key)


def cache_put(key: str, value: list[int]) -> None:
    active_engine().cache_put(key, value)


def test_exception_id_sync(exception_id: int) -> None:
    """Raise the firmware's exception number ``exception_id`` (the core device's check that host
    and firmware number exceptions alike; :func:`sim.kernel_exceptions.exception_by_id`)."""
    from sim.kernel_exceptions import exception_by_id

    exception_by_id(exception_id)


SYSCALLS = {
    name: globals()[name]
    for name in __all__
    if name.startswith(("rtio_", "dma_", "cache_", "test_exception")) and name != "rtio_pulse"
}


def bind_syscalls(module: ModuleType) -> list[str]:
    """Replace ARTIQ syscall stubs in ``module`` by the simulated ones (by syscall name).

    A stub is a module attribute with ``artiq_embedded.syscall`` set to a name this module provides.
    Returns the attribute names that were replaced.
    """
    return bind_globals(vars(module))


def bind_globals(g: dict) -> list[str]:
    """:func:`bind_syscalls` on a module's globals dict (a kernel's ``__globals__``)."""
    replaced = []
    for attr, value in list(g.items()):
        emb = getattr(value, "artiq_embedded", None)
        name = getattr(emb, "syscall", None) if emb is not None else None
        if name in SYSCALLS:
            g[attr] = SYSCALLS[name]
            replaced.append(attr)
    return replaced


_bound_classes: set[type] = set()


def bind_class(factory: Any) -> None:
    """Bind the syscall stubs and hot names (:func:`bind_hot`) of the module of a device
    ``factory`` and, for a class, of the modules of its bases (a simulator subclass runs its
    driver's methods). Done once per class; whichever device manager made the device."""
    if isinstance(factory, type):
        if factory in _bound_classes:
            return
        _bound_classes.add(factory)
    names = {getattr(factory, "__module__", None)} | {
        c.__module__ for c in getattr(factory, "__mro__", ()) if c.__module__ != "builtins"
    }
    for name in names:
        module = sys.modules.get(name) if name else None
        if module is not None:
            bind_syscalls(module)
            bind_hot(vars(module))
