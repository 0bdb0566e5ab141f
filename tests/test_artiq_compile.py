# SPDX-License-Identifier: LGPL-3.0-or-later
"""Compile every experiment in repository/, and every kernel of the drivers/ devices, with the
real ARTIQ compiler (offline).

Skipped unless a real ARTIQ (with its legacy ``artiq.compiler``) and ``ld.lld``
are available, e.g. run with a venv that has ARTIQ installed:
``/opt/artiq-venv/bin/python -m pytest tests/test_artiq_compile.py``.
Nothing is uploaded: every core device is built with ``host=None``. Each experiment is compiled
twice: with an empty dataset store (every ``get_dataset`` in ``build()``/``prepare()`` falls back to
its default) and with a lab's persistent ``calib.link.*`` datasets (as a simulation seeds them).
"""

import dis
import inspect
import os
import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("artiq.compiler")
# With ARTIQ's compiler present, a core module that does not import (e.g. its ``Levenshtein``
# dependency missing) is a broken installation: an error, not a skip.
import artiq.coredevice.core as core_mod

# ARTIQ calls ld.lld/llvm-strip from PATH; a venv may carry them in its bin/.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
if shutil.which("ld.lld") is None:
    pytest.skip("ld.lld not found on PATH", allow_module_level=True)

from artiq.frontend.artiq_run import DummyCCB, DummyScheduler
from artiq.language.core import rpc
from artiq.language.environment import ProcessArgumentManager, is_public_experiment
from artiq.language.types import TBool, TFloat, TInt32, TInt64, TList
from artiq.master.databases import DeviceDB
from artiq.master.worker_db import DatasetManager, DeviceManager
from artiq.tools import file_import
from numpy import int32, int64

pytestmark = pytest.mark.artiq
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # drivers/ are imported by the device_db
EXPERIMENTS = sorted(p for p in (ROOT / "repository").glob("*.py") if not p.name.startswith("_"))
core_mod.colors_supported = False


class _DatasetDB:
    """A read-only dataset store holding ``values``; a missing key makes ``get_dataset()`` fall
    back to its default."""

    def __init__(self, values):
        self.values = dict(values)

    def get(self, key):
        return self.values[key]

    def get_metadata(self, key):
        if key not in self.values:
            raise KeyError(key)
        return {}

    def update(self, mod):
        pass


def _lab_datasets():
    from sim.lab_datasets import lab_datasets
    from sim.physics.lab import load_lab

    return lab_datasets(load_lab("oxford2020"))


DATASETS = {"empty": dict, "lab": _lab_datasets}


def _code_names(functions):
    """The attributes of ``self`` the code of ``functions`` (and of the functions nested in them)
    reads (``self.<name>``, not ``self.<device>.<name>``)."""
    names = set()
    todo = [f.__code__ for f in functions if hasattr(f, "__code__")]
    while todo:
        code = todo.pop()
        prev = None
        for ins in dis.get_instructions(code):
            if ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and prev is not None:
                if prev.opname in ("LOAD_FAST", "LOAD_DEREF") and prev.argval == "self":
                    names.add(ins.argval)
            prev = ins
        todo.extend(c for c in code.co_consts if inspect.iscode(c))
    return names


def _kernels(cls):
    """The kernels host code calls: ``run`` if it is a kernel, and every kernel method that the
    host code of ``cls`` names and no kernel of it does (the others, arguments and all, are
    compiled as part of their callers, or never called: a mixin's unused kernel)."""

    def is_kernel(f):
        emb = getattr(f, "artiq_embedded", None)
        return (
            emb is not None
            and emb.function is not None
            and emb.core_name is not None
            and getattr(emb, "destination", None) is None
        )

    kernels = {name: f for name, f in inspect.getmembers(cls) if is_kernel(f)}
    by_kernels = _code_names(f.artiq_embedded.function for f in kernels.values())
    host = [
        f
        for _, f in inspect.getmembers(cls, inspect.isfunction)
        if getattr(f, "artiq_embedded", None) is None
    ]
    by_host = _code_names(host) | {"run"}
    return sorted(name for name in kernels if name in by_host and name not in by_kernels)


def _fresh_drivers():
    """Re-import the drivers: a simulation earlier in this process bound their syscall names to
    the simulator (for good); the compiler needs ARTIQ's syscall stubs."""
    import importlib

    for name, mod in list(sys.modules.items()):
        if name == "drivers" or name.startswith("drivers."):
            importlib.reload(mod)


def _device_manager(ddb):
    from drivers.controllers.waveplates import SimulatedMounts, Waveplates

    # host-side controllers: the driver itself in place of the pc_rpc client (none runs here)
    virtual = {"scheduler": DummyScheduler(), "ccb": DummyCCB()}
    virtual["waveplates"] = Waveplates(SimulatedMounts())
    dmgr = DeviceManager(ddb, virtual_devices=virtual)
    for name, desc in ddb.get_device_db().items():
        if isinstance(desc, dict) and desc.get("class") == "Core":
            dmgr.devarg_override[name] = {"host": None}
    return dmgr


