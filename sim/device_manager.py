# SPDX-License-Identifier: LGPL-3.0-or-later
"""Device databases for simulation: loading, transformation, and the device manager.

The lab's ``device_db.py`` is used as it is, transformed by :func:`transform_device_db`:

- ``local`` entries of ``artiq.coredevice.<m>`` are mapped to ``sim.devices.<m>`` (same class name)
  when that model exists; ``drivers.*`` and other modules are ionlink's or the user's own code and
  are kept, unless the entry names a simulator subclass with ``"sim_class": "pkg.mod.Cls"``
  (e.g. the entangler driver with the simulator's fast-forward of identical timeouts). An entry's
  optional ``sim_args`` dict is merged into its arguments for the simulated model.
- controllers: ``core_log`` (``aqctl_corelog``) becomes :class:`SimCoreLog`; a controller with
  ``"sim_class": "pkg.mod.Cls"`` (or whose command is ``aqctl_ionlink_<name>`` and whose module
  ``drivers.controllers.aqctl_ionlink_<name>`` defines ``SIM_CLASS``) becomes
  ``Cls(simulation=True)`` (with ``dmgr=`` too if it takes one: an instrument of the simulated lab).
- anything else is replaced by a placeholder that raises a clear :class:`DeviceError` naming the
  device when (and only when) an experiment requests it.

Every transformed entry is an ordinary ``local`` entry, so ARTIQ's own ``DeviceManager``
(``artiq_run``, ``artiq_master`` via ``device_db_sim.py``) can instantiate it too.
"""

from __future__ import annotations

import ast
import copy
import importlib
import importlib.util
import inspect
import logging
import os
import pathlib
from typing import Any

from sim import syscalls
from sim.artiq_env import real_artiq_available
from sim.fileimport import import_file
from sim.path_hint import relative_path_hint

__all__ = [
    "DeviceError",
    "DeviceDBError",
    "DeviceManager",
    "load_device_db",
    "transform_device_db",
    "SimCoreLog",
    "simulated_controller",
    "unavailable_device",
    "DummyDevice",
]

logger = logging.getLogger(__name__)

_DeviceErrorBase: type = Exception
if real_artiq_available():  # pragma: no cover - exercised in the lab
    try:
        from artiq.master.worker_db import DeviceError as _DeviceErrorBase  # type: ignore
    except Exception:
        _DeviceErrorBase = Exception


class DeviceError(_DeviceErrorBase):
    """A device could not be created (subclass of ARTIQ's ``DeviceError`` where ARTIQ is
    installed)."""


class DeviceDBError(ValueError):
    """The device database file cannot be loaded or is malformed."""


class DummyDevice:
    """Device of ``{"type": "dummy"}`` entries."""


# ---------------------------------------------------------------------------------------------
# loading


def load_device_db(path: str | os.PathLike) -> dict:
    """Import a ``device_db.py`` file and return its ``device_db`` dict.

    :raises DeviceDBError: the file is missing, does not import, or defines no ``device_db`` dict.
    """
    path = pathlib.Path(path)
    if path.is_dir():
        raise DeviceDBError(
            "device database '{}' is a folder: give its device_db.py file".format(path)
        )
    if not path.is_file():
        raise DeviceDBError(
            "device database '{}' not found{}".format(
                path, relative_path_hint(path, "--device-db ")
            )
        )
    try:
        module = import_file(path, "ionlink_device_db_" + path.stem)
    except Exception as exc:
        raise DeviceDBError(
            "cannot load device database '{}': {}: {}".format(path, type(exc).__name__, exc)
        ) from exc
    ddb = module.__dict__.get("device_db")
    if not isinstance(ddb, dict):
        raise DeviceDBError("device database '{}' defines no 'device_db' dict".format(path))
    return ddb


# ---------------------------------------------------------------------------------------------
# placeholders and simulated controllers (constructed as local devices: ``f(dmgr, **arguments)``)


