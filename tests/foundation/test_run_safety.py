# SPDX-License-Identifier: LGPL-3.0-or-later
"""Runs never lose data: termination signals, output paths checked up front, checked arguments."""

from __future__ import annotations

import ast
import glob
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import h5py
import pytest
from artiq.experiment import BooleanValue, EnumerationValue, EnvExperiment, NumberValue

from drivers.arguments import ArgumentValueError, CheckedArguments
from sim.cli import main
from sim.results import write_results
from sim.runner import Simulation
from sim.termination import SignalInterrupt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVICE_DB = os.path.join(ROOT, "device_db.py")


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ionlink-sim: error: "), err
    return lines[0][len("ionlink-sim: error: ") :]


# ---------------------------------------------------------------------------------------------
# termination signals

#: experiment → (arguments, class name, dataset holding the data taken so far): the repository's
#: experiments that check for a pause by counts of attempts or shots (hom checks after each delay,
#: ~0.6 s; the others finish within a second at their default arguments)
TERMINATED = {
    "remote_entanglement": (
        ["heralds_per_setting=1000000"],
        "RemoteEntanglement",
        "herald.pattern",
    ),
    "remote_entanglement_cpu": ([], "RemoteEntanglementCPU", "herald.pattern"),
    "single_photon": ([], "SinglePhoton", "photons.t_mu"),
    "readout_calibration": ([], "ReadoutCalibration", "readout.dark_counts_a"),
}


@dataclass
class _Terminated:
    """A CLI run sent SIGTERM one second into its ``run()``: exit code, seconds from the signal
    to the exit, CPU seconds the process used in that time (None where /proc is missing), stderr,
    results folder."""

    rc: int | None
    elapsed: float
    cpu: float | None
    err: str
    results: str


