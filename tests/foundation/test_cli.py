# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-sim run``: artiq_run-like selection and arguments; one-line errors and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys

import h5py
import ionlink_fakes
import pytest

import sim.runner
from sim.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

EXP = """
class Exp(EnvExperiment):
    def build(self):
        self.setattr_device("core")
        self.setattr_argument("n", NumberValue(2, precision=0, step=1))
        self.setattr_argument("b", BooleanValue(False))
        self.setattr_argument("p", PYONValue([1, 2]))

    def run(self):
        self.set_dataset("n_squared", self.n ** 2)
        if self.b:
            raise RuntimeError("boom")
"""


@pytest.fixture
def cli(tmp_path, monkeypatch, write_experiment):
    """Run the CLI in tmp_path with the fake device_db; returns (rc, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sim.runner, "make_session", lambda *a: ionlink_fakes.FakeSession())
    (tmp_path / "device_db.py").write_text(
        "import ionlink_fakes\ndevice_db = ionlink_fakes.device_db()\n"
        "device_db['zotino0'] = {'type': 'local', 'module': 'artiq.coredevice.zotino', "
        "'class': 'Zotino', 'arguments': {}}\n"
    )
    exp = write_experiment(EXP)

    def run(*args, capsys=None):
        # (the fake device_db has no lab.toml beside it: the timing alone, explicitly)
        rc = main(["run", *[exp if a == "EXP" else a for a in args], "--lab", "none"])
        return rc

    return run


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ionlink-sim: error: ")
    return lines[0][len("ionlink-sim: error: ") :]


def test_ok_prints_datasets_and_writes_results(cli, capsys, tmp_path):
    """Exit 0; prints key: value like artiq_run; results file under results/."""
    assert cli("EXP", "n=3") == 0
    out = capsys.readouterr().out
    assert "n_squared: 9" in out
    files = list((tmp_path / "results").rglob("*-Exp.h5"))
    assert len(files) == 1
    with h5py.File(files[0]) as f:
        assert f["datasets/n_squared"][()] == 9
    assert (tmp_path / "dataset_db.mdb").exists() and (tmp_path / "last_rid.pyon").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["EXP", "-c", "Nope"], "exp.py' has no class 'Nope' (experiments in it: Exp)"),
        (["EXP", "zzz=1"], "the experiment takes no argument 'zzz' (its arguments: n, b, p)"),
        (["EXP", "b=1"], "argument 'b' = 1 is not allowed: must be True or False"),
        (["EXP", "n=[1,"], "cannot parse value of argument 'n' as PYON"),
        (["EXP", "n=parity"], """a string needs its own quotes: n='"parity"'"""),
        (
            ["EXP", "p=[3,4]"],
            """argument 'p' = [3, 4] is not allowed: a PYON argument takes PYON text, quoted """
            """once more on the command line: '"[3, 4]"'""",
        ),
        (["EXP", "n"], "is not of the form KEY=VALUE"),
        (["EXP", "--device-db", "missing.py"], "device database 'missing.py' not found"),
        (["missing_exp.py"], "experiment file 'missing_exp.py' not found"),
        (["EXP", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli, capsys, args, message):
    """Bad input: exit 2 and one line on stderr, no traceback."""
    assert cli(*args) == 2
    assert message in _one_line_error(capsys.readouterr().err)


def test_missing_device_model(cli, capsys, tmp_path, write_experiment):
    """A device without a simulation model is named in the error."""
    path = write_experiment(
        "class Z(EnvExperiment):\n    def build(self):\n"
        "        self.setattr_device('zotino0')\n    def run(self):\n"
        "        pass\n",
        name="z",
    )
    assert main(["run", path, "--lab", "none"]) == 2
    assert _one_line_error(capsys.readouterr().err) == (
        "Failed to create device 'zotino0': no simulation model for device 'zotino0' "
        "(artiq.coredevice.zotino.Zotino)"
    )


def test_class_selection_errors(cli, capsys, write_experiment):
    """Several or no experiments: artiq_run's messages."""
    two = write_experiment(
        "class A(EnvExperiment):\n    def run(self): pass\n"
        "class B(EnvExperiment):\n    def run(self): pass\n",
        name="two",
    )
    assert main(["run", two, "--lab", "none"]) == 2
    assert (
        _one_line_error(capsys.readouterr().err) == "More than one experiment found in module: A, B"
    )
    assert main(["run", two, "-c", "B", "--lab", "none"]) == 0
    capsys.readouterr()
    none = write_experiment("x = 1\n", name="none")
    assert main(["run", none, "--lab", "none"]) == 2
    assert _one_line_error(capsys.readouterr().err) == "No experiments in module"