def unavailable_device(dmgr: Any, name: str, module: str, cls: str, reason: str = "") -> Any:
    """Placeholder for a device without simulation: raises :class:`DeviceError` naming it."""
    message = "no simulation model for device '{}' ({}.{})".format(name, module, cls)
    if reason:
        message += ": " + reason
    raise DeviceError(message)


def simulated_controller(
    dmgr: Any, sim_class: str, name: str = "", arguments: dict | None = None
) -> Any:
    """Create the simulated stand-in of a controller: ``sim_class(simulation=True,
    **arguments)``."""
    modname, _, clsname = sim_class.rpartition(".")
    try:
        cls = getattr(importlib.import_module(modname), clsname)
    except (ImportError, AttributeError, ValueError) as exc:
        raise DeviceError(
            "simulated client '{}' of controller '{}' not found: {}".format(sim_class, name, exc)
        ) from exc
    kwargs = dict(arguments or {})
    try:
        if "dmgr" in inspect.signature(cls).parameters:
            kwargs["dmgr"] = dmgr  # a simulated instrument bound to the session's lab
    except (TypeError, ValueError):
        pass
    return cls(simulation=True, **kwargs)


class SimCoreLog:
    """Simulated client of the ``core_log`` controller (``aqctl_corelog``).

    The core log's lines (RTIO sequence errors, collisions, ...) are those of the simulation
    session (the runner's, or under ARTIQ's own device manager the private session of the
    ``core`` device): :meth:`get_log` returns them; they are also logged by the session itself.
    """

    def __init__(self, dmgr: Any, name: str = "core_log"):
        self._dmgr = dmgr
        self.name = name

    def ping(self) -> bool:
        """Controller-manager liveness check."""
        return True

    def get_log(self) -> list[str]:
        """Core-log lines of the current simulation session."""
        session = getattr(self._dmgr, "ionlink_session", None)
        if session is None:
            session = getattr(self._dmgr.get("core"), "session", None)
        return list(getattr(session, "async_errors", []))

    def close_rpc(self) -> None:
        """Nothing to close."""

    def close(self) -> None:
        """Nothing to close."""


# ---------------------------------------------------------------------------------------------
# transformation

_MAPPED_PREFIX = "artiq.coredevice."
_SIM_PREFIX = "sim.devices."


def _local(module: str, cls: str, arguments: dict) -> dict:
    return {"type": "local", "module": module, "class": cls, "arguments": arguments}


def _unavailable(name: str, module: str, cls: str, reason: str = "") -> dict:
    return _local(
        __name__,
        "unavailable_device",
        {"name": name, "module": module, "cls": cls, "reason": reason},
    )


def _sim_model(name: str, module: str, cls: str) -> tuple[str | None, str]:
    """Return (module of the simulated model, reason if there is none)."""
    sim_module = _SIM_PREFIX + module[len(_MAPPED_PREFIX) :]
    try:
        spec = importlib.util.find_spec(sim_module)
    except ModuleNotFoundError:
        spec = None
    if spec is None:
        return None, ""
    try:
        mod = importlib.import_module(sim_module)
    except Exception as exc:  # a broken model must not hide behind "no model"
        return None, "{} fails to import: {}: {}".format(sim_module, type(exc).__name__, exc)
    if not hasattr(mod, cls):
        return None, ""
    return sim_module, ""


def _transform_local(name: str, desc: dict) -> dict:
    """Map an ``artiq.coredevice`` entry to its model; keep other keys (``sim_loopback`` ...)."""
    module = desc.get("module", "")
    cls = desc.get("class", "")
    out = dict(desc)
    out["arguments"] = dict(desc.get("arguments", {})) | desc.get("sim_args", {})
    out.pop("sim_class", None)
    if module.startswith(_MAPPED_PREFIX):
        sim_module, reason = _sim_model(name, module, cls)
        if sim_module is None:
            return _unavailable(name, module, cls, reason)
        out["module"] = sim_module
    elif isinstance(desc.get("sim_class"), str):
        _check_hardware_class(name, module, cls)
        sim_module, _, sim_cls = desc["sim_class"].rpartition(".")
        out["module"], out["class"] = sim_module, sim_cls
    return out


