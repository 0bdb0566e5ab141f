# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulated master on its ports: a client subscribed to ``datasets`` sees the ``live.*``
datasets of a running simulated experiment change, the ``dataset_db`` and ``schedule`` RPCs
work, the experiments' ``ccb`` calls are broadcast and listed, and ``ionlink-sim master`` /
``ionlink-sim submit`` work from the command line."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import pathlib
import subprocess
import sys
import time
import types

import pytest
from master_ports import free_ports

from comms import broadcast, pc_rpc, sync_struct
from sim.master.service import Master, MasterPorts
from sim.runner import Simulation

ROOT = pathlib.Path(__file__).resolve().parents[2]
REPO = ROOT / "repository"


def test_client_sees_live_datasets_of_a_running_experiment(tmp_path, monkeypatch):
    monkeypatch.setenv("IONLINK_COMMS", "ionlink")
    ports = MasterPorts(*free_ports(4))
    sim = Simulation(
        ROOT / "device_db.py",
        seed=5,
        lab="oxford2020",
        results_dir=tmp_path / "results",
        dataset_db=tmp_path / "dataset_db.mdb",
    )
    asked: list[str] = []
    master = Master(sim, REPO, ports=ports, on_applet=asked.append)
    live_mods: list[dict] = []
    ccb_calls: list[dict] = []

    async def main():
        await master.start()
        try:
            copy: dict = {}

            def build(x):
                copy.clear()
                copy.update(x)
                return copy

            def on_mod(mod):
                key = mod["path"][0] if mod.get("path") else mod.get("key")
                if isinstance(key, str) and key.startswith("live."):
                    live_mods.append(mod)

            sub = sync_struct.Subscriber("datasets", build, on_mod)
            await sub.connect("::1", ports.notify)
            receiver = broadcast.Receiver("ccb", ccb_calls.append)
            await receiver.connect("127.0.0.1", ports.broadcast)
            ctl = pc_rpc.AsyncioClient()
            await ctl.connect_rpc("127.0.0.1", ports.control, "schedule")
            await ctl.submit("main", {"file": "startup.py", "arguments": {}, "repo_rev": None})
            rid = await ctl.submit(
                "main",
                {
                    "file": str(REPO / "remote_entanglement.py"),
                    "class_name": None,
                    "arguments": {"mode": "z", "heralds_per_setting": 120},
                },
            )
            loop = asyncio.get_running_loop()
            outcome = await loop.run_in_executor(None, master.schedule.wait_outcome, rid, 180)
            assert (await ctl.get_outcome(rid))["exit_code"] == 0
            with pytest.raises(FileNotFoundError):
                await ctl.submit("main", {"file": "nosuch.py", "arguments": {}})
            await ctl.close_rpc()
            await asyncio.sleep(0.2)
            ddb = pc_rpc.AsyncioClient()
            await ddb.connect_rpc("::1", ports.control, "dataset_db")
            psi_plus = await ddb.get("live.psi_plus")
            await ddb.close_rpc()
            await sub.close()
            await receiver.close()
            applets = dict(master.applets.raw_view)
            return outcome, copy, psi_plus, applets
        finally:
            await master.stop()

    outcome, copy, psi_plus, applets = asyncio.run(main())
    assert outcome.exit_code == 0 and pathlib.Path(outcome.results_file).is_file()
    # the subscriber's copy equals the master's store, and live.* changed during the run
    t_mods = [m for m in live_mods if m.get("path") == ["live.trace.t_lab_s", 1]]
    assert len(t_mods) >= 2, "the lab-time trace grew in several updates"
    assert [m["x"] for m in t_mods] == copy["live.trace.t_lab_s"][1]
    assert sorted(m["x"] for m in t_mods) == [m["x"] for m in t_mods]
    plus = [m["value"][1] for m in live_mods if m.get("key") == "live.psi_plus"]
    assert len(set(plus)) >= 2 and plus[-1] == psi_plus == copy["live.psi_plus"][1] > 0
    hist = copy["live.arrival_hist"][1]  # clicks per 1 ns bin
    assert sum(hist) >= 120
    gate = copy["live.arrival_gate_ns"][1]
    clicked = [k for k, c in enumerate(hist) if c]
    assert math.floor(gate[0]) <= clicked[0] and clicked[-1] < gate[1]
    assert {c["service"] for c in ccb_calls} == {"create_applet"}
    assert {c["kwargs"]["group"] for c in ccb_calls} == {"ionlink"}
    assert set(applets) == {c["args"][0] for c in ccb_calls} and len(applets) == 5
    assert asked == [c["args"][0] for c in ccb_calls], "the master opens the applets asked for"


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), IONLINK_COMMS="ionlink")
    env.pop("DISPLAY", None)
    env.pop("QT_QPA_PLATFORM", None)
    return env