def test_broken_device_db(cli, capsys, tmp_path):
    """A device_db that does not import: exit 2, one line with the reason."""
    (tmp_path / "broken.py").write_text("device_db = {\n")
    assert cli("EXP", "--device-db", "broken.py") == 2
    assert "SyntaxError" in _one_line_error(capsys.readouterr().err)


def test_experiment_raises_exit_1(cli, capsys, tmp_path):
    """run() raising: exit 1, one line, results written; --debug adds the traceback."""
    assert cli("EXP", "b=true") == 1
    line = _one_line_error(capsys.readouterr().err)  # where, in the experiment, and what next
    exp = str(tmp_path / "exp.py")
    assert line == f"RuntimeError: boom (at {exp}:13 in run); --debug shows the traceback"
    assert len(list((tmp_path / "results").rglob("*.h5"))) == 1
    assert cli("EXP", "b=true", "--debug") == 1
    assert "Traceback" in capsys.readouterr().err


def test_python_m_sim_subprocess(tmp_path):
    """``python -m sim`` is the same CLI (bad input path, exit 2, one line)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "run",
            str(tmp_path / "nope.py"),
            "--device-db",
            os.path.join(ROOT, "device_db.py"),
            "--results",
            str(tmp_path / "results"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("ionlink-sim: error: experiment file")


def test_a_signal_while_closing_after_the_run_ended_waits(cli, capsys, tmp_path, monkeypatch):
    """SIGTERM while the simulation is closed after a complete run (the VCD, the hardware state
    written) waits until everything is written: the run's own exit status, its results line,
    and a note; not "interrupted" with 143 and the close cut short."""
    import signal

    closed = []
    close = sim.runner.Simulation.close

    def close_signalled(self):
        os.kill(os.getpid(), signal.SIGTERM)
        close(self)
        closed.append(True)

    monkeypatch.setattr(sim.runner.Simulation, "close", close_signalled)
    rc = cli("EXP", "-q")
    out, err = capsys.readouterr()
    assert rc == 0 and closed == [True], err
    assert "SIGTERM arrived after the run had ended: its files were written in full" in err
    assert "interrupted" not in err


LATE_SIGNAL = """
import os
import signal
import time


class Late(EnvExperiment):
    def build(self):
        self.setattr_device("scheduler")

    def run(self):
        self.scheduler.pause()  # its last check
        self.set_dataset("done", 1)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)  # the handler runs (the main thread's next bytecode)