def _cpu_state(pid: int) -> tuple[float, str] | None:
    """(user + system CPU seconds, state letter) of a live or zombie process, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), fields[0]


def _wait_cpu(proc: subprocess.Popen, timeout: float) -> float | None:
    """Wait (at most ``timeout`` s) until ``proc`` has exited; its total CPU seconds, read just
    before it is reaped (None without /proc)."""
    deadline = time.monotonic() + timeout
    cpu = None
    while time.monotonic() < deadline:
        st = _cpu_state(proc.pid)
        if st is None or st[1] == "Z":
            break
        cpu = st[0]
        time.sleep(0.02)
    st = _cpu_state(proc.pid)
    return st[0] if st is not None else cpu


@pytest.fixture(scope="module")
def terminated(tmp_path_factory):
    """Every experiment of :data:`TERMINATED` run by the CLI at once, each after Startup in its
    own working directory (without it the beams' DDSs send no RF: no light, no photons), and
    sent SIGTERM 1 s into its run()."""
    procs = {}
    for name, (args, _, _) in TERMINATED.items():
        folder = tmp_path_factory.mktemp(name)  # its working directory: its own lab
        results = str(folder / "results")
        startup = [os.path.join(ROOT, "repository", "startup.py"), "--device-db", DEVICE_DB]
        subprocess.run(
            [sys.executable, "-m", "sim", "run", *startup, "--seed", "2", "--results", results],
            cwd=folder,
            env=dict(os.environ, PYTHONPATH=ROOT),
            check=True,
            capture_output=True,
        )
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sim",
                "run",
                os.path.join(ROOT, "repository", f"{name}.py"),
                *args,
                "--device-db",
                DEVICE_DB,
                "--seed",
                "2",
                "--results",
                results,
                "-v",
            ],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, PYTHONPATH=ROOT),
        )
        procs[name] = (proc, results, threading.Event(), [])

    def read_stderr(proc, started, lines):
        for line in proc.stderr:
            lines.append(line)
            if ".run() starts" in line:
                lines.append(time.monotonic())  # when run() started
                started.set()

    readers = [
        threading.Thread(target=read_stderr, args=(p, ev, ln), daemon=True)
        for p, _, ev, ln in procs.values()
    ]
    for r in readers:
        r.start()
    out = {}
    try:
        deadline = time.monotonic() + 40
        for name, (proc, results, started, lines) in procs.items():
            assert started.wait(timeout=max(deadline - time.monotonic(), 0.1)), "".join(
                x for x in lines if isinstance(x, str)
            )
        t_sent, cpu_sent = {}, {}
        by_start = sorted(procs, key=lambda n: next(x for x in procs[n][3] if isinstance(x, float)))
        for name in by_start:
            proc, _, _, lines = procs[name]
            t_run = next(x for x in lines if isinstance(x, float))
            time.sleep(max(0.0, t_run + 1.0 - time.monotonic()))  # inside the run's loop
            st = _cpu_state(proc.pid)
            cpu_sent[name] = st[0] if st is not None else None
            t_sent[name] = time.monotonic()
            proc.send_signal(signal.SIGTERM)
        for name, (proc, results, _, lines) in procs.items():
            cpu = _wait_cpu(proc, max(t_sent[name] + 20 - time.monotonic(), 0.1))
            try:
                rc = proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                rc = None
            used = None if cpu is None or cpu_sent[name] is None else cpu - cpu_sent[name]
            out[name] = _Terminated(rc, time.monotonic() - t_sent[name], used, "", results)
    finally:
        for proc, _, _, _ in procs.values():
            proc.kill()
            proc.wait()
    for r in readers:
        r.join(timeout=5)
    for name, (_, _, _, lines) in procs.items():
        out[name].err = "".join(x for x in lines if isinstance(x, str))
    return out


@pytest.mark.parametrize("name", sorted(TERMINATED))
def test_sigterm_stops_every_experiment_soon_and_writes_its_data(terminated, name):
    """``kill -TERM`` during a long run: the run stops at its next pause check, writes a
    readable results file with the data taken so far and exits 143, all within a second of host
    time: measured as the CPU time the process used after the signal (the four runs share the
    machine with whatever else runs, so their wall time is bounded only loosely)."""
    _, cls, key = TERMINATED[name]
    t = terminated[name]
    assert t.rc == 143, t.err
    assert "SIGTERM: termination requested" in t.err
    if t.cpu is not None:
        assert t.cpu < 1.2, t.cpu  # stop, write the file and exit
    assert t.elapsed < 10.0, t.elapsed
    files = glob.glob(os.path.join(t.results, "*", "*", f"*-{cls}.h5"))
    assert len(files) == 1, t.err
    with h5py.File(files[0]) as f:
        assert key in f["datasets"]
        if cls.startswith("RemoteEntanglement"):
            heralds = f["datasets/totals.heralds"][()]
            assert len(f["datasets/herald.pattern"]) == heralds < 1000000
            assert f["datasets/totals.attempts"][()] > 0
            assert heralds > 0 or name == "remote_entanglement_cpu"  # ~400 attempts in 1 s
            assert f["datasets/totals.stop_reason"][()] == b"terminated"
            assert f["datasets/totals.heralds_requested"][()] > heralds
        else:
            assert len(f["datasets/" + key][()]) > 0


class SignalledTwice(EnvExperiment):
    def build(self):
        self.setattr_device("scheduler")
        self.setattr_argument("signals", NumberValue(1, precision=0, step=1, type="int"))
        self.setattr_argument(
            "signum", NumberValue(int(signal.SIGHUP), precision=0, step=1, type="int")
        )

    def run(self):
        for i in range(100):
            self.set_dataset("last", i)
            if i == 5:
                for _ in range(self.signals):
                    os.kill(os.getpid(), self.signum)
                    time.sleep(0.01)
            self.scheduler.pause()


@pytest.mark.parametrize(
    "signum, signals, code", [(signal.SIGHUP, 1, 129), (signal.SIGTERM, 2, 143)]
)
def test_signal_exit_codes_and_second_signal(simulation, signum, signals, code):
    """One SIGHUP: termination at the next pause(), exit 129. A second SIGTERM interrupts at once
    (exit 143); the datasets recorded so far are still written."""

    def unhandled(signum, frame):
        raise AssertionError("signal {} not handled by the run".format(signum))

    previous = signal.signal(signum, unhandled)  # instead of ending pytest
    try:
        result = simulation.run(
            SignalledTwice, arguments={"signals": signals, "signum": int(signum)}
        )
    finally:
        signal.signal(signum, previous)
    assert result.exit_code == code and result.status == "terminated"
    assert isinstance(result.exception, SignalInterrupt) == (signals == 2)
    with h5py.File(result.results_file) as f:
        assert f["datasets/last"][()] == 5


class SignalledAfterRun(EnvExperiment):
    """Takes all its data; the signal comes once run() has returned (while analyze runs)."""

    def build(self):
        self.setattr_device("scheduler")

    def run(self):
        for i in range(3):
            self.set_dataset("last", i)
            self.scheduler.pause()

    def analyze(self):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)  # the handler runs (the main thread's next bytecode)


def test_signal_after_run_returned_leaves_the_run_ok(simulation):
    """A termination signal the experiment never saw (it came after run() returned) does not
    make a run that took all its data "terminated": exit 0, as the results file says."""

    def unhandled(signum, frame):
        raise AssertionError("signal {} not handled by the run".format(signum))

    previous = signal.signal(signal.SIGTERM, unhandled)
    try:
        result = simulation.run(SignalledAfterRun)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert (result.exit_code, result.status) == (0, "ok"), result.exception
    assert result.unseen_signal == signal.SIGTERM  # the CLI notes it
    with h5py.File(result.results_file) as f:
        assert f["datasets/last"][()] == 2


class _Values:
    def write_hdf5(self, f, strict=True):
        f["x"] = 1

    def __init__(self, fail=False):
        self.fail = fail


class _Interrupting(_Values):
    def write_hdf5(self, f, strict=True):
        f["x"] = 2
        raise SignalInterrupt(signal.SIGTERM)


def test_results_file_written_atomically(tmp_path):
    """An interruption while writing leaves the earlier file intact and no partial file."""
    path = tmp_path / "r" / "000000001-Exp.h5"
    meta = dict(rid=1, start_time=0.0, run_time=0.0, expid={}, artiq_version="x")
    write_results(path, _Values(), **meta)
    with pytest.raises(SignalInterrupt):
        write_results(path, _Interrupting(), **meta)
    with h5py.File(path) as f:
        assert f["x"][()] == 1
    assert os.listdir(path.parent) == [path.name]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as h5py creates files


# ---------------------------------------------------------------------------------------------
# output paths


@pytest.mark.parametrize(
    "options, message",
    [
        (["--results", "{tmp}/plain"], "results folder '{tmp}/plain' is a file, not a folder"),
        (
            ["--results", "{tmp}/plain/sub/results"],
            "cannot create results folder '{tmp}/plain/sub/results': '{tmp}/plain' is a file",
        ),
        (
            ["--vcd", "{tmp}/plain/run.vcd"],
            "cannot create the folder of VCD file '{tmp}/plain/run.vcd': '{tmp}/plain' is a file",
        ),
        (["--vcd", "{tmp}"], "VCD file '{tmp}' is a folder, not a file"),
        (["--dataset-db", "{tmp}/plain/db.mdb"], "dataset store '{tmp}/plain/db.mdb'"),
    ],
)
def test_bad_output_path_fails_before_anything_runs(
    tmp_path, capsys, monkeypatch, options, message
):
    """A path the run cannot write: one line naming it, exit 2, before the experiment is built."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plain").write_text("")
    exp = tmp_path / "exp.py"
    exp.write_text(
        "from artiq.experiment import *\nclass Exp(EnvExperiment):\n"
        "    def build(self):\n        raise RuntimeError('built')\n"
    )
    options = [o.format(tmp=tmp_path) for o in options]
    assert main(["run", str(exp), "--device-db", DEVICE_DB, *options]) == 2
    assert message.format(tmp=tmp_path) in _one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "last_rid.pyon").exists()


