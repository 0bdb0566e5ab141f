# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulated master's experiment list and interactive arguments, as ARTIQ's dashboard reads
them: ``explist``/``explist_status`` on the notify port in ARTIQ's shapes, ``experiment_db``'s
``examine`` and ``scan_repository`` (a broken file skipped with one log line, a new file picked up
by a rescan) and an experiment's interactive arguments supplied through ``interactive_arg_db``.
With ionlink's protocols, and with sipyco's where it is installed (``-m artiq``)."""

from __future__ import annotations

import asyncio
import logging
import pathlib
import shutil
import sys

import pytest
from master_ports import free_ports

from sim.master.service import Master, MasterPorts
from sim.runner import Simulation

ROOT = pathlib.Path(__file__).resolve().parents[2]
REPO = ROOT / "repository"

REMOTE = "Remote entanglement (entangler-core heralding)"
STARTUP = "Startup: initialise Urukuls, DDS, TTL directions, idle beams"

# a device is an inert placeholder while examined: using one in build fails, as with ARTIQ
USES_DEVICE = """from artiq.experiment import *


class UsesDevice(EnvExperiment):
    def build(self):
        self.setattr_device("core")
        self.period = self.core.ref_period

    def run(self):
        pass
"""

ASK = '''from artiq.experiment import *


class Ask(EnvExperiment):
    """Ask me.

    Interactive arguments."""

    def build(self):
        self.setattr_argument("repeats", NumberValue(2, precision=0, step=1, type="int"))
        self.set_default_scheduling(priority=3)

    def run(self):
        with self.interactive("How many?") as ns:
            ns.setattr_argument("n", NumberValue(3, precision=0, step=1, type="int"))
            ns.setattr_argument("where", EnumerationValue(["a", "b"], "a"), "G", "tip")
        self.set_dataset("ask.n", ns.n * self.repeats, broadcast=True)
'''

NEW = """from artiq.experiment import *


class New(EnvExperiment):
    def build(self):
        self.setattr_argument("label", StringValue("x"))

    def run(self):
        pass
