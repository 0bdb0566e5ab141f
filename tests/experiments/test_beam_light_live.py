# SPDX-License-Identifier: LGPL-3.0-or-later
"""The detection light follows its DDS while the beam stays on (sim.physics.beam_rf): a kernel
keeps node A's detection switch open over 20 PMT windows of 200 µs on a bright ion and changes
the detection DDS after the tenth (amplitude 0, attenuator +10 dB, CFG RF switch off, 20 MHz
off resonance). The counts change from the change's time on; before, the light taken at the
switch-on held until the next one (9.3 → 8.8 counts a window in the session that found it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.lab_resolution import resolve_lab
from tests.experiments.simhelpers import simulation

LIVE = """from artiq.experiment import *


class LiveRF(EnvExperiment):
    def build(self):
        self.setattr_device("core")
        self.dds = self.get_device("node_a.detect_dds")
        self.sw = self.get_device("node_a.detect_sw")
        self.pmt = self.get_device("node_a.pmt")
        self.qdds = self.get_device("node_a.qubit_dds")
        self.qsw = self.get_device("node_a.qubit_sw")
        self.setattr_argument("change", StringValue("amp0"))
        self.setattr_argument("frequency", NumberValue(110e6))
        self.setattr_argument("amplitude", NumberValue(0.5))
        self.setattr_argument("attenuation", NumberValue(10.0))
        self.setattr_argument("windows", NumberValue(20, precision=0, step=1, type="int"))
        self.setattr_argument("window", NumberValue(200e-6))

    def prepare(self):
        self.kind = {"none": 0, "amp0": 1, "att": 2, "cfg_off": 3, "freq": 4}[self.change]

    @kernel
    def run(self):
        self.core.reset()
        self.core.break_realtime()
        n = self.windows
        ends = [int64(0)] * n
        counts = [0] * n
        self.qdds.set(5 * MHz, amplitude=1.0)
        self.qsw.pulse(5 * us)  # a pi pulse: the ion bright
        delay(10 * us)
        self.sw.on()
        for i in range(n // 2):
            ends[i] = self.pmt.gate_rising(self.window)
        if self.kind == 1:
            self.dds.set(self.frequency, amplitude=0.0)
        elif self.kind == 2:
            self.dds.set_att(self.attenuation + 10.0)
        elif self.kind == 3:
            self.dds.cfg_sw(False)
        elif self.kind == 4:
            self.dds.set(self.frequency + 20 * MHz, amplitude=self.amplitude)
        for i in range(n // 2, n):
            ends[i] = self.pmt.gate_rising(self.window)
        self.sw.off()
        for i in range(n):
            counts[i] = self.pmt.count(ends[i])
        self.set_dataset("counts", counts)
"""


def _counts(tmp_path: Path, change: str) -> list[int]:
    """The 20 windows' counts of the kernel with ``change`` after the tenth (seed 5)."""
    (tmp_path / "live_rf.py").write_text(LIVE)
    beam = resolve_lab("oxford2020", None).nodes[0].detect
    args = {
        "change": change,
        "frequency": beam.frequency_hz,
        "amplitude": beam.amplitude,
        "attenuation": beam.attenuation_db,
    }
    sim = simulation(tmp_path, lab="oxford2020", seed=5)
    try:
        result = sim.run(tmp_path / "live_rf.py", None, args)
        assert result.exit_code == 0, result.error_message
        return list(result.datasets["counts"])
    finally:
        sim.close()


@pytest.mark.parametrize("change", ["amp0", "cfg_off", "freq"])
def test_detection_goes_dark_at_the_change(tmp_path: Path, change: str) -> None:
    """No light from the change on: no counts in the ten windows after it (≈ 120 before)."""
    counts = _counts(tmp_path, change)
    assert sum(counts[:10]) > 80, counts
    assert sum(counts[10:]) == 0, counts


def test_detection_weakens_at_an_attenuator_change(tmp_path: Path) -> None:
    """10 dB more: x = 0.1, the signal at 0.1 × 2/1.1 of the lab's (s₀ = 1): ≈ 2.3 counts a
    window instead of 12 (60 kHz bright, 1 kHz dark)."""
    counts = _counts(tmp_path, "att")
    assert sum(counts[:10]) > 80, counts
    assert 10 <= sum(counts[10:]) <= 40, counts


def test_detection_without_a_change_stays(tmp_path: Path) -> None:
    """The reference: the same draws without a change keep the lab's light."""
    counts = _counts(tmp_path, "none")
    assert sum(counts[10:]) > 80, counts