def test_missing_results_parents_are_created(tmp_path):
    """``--results`` in a folder that does not exist yet: the folders are made up front."""
    results = tmp_path / "new" / "deeper" / "results"
    with Simulation(DEVICE_DB, results_dir=results, session=object()) as sim:
        assert results.is_dir() and sim.dataset_db_path.parent.is_dir()


# ---------------------------------------------------------------------------------------------
# arguments


class Checked(CheckedArguments, EnvExperiment):
    def build(self):
        self.setattr_argument("n", NumberValue(3, precision=0, step=1, min=1, max=10, type="int"))
        self.setattr_argument("t", NumberValue(1e-6, unit="us", min=0.0))
        self.setattr_argument("mode", EnumerationValue(["a", "b"], "a"))
        self.setattr_argument("flag", BooleanValue(False))

    def prepare(self):
        self.check_arguments()

    def run(self):
        pass


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"n": 0}, "argument 'n' = 0 is out of range: must be in [1, 10]"),
        ({"n": 11}, "argument 'n' = 11 is out of range: must be in [1, 10]"),
        ({"n": 2.5}, "argument 'n' = 2.5 is not an integer: must be an integer in [1, 10]"),
        ({"n": "3"}, "argument 'n' = '3' is not a number"),
        ({"t": -1e-6}, "argument 't' = -1e-06 (-1 us) is out of range: must be ≥ 0"),
        ({"t": float("nan")}, "argument 't' = nan (nan us) is not finite"),
    ],
)
def test_check_arguments_names_argument_value_and_range(simulation, arguments, message):
    """Out-of-range, non-integer and non-numeric values are refused in prepare(), exit 2."""
    result = simulation.run(Checked, arguments=arguments)
    assert isinstance(result.exception, ArgumentValueError)
    assert result.exit_code == 2 and result.results_file is None
    assert result.error_message.startswith(message), result.error_message