def _close(dmgr):
    # Core(host=None) has a dummy comm without close(); close everything else.
    dmgr.active_devices = [
        (d, v) for d, v in dmgr.active_devices if not isinstance(v, core_mod.Core)
    ]
    dmgr.close_devices()


def _compile_error(core, function, args):
    """``None`` if ``function(*args)`` compiles as a kernel on ``core``, else the diagnostics."""

    @rpc(flags={"async"})
    def set_result(value):
        pass

    try:
        core.compile(function, args, {}, set_result=set_result, attribute_writeback=False)
    except core_mod.CompileError as e:
        return str(e)
    return None


#: the one-chassis system and the two-chassis DRTIO system: every experiment runs on both
DEVICE_DBS = ("device_db.py", "device_db_drtio.py")


@pytest.mark.parametrize("device_db", DEVICE_DBS)
@pytest.mark.parametrize("datasets", sorted(DATASETS))
@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_experiment_kernels_compile(path, datasets, device_db):
    _fresh_drivers()
    ddb = DeviceDB(str(ROOT / device_db))
    module = file_import(str(path), prefix="artiq_compile_test_")
    classes = inspect.getmembers(module, is_public_experiment)
    assert classes, f"no experiment class in {path.name}"
    for cname, cls in classes:
        dmgr = _device_manager(ddb)
        dataset_mgr = DatasetManager(_DatasetDB(DATASETS[datasets]()))
        try:
            exp = cls((dmgr, dataset_mgr, ProcessArgumentManager({}), {}))
            exp.prepare()
            for mname in _kernels(cls):
                method = getattr(cls, mname)
                args = [exp] + _sample_args(method.artiq_embedded.function)
                err = _compile_error(getattr(exp, method.artiq_embedded.core_name), method, args)
                if err is not None:
                    pytest.fail(
                        f"{path.name}:{cname}.{mname} does not compile:{err}", pytrace=False
                    )
        finally:
            _close(dmgr)


# A sample argument of each type the drivers' kernels declare; a DMA handle (unannotated, as
# ARTIQ's own ``CoreDMA.playback_handle``) as ``CoreDMA.get_handle`` returns it.
_SAMPLES = [
    (TInt32, int32(1)),
    (TInt64, int64(8)),
    (TFloat, 1e-6),
    (float, 1e-6),
    (TBool, True),
    (TList(TInt32), [int32(1)] * 4),
    (TList(TInt64), [int64(8)] * 4),
]
_UNANNOTATED = {
    "cool": (int32(0), int64(8), int32(0), False),
    "attempt": (int32(0), int64(8), int32(0), False),
}


def _sample_args(function):
    """Arguments for every parameter of ``function`` without a default (``self`` excluded)."""
    args = []
    for p in list(inspect.signature(function).parameters.values())[1:]:
        if p.default is not p.empty:
            continue
        if p.annotation is p.empty:
            assert p.name in _UNANNOTATED, f"{function.__qualname__}: {p.name} has no type"
            args.append(_UNANNOTATED[p.name])
            continue
        for ty, value in _SAMPLES:
            if p.annotation is ty or p.annotation == ty:
                args.append(value)
                break
        else:
            pytest.fail(f"{function.__qualname__}: no sample for {p.name}: {p.annotation}")
    return args


DRIVER_DEVICES = sorted(
    (device_db, name)
    for device_db in DEVICE_DBS
    for name, desc in DeviceDB(str(ROOT / device_db)).get_device_db().items()
    if isinstance(desc, dict) and desc.get("module", "").startswith("drivers.")
)


@pytest.mark.parametrize(("device_db", "device"), DRIVER_DEVICES)
def test_driver_kernels_compile(device_db, device):
    """Every kernel of a drivers/ device compiles on its own (also those no experiment calls)."""
    _fresh_drivers()
    dmgr = _device_manager(DeviceDB(str(ROOT / device_db)))
    try:
        dev = dmgr.get(device)
        cls = type(dev)
        kernels = [
            (name, f)
            for name, f in inspect.getmembers(cls)
            if getattr(f, "artiq_embedded", None) is not None
            and f.artiq_embedded.core_name is not None
        ]
        assert kernels, f"{device}: no kernels"
        failures = []
        for name, f in kernels:
            err = _compile_error(
                getattr(dev, f.artiq_embedded.core_name),
                f,
                [dev] + _sample_args(f.artiq_embedded.function),
            )
            if err is not None:
                failures.append(f"{cls.__name__}.{name}:{err}")
        if failures:
            pytest.fail("\n".join(failures), pytrace=False)
    finally:
        _close(dmgr)