def _check_hardware_class(name: str, module: str, cls: str) -> None:
    """The hardware class of an entry the simulator replaces by its ``sim_class`` exists, so
    that a typo in the lab's device database does not go unnoticed: an ``artiq.coredevice``
    class the simulator's registry knows (or models), else a module on the path that defines
    ``cls`` (read, not imported: it may need the lab's hardware libraries).

    :raises DeviceDBError: it does not."""
    from sim.registry import DEVICE_CLASSES

    if module.startswith(_MAPPED_PREFIX):
        if cls in DEVICE_CLASSES or _sim_model(name, module, cls)[0] is not None:
            return
        problem = "ARTIQ class {}.{} is unknown to the simulator".format(module, cls)
    else:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin or not os.path.isfile(spec.origin):
            problem = "module '{}' not found".format(module)
        else:
            tree = ast.parse(pathlib.Path(spec.origin).read_bytes(), spec.origin)
            defined = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
            defined |= {
                t.id
                for n in tree.body
                if isinstance(n, ast.Assign)
                for t in n.targets
                if isinstance(t, ast.Name)
            }
            defined |= {
                a.asname or a.name
                for n in tree.body
                if isinstance(n, ast.ImportFrom)
                for a in n.names
            }
            if cls in defined:
                return
            problem = "module '{}' defines no class '{}'".format(module, cls)
    raise DeviceDBError(
        "device database entry '{}': {} (its sim_class stands in for it only in the "
        "simulator; the lab's ARTIQ would fail to load it)".format(name, problem)
    )


def _controller_sim_class(desc: dict) -> str | None:
    if "sim_class" in desc:
        return desc["sim_class"]
    command = desc.get("command") or ""
    program = command.split()[0] if command.split() else ""
    if program.startswith("aqctl_ionlink_"):
        mod = None
        for modname in ("drivers.controllers." + program, "drivers." + program):
            try:
                mod = importlib.import_module(modname)
                break
            except ImportError:
                continue
        if mod is None:
            return None
        target = getattr(mod, "SIM_CLASS", None)
        if isinstance(target, str):
            return target
        if isinstance(target, type):
            return target.__module__ + "." + target.__qualname__
    return None


def _transform_controller(name: str, desc: dict) -> dict:
    command = desc.get("command") or ""
    if name == "core_log" or "aqctl_corelog" in command:
        return _local(__name__, "SimCoreLog", {"name": name})
    sim_class = _controller_sim_class(desc)
    if sim_class is not None:
        return _local(
            __name__,
            "simulated_controller",
            {"sim_class": sim_class, "name": name, "arguments": dict(desc.get("sim_args", {}))},
        )
    return _unavailable(
        name,
        "controller",
        command.split()[0] if command else "?",
        'add "sim_class": "pkg.mod.Cls" to its entry',
    )


def transform_device_db(device_db: dict) -> dict:
    """Return a copy of ``device_db`` in which every entry can be created in the simulator.

    Aliases and ``dummy`` entries are kept. Never raises for devices without a model: their
    placeholders raise :class:`DeviceError` when requested.

    :raises DeviceDBError: an entry is neither a dict nor an alias string.
    """
    out: dict = {}
    for name, desc in device_db.items():
        if isinstance(desc, str):
            out[name] = desc
            continue
        if not isinstance(desc, dict) or "type" not in desc:
            raise DeviceDBError("device database entry '{}' is malformed: {!r}".format(name, desc))
        ty = desc["type"]
        if ty == "local":
            out[name] = _transform_local(name, copy.deepcopy(desc))
        elif ty == "controller":
            out[name] = _transform_controller(name, desc)
        elif ty == "controller_aux_target":
            if "sim_class" in desc:
                out[name] = _local(
                    __name__, "simulated_controller", {"sim_class": desc["sim_class"], "name": name}
                )
            else:
                out[name] = _unavailable(
                    name, "controller_aux_target", str(desc.get("target_name"))
                )
        else:
            out[name] = copy.deepcopy(desc)
    return out