"""


def test_a_signal_after_the_last_check_is_noted(cli, capsys, write_experiment):
    """Ctrl-C during run() but after the experiment's last check: it runs to its end, exit 0,
    and after "termination requested" the command says that the request came too late."""
    rc = cli(write_experiment(LATE_SIGNAL), "-q")
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "SIGINT: termination requested" in err
    assert err.strip().splitlines()[-1] == (
        "ionlink-sim: SIGINT came after the experiment's last termination check: it ran to its "
        "end (exit status 0)"
    )


def test_a_relative_path_not_found_says_where_it_was_looked_for(tmp_path, monkeypatch, capsys):
    """The README's commands run from the repository's root; from another folder their relative
    paths are not found, and the one line says where they were looked for and what to give
    (the repository's file, absolute). An absolute path not found gets no hint."""
    monkeypatch.chdir(tmp_path)
    startup = os.path.join(ROOT, "repository", "startup.py")
    hint = "(relative to {}; give the path to the repository's file, e.g. ".format(tmp_path)
    assert main(["run", "repository/startup.py"]) == 2
    assert _one_line_error(capsys.readouterr().err) == (
        "experiment file 'repository/startup.py' not found " + hint + startup + ")"
    )
    assert main(["run", startup]) == 2
    assert _one_line_error(capsys.readouterr().err) == (
        "device database 'device_db.py' not found "
        + hint
        + "--device-db "
        + os.path.join(ROOT, "device_db.py")
        + ")"
    )
    assert main(["master"]) == 2
    assert _one_line_error(capsys.readouterr().err) == (
        "repository 'repository' is not a folder "
        + hint
        + "-r "
        + os.path.join(ROOT, "repository")
        + ")"
    )
    missing = str(tmp_path / "nosuch.py")
    assert main(["run", missing]) == 2
    assert _one_line_error(capsys.readouterr().err) == f"experiment file '{missing}' not found"


def test_a_folder_given_as_the_experiment_file_is_named_as_such(tmp_path, capsys):
    """``ionlink-sim run repository/`` says the path is a folder (not "not found")."""
    assert main(["run", str(tmp_path), "--lab", "none"]) == 2
    assert "is a folder: give an experiment file (.py) in it" in _one_line_error(
        capsys.readouterr().err
    )


@pytest.mark.parametrize("command", ["run EXP", "master"])
def test_results_elsewhere_leave_the_store_here(cli, tmp_path, tmp_path_factory, command):
    """``--results DIR`` (run, master): the dataset store, last_rid.pyon and sim_state/ stay the
    working directory's, as artiq_master's; ``--dataset-db`` moves the store and the state."""
    from sim.cli import get_argparser
    from sim.cli_simulation import make_simulation

    away = tmp_path_factory.mktemp("away")
    argv = [*command.replace("EXP", "exp.py").split(), "--results", str(away / "results")]
    for extra, store in (
        ([], tmp_path / "dataset_db.mdb"),
        (["--dataset-db", str(away / "db.mdb")], away / "db.mdb"),
    ):
        args = get_argparser().parse_args([*argv, "--lab", "none", *extra])
        with make_simulation(args) as simulation:
            paths = {o.what: o.path.resolve() for o in simulation.output_paths()}
        assert paths["results folder"] == away / "results"
        assert paths["run-id file"] == tmp_path / "last_rid.pyon"
        assert paths["dataset store"] == store
        assert paths["hardware-state file"].parent == store.parent / "sim_state"


def test_ctrl_c_while_the_command_line_loads_is_one_line(monkeypatch, capsys):
    """The console entry imports the command line inside itself: a Ctrl-C while it loads (or
    builds its parser) is ``ionlink-sim: interrupted`` and 130, not a traceback (it was, for
    ≈ 40 ms after the interpreter's start-up)."""
    import argparse
    import importlib.abc

    from sim import console

    class Interrupting(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "sim.cli":
                raise KeyboardInterrupt
            return None

    import sim.collector

    monkeypatch.setattr(sim.collector, "skip_final_collection", lambda: None)
    monkeypatch.delitem(sys.modules, "sim.cli", raising=False)
    with monkeypatch.context() as m:
        m.setattr(sys, "meta_path", [Interrupting(), *sys.meta_path])
        with pytest.raises(SystemExit) as stop:
            console.entry_point()
    assert stop.value.code == 130
    assert capsys.readouterr().err == "ionlink-sim: interrupted\n"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", interrupted)
    with pytest.raises(SystemExit) as stop:
        console.entry_point()
    assert stop.value.code == 130
    assert capsys.readouterr().err == "ionlink-sim: interrupted\n"
