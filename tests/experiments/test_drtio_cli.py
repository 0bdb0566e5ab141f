# SPDX-License-Identifier: LGPL-3.0-or-later
"""Two chassis from the command line: a link fault at start, bad device databases and a negative
link latency, each one line on stderr before any kernel runs (or, for the fault, Startup's
error after waiting for the destination as ARTIQ's manual recommends)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.cli import main
from sim.physics.lab import load_lab

ROOT = Path(__file__).resolve().parents[2]
DRTIO_DB = ROOT / "device_db_drtio.py"


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """Each test in its own working directory (where the command line keeps the dataset store,
    the hardware state and last_rid.pyon)."""
    monkeypatch.chdir(tmp_path)


def _run(tmp_path: Path, *args: str) -> int:
    return main(
        [
            "run",
            str(ROOT / "repository" / "startup.py"),
            *_store(tmp_path),
            "-q",
            *args,
        ]
    )


def _store(tmp_path: Path) -> list[str]:
    """The options that keep a run's results and dataset store in ``tmp_path`` (as
    :func:`_run` keeps Startup's)."""
    results, store = tmp_path / "results", tmp_path / "dataset_db.mdb"
    return ["--results", str(results), "--dataset-db", str(store)]


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ionlink-sim: error: ")
    return lines[0]


def test_link_down_at_start_stops_startup(tmp_path, capsys):
    """--link-down 1: Startup waits 10 s of RTIO time for destination 1, then stops (exit 1)."""
    rc = _run(tmp_path, "--device-db", str(DRTIO_DB), "--lab", "oxford2020", "--link-down", "1")
    assert rc == 1
    assert "DestinationDown: DRTIO destination 1 is not up after 10 s" in _one_line(
        capsys.readouterr().err
    )


def _bad_db(tmp_path: Path, edit: str) -> str:
    path = tmp_path / "bad_db.py"
    path.write_text(
        f"import runpy\ndevice_db = runpy.run_path({str(DRTIO_DB)!r})['device_db']\n" + edit + "\n"
    )
    return str(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            "device_db['entangler_slave']['arguments']['is_master'] = True",
            "two entangler masters, 'entangler_master' and 'entangler_slave'",
        ),
        (
            "device_db['ttl16']['arguments']['channel'] = 0x020000",
            "device 'ttl16' is on DRTIO destination 2 (channel 0x020000), which has no link",
        ),
        (
            "del device_db['entangler_master']; device_db['entangler'] = 'entangler_slave'",
            "entangler 'entangler_slave' is a slave (is_master False) without a master",
        ),
    ],
)
def test_bad_device_db_is_one_line_exit_2(tmp_path, capsys, edit, message):
    assert _run(tmp_path, "--device-db", _bad_db(tmp_path, edit), "--lab", "oxford2020") == 2
    assert message in _one_line(capsys.readouterr().err)


def test_negative_fibre_is_one_line_exit_2(tmp_path, capsys):
    lab = tmp_path / "lab.toml"
    lab.write_text(Path(load_lab("oxford2020").source).read_text() + "\n[drtio]\nfibre_m = -1\n")
    assert _run(tmp_path, "--device-db", str(DRTIO_DB), "--lab", str(lab)) == 2
    assert "drtio.fibre_m = -1: a link latency cannot be negative" in _one_line(
        capsys.readouterr().err
    )


@pytest.mark.parametrize("fibre_m", [2000, 20000])
def test_startup_and_remote_gate_on_a_far_satellite(tmp_path, capsys, fibre_m):
    """2 and 20 km of fibre (10 and 100 µs one way): Startup initialises the satellite's
    Urukuls (at 20 km blind, then checked with the link's slack: a read's round trip exceeds the
    50 µs ARTIQ's init leaves after its reads), the readout calibration leaves the link's
    latencies of slack before each shot (at 20 km it underflowed on node B's outputs) and the
    remote gate plays through them after it, without an underflow, its readout calibrated."""
    common = ["--device-db", str(DRTIO_DB), "--lab", "oxford2025"]
    common += ["--set", f"drtio.fibre_m={fibre_m}"]
    assert _run(tmp_path, *common) == 0, capsys.readouterr().err
    store = _store(tmp_path)
    for experiment, arguments in (
        ("readout_calibration.py", ["shots=10"]),
        ("remote_gate.py", ['analysis="truth_table"', "heralds_per_setting=1"]),
    ):
        rc = main(["run", str(ROOT / "repository" / experiment), *store, "-q", *common, *arguments])
        assert rc == 0, capsys.readouterr().err
    files = sorted((tmp_path / "results").rglob("*RemoteGate.h5"))
    import h5py

    with h5py.File(files[-1]) as f:
        assert f["datasets/totals.underflows_recovered"][()] == 0
        assert f["datasets/totals.shots"][()] == 4
        assert b"threshold" not in f["datasets/ionlink.uncalibrated"][()]