def test_master_and_submit_command_line(tmp_path):
    notify, control, bcast, logport = free_ports(4)
    cmd = [sys.executable, "-m", "sim", "master", "--device-db", str(ROOT / "device_db.py")]
    cmd += ["-r", str(REPO), "--lab", "oxford2020", "--seed", "2", "--no-applets"]
    cmd += ["--port-notify", str(notify), "--port-control", str(control)]
    cmd += ["--port-broadcast", str(bcast), "--port-logging", str(logport)]
    cmd += ["--no-localhost-bind", "--bind", "127.0.0.1"]
    master = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert master.stdout.readline().strip() == "ionlink simulated master is ready."
        experiments = pc_rpc.Client("127.0.0.1", control, "experiment_db", timeout=10)
        assert experiments.examine("startup.py")["Startup"]["arginfo"] == {}
        experiments.close_rpc()
        submit = [sys.executable, "-m", "sim", "submit", "-s", "127.0.0.1", "--port", str(control)]
        done = subprocess.run(
            submit + ["-R", "startup.py", "-w"],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("RID: 0\nresults: ") and "Startup.h5" in done.stdout
        # the master's path, absolute: the client may run in another folder
        assert pathlib.Path(done.stdout.split("results: ")[1].split("\n")[0]).is_absolute()
        bad = subprocess.run(
            submit + ["nosuch.py"], cwd=tmp_path, env=_env(), capture_output=True, text=True
        )
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
        assert "nosuch.py" in bad.stderr
        refused = subprocess.run(
            submit + ["-R", "nosuch.py", "-w"], cwd=tmp_path, env=_env(), capture_output=True
        )  # the master's refusal (FileNotFoundError over RPC): one line, exit 2
        assert refused.returncode == 2 and refused.stderr.count(b"\n") == 1, refused.stderr
        assert b"refused the experiment: experiment file 'nosuch.py' not found" in refused.stderr
        # a master stopped mid-run: the waiting submit learns the run was terminated, and where
        # its results are (not "internal error: EOFError")
        waiting = subprocess.Popen(
            submit + ["-R", "remote_entanglement.py", "heralds_per_setting=100000", "-w"],
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        schedule = pc_rpc.Client("127.0.0.1", control, "schedule", timeout=10)
        while not any(r["status"] == "running" for r in schedule.get_status().values()):
            time.sleep(0.1)
        schedule.close_rpc()
        pc_rpc.Client("127.0.0.1", control, "master_management", timeout=10).terminate()
        out, err = waiting.communicate(timeout=60)
        assert waiting.returncode != 0 and err.count("\n") == 1, err
        assert err.startswith("ionlink-sim: RID 1 terminated: the master stopped"), err
        assert "RemoteEntanglement.h5" in out
        assert master.wait(30) == 0
    finally:
        if master.poll() is None:
            master.kill()
            master.wait()
    assert (tmp_path / "dataset_db.mdb").is_file()


class _LostClient:
    """A pc_rpc client whose master goes away while ``submit --wait`` polls."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def submit(self, *args: object) -> int:
        return 7

    def get_outcome(self, rid: int) -> None:
        raise EOFError("connection closed by the server")

    def close_rpc(self) -> None:
        pass


def test_submit_wait_says_when_the_master_went_away(tmp_path, monkeypatch, capsys):
    """The connection lost while waiting: one line naming the master and the run, exit 3."""
    import comms.backend
    from sim.cli import main
    from sim.master.cli import MASTER_LOST

    proto = comms.backend.protocols()
    monkeypatch.setattr(
        comms.backend,
        "protocols",
        lambda: dataclasses.replace(proto, pc_rpc=types.SimpleNamespace(Client=_LostClient)),
    )
    (tmp_path / "exp.py").write_text("")
    assert main(["submit", str(tmp_path / "exp.py"), "-w", "--port", "1"]) == MASTER_LOST == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "ionlink-sim: error: lost the master at [::1]:1 while RID 7 was queued or running; its "
        "outcome is unknown (a master that stops cleanly terminates the run and writes its "
        "results file): connection closed by the server"
    ]
