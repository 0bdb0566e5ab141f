# SPDX-License-Identifier: LGPL-3.0-or-later
"""A measured calibration used after the lab's description changed is warned about when it is
read, whether the TOML file was edited or other ``--set`` values are given (a statewalk: the
readout thresholds of a 60 kHz bright rate used at 2 kHz gave P_odd 0.000 [0.000, 0.036] with
exit 0 and no warning, the marks naming only the lab)."""

from __future__ import annotations

import logging
import shutil

import pytest
from artiq.experiment import EnvExperiment

from sim.runner import Simulation

from .simhelpers import ROOT


class Measure(EnvExperiment):
    """Stands in for ReadoutCalibration: stores a threshold (no kernel: quick)."""

    def build(self):
        pass

    def run(self):
        self.set_dataset("calib.readout.threshold_a", 3, persist=True)


class Use(EnvExperiment):
    """Stands in for the link: reads the threshold."""

    def build(self):
        self.threshold = self.get_dataset("calib.readout.threshold_a", 1)

    def run(self):
        pass


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "calib.readout" in r.getMessage()]


def _run(tmp_path, lab, experiment, overrides=()):
    with Simulation(
        ROOT / "device_db.py",
        seed=1,
        lab=lab,
        lab_overrides=overrides,
        results_dir=tmp_path / "results",
    ) as sim:
        assert sim.run(experiment).exit_code == 0


@pytest.mark.parametrize("change", ["toml", "set"])
def test_a_calibration_of_the_lab_as_it_was_is_warned_about(tmp_path, caplog, change):
    lab = tmp_path / "my_lab.toml"
    shutil.copy(ROOT / "sim" / "labs" / "oxford2020.toml", lab)
    caplog.set_level(logging.WARNING)
    _run(tmp_path, lab, Measure)
    _run(tmp_path, lab, Use)
    assert not _warnings(caplog)  # the lab it was measured at
    overrides: tuple[str, ...] = ()
    if change == "toml":
        text = lab.read_text()
        assert text.count("bright_rate_hz = 60e3") == 2
        lab.write_text(text.replace("bright_rate_hz = 60e3", "bright_rate_hz = 2e3"))
    else:
        overrides = ("nodes.*.readout.bright_rate_hz=2000",)
    _run(tmp_path, lab, Use, overrides)
    (warning,) = _warnings(caplog)
    assert "readout calibration (calib.readout.*) taken at lab 'oxford2020'" in warning
    assert "as it was described then, not as now" in warning
    assert "run ReadoutCalibration again" in warning
    caplog.clear()
    _run(tmp_path, lab, Use, overrides)  # reading it did not make it this lab's
    assert len(_warnings(caplog)) == 1
    caplog.clear()
    _run(tmp_path, lab, Measure, overrides)  # measured again at the lab as it is now
    _run(tmp_path, lab, Use, overrides)
    assert not _warnings(caplog)


def test_a_calibration_measured_again_to_the_same_values_is_of_the_lab_it_was_measured_at(
    tmp_path, caplog
):
    """Measured again at another lab to the values the store held, the calibration is that
    lab's (it was left marked with the first lab, warned about where it was measured)."""
    caplog.set_level(logging.WARNING)
    _run(tmp_path, "oxford2020", Measure)
    _run(tmp_path, "duke2024", Measure)  # the same threshold, 3
    _run(tmp_path, "duke2024", Use)
    assert not _warnings(caplog)
    _run(tmp_path, "oxford2020", Use)
    (warning,) = _warnings(caplog)
    assert "at lab 'duke2024', this simulation is at 'oxford2020'" in warning


class MeasureDark(EnvExperiment):
    """Stands in for DarkCounts: stores the detectors' dark rates."""

    def build(self):
        pass

    def run(self):
        self.set_dataset("calib.bsa.dark_rate_hz", [8000.0] * 4, persist=True)


class UseDark(EnvExperiment):
    """Stands in for single photon, HOM or polarisation compensation: reads the dark rates."""

    def build(self):
        self.rates = self.get_dataset("calib.bsa.dark_rate_hz", None)

    def run(self):
        pass


def test_dark_rates_of_another_description_are_warned_about(tmp_path, caplog):
    """The detectors' dark rates measured at 8 kHz, then read with the detectors at 200 Hz
    (``--set``): single photon, HOM and polarisation compensation subtract them (η, the
    accidentals, the refusal on dark counts). They were not among the marked calibrations: used
    silently."""
    caplog.set_level(logging.WARNING)
    overrides = ("bsa.detectors[*].dark_rate_hz=8000",)
    _run(tmp_path, "oxford2020", MeasureDark, overrides)
    _run(tmp_path, "oxford2020", UseDark, overrides)
    assert not [r for r in caplog.records if "calib.bsa" in r.getMessage()]
    _run(tmp_path, "oxford2020", UseDark, ("bsa.detectors[*].dark_rate_hz=200",))
    (warning,) = [r.getMessage() for r in caplog.records if "calib.bsa" in r.getMessage()]
    assert "the dark-count calibration (calib.bsa.*) taken at lab 'oxford2020'" in warning
    assert "run DarkCounts again" in warning
