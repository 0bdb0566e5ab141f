# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-sim run`` on a lab whose beams have no RF: what a lab gives (no light: no counts, no
pumping, no photons), not the lab's full light. Before, the simulated beams followed their TTLs
alone: the readout calibration after Startup with the detection DDS at amplitude 0 stored a
readout error of 0.01 (bright shots 17.9 counts), and the single-photon calibration on a fresh
lab (no Startup: no beam DDS programmed) stored η = 0.025, both exit 0."""

from __future__ import annotations

import pathlib

import h5py
import numpy as np
import pytest

from sim.cli import main

from .simhelpers import REPO, ROOT

SET_DATASET = """
from artiq.experiment import *


class SetDataset(EnvExperiment):
    def build(self):
        self.setattr_argument("key", StringValue(""))
        self.setattr_argument("value", NumberValue(0.0))

    def run(self):
        self.set_dataset(self.key, self.value, persist=True)
"""

#: an RTIO underflow's recovery (drivers/link.py): the AD9910s' serial ports reset by a CFG write
IO_RST = """
from artiq.experiment import *


class IoRst(EnvExperiment):
    def build(self):
        self.setattr_device("core")
        self.cpld = self.get_device("urukul0_cpld")

    @kernel
    def run(self):
        self.core.break_realtime()
        self.cpld.io_rst()
"""


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working directory (dataset store, hardware state) with an experiment that stores one
    persistent dataset, as ``artiq_client set-dataset -p`` would, and one that resets node A's
    Urukul's serial ports (``io_rst.py``)."""
    (tmp_path / "set_dataset.py").write_text(SET_DATASET)
    (tmp_path / "io_rst.py").write_text(IO_RST)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _cli(work: pathlib.Path, experiment: str, *args: str) -> int:
    path = str(work / experiment if (work / experiment).exists() else REPO / experiment)
    return main(
        [
            "run",
            path,
            "--device-db",
            str(ROOT / "device_db.py"),
            "--lab",
            "oxford2020",
            "--results",
            str(work / "results"),
            "--seed",
            "1",
            "-q",
            *args,
        ]
    )


def _last(work: pathlib.Path, name: str) -> dict:
    """The datasets of the last results file of experiment ``name``."""
    path = sorted((work / "results").glob(f"*/*/*-{name}.h5"))[-1]
    with h5py.File(path, "r") as f:
        return {k: v[()] for k, v in f["datasets"].items()}


def test_readout_calibration_without_detection_light_is_refused(work, capsys):
    """Startup with node A's detection DDS at amplitude 0: not one PMT count, the calibration
    refused in one line naming the detection beam's drive (exit 1, nothing stored); Startup at
    the lab's amplitude again and it is stored."""
    key = 'key="calib.node_a.dds.detect.amplitude"'
    assert _cli(work, "set_dataset.py", key, "value=0.0") == 0
    assert _cli(work, "startup.py") == 0
    capsys.readouterr()
    assert _cli(work, "readout_calibration.py", "shots=100") == 1
    err = capsys.readouterr().err.strip()
    assert "node a: not one PMT count in 200 shots" in err and "\n" not in err, err
    assert "calib.node_a.dds.detect" in err
    ds = _last(work, "ReadoutCalibration")
    assert not np.any(ds["readout.bright_counts_a"]) and np.mean(ds["readout.bright_counts_b"]) > 10
    assert not any(k.startswith("calib.readout") for k in ds)
    assert _cli(work, "set_dataset.py", key, "value=0.5") == 0
    assert _cli(work, "startup.py") == 0
    assert _cli(work, "readout_calibration.py", "shots=100") == 0
    assert _last(work, "ReadoutCalibration")["calib.readout.error_a"] < 0.05


def test_single_photon_on_a_fresh_lab_finds_no_photons(work, capsys):
    """No Startup since power-up: the pump beam's DDS plays nothing, the ions are not pumped and
    emit no photon after their first; the calibration is refused (exit 1)."""
    assert _cli(work, "single_photon.py", "attempts=2000") == 1
    err = capsys.readouterr().err
    assert "node a: 0 clicks in 2000 attempts" in err, err
    assert "pumping" in err


def test_remote_entanglement_without_pumping_light_never_heralds(work, capsys):
    """Startup with node A's pump DDS at amplitude 0: the entangler's runs pump node
    A's ion with no light, so no herald comes; the run stops on its herald timeout (exit 1)
    with one line saying what it measured: node B's photons click (the entangler's input
    counters of the last run), so the light reaches the detectors but never as a herald, and a
    dark node is named among the causes (before: "the link cannot herald (detectors, gate
    window, excitation, pumping?)", with nothing measured)."""
    key = 'key="calib.node_a.dds.pump.amplitude"'
    assert _cli(work, "set_dataset.py", key, "value=0.0") == 0
    assert _cli(work, "startup.py") == 0
    capsys.readouterr()
    rc = _cli(
        work, "remote_entanglement.py", 'mode="z"', "heralds_per_setting=2", "herald_timeout=200000"
    )
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 1 and "NoHeraldError: no herald in" in err, err
    assert "in the last run's 191 cycles the 4 detectors clicked in" in err, err
    assert "never as a herald pattern (one node dark" in err, err


def test_a_cfg_write_after_startup_keeps_the_beams_light(work):
    """ARTIQ's CPLD driver writes CFG from its own copy, which a new experiment's driver starts
    from the device_db's ``rf_sw``: an ``io_rst`` (the recovery after an underflow) after Startup
    rewrote the RF switches Startup had closed. With ``rf_sw`` 0 (before device_db.py set 0b0111)
    node A's beams went dark: the readout calibration after it counted nothing (exit 1)."""
    assert _cli(work, "startup.py") == 0
    assert _cli(work, "io_rst.py") == 0
    assert _cli(work, "readout_calibration.py", "shots=100") == 0
    assert _last(work, "ReadoutCalibration")["calib.readout.error_a"] < 0.05