"""


class _Mirror:
    """A subscriber's copy of one notifier."""

    def __init__(self, sync_struct, name: str):
        self.data: dict = {}
        self.sub = sync_struct.Subscriber(name, self._init)

    def _init(self, x: dict) -> dict:
        self.data = x
        return x

    async def until(self, check, timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not check(self.data):
            assert loop.time() < end, "timed out; last: {!r}".format(self.data)
            await asyncio.sleep(0.05)


@pytest.fixture
def repo(tmp_path: pathlib.Path) -> pathlib.Path:
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    for name in ("remote_entanglement.py", "startup.py"):
        shutil.copy(REPO / name, repo / name)
    (repo / "uses_device.py").write_text(USES_DEVICE)
    (repo / "syntax.py").write_text("class Broken(:\n")
    (repo / "sub" / "ask.py").write_text(ASK)
    (repo / ".hidden.py").write_text(NEW)
    return repo


@pytest.mark.parametrize("backend", ["ionlink", pytest.param("sipyco", marks=pytest.mark.artiq)])
def test_explist_examine_rescan_and_interactive_arguments(
    backend, repo, tmp_path, monkeypatch, caplog
):
    if backend == "sipyco":
        pytest.importorskip("sipyco")
    monkeypatch.setenv("IONLINK_COMMS", backend)
    caplog.set_level(logging.WARNING, logger="sim.master.experiment_db")
    ports = MasterPorts(*free_ports(4))
    sim = Simulation(
        ROOT / "device_db.py",
        seed=3,
        lab="oxford2020",
        results_dir=tmp_path / "results",
        dataset_db=tmp_path / "dataset_db.mdb",
    )
    sim.dataset_db.set("calib.link.cool_s", 17e-6, persist=False)  # read by build's defaults
    master = Master(sim, repo, ports=ports)
    proto = master.proto

    async def main():
        await master.start()
        mirrors = {n: _Mirror(proto.sync_struct, n) for n in ("explist", "explist_status")}
        mirrors["interactive_args"] = _Mirror(proto.sync_struct, "interactive_args")
        clients = {}
        try:
            for m in mirrors.values():
                await m.sub.connect("::1", ports.notify)
            for target in ("experiment_db", "schedule", "interactive_arg_db", "dataset_db"):
                clients[target] = proto.pc_rpc.AsyncioClient()
                await clients[target].connect_rpc("127.0.0.1", ports.control, target)
            await mirrors["explist_status"].until(lambda s: s and not s["scanning"])
            await mirrors["explist"].until(bool)
            explist = dict(mirrors["explist"].data)
            status = dict(mirrors["explist_status"].data)
            edb = clients["experiment_db"]
            examined = await edb.examine("startup.py")
            assert await edb.examine(str(repo / "startup.py"), False) == examined  # "open file"
            with pytest.raises(Exception, match="uses_device.py"):
                await edb.examine("uses_device.py")
            # a new file: picked up by a rescan (the dashboard's "Scan repository HEAD")
            (repo / "new.py").write_text(NEW)
            await edb.scan_repository_async()
            await mirrors["explist"].until(lambda e: "New" in e)
            rescanned = set(mirrors["explist"].data)
            # interactive arguments: the run waits for them
            sched = clients["schedule"]
            rid = await sched.submit("main", {"file": "sub/ask.py", "arguments": {}}, 0, None)
            await mirrors["interactive_args"].until(lambda p: rid in p)
            request = mirrors["interactive_args"].data[rid]
            iadb = clients["interactive_arg_db"]
            with pytest.raises(ValueError, match="keys do not match"):
                await iadb.supply(rid, {"n": 5})
            await iadb.supply(rid, {"n": 5, "where": "b"})
            await mirrors["interactive_args"].until(lambda p: rid not in p)
            loop = asyncio.get_running_loop()
            outcome = await loop.run_in_executor(None, master.schedule.wait_outcome, rid, 60)
            asked_n = await clients["dataset_db"].get("ask.n")
            # a cancelled request: the experiment gets CancelledArgsError
            rid2 = await sched.submit("main", {"file": "sub/ask.py", "arguments": {}}, 0, None)
            await mirrors["interactive_args"].until(lambda p: rid2 in p)
            await iadb.cancel(rid2)
            cancelled = await loop.run_in_executor(None, master.schedule.wait_outcome, rid2, 60)
            # a run deleted while it waits: terminated, its request withdrawn
            rid3 = await sched.submit("main", {"file": "sub/ask.py", "arguments": {}}, 0, None)
            await mirrors["interactive_args"].until(lambda p: rid3 in p)
            await sched.delete(rid3)
            await mirrors["interactive_args"].until(lambda p: rid3 not in p)
            deleted = await loop.run_in_executor(None, master.schedule.wait_outcome, rid3, 60)
            ended = (cancelled, deleted)
            return explist, status, examined, rescanned, request, outcome, asked_n, ended
        finally:
            for client in clients.values():
                await client.close_rpc()
            for m in mirrors.values():
                await m.sub.close()
            await master.stop()

    explist, status, examined, rescanned, request, outcome, asked_n, ended = asyncio.run(main())
    cancelled, deleted = ended
    assert status == {"scanning": False, "cur_rev": "N/A"}
    assert set(explist) == {REMOTE, STARTUP, "sub/Ask me"}
    remote = explist[REMOTE]
    assert set(remote) == {"file", "class_name", "arginfo", "argument_ui", "scheduler_defaults"}
    assert (remote["file"], remote["class_name"]) == (
        "remote_entanglement.py",
        "RemoteEntanglement",
    )
    assert (remote["argument_ui"], remote["scheduler_defaults"]) == (None, {})
    mode, group, tooltip = remote["arginfo"]["mode"]
    assert mode == {
        "ty": "EnumerationValue",
        "default": "z",
        "choices": ["z", "parity", "tomography"],
        "quickstyle": False,
    }
    assert group is None and tooltip.startswith("what to run")
    cooling = remote["arginfo"]["cooling_time"][0]
    assert (cooling["ty"], cooling["unit"], cooling["scale"], cooling["min"]) == (
        "NumberValue",
        "us",
        1e-6,
        0.0,
    )
    # the default build read from the master's dataset store (the lab's calibration)
    assert cooling["default"] == 17e-6
    assert remote["arginfo"]["heralds_per_setting"][0]["type"] == "int"
    assert list(remote["arginfo"])[:3] == ["mode", "heralds_per_setting", "parity_points"]
    ask = explist["sub/Ask me"]
    assert (ask["file"], ask["class_name"]) == ("sub/ask.py", "Ask")
    assert ask["scheduler_defaults"] == {"priority": 3}
    startup = explist[STARTUP]
    assert examined == {
        "Startup": {
            "name": STARTUP,
            "arginfo": startup["arginfo"],
            "argument_ui": None,
            "scheduler_defaults": {},
        }
    }
    # the broken files: one warning line each, the others listed
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Skipping")]
    assert len(skipped) == 4 and all("\n" not in s for s in skipped), skipped  # 2 scans
    assert any("'uses_device.py'" in s and "AttributeError" in s for s in skipped)
    assert any("'syntax.py'" in s and "SyntaxError" in s for s in skipped)
    assert rescanned == {REMOTE, STARTUP, "sub/Ask me", "New"}
    assert request["title"] == "How many?"
    assert [tuple(d) for d in request["arglist_desc"]] == [
        ("n", {"ty": "NumberValue", "default": 3, "unit": "", "scale": 1.0, "step": 1,
               "min": None, "max": None, "precision": 0, "type": "int"}, None, None),
        ("where", {"ty": "EnumerationValue", "default": "a", "choices": ["a", "b"],
                   "quickstyle": False}, "G", "tip"),
    ]  # fmt: skip
    assert outcome.exit_code == 0 and asked_n == 10
    assert cancelled.exit_code != 0 and "CancelledArgsError" in (cancelled.error or "")
    assert deleted.status == "terminated", deleted


def test_examining_runs_in_child_processes_a_hung_or_dying_file_is_skipped(tmp_path):
    """A file whose import never ends is given up after the timeout, one that kills its
    process is reported, and the files after them are still examined (by new processes); the
    master's process sees none of their imports."""
    from sim.master.examine import ExamineError, examine_files

    (tmp_path / "hang.py").write_text("while True:\n    pass\n")
    (tmp_path / "dies.py").write_text("import os\nos._exit(3)\n")
    (tmp_path / "new.py").write_text(NEW + "\nimport sys\nsys.modules['ionlink_marker'] = sys\n")
    files = [tmp_path / n for n in ("hang.py", "dies.py", "new.py")]
    results = dict(examine_files(files, {}, {}, timeout=2.0))
    hang, dies, new = (results[str(f)] for f in files)
    assert isinstance(hang, ExamineError) and "did not finish in 2 s" in hang.reason
    assert isinstance(dies, ExamineError) and "exit status 3" in dies.reason
    assert new["New"]["arginfo"] == {"label": ({"ty": "StringValue", "default": "x"}, None, None)}
    assert "ionlink_marker" not in sys.modules


WRITES_DATASET = """from artiq.experiment import *


class WritesDataset(EnvExperiment):
    def build(self):
        self.set_dataset("seen", 1)

    def run(self):
        pass
"""


def test_examine_says_why_a_file_cannot_be_described(tmp_path):
    """A build that writes a dataset and a file that is not Python are refused with a reason a
    user can act on (not an AttributeError of the examiner's internals)."""
    from sim import artiq_env
    from sim.master.examine import ExamineError, describe_file

    artiq_env.activate()
    (tmp_path / "writes.py").write_text(WRITES_DATASET)
    (tmp_path / "notes.md").write_text("# notes\n")
    with pytest.raises(ExamineError, match="build.. writes dataset 'seen'.*prepare.. or run"):
        describe_file(tmp_path / "writes.py", {}, {})
    with pytest.raises(ExamineError, match="notes.md is not a Python file"):
        describe_file(tmp_path / "notes.md", {}, {})