def test_check_arguments_accepts_valid_values(simulation):
    result = simulation.run(Checked, arguments={"n": 10, "t": 0.0, "mode": "b", "flag": True})
    assert result.exit_code == 0, result.error_message


@pytest.mark.parametrize(
    "experiment, arguments, message",
    [
        (
            "remote_entanglement",
            ["heralds_per_setting=-5"],
            "argument 'heralds_per_setting' = -5 is out of range: must be ≥ 1",
        ),
        ("remote_entanglement", ["heralds_per_setting=0"], "= 0 is out of range: must be ≥ 1"),
        ("remote_entanglement", ["heralds_per_setting=2.5"], "= 2.5 is not an integer"),
        (
            "remote_entanglement",
            ["cooling_time=-1e-6"],
            "argument 'cooling_time' = -1e-06 (-1 us) is out of range: must be ≥ 0",
        ),
        (
            "remote_entanglement",
            ['mode="nonsense"'],
            "argument 'mode' = 'nonsense' is not allowed: "
            "must be one of 'z', 'parity', 'tomography'",
        ),
        ("readout_calibration", ["shots=-1"], "argument 'shots' = -1 is out of range: must be ≥"),
        (
            "readout_calibration",
            ["-c", "Nope"],
            "readout_calibration.py' has no class 'Nope' (experiments in it: ReadoutCalibration)",
        ),
    ],
)
def test_repository_bad_arguments_exit_2(
    tmp_path, monkeypatch, capsys, experiment, arguments, message
):
    """The issue's cases through the CLI on the repository's experiments: one line, exit 2,
    no results file."""
    monkeypatch.chdir(tmp_path)
    rc = main(
        [
            "run",
            os.path.join(ROOT, "repository", experiment + ".py"),
            *arguments,
            "--device-db",
            DEVICE_DB,
            "--results",
            str(tmp_path / "results"),
        ]
    )
    assert rc == 2
    assert message in _one_line_error(capsys.readouterr().err)
    assert not list((tmp_path / "results").rglob("*.h5"))


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "repository", "*.py"))))
def test_every_experiment_checks_its_arguments_first(path):
    """Every experiment of the repository calls ``self.check_arguments()`` first in prepare()."""
    tree = ast.parse(open(path).read())
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    assert classes
    for cls in classes:
        prepare = next(
            f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "prepare"
        )
        first = prepare.body[0]
        assert ast.unparse(first) == "self.check_arguments()", (path, cls.name)


# ---------------------------------------------------------------------------------------------
# -q


