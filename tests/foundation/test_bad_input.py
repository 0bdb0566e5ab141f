# SPDX-License-Identifier: LGPL-3.0-or-later
"""Bad input (an argument, a file, a lab description, a stored state) gets one clear line and exit
status 2 from every command, before anything runs: never a traceback or an "internal error"."""

from __future__ import annotations

import pathlib
import re

import pytest

from sim.cli import main
from sim.hwstate import STATE_VERSION, HardwareState
from sim.seed import SEED_MAX
from sim.state_file import StateFileError, load_state, save_state

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ionlink-sim: error: "), err
    assert "internal error" not in lines[0] and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("command", ["run x.py", "demo", "sweep", "slack x.py", "master"])
@pytest.mark.parametrize("seed", ["-1", str(SEED_MAX + 1), "99999999999999999999999"])
def test_out_of_range_seed_is_refused_where_it_is_parsed(capsys, command, seed):
    """A seed the simulation cannot use or record (int64 dataset): exit 2, one line naming
    --seed, from every command that takes one."""
    assert main([*command.split(), "--seed", seed]) == 2
    assert "argument --seed: " in _one_line(capsys.readouterr().err)


def _state(seed: object) -> HardwareState:
    return HardwareState(STATE_VERSION, seed, {}, 1, None, [], [], [], [], [], [], [], {}, {})  # type: ignore


def test_stored_state_with_an_out_of_range_seed_is_refused(tmp_path):
    """A state file written with a seed out of range (by a simulator that did not check it) is
    refused when read, not carried into every later run."""
    identity = {"device_db_sha256": "d", "lab_sha256": "l"}
    save_state(tmp_path / "ok.state", _state(SEED_MAX), identity=identity)
    assert load_state(tmp_path / "ok.state", identity=identity).seed == SEED_MAX
    save_state(tmp_path / "bad.state", _state(10**23), identity=identity)
    with pytest.raises(StateFileError, match="seed 100000000000000000000000 is not an integer"):
        load_state(tmp_path / "bad.state", identity=identity)


@pytest.mark.parametrize(
    "setting, says",
    [
        ("loop.run_s=0", "loop.run_s = 0: a run is at least one cycle"),
        ("loop.run_s=5e-7", "loop.run_s = 5e-07: a run is at least one cycle"),
        ("loop.run_s=1", "fewer than 16383 cycles"),
        ("loop.cycle_s=1e-5", "loop.cycle_s = 1e-05: the entangler's cycle is 96..8176 ns"),
        ("loop.pump_s=2e-6", "the gate of nodes.a ends 2157 ns into the 1048 ns cycle"),
        ("loop.gate_start_s=1e-6", "the gate of nodes.a ends 1629 ns into the 1048 ns cycle"),
    ],
)
def test_a_loop_the_entangler_cannot_play_is_refused_by_the_lab_check(capsys, setting, says):
    """A [loop] the experiment would refuse (or divide by zero on) is refused when the lab is
    loaded, so every command (budget, run, demo, sweep) refuses it before running anything."""
    assert main(["budget", "oxford2020", "--set", setting]) == 2
    assert says in _one_line(capsys.readouterr().err)


def test_a_lab_file_with_a_run_shorter_than_a_cycle_is_refused(tmp_path, capsys):
    toml = (ROOT / "lab.toml").read_text()
    (tmp_path / "lab.toml").write_text(re.sub(r"(?m)^run_s = .*$", "run_s = 1e-9", toml))
    assert main(["budget", str(tmp_path / "lab.toml")]) == 2
    assert "loop.run_s = 1e-09: a run is at least one cycle" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize("address", ["notanaddress", "tcp://127.0.0.1", "tcp://127.0.0.1:99999"])