def test_blind_init_only_beyond_the_init_slack():
    from drivers.destinations import INIT_READ_SLACK_S, blind_init_latency_s

    assert blind_init_latency_s(0x10010, 100e-6) == 100e-6  # a satellite 20 km away
    assert blind_init_latency_s(0x10010, 0.3e-6) == 0.0  # 2 m
    assert blind_init_latency_s(0x10, 100e-6) == 0.0  # the master's own Urukul
    assert blind_init_latency_s(0x10010, INIT_READ_SLACK_S / 2) == INIT_READ_SLACK_S / 2


def test_budget_knows_the_simulator_device_db_has_two_chassis():
    """``ionlink-sim budget --device-db device_db_sim_drtio.py`` in a fresh process (no ARTIQ
    stand-in active yet) sees the satellite, as with ``device_db_drtio.py``: it once failed with
    "no link" because loading the simulator's device db without ``import artiq`` turned every
    entry, the core's satellite list with it, into a placeholder."""
    import json
    import subprocess
    import sys

    def budget(ddb: str) -> dict:
        out = subprocess.run(
            [sys.executable, "-m", "sim", "budget", "oxford2025", "--gate", "--json"]
            + ["--device-db", str(ROOT / ddb)],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    assert budget("device_db_sim_drtio.py") == budget("device_db_drtio.py")


@pytest.mark.parametrize(
    "argv",
    [
        ["budget", "oxford2020"],
        ["run", str(ROOT / "repository" / "startup.py"), "--device-db", str(ROOT / "device_db.py")],
        ["demo", "--device-db", str(ROOT / "device_db.py")],
        ["sweep", "--budget-only", "-o", "{tmp}/s.h5"],
    ],
)
def test_link_keys_refused_on_one_chassis(argv, tmp_path, capsys):
    """``--set drtio.fibre_m=…`` on one chassis would change nothing (no link to describe): every
    figure would silently not depend on it. Refused with one line before anything runs; the same
    key on the two-chassis database is taken (the budget's rate falls with the fibre)."""
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    value = "2:20002:2" if argv[0] == "sweep" else "20000"
    assert main(argv + ["--set", "drtio.fibre_m=" + value]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "--set drtio.fibre_m" in line and "no DRTIO link" in line
    assert not (tmp_path / "s.h5").exists()
    if argv[0] == "budget":
        import json

        rates = []
        for fibre in ("2", "20000"):
            two = ["--device-db", str(DRTIO_DB), "--json", "--set", "drtio.fibre_m=" + fibre]
            assert main(argv + two) == 0
            rates.append(json.loads(capsys.readouterr().out)["rate_hz"])
        assert rates[1] < 0.5 * rates[0]


def test_hom_on_a_satellite_keeps_the_links_slack(tmp_path, capsys, monkeypatch):
    """HOM with node B on a DRTIO satellite: its slack margin includes the link's latencies, as
    the link experiments' does (``drtio_margin_mu``), so no write reaches the satellite late.
    Found by a calibration walk: "satellite: write underflow, channel=65537, slack=72" on the
    console, exit 0, and nothing in the results file; the file now records the satellites' own
    log (``ionlink.sim.satellite_errors``). Without the latencies the same run loses a write."""
    import h5py

    import drivers.link_timing as lt

    common = ["--device-db", str(DRTIO_DB), "--lab", "oxford2020"]
    assert _run(tmp_path, *common, "--seed", "1") == 0, capsys.readouterr().err
    store = _store(tmp_path)
    photon = ["run", str(ROOT / "repository" / "single_photon.py"), *store, "-q", *common]
    assert main(photon) == 0, capsys.readouterr().err  # (the gate HOM opens)
    hom = ["run", str(ROOT / "repository" / "hom.py"), *store, "-q", *common]
    lost = []
    for with_link in (False, True):
        with monkeypatch.context() as m:
            if not with_link:
                m.setattr(lt, "satellite_latency_s", lambda env, nodes: 0.0)
            assert main(hom) == 0, capsys.readouterr().err
        capsys.readouterr()
        path = sorted((tmp_path / "results").rglob("*HOM.h5"))[-1]
        with h5py.File(path) as f:
            d = f["datasets"]
            lost.append(int(d["ionlink.sim.satellite_error_count"][()]))
            if lost[-1]:
                assert b"write underflow, channel=65537" in d["ionlink.sim.satellite_errors"][()]
    assert lost[0] > 0  # without the link's latencies
    assert lost[1] == 0


def test_hom_on_a_far_satellite_keeps_the_links_slack_after_break_realtime(tmp_path, capsys):
    """HOM 20 km from its satellite (100 µs one way): after each ``break_realtime`` (125 µs of
    slack, less than the three latencies) the kernel adds the link's latencies before node B's
    writes, as readout calibration does before each shot. Found by a scan of the experiments on
    two chassis: without them the satellite dropped node B's cooling and a slave entangler write
    (3 late writes, "write underflow, channel=65536, ... slack=-19288", exit 0) at 50 and at 200
    runs a delay."""
    import h5py

    common = ["--device-db", str(DRTIO_DB), "--lab", "oxford2020"]
    common += ["--set", "drtio.fibre_m=20000"]
    assert _run(tmp_path, *common, "--seed", "1") == 0, capsys.readouterr().err
    store = _store(tmp_path)
    hom = ["run", str(ROOT / "repository" / "hom.py"), *store, "-q", *common]
    assert main([*hom, "runs_per_delay=50"]) == 0, capsys.readouterr().err
    path = sorted((tmp_path / "results").rglob("*HOM.h5"))[-1]
    with h5py.File(path) as f:
        d = f["datasets"]
        lost = int(d["ionlink.sim.satellite_error_count"][()])
        assert lost == 0, d["ionlink.sim.satellite_errors"][()]
        assert int(d["hom.underflows_recovered"][()]) == 0


@pytest.mark.parametrize("fibre_m", [2, 100])
def test_single_photon_on_a_satellite_keeps_the_links_slack(tmp_path, capsys, monkeypatch, fibre_m):
    """The single-photon calibration with node B on a DRTIO satellite: node B's slack margin
    includes the link's latencies (``drtio_margin_mu``), as HOM's and the link experiments' do, so
    none of its attempts is lost. Without them, at the lab's 2 m of fibre the master's DRTIO
    underflow margin (300 mu) took ≈ 5 % of node B's attempts (``RTIOUnderflow``, recovered), and at
    100 m the satellite also dropped most of node B's pump and excitation writes (its own log only):
    at the default 20 000 attempts exit 0 with ``calib.photon.eta_b`` stored at a tenth of node
    A's."""
    import h5py
    import numpy as np

    import drivers.link_timing as lt

    common = ["--device-db", str(DRTIO_DB), "--lab", "oxford2020"]
    common += ["--set", f"drtio.fibre_m={fibre_m}"]
    assert _run(tmp_path, *common, "--seed", "1") == 0, capsys.readouterr().err
    store = _store(tmp_path)
    photon = ["run", str(ROOT / "repository" / "single_photon.py"), *store, "-q", *common]
    lost = []
    for with_link in (False, True):
        with monkeypatch.context() as m:
            if not with_link:
                m.setattr(lt, "satellite_latency_s", lambda env, nodes: 0.0)
            rc = main([*photon, "attempts=4000"])
        err = capsys.readouterr().err
        path = sorted((tmp_path / "results").rglob("*SinglePhoton.h5"))[-1]
        with h5py.File(path) as f:
            d = f["datasets"]
            lost.append(
                (
                    int(d["ionlink.sim.satellite_error_count"][()]),
                    int(d["photon.underflows_recovered"][()]),
                )
            )
            if with_link:
                assert rc == 0, err
                assert list(d["photons.attempts"][()]) == [4000, 4000]
                # the two nodes' photons are alike (oxford2020): their η agree within 4σ
                eta = [d["photon.eta_" + x][()] for x in "ab"]
                sigma = np.hypot(d["photon.eta_err_a"][()], d["photon.eta_err_b"][()])
                assert abs(eta[1] - eta[0]) < 4 * sigma, (eta, sigma)
    assert lost[0][1] > 0  # without the link's latencies: node B's attempts underflow
    if fibre_m > 2:
        assert lost[0][0] > 0  # and the satellite drops late writes
    assert lost[1] == (0, 0)
