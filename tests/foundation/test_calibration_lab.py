# SPDX-License-Identifier: LGPL-3.0-or-later
"""Calibrations measured at one simulated lab and read at another are warned about (found by a
new-user walkthrough: target_99_1khz's readout thresholds and photon window used at oxford2020
gave P 2.72e-4 [2.35, 3.12]e-4 against the budget's 2.198e-4, silently)."""

from types import SimpleNamespace

from sim.datasets import DatasetDB
from sim.lab_datasets import (
    CALIBRATION_LAB,
    check_calibration_lab,
    measured_calibrations,
    note_calibration_lab,
)

TARGET, OXFORD = SimpleNamespace(name="target_99_1khz"), SimpleNamespace(name="oxford2020")


def test_calibrations_of_another_lab_are_warned_about():
    db = DatasetDB(None)
    assert check_calibration_lab(db, OXFORD) is None  # nothing measured yet
    before = measured_calibrations(db)
    note_calibration_lab(db, TARGET, before)  # an experiment that measured nothing
    assert not [k for k in db.data if k.startswith(CALIBRATION_LAB)]
    db.set("calib.readout.threshold_a", 3, persist=True)  # ReadoutCalibration at target_99_1khz
    note_calibration_lab(db, TARGET, before)
    assert check_calibration_lab(db, TARGET) is None
    warning = check_calibration_lab(db, OXFORD)
    assert "at lab 'target_99_1khz'" in warning and "at 'oxford2020'" in warning
    before = measured_calibrations(db)
    db.set("calib.readout.threshold_a", 2, persist=True)  # measured again at oxford2020
    note_calibration_lab(db, OXFORD, before)
    assert check_calibration_lab(db, OXFORD) is None


def test_each_calibration_keeps_its_own_lab():
    """Re-measuring one calibration at another lab does not vouch for the other: the readout
    thresholds re-measured at oxford2020 leave target_99_1khz's photon window warned about."""
    db = DatasetDB(None)
    before = measured_calibrations(db)
    db.set("calib.readout.threshold_a", 3, persist=True)
    db.set("calib.photon.gate_start_mu", 590, persist=True)
    note_calibration_lab(db, TARGET, before)  # both measured at target_99_1khz
    before = measured_calibrations(db)
    db.set("calib.readout.threshold_a", 2, persist=True)  # ReadoutCalibration at oxford2020
    note_calibration_lab(db, OXFORD, before)
    warning = check_calibration_lab(db, OXFORD)
    assert warning is not None and "photon calibration" in warning
    assert "readout calibration" not in warning and "run SinglePhoton again" in warning
    before = measured_calibrations(db)
    db.set("calib.photon.gate_start_mu", 600, persist=True)  # SinglePhoton at oxford2020
    note_calibration_lab(db, OXFORD, before)
    assert check_calibration_lab(db, OXFORD) is None
    assert "readout calibration" in check_calibration_lab(db, TARGET)


def test_a_store_with_the_single_older_mark_is_still_checked():
    db = DatasetDB(None)
    db.set("calib.readout.threshold_a", 3, persist=True)
    db.set(CALIBRATION_LAB, "target_99_1khz", persist=True)  # written before the split
    assert "readout calibration" in check_calibration_lab(db, OXFORD)
    assert check_calibration_lab(db, TARGET) is None


def test_the_warning_comes_when_an_experiment_reads_a_foreign_calibration(caplog):
    """The simulator warns when a calibration measured elsewhere is read, once per calibration;
    a chain that measures it first (the demo) reads its own and is not warned about."""
    import logging

    from sim.datasets import DatasetManager
    from sim.lab_datasets import CalibrationWatch

    db = DatasetDB(None)
    before = measured_calibrations(db)
    db.set("calib.readout.threshold_a", 3, persist=True)
    db.set("calib.photon.gate_start_mu", 590, persist=True)
    db.set("calib.link.cycle_s", 1e-6, persist=True)
    note_calibration_lab(db, TARGET, before)
    caplog.set_level(logging.WARNING)
    watch = CalibrationWatch(db, OXFORD)
    DatasetManager(db, on_read=watch.reader("Startup")).get("calib.link.cycle_s")
    assert not caplog.records  # the lab's own design values
    before = measured_calibrations(db)
    mgr = DatasetManager(db, on_read=watch.reader("ReadoutCalibration"))
    mgr.get("calib.readout.threshold_a")  # its nodes load the old thresholds, unused
    db.set("calib.readout.threshold_a", 2, persist=True)  # and it measures them here
    note_calibration_lab(db, OXFORD, before)
    assert not caplog.records
    link = watch.reader("RemoteEntanglement")
    DatasetManager(db, on_read=link).get("calib.readout.threshold_a")
    assert not caplog.records
    for _ in range(2):  # the link reads the photon window twice: one warning
        DatasetManager(db, on_read=link).get("calib.photon.gate_start_mu")
    (rec,) = caplog.records
    assert "photon calibration (calib.photon.*) at lab 'target_99_1khz'" in rec.getMessage()


