# SPDX-License-Identifier: LGPL-3.0-or-later
"""Compile every experiment in repository/ with the real ARTIQ compiler (offline).

Skipped unless a real ARTIQ (with its legacy ``artiq.compiler``) and ``ld.lld``
are available, e.g. run with a venv that has ARTIQ installed:
``/opt/artiq-venv/bin/python -m pytest tests/test_artiq_compile.py``.
Nothing is uploaded: every core device is built with ``host=None``.
"""
import inspect
import os
import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("artiq.compiler")
core_mod = pytest.importorskip("artiq.coredevice.core")
# ARTIQ calls ld.lld/llvm-strip from PATH; a venv may carry them in its bin/.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
if shutil.which("ld.lld") is None:
    pytest.skip("ld.lld not found on PATH", allow_module_level=True)

from artiq.language.core import rpc  # noqa: E402
from artiq.language.environment import ProcessArgumentManager, is_public_experiment  # noqa: E402
from artiq.master.databases import DeviceDB  # noqa: E402
from artiq.master.worker_db import DatasetManager, DeviceManager  # noqa: E402
from artiq.tools import file_import  # noqa: E402
from artiq.frontend.artiq_run import DummyCCB, DummyScheduler  # noqa: E402

pytestmark = pytest.mark.artiq
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # drivers/ are imported by the device_db
EXPERIMENTS = sorted(p for p in (ROOT / "repository").glob("*.py") if not p.name.startswith("_"))
core_mod.colors_supported = False


class _EmptyDatasetDB:
    def get(self, key):
        raise KeyError(key)  # -> get_dataset() falls back to its default

    def update(self, mod):
        pass


def _kernels(cls):
    """`run` if it is a kernel, else every kernel method taking only self."""
    def is_kernel(f):
        emb = getattr(f, "artiq_embedded", None)
        return emb is not None and emb.function is not None and emb.core_name is not None \
            and getattr(emb, "destination", None) is None
    if is_kernel(getattr(cls, "run", None)):
        return ["run"]

    def self_only(f):
        params = list(inspect.signature(f.artiq_embedded.function).parameters.values())[1:]
        return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                   for p in params)
    return [name for name, f in inspect.getmembers(cls) if is_kernel(f) and self_only(f)]


def _fresh_drivers():
    """Re-import the drivers: a simulation earlier in this process bound their syscall names to
    the simulator (for good); the compiler needs ARTIQ's syscall stubs."""
    import importlib

    for name, mod in list(sys.modules.items()):
        if name == "drivers" or name.startswith("drivers."):
            importlib.reload(mod)


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_experiment_kernels_compile(path):
    _fresh_drivers()
    ddb = DeviceDB(str(ROOT / "device_db.py"))
    module = file_import(str(path), prefix="artiq_compile_test_")
    classes = inspect.getmembers(module, is_public_experiment)
    assert classes, f"no experiment class in {path.name}"
    for cname, cls in classes:
        dmgr = DeviceManager(ddb, virtual_devices={"scheduler": DummyScheduler(),
                                                   "ccb": DummyCCB()})
        for name, desc in ddb.get_device_db().items():
            if isinstance(desc, dict) and desc.get("class") == "Core":
                dmgr.devarg_override[name] = {"host": None}
        try:
            exp = cls((dmgr, DatasetManager(_EmptyDatasetDB()), ProcessArgumentManager({}), {}))
            exp.prepare()
            for mname in _kernels(cls):
                method = getattr(cls, mname)

                @rpc(flags={"async"})
                def set_result(value):
                    pass
                core = getattr(exp, method.artiq_embedded.core_name)
                err = None
                try:
                    core.compile(method, [exp], {}, set_result=set_result,
                                 attribute_writeback=False)
                except core_mod.CompileError as e:
                    err = str(e)
                if err is not None:
                    pytest.fail(f"{path.name}:{cname}.{mname} does not compile:{err}",
                                pytrace=False)
        finally:
            # Core(host=None) has a dummy comm without close(); close everything else.
            dmgr.active_devices = [(d, v) for d, v in dmgr.active_devices
                                   if not isinstance(v, core_mod.Core)]
            dmgr.close_devices()