def test_a_bad_tag_feed_address_is_refused_before_the_run(capsys, address):
    assert main(["run", "x.py", "--tag-feed", address]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"argument --tag-feed: '{address}' is not a ZeroMQ address like tcp://" in line


@pytest.mark.parametrize(
    "args, says",
    [
        (["notanaddress"], "argument address: 'notanaddress' is not a ZeroMQ address"),
        (["tcp://[::1]:3275", "--duration", "-1"], "argument --duration: '-1': expected a pos"),
        (["tcp://[::1]:3275", "--a", "x"], "argument --a: inputs 'x': expected numbers"),
        (["tcp://[::1]:3275", "--bin-ps", "0"], "argument --bin-ps: '0': expected a positive"),
    ],
)
def test_analyze_tags_refuses_bad_options_in_one_line(capsys, args, says):
    from analysis.cli import main as analyze

    assert analyze(["tags", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ionlink-analyze: error: " + says), err


@pytest.mark.parametrize(
    "controller, option",
    [("waveplates", "-p"), ("timetagger", "-p"), ("timetagger", "--feed-port")],
)
def test_controller_port_out_of_range_is_one_line(capsys, controller, option):
    """Not a traceback ending in OverflowError from bind()."""
    import importlib

    module = importlib.import_module(f"drivers.controllers.aqctl_ionlink_{controller}")
    with pytest.raises(SystemExit) as exc:
        module.main(["--simulation", option, "99999"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'99999' is not a TCP port (0 to 65535)" in err[0], err


def test_controller_bad_bind_address_names_the_address(capsys):
    """A bind address not on this machine (TEST-NET-1: bind fails at once, no lookup): one line
    naming it (not only the port), exit 2."""
    from drivers.controllers import aqctl_ionlink_waveplates

    rc = aqctl_ionlink_waveplates.main(
        ["--simulation", "--no-localhost-bind", "--bind", "192.0.2.1", "-p", "0"]
    )
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot listen on 192.0.2.1 port 0" in err[0], err


def _device_db(tmp_path: pathlib.Path, old: str, new: str) -> str:
    text = (ROOT / "device_db.py").read_text()
    assert old in text
    (tmp_path / "device_db.py").write_text(text.replace(old, new, 1))
    return str(tmp_path / "device_db.py")


@pytest.mark.parametrize(
    "old, new, says",
    [
        (
            '"module": "drivers.entangler",',
            '"module": "drivers.entanglr",',
            "device database entry 'entangler': module 'drivers.entanglr' not found",
        ),
        (
            '"class": "BellStateAnalyser",',
            '"class": "BellStateAnalyzer",',
            "entry 'bsa': module 'drivers.bsa' defines no class 'BellStateAnalyzer'",
        ),
        (
            '"arguments": {"channel": 0x00002F, "is_master": True},',
            '"arguments": {"channel": 0x000001, "is_master": True},',
            "devices 'ttl1' and 'entangler' both have RTIO channel 1 (0x000001)",
        ),
        (
            '"arguments": {"channel": 0x00002F, "is_master": True},',
            '"arguments": {"channel": "abc", "is_master": True},',
            "device 'entangler': channel 'abc' is not an RTIO channel number",
        ),
    ],
)
def test_device_db_mistakes_are_refused_at_load(tmp_path, monkeypatch, capsys, old, new, says):
    """A hardware class the sim_class hides, or two devices on one RTIO channel: refused when
    the device database is loaded, not at first use (or never, in the simulator)."""
    monkeypatch.chdir(tmp_path)
    ddb = _device_db(tmp_path, old, new)
    experiment = str(ROOT / "repository" / "startup.py")
    args = ["run", experiment, "--device-db", ddb, "--results", str(tmp_path / "r"), "-q"]
    assert main([*args, "--lab", "oxford2020"]) == 2
    assert says in _one_line(capsys.readouterr().err)


def test_simulation_refuses_a_seed_it_could_not_record(tmp_path):
    """The Python API too: not a run whose results file lacks its provenance datasets."""
    import ionlink_fakes

    from sim.runner import InputError, Simulation

    with pytest.raises(InputError, match="seed 36893488147419103232 is not an integer from 0"):
        Simulation(ionlink_fakes.device_db(), seed=2**65, results_dir=tmp_path / "r")


@pytest.mark.parametrize("command", ["run", "slack"])
def test_no_lab_description_is_refused_not_simulated_without_physics(
    tmp_path, capsys, monkeypatch, command
):
    """A device database copied without the lab.toml beside it, and no --lab: the run would
    simulate nothing physical (no photons, no fluorescence) and an experiment that only counts,
    such as dark_counts, would report a rate of 0 with exit 0. One line naming the way out,
    exit 2, before anything runs; ``--lab none`` asks for the timing alone explicitly."""
    (tmp_path / "device_db.py").write_text((ROOT / "device_db.py").read_text())
    monkeypatch.chdir(tmp_path)
    experiment = str(ROOT / "repository" / "startup.py")
    assert main([command, experiment, "-q"]) == 2
    says = _one_line(capsys.readouterr().err)
    assert "no lab description: no --lab and no lab.toml beside device_db.py" in says
    assert "--lab none" in says and "oxford2020" in says
    assert not (tmp_path / "results").exists() and not (tmp_path / "sim_state").exists()
    if command == "run":
        assert main([command, experiment, "-q", "--lab", "none"]) == 0
        capsys.readouterr()
        assert main([command, experiment, "-q", "--lab", "none", "--set", "loop.cool_s=1e-6"]) == 2
        assert "--set needs a lab" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize("argv", [["budget", "none"], ["demo", "--lab", "none", "-q"]])
def test_commands_that_need_physics_refuse_lab_none(tmp_path, capsys, monkeypatch, argv):
    """``budget`` and ``demo`` predict or measure physics: ``--lab none`` (the timing alone) is
    one line and exit 2 before anything runs. (It was an internal error, exit 1; the demo first
    simulated its whole chain with the repository's lab.toml.)"""
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert "needs a lab" in _one_line(capsys.readouterr().err)
    assert not any(tmp_path.iterdir())  # nothing ran: no results, no lab state


@pytest.mark.parametrize(
    "option, path, says",
    [
        ("--vcd", "/proc/run.vcd", "cannot create a file in folder '/proc'"),
        ("--vcd", "{tmp}/" + "v" * 300 + ".vcd", "File name too long"),
        ("--results", "{tmp}/" + "r" * 300, "File name too long"),
        ("--dataset-db", "{tmp}/" + "d" * 300 + ".mdb", "File name too long"),
    ],
)
def test_an_output_path_the_system_refuses_is_bad_input(
    tmp_path, capsys, monkeypatch, option, path, says
):
    """An output the system will not create (a folder where no file can be made though the
    permissions allow it, a name longer than the file system takes) is one line and exit 2
    before the experiment is built. (``/proc`` ran the whole experiment and then wrote the VCD
    elsewhere, exit 1; a long name was an internal error, exit 1.)"""
    monkeypatch.chdir(tmp_path)
    experiment = str(ROOT / "repository" / "startup.py")
    ddb = str(ROOT / "device_db.py")
    argv = ["run", experiment, "--device-db", ddb, "--lab", "oxford2020", "-q"]
    argv += [option, path.format(tmp=tmp_path)]
    assert main(argv) == 2
    assert says in _one_line(capsys.readouterr().err)
    assert not list(tmp_path.rglob("*.h5"))  # nothing ran


@pytest.mark.parametrize(
    "where, says",
    [("folder", "is a folder: give its device_db.py file"), ("missing", "not found")],
)
def test_a_device_db_path_that_is_no_file_is_named_for_what_it_is(
    tmp_path, capsys, monkeypatch, where, says
):
    """``--device-db`` naming a folder (the repository's, say) says so; a missing file is "not
    found" (the folder was "not found" too)."""
    monkeypatch.chdir(tmp_path)
    path = ROOT if where == "folder" else tmp_path / "nosuch_device_db.py"
    experiment = str(ROOT / "repository" / "startup.py")
    assert main(["run", experiment, "--device-db", str(path), "--lab", "oxford2020", "-q"]) == 2
    assert says in _one_line(capsys.readouterr().err)