def test_a_calibration_taken_before_the_lab_description_changed_is_warned_about():
    """The mark of a calibration is its lab's name and description (with the --set values): a
    statewalk calibrated oxford2020's readout, then ran the link with
    ``--set nodes.*.readout.bright_rate_hz=2000`` (or with its TOML file so edited) and got
    P_odd 0.000 [0.000, 0.036] from the old thresholds, exit 0 and no warning."""
    from sim.physics.lab import load_lab
    from sim.physics.lab_overrides import parse_override

    lab = load_lab("oxford2020")
    dim = load_lab("oxford2020", [parse_override("nodes.*.readout.bright_rate_hz=2000")])
    assert dim.name == lab.name
    db = DatasetDB(None)
    before = measured_calibrations(db)
    db.set("calib.readout.threshold_a", 3, persist=True)  # ReadoutCalibration at oxford2020
    note_calibration_lab(db, lab, before)
    assert check_calibration_lab(db, lab) is None
    assert check_calibration_lab(db, load_lab("oxford2020")) is None  # the same description
    warning = check_calibration_lab(db, dim)
    assert warning is not None and "readout calibration (calib.readout.*)" in warning
    assert "lab 'oxford2020' as it was described then" in warning
    assert "run ReadoutCalibration again" in warning
    before = measured_calibrations(db)
    db.set("calib.readout.threshold_a", 0, persist=True)  # measured again with the dimmer ions
    note_calibration_lab(db, dim, before)
    assert check_calibration_lab(db, dim) is None
    assert "as it was described then" in check_calibration_lab(db, lab)


def test_a_calibration_measured_again_to_the_same_values_is_marked_again():
    """A calibration that writes the values the store held (thresholds and errors are small
    integers and count fractions) belongs to the lab it was measured at all the same."""
    db = DatasetDB(None)
    before = measured_calibrations(db)
    db.set("calib.readout.threshold_a", 3, persist=True)
    note_calibration_lab(db, TARGET, before)
    before = measured_calibrations(db)
    db.set("calib.readout.threshold_a", 3, persist=True)  # ReadoutCalibration at oxford2020
    note_calibration_lab(db, OXFORD, before, written=["calib.readout.threshold_a", "readout.x"])
    assert check_calibration_lab(db, OXFORD) is None
    assert "readout calibration" in check_calibration_lab(db, TARGET)


def test_a_calibrations_lab_mark_is_saved_with_its_values(tmp_path, monkeypatch):
    """(The values were saved with the experiment's datasets, the marks in a second save after
    it: an interruption between the two, or a failed second save, left a calibration taken here
    under the mark of the lab that measured the store's earlier one, unwarned at that lab.)"""
    from pathlib import Path

    from sim.runner import Simulation

    root = Path(__file__).resolve().parents[2]
    exp = tmp_path / "measure.py"
    exp.write_text(
        "from artiq.experiment import *\n\n"
        "class Measure(EnvExperiment):\n"
        "    def build(self):\n        pass\n\n"
        "    def run(self):\n"
        '        self.set_dataset("calib.readout.threshold_a", 4, persist=True)\n'
    )
    saves: list[set[str]] = []
    real_save = DatasetDB.save

    def save(self):
        saves.append(set(self._pending))
        real_save(self)

    monkeypatch.setattr(DatasetDB, "save", save)
    paths = {"results_dir": tmp_path / "results", "dataset_db": tmp_path / "ds.mdb"}
    with Simulation(root / "device_db.py", seed=1, lab="oxford2020", **paths) as sim:
        saves.clear()
        assert sim.run(exp).exit_code == 0
    value = [s for s in saves if "calib.readout.threshold_a" in s]
    assert value, saves
    assert {f"{CALIBRATION_LAB}.readout", f"{CALIBRATION_LAB}_sha256.readout"} <= value[0], saves
    db = DatasetDB(tmp_path / "ds.mdb")
    assert db.data[f"{CALIBRATION_LAB}.readout"][1] == "oxford2020"
