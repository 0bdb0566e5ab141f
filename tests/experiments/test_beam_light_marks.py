# SPDX-License-Identifier: LGPL-3.0-or-later
"""A beam keeps the light level it found while the view's mark of its DDS stays
(``PhyViews.dds_changes``, ``sim.physics.beam_rf.BeamLight._light``): every write that changes
the RF (a profile write and its IO_UPDATE, an attenuator write, a CFG write opening the RF switch,
the switch TTL when CFG leaves it open, a write later than the switch-on) gives the level read
afresh. Each light lookup of a kernel that makes these writes between readouts is checked
against the view's reads, and the levels must move with the writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.physics import beam_rf
from tests.experiments.simhelpers import simulation

WRITES = """
from artiq.experiment import *


class LightWrites(EnvExperiment):
    def build(self):
        self.setattr_device("core")
        self.node = self.get_device("node_a")
        self.dds = self.get_device("node_a.detect_dds")

    @kernel
    def read(self):
        self.node.detect(20 * us)
        delay(20 * us)

    @kernel
    def run(self):
        self.core.break_realtime()
        self.read()
        self.read()
        self.dds.set(110 * MHz, amplitude=0.25)  # a profile and its IO_UPDATE
        self.read()
        self.read()
        self.dds.set_att(20.0)  # the attenuator
        self.read()
        self.read()
        self.dds.cfg_sw(False)  # CFG opens the RF switch: the switch TTL decides
        self.read()
        self.dds.sw.on()
        delay(1 * us)
        self.read()
        self.read()
        self.dds.sw.off()
        delay(1 * us)
        self.read()
        self.dds.cfg_sw(True)
        self.read()
        self.read()
        # a write after the next switch-on, submitted before it
        t = now_mu()
        delay(300 * us)
        self.dds.set(110 * MHz, amplitude=0.5)
        self.dds.set_att(10.0)
        at_mu(t)
        self.read()
        delay(400 * us)
        self.read()
        self.read()
"""


def test_every_rf_write_gives_the_light_read_afresh(tmp_path: Path, monkeypatch) -> None:
    """Each lookup equals the view's reads; node A's detection light goes through the levels
    the writes make, with kept levels used between them (and not across them)."""
    (tmp_path / "light_writes.py").write_text(WRITES)
    calls: list[tuple[int, float, bool]] = []
    inner = beam_rf.BeamLight._light

    def checked(self, rf, t_mu):
        kept = rf.mark is not None and rf.mark == self.view.dds_changes(rf.spi, rf.cs)
        level = inner(self, rf, t_mu)
        assert level == beam_rf.BeamLight._light_read(self.view, rf, t_mu), (rf, t_mu)
        if rf.beam is self.lab.nodes[0].detect:
            calls.append((t_mu, level, kept))
        return level

    sim = simulation(tmp_path, lab="oxford2020", seed=3)
    try:
        monkeypatch.setattr(beam_rf.BeamLight, "_light", checked)
        result = sim.run(tmp_path / "light_writes.py", None, {})
        assert result.exit_code == 0, result.error_message
    finally:
        sim.close()
    levels = [level for _, level, _ in calls]
    quarter = 0.25 * 2 / 1.25  # (A/A0)^2 = 0.25, s0 = 1: 0.4 of the lab's (to the ASF's step)
    weak = 0.025 * 2 / 1.025  # and 10 dB more
    want = [1, 1, quarter, quarter, weak, weak, 0, weak, weak, 0] + [weak] * 3 + [1, 1]
    assert levels == pytest.approx(want, rel=1e-3), levels
    kept = [k for _, _, k in calls]
    # kept: the second read after each write; not: the first after one, the switch TTL's reads
    # (no mark) and the switch-on before the later write
    want_kept = [False, True, False, True, False, True] + [False] * 5 + [True, False, False, True]
    assert kept == want_kept