# ---------------------------------------------------------------------------------------------
# the manager


def _create_device(desc: dict, dmgr: "DeviceManager", overrides: dict) -> Any:
    ty = desc["type"]
    if ty == "local":
        module = importlib.import_module(desc["module"])
        factory = getattr(module, desc["class"])
        # a real ARTIQ's syscall stubs in drivers → the simulator; for a class, also in the
        # modules of its bases (a simulator subclass runs its driver's methods)
        syscalls.bind_syscalls(module)
        syscalls.bind_class(factory)
        return factory(dmgr, **(desc.get("arguments", {}) | overrides))
    if ty == "dummy":
        return DummyDevice()
    raise DeviceError("unsupported type in device database: {}".format(ty))


class DeviceManager:
    """Creates and closes the devices of a (transformed) device database, as ARTIQ's does.

    :param ddb: the device database dict (already transformed), or an object with ARTIQ's
        ``DeviceDB`` interface (``get(key, resolve_alias)``, ``get_device_db()``).
    :param virtual_devices: devices not in the database (``scheduler``, ``ccb``).
    :param session: the simulation session; exposed as :attr:`ionlink_session` for ``Core``.
    """

    def __init__(self, ddb: Any, virtual_devices: dict | None = None, *, session: Any = None):
        self.ddb = ddb
        self.virtual_devices = {} if virtual_devices is None else virtual_devices
        self.active_devices: list[tuple[Any, Any]] = []
        self.devarg_override: dict = {}
        self.ionlink_session = session

    def get_device_db(self) -> dict:
        """The full device database."""
        if isinstance(self.ddb, dict):
            return self.ddb
        return self.ddb.get_device_db()

    def get_desc(self, name: str) -> Any:
        """The description of ``name`` with aliases resolved recursively."""
        if not isinstance(self.ddb, dict):
            return self.ddb.get(name, resolve_alias=True)
        seen = [name]
        desc = self.ddb[name]
        while isinstance(desc, str):
            if desc in seen:
                raise DeviceDBError("alias loop: " + " -> ".join(seen + [desc]))
            seen.append(desc)
            desc = self.ddb[desc]
        return desc

    def get(self, name: str) -> Any:
        """Return the device ``name``; equal descriptions share one instance.

        :raises DeviceError: the device is unknown or could not be created (one-line message).
        """
        if name in self.virtual_devices:
            return self.virtual_devices[name]
        try:
            desc = self.get_desc(name)
        except Exception as exc:
            raise DeviceError(
                "Failed to get description of device '{}': {}".format(name, _one_line(exc))
            ) from exc
        for existing_desc, existing_dev in self.active_devices:
            if desc == existing_desc:
                return existing_dev
        try:
            dev = _create_device(desc, self, self.devarg_override.get(name, {}))
        except Exception as exc:
            raise DeviceError(
                "Failed to create device '{}': {}".format(name, _one_line(exc))
            ) from exc
        self.active_devices.append((desc, dev))
        return dev

    def notify_run_end(self) -> None:
        """Call ``notify_run_end()`` of every active device that has it."""
        for _desc, dev in self.active_devices:
            if hasattr(dev, "notify_run_end"):
                dev.notify_run_end()

    def close_devices(self) -> None:
        """Close active devices in reverse creation order (``close_rpc()`` or ``close()``)."""
        for _desc, dev in reversed(self.active_devices):
            try:
                if hasattr(dev, "close_rpc"):
                    dev.close_rpc()
                elif hasattr(dev, "close"):
                    dev.close()
            except Exception:
                logger.warning("Exception raised when closing device %r:", dev, exc_info=True)
        self.active_devices.clear()


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, KeyError) and exc.args:
        text = "unknown device {!r}".format(exc.args[0])
    elif type(exc).__name__ not in ("DeviceError",):
        text = "{}: {}".format(type(exc).__name__, text)
    return " ".join(text.split())
