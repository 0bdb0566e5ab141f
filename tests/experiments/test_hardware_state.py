# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulated hardware keeps its state between ``ionlink-sim run`` processes (sim_state/), and
pulses through an uninitialised Urukul stop the experiment."""

from __future__ import annotations

import json
import logging
import os
import pathlib
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from comms import pyon
from sim.cli import main
from sim.rtio.channels import Kind
from sim.rtio.phy.urukul import UrukulUninitialised
from sim.runner import Simulation

from .simhelpers import REPO, ROOT

SEQUENCE = [
    ("startup.py", {}),
    ("readout_calibration.py", {"shots": 40}),
    ("remote_entanglement.py", {"mode": "parity", "heralds_per_setting": 6}),
]


@pytest.fixture
def lab_dir(tmp_path, monkeypatch):
    """A copy of the repository's device database and lab, results and dataset store beside (the
    working directory, where the command line keeps the store)."""
    shutil.copy(ROOT / "device_db.py", tmp_path / "device_db.py")
    shutil.copy(ROOT / "lab.toml", tmp_path / "lab.toml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _cli(lab_dir: pathlib.Path, experiment: str, *args: str) -> int:
    return main(
        [
            "run",
            str(REPO / experiment),
            "--device-db",
            str(lab_dir / "device_db.py"),
            "--results",
            str(lab_dir / "results"),
            "-q",
            *args,
        ]
    )


def _datasets(path: pathlib.Path) -> dict:
    """Every dataset of a results file except the wall-clock ones and where the random stream
    came from (a process that continues the state file says so, one session does not);
    ``expid`` by its arguments."""
    out = {}
    with h5py.File(path, "r") as f:

        def visit(name: str, obj: object) -> None:
            if (
                isinstance(obj, h5py.Dataset)
                and "wall" not in name
                and not name.endswith("provenance.random_stream")
                and name not in ("start_time", "run_time", "expid")
            ):
                out[name] = obj[()]

        f.visititems(visit)
        out["expid.arguments"] = pyon.decode(f["expid"][()].decode())["arguments"]
    return out


@pytest.mark.slow
def test_cli_sequence_gives_the_python_session_results(tmp_path):
    """startup → readout calibration → remote entanglement, as three processes (hardware state
    in sim_state/) and as one Python session with the same seed: identical results files, and
    the entanglement is there (the restored Urukuls play the analysis pulses)."""
    py_dir, cli_dir = tmp_path / "py", tmp_path / "cli"
    py_dir.mkdir()
    cli_dir.mkdir()
    with Simulation(ROOT / "device_db.py", seed=7, results_dir=py_dir / "results") as sim:
        py_files = [sim.run(REPO / name, arguments=args).results_file for name, args in SEQUENCE]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for name, args in SEQUENCE:
        argv = [f"{k}={pyon.encode(v)}" for k, v in args.items()]
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sim",
                "run",
                str(REPO / name),
                *argv,
                "--seed",
                "7",
                "-q",
                "--device-db",
                str(ROOT / "device_db.py"),
                "--results",
                str(cli_dir / "results"),
            ],
            check=True,
            env=env,
            cwd=cli_dir,
            stdout=subprocess.DEVNULL,
        )
    cli_files = sorted((cli_dir / "results").rglob("*.h5"))
    assert [p.name for p in cli_files] == [p.name for p in py_files]
    for py_file, cli_file in zip(py_files, cli_files):
        a, b = _datasets(py_file), _datasets(cli_file)
        assert a.keys() == b.keys()
        differ = [k for k in a if not np.array_equal(np.asarray(a[k]), np.asarray(b[k]))]
        assert not differ, (cli_file.name, differ)
    from analysis import fidelity_summary

    fid = fidelity_summary([cli_files[-1]], cl=0.95).fidelity
    assert fid.lo > 0.6, fid  # F = 0.5 is what uninitialised Urukuls give


def test_state_survives_and_power_up_forgets(lab_dir, capsys, caplog):
    """Without Startup the uninitialised Urukul stops the experiment (exit 1, one line naming
    it); Startup in the next run (its --seed re-seeds the stored stream); the run after finds the
    Urukuls initialised; --power-up forgets them again."""
    assert _cli(lab_dir, "readout_calibration.py", "shots=10") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("ionlink-sim: error: UrukulUninitialised: Urukul CPLD urukul")
    assert "never initialised since power-up" in err[0] and "run Startup" in err[0]
    assert "hardware state is kept per pair" in err[0]  # (Startup at another --lab does not count)
    caplog.set_level(logging.WARNING)
    assert _cli(lab_dir, "startup.py", "--seed", "3") == 0
    assert any("re-seeded with 3" in r.getMessage() for r in caplog.records)
    (state,) = (lab_dir / "sim_state").glob("*.state")
    header = json.loads(state.read_bytes().partition(b"\n")[0])
    assert header["seed"] == 3 and header["experiments"] == 2
    assert _cli(lab_dir, "readout_calibration.py", "shots=10") == 0
    assert json.loads(state.read_bytes().partition(b"\n")[0])["experiments"] == 3
    capsys.readouterr()
    assert _cli(lab_dir, "readout_calibration.py", "shots=10", "--power-up") == 1
    assert "run Startup" in capsys.readouterr().err


def test_results_elsewhere_move_only_the_results_files(lab_dir, tmp_path_factory, capsys):
    """``--results DIR`` elsewhere, after Startup in the working directory: the run continues the
    working directory's hardware state, dataset store and run ids (as artiq_master keeps
    dataset_db.mdb and last_rid.pyon in its directory); only the results file goes to DIR.
    ``--dataset-db`` elsewhere takes the hardware state with the store, the rids stay."""
    from sim.datasets import DatasetDB

    elsewhere = tmp_path_factory.mktemp("elsewhere")
    assert _cli(lab_dir, "startup.py") == 0
    away = ["--results", str(elsewhere / "results")]
    assert _cli(lab_dir, "readout_calibration.py", "shots=10", *away) == 0, capsys.readouterr()
    assert [p.name for p in elsewhere.iterdir()] == ["results"]
    (file,) = (elsewhere / "results").rglob("*.h5")
    assert file.name == "000000001-ReadoutCalibration.h5"
    assert (lab_dir / "last_rid.pyon").read_text() == "1\n"
    store = DatasetDB(lab_dir / "dataset_db.mdb")
    try:
        assert any(key.startswith("calib.readout.") for key in store.data)
    finally:
        store.close_db()
    other = elsewhere / "store" / "dataset_db.mdb"
    assert _cli(lab_dir, "startup.py", "--dataset-db", str(other)) == 0
    assert other.exists() and list((other.parent / "sim_state").glob("*.state"))
    assert (lab_dir / "last_rid.pyon").read_text() == "2\n"


def test_artiq_run_with_device_db_sim_keeps_the_state(tmp_path, monkeypatch):
    """ARTIQ's tools run one process per experiment with device_db_sim.py: the core's private
    session continues the state in sim_state/ of the working directory."""
    from sim.datasets import DatasetDB, DatasetManager
    from sim.device_manager import DeviceManager, load_device_db, transform_device_db
    from sim.experiment_file import argument_manager_class
    from sim.runner import (
        get_experiment,
        installed_time_manager,
        load_experiment_module,
    )
    from sim.scheduler import CCB, Scheduler

    monkeypatch.chdir(tmp_path)
    ddb = transform_device_db(load_device_db(ROOT / "device_db.py"))
    ddb["core"]["arguments"].update(sim_state=True, lab=str(ROOT / "lab.toml"))

    def artiq_run(name: str) -> None:
        dmgr = DeviceManager(ddb, {"scheduler": Scheduler(), "ccb": CCB()})
        datasets = DatasetManager(DatasetDB(None))
        exp = get_experiment(load_experiment_module(REPO / name))(
            (dmgr, datasets, argument_manager_class()({"shots": 10}, None), {})
        )
        exp.prepare()
        try:
            with installed_time_manager(dmgr.get("core").engine):
                exp.run()
        finally:
            dmgr.close_devices()

    with pytest.raises(UrukulUninitialised):
        artiq_run("readout_calibration.py")
    artiq_run("startup.py")
    artiq_run("readout_calibration.py")
    assert len(list((tmp_path / "sim_state").glob("*.state"))) == 1
    # one core at a time on the simulated lab (two artiq_run at once): the second is refused
    from sim.device_manager import DeviceError

    holder = DeviceManager(ddb, {"scheduler": Scheduler(), "ccb": CCB()})
    try:
        holder.get("core")
        with pytest.raises(DeviceError, match="simulated lab is in use by pid"):
            DeviceManager(ddb, {"scheduler": Scheduler(), "ccb": CCB()}).get("core")
    finally:
        holder.close_devices()
    artiq_run("readout_calibration.py")  # given back at close


def test_hardware_faithful_plays_on(lab_dir, caplog, capsys):
    """--hardware-faithful: the uninitialised Urukul changes nothing, with one warning, and the
    experiment plays on; the readout calibration then sees no qubit drive and refuses its
    result (exit 1), as it would on hardware."""
    caplog.set_level(logging.WARNING)
    assert _cli(lab_dir, "readout_calibration.py", "shots=10", "--hardware-faithful") == 1
    warnings = [r.getMessage() for r in caplog.records if "never initialised" in r.getMessage()]
    assert len(warnings) == 2, warnings  # one per Urukul
    err = capsys.readouterr().err
    assert "CalibrationRefused" in err and "UrukulUninitialised" not in err, err


@pytest.mark.parametrize("changed", ["device_db", "lab"])
def test_changed_device_db_or_lab_discards_the_state(lab_dir, caplog, capsys, changed):
    """A device database or lab edited since the state was saved: one warning naming it, cold
    start (so the next Urukul pulse says "run Startup"). A comment changes nothing."""
    assert _cli(lab_dir, "startup.py") == 0
    with open(lab_dir / "lab.toml", "a") as f:
        f.write("\n# a comment\n")
    assert _cli(lab_dir, "readout_calibration.py", "shots=10") == 0
    if changed == "device_db":
        with open(lab_dir / "device_db.py", "a") as f:
            f.write("\ndevice_db['spare_dummy'] = {'type': 'dummy'}\n")
        what = "the device database {} changed".format(lab_dir / "device_db.py")
    else:
        text = (lab_dir / "lab.toml").read_text()
        (lab_dir / "lab.toml").write_text(text.replace("cool_s = 20e-6", "cool_s = 25e-6", 1))
        what = "the lab {} changed".format(lab_dir / "lab.toml")
    caplog.set_level(logging.WARNING)
    capsys.readouterr()
    assert _cli(lab_dir, "readout_calibration.py", "shots=10") == 1
    discarded = [r.getMessage() for r in caplog.records if "discarded" in r.getMessage()]
    assert len(discarded) == 1
    assert what in discarded[0]
    assert "run Startup" in capsys.readouterr().err


def test_a_preset_read_from_another_checkout_keeps_the_state():
    """The hardware state's lab fingerprint is the lab's content, not the file it was read from:
    a preset read from another checkout or installation of ionlink (found: a second clone's
    ``ionlink-sim`` said "the lab preset:oxford2025 changed since it was saved" and started the
    lab as after power-up) is the same lab."""
    import dataclasses

    from sim.lab_resolution import resolve_lab
    from sim.state_file import fingerprint

    lab = resolve_lab("oxford2025", None, [])
    assert lab.source.endswith("oxford2025.toml")
    elsewhere = dataclasses.replace(lab, source="/elsewhere/sim/labs/oxford2025.toml")
    assert fingerprint(elsewhere) == fingerprint(lab)
    changed = dataclasses.replace(lab, description=lab.description + " (edited)")
    assert fingerprint(changed) != fingerprint(lab)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_state_file_is_one_clear_line(lab_dir, capsys, damage):
    """An unreadable or truncated state file: exit 2, one line that says what to do."""
    assert _cli(lab_dir, "startup.py") == 0
    (state,) = (lab_dir / "sim_state").glob("*.state")
    data = state.read_bytes()
    state.write_bytes(b"\x00garbage" if damage == "garbage" else data[:-40])
    capsys.readouterr()
    assert _cli(lab_dir, "startup.py") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"ionlink-sim: error: hardware state file {state}")
    assert "--power-up" in err[0]
    assert _cli(lab_dir, "startup.py", "--power-up") == 0  # and --power-up recovers


def test_restore_puts_back_what_the_hardware_keeps(tmp_path):
    """After Startup, a fresh session restored from the captured state has the Urukul registers,
    DDS outputs, TTL levels, ions and clocks of the captured one."""
    from sim.hwstate import capture
    from sim.rtio.phy.urukul import UrukulDecoder
    from sim.session import SimSession
    from sim.state_file import load_state, save_state

    with Simulation(
        ROOT / "device_db.py",
        seed=5,
        results_dir=tmp_path / "results",
        dataset_db=False,
        write_results=False,
    ) as sim:
        assert sim.run(REPO / "startup.py").exit_code == 0
        old = sim.session
        # a profile write cut after 32 data bits (RTIO underflow): the chip keeps the open cycle
        cut = next(
            d for st in old.engine.channels.values() for d in getattr(st.phy, "slaves", [])
        ).dds[7]
        cut.port.addr, cut.port.width, cut.port.nbits, cut.port.value = 0x15, 64, 32, 0xABCD
        cut.port.out_of_step_since = 123
        state = capture(old)
        identity = {"device_db": "d", "device_db_sha256": "x", "lab": "l", "lab_sha256": "y"}
        save_state(tmp_path / "s.state", state, identity=identity)
        state = load_state(tmp_path / "s.state", identity=identity)
        new = SimSession(sim.raw_device_db, seed=None, lab=sim.lab)
        new.restore_state(state)
    assert (new.engine.now, new.engine.counter) == (old.engine.now, old.engine.counter)

    def urukuls(session: SimSession) -> dict:
        return {
            ch: d
            for ch, st in session.engine.channels.items()
            for d in getattr(st.phy, "slaves", [])
            if isinstance(d, UrukulDecoder)
        }

    decoders, olds = urukuls(new), urukuls(old)
    assert decoders.keys() == olds.keys() and len(olds) == 2
    t = old.world.processed_mu
    for ch, dec in decoders.items():
        assert dec.cfg == olds[ch].cfg and (dec.cfg >> 8) & 7 == 7 and dec.cfg_written
        assert dec.att == olds[ch].att
        for cs in range(4, 8):
            assert dec.dds[cs].regs == olds[ch].dds[cs].regs
            assert dec.dds[cs].port == olds[ch].dds[cs].port  # the serial port's cycle, too
            assert new.engine.dds_state_at(ch, cs, t) == old.engine.dds_state_at(ch, cs, t)
    for ch, st in old.engine.channels.items():
        if st.kind in (Kind.TTL_OUT, Kind.TTL_INOUT):
            assert new.engine.ttl_level_at(ch, t) == old.engine.ttl_level_at(ch, t), st.name
    assert any(old.engine.ttl_level_at(ch, t) for ch in old.engine.channels)
    assert new.world.processed_mu == t
    np.testing.assert_array_equal(new.world.rho, old.world.rho)
    assert [th.n for th in new.world.ions.thermal] == [th.n for th in old.world.ions.thermal]
    assert new.rng.bit_generator.state == old.rng.bit_generator.state and new.seed == 5


def test_vcd_of_a_python_session_spans_its_experiments(tmp_path):
    """Each experiment runs in a session restored from the one before: the VCD joins them."""
    from tests.rtio.vcdfile import read_vcd

    path = tmp_path / "run.vcd"
    with Simulation(
        ROOT / "device_db.py",
        seed=1,
        results_dir=tmp_path / "results",
        dataset_db=False,
        write_results=False,
        vcd=str(path),
    ) as sim:
        sim.run(REPO / "startup.py")
        t_second = sim.session.engine.counter
        sim.run(REPO / "readout_calibration.py", arguments={"shots": 10})
    v = read_vcd(path)
    io_update = v.rising("rtio.urukul0_cpld.ttl_urukul0_io_update")
    assert len([t for t in io_update if t < t_second]) >= 8  # Startup's DDS programming
    assert [t for t in io_update if t > t_second]  # the second experiment's
    assert io_update == sorted(set(io_update))
    detect = v.rising("rtio.node_a.detect_sw")
    assert len(detect) >= 10 and detect[0] > t_second  # the readouts of the second