def test_quiet_shows_warnings_and_errors_only(tmp_path):
    """``-q``: warnings and errors are shown; info messages and the dataset listing are not."""
    exp = tmp_path / "exp.py"
    exp.write_text(
        "import logging\nfrom artiq.experiment import *\n"
        "class Exp(EnvExperiment):\n    def build(self):\n        pass\n"
        "    def run(self):\n        logging.getLogger('exp').info('an info')\n"
        "        logging.getLogger('exp').warning('a warning')\n"
        "        self.set_dataset('x', 1)\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "run",
            str(exp),
            "-q",
            "--device-db",
            DEVICE_DB,
            "--results",
            str(tmp_path / "results"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert proc.returncode == 0, proc.stderr
    assert "a warning" in proc.stderr and "an info" not in proc.stderr
    assert proc.stdout == ""


# ---------------------------------------------------------------------------------------------
# provenance and diagnostics

SLACK_EXPERIMENTS = """
class Tight(EnvExperiment):
    def build(self):
        self.setattr_device("core")
        self.setattr_device("ttl0")

    @kernel
    def run(self):
        self.core.reset()
        at_mu(self.core.get_rtio_counter_mu() + 3000)
        self.ttl0.pulse_mu(8)  # TIGHT


class Loose(EnvExperiment):
    def build(self):
        self.setattr_device("core")
        self.setattr_device("ttl1")

    @kernel
    def run(self):
        self.core.reset()
        delay(1 * ms)
        self.ttl1.pulse_mu(8)  # LOOSE
"""


def test_provenance_and_typed_diagnostics(tmp_path, write_experiment):
    """Every results file names the lab (preset file and its SHA-256), the device database's
    SHA-256, seed, version and commit, all HDF5-native; clocks are int64; the minimum slack is
    this experiment's, the session's minimum is kept beside it."""
    import hashlib

    from sim.physics.lab import LABS_DIR

    path = write_experiment(SLACK_EXPERIMENTS)
    line = {
        tag: n
        for n, text in enumerate(open(path).read().splitlines(), 1)
        for tag in ("TIGHT", "LOOSE")
        if tag in text
    }
    with Simulation(DEVICE_DB, seed=5, lab="duke2024", results_dir=tmp_path / "results") as sim:
        tight = sim.run(path, "Tight")
        loose = sim.run(path, "Loose")
    with h5py.File(tight.results_file) as f:
        tight_slack = f["datasets/ionlink.sim.min_slack_mu"][()]
    with h5py.File(loose.results_file) as f:
        d = f["datasets"]
        p = "ionlink.sim.provenance."
        assert d[p + "lab_name"][()].decode() == "duke2024"
        lab_toml = LABS_DIR / "duke2024.toml"
        assert d[p + "lab_path"][()].decode() == str(lab_toml)
        assert d[p + "lab_sha256"][()].decode() == hashlib.sha256(lab_toml.read_bytes()).hexdigest()
        with open(DEVICE_DB, "rb") as ddb:
            assert d[p + "device_db_sha256"][()].decode() == hashlib.sha256(ddb.read()).hexdigest()
        assert d[p + "seed"].dtype == "int64" and d[p + "seed"][()] == 5
        assert d[p + "ionlink_version"][()].decode()
        assert isinstance(d[p + "git_commit"][()], bytes)  # a commit in a checkout, else empty
        for key in ("now_mu", "counter_mu", "min_slack_mu", "n_outputs", "seed"):
            assert d["ionlink.sim." + key].dtype == "int64", key
        for key in d:
            if key.startswith("ionlink.sim."):
                assert d[key].dtype.kind in "iufb" or d[key].attrs.get("ionlink_pyon") is None
                assert not str(d[key][()]).startswith("b'{\"__jsonclass__"), key
        assert (
            d["ionlink.sim.min_slack_source"][()]
            .decode()
            .endswith("exp.py:{}".format(line["LOOSE"]))
        )
        assert d["ionlink.sim.min_slack_mu"][()] > 100_000
        assert d["ionlink.sim.session_min_slack_mu"][()] == tight_slack < 3000
        assert (
            d["ionlink.sim.session_min_slack_source"][()]
            .decode()
            .endswith("exp.py:{}".format(line["TIGHT"]))
        )


def test_git_commit_outside_a_checkout_is_empty(tmp_path):
    from sim.provenance import PACKAGE_DIR, git_commit

    assert git_commit(tmp_path) == ""
    assert git_commit(PACKAGE_DIR / "sim") == ""  # inside the checkout, but not its top
