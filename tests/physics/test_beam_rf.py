# SPDX-License-Identifier: LGPL-3.0-or-later
"""The beams made by an AOM on an AD9910 give the light their RF makes (sim.physics.beam_rf):
the lab's at the RF Startup programs, none without RF. Before, the world read the beams' TTLs
alone: a detection beam whose DDS was never programmed, at amplitude 0, behind an open RF switch
or 20 MHz off gave the lab's full fluorescence, and a dark pump beam still pumped."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

import pytest

from sim.physics.beam_rf import light_level, relative_power
from sim.physics.cycle_build import nominal_cycle
from sim.physics.lab import Lab, LabError, lab_from_dict
from sim.physics.readout import fluorescence_rates
from sim.physics.view import DDSState
from sim.rtio.phy.dds_timeline import STAMPS
from sim.rtio.phy.urukul import UrukulDecoder

from .conftest import BEAM_DDS, DEVICES, KINDS, scripted_world

PMT_A = DEVICES["node_a.pmt"][1]
ROOT = Path(__file__).resolve().parents[2]


def _key(name: str) -> tuple[int, int]:
    _, spi, extra = DEVICES[name]
    return spi, extra["cs"]


def test_relative_power_and_light_level(oxford: Lab) -> None:
    """x = (A/A₀)² 10^(−Δatt/10); the rates go as x(1 + s₀)/(1 + s₀x), exactly 1 at the RF
    Startup programs (its amplitude to the DDS's 14 bits), 0 without RF."""
    beam = oxford.nodes[0].detect
    assert beam.dds == "node_a.detect_dds"
    asf = round(0.5 * 0x3FFF) / 0x3FFF  # what the AD9910 plays for Startup's 0.5
    nominal = DDSState(0, 110e6, 0.0, asf)
    assert relative_power(beam, nominal, 10.0, True) == 1.0
    assert relative_power(beam, nominal, None, True) == 1.0  # not written: the lab's
    assert light_level(beam, 1.0) == 1
    assert relative_power(beam, DDSState(0, 110e6, 0.0, 0.25), 10.0, True) == 0.25
    assert light_level(beam, 0.25) == pytest.approx(0.4)  # 0.25 × 2 / 1.25
    assert relative_power(beam, nominal, 20.0, True) == pytest.approx(0.1)
    assert light_level(beam, relative_power(beam, nominal, 31.5, True)) == pytest.approx(
        2 * 10**-2.15 / (1 + 10**-2.15)
    )
    for state, switch in [
        (None, True),  # never programmed since power-up
        (DDSState(0, 110e6, 0.0, 0.0), True),  # amplitude 0
        (nominal, False),  # Urukul RF switch open
        (DDSState(0, 130e6, 0.0, 0.5), True),  # 20 MHz off: beyond the 10 MHz bandwidth
    ]:
        assert relative_power(beam, state, 10.0, switch) == 0.0
        assert light_level(beam, 0.0) == 0
    assert relative_power(beam, DDSState(0, 115e6, 0.0, 0.5), 10.0, True) == 1.0  # within


def _bright_counts(lab: Lab, detect: list[DDSState], rf_on: bool = True) -> int:
    """PMT counts of node A's bright ion (a π pulse) in 10 ms of detection, its detection DDS
    playing ``detect`` (empty: never programmed), its RF switch ``rf_on``."""
    world, view = scripted_world(lab, 7)
    view.dds[_key("node_a.detect_dds")] = detect
    if not rf_on:
        view.rf_off.add(_key("node_a.detect_dds"))
    view.set_dds("node_a.qubit_dds", DDSState(0, 5e6, 0.0, 1.0))
    view.pulse("node_a.qubit_sw", 1000, 5000)  # π pulse at 100 kHz: |1⟩, bright
    view.pulse("node_a.detect_sw", 10_000, 10_000_000)
    edges = world.input_edges(PMT_A, 20_000_000)
    assert world.ions.population_one(0) > 0.99
    return sum(1 for _, lvl in edges if lvl == 1)


def test_fluorescence_follows_the_detection_rf(oxford: Lab) -> None:
    """10 ms of a bright ion: the lab's rate at Startup's RF (600 counts), 0.4 of its signal at
    half the amplitude (s₀ = 1), none without RF (never programmed, amplitude 0, RF switch
    open, 20 MHz off)."""
    r = oxford.nodes[0].readout
    bright, dark = fluorescence_rates(r, oxford.nodes[0].motion, oxford.nodes[0].motion.doppler_n)
    full = _bright_counts(oxford, [BEAM_DDS])
    assert full == pytest.approx(bright * 0.01, abs=5 * math.sqrt(bright * 0.01))
    half = _bright_counts(oxford, [DDSState(0, 110e6, 0.0, 0.25)])
    want = (dark + 0.4 * (bright - dark)) * 0.01
    assert half == pytest.approx(want, abs=5 * math.sqrt(want))
    assert _bright_counts(oxford, []) == 0
    assert _bright_counts(oxford, [DDSState(0, 110e6, 0.0, 0.0)]) == 0
    assert _bright_counts(oxford, [BEAM_DDS], rf_on=False) == 0
    assert _bright_counts(oxford, [DDSState(0, 130e6, 0.0, 0.5)]) == 0


def _pumped(lab: Lab, pump: list[DDSState]) -> float:
    """P(|1⟩) of node A's ion after a π pulse and 2 µs of pumping, its pump DDS ``pump``."""
    world, view = scripted_world(lab, 8)
    view.dds[_key("node_a.pump_dds")] = pump
    view.set_dds("node_a.qubit_dds", DDSState(0, 5e6, 0.0, 1.0))
    view.pulse("node_a.qubit_sw", 1000, 5000)
    view.pulse("node_a.pump_sw", 10_000, 2000)
    world.advance(20_000)
    return world.ions.population_one(0)


def test_pumping_and_cooling_follow_their_rf(oxford: Lab) -> None:
    """The pump beam pumps at Startup's RF and not without (the ion stays in |1⟩); the cooling
    beam cools only with RF (without, the ion heats through the cooling pulse)."""
    assert _pumped(oxford, [BEAM_DDS]) < 1e-6
    assert _pumped(oxford, []) > 0.99
    assert _pumped(oxford, [DDSState(0, 110e6, 0.0, 0.0)]) > 0.99
    for cool, lit in ([BEAM_DDS], True), ([], False):
        world, view = scripted_world(oxford, 9)
        view.dds[_key("node_a.cool_dds")] = cool
        world.ions.thermal[0].n = 50.0
        view.pulse("node_a.cool_sw", 0, 100_000)  # 100 µs, 20 cooling times
        world.advance(200_000)
        n = world.ions.thermal[0].n
        assert (n < 11.0) if lit else (n > 50.0), n


def test_an_entangler_run_without_pumping_light_emits_nothing(oxford: Lab) -> None:
    """An entangler run's cycle law takes each node's pumping light at the run's start: node A's
    pump DDS without RF leaves its ion unpumped (p_pumped 0): heralds from dark counts alone."""
    world, view = scripted_world(oxford, 10)
    lit = world.cycle_model(*nominal_cycle(oxford), t_start_mu=1000)
    assert lit.nodes[0].p_pumped > 0.9
    view.dds[_key("node_a.pump_dds")] = []
    dark = world.cycle_model(*nominal_cycle(oxford), t_start_mu=2000)
    assert dark.nodes[0].p_pumped == 0.0 and dark.nodes[1].p_pumped > 0.9
    assert dark.herald_probability() < 1e-3 * lit.herald_probability()


def test_a_kept_pumping_light_follows_the_dds_marks(oxford: Lab) -> None:
    """A cycle law's pumping light is the last law's, without looking it up, while no DDS or
    CPLD has drawn a stamp since and the light was the level kept with its DDS's mark; a change
    of the pump DDS (a new stamp, a new mark) is looked up again: node A's pump without RF."""
    world, view = scripted_world(oxford, 10)
    marks = {key: (0, 0, 0) for key in view.dds}  # (the view's marks: one object per DDS)
    view.dds_changes = lambda spi, cs: marks.get((spi, cs))  # type: ignore[method-assign]
    looked = []
    lookup = world._run_pump_light
    world._run_pump_light = lambda t: looked.append(t) or lookup(t)  # type: ignore[method-assign]
    lit = world.cycle_model(*nominal_cycle(oxford), t_start_mu=1000)
    again = world.cycle_model(*nominal_cycle(oxford), t_start_mu=1500)
    assert lit.nodes[0].p_pumped > 0.9 and again is lit and looked == [1000]
    view.dds[_key("node_a.pump_dds")] = []
    marks[_key("node_a.pump_dds")] = (next(STAMPS), 0, 0)
    dark = world.cycle_model(*nominal_cycle(oxford), t_start_mu=2000)
    assert dark.nodes[0].p_pumped == 0.0 and dark.nodes[1].p_pumped > 0.9
    assert looked == [1000, 2000]
    earlier = world.cycle_model(*nominal_cycle(oxford), t_start_mu=1900)  # (before the last)
    assert looked == [1000, 2000, 1900] and earlier is dark


def test_rf_switch_history_of_a_channel() -> None:
    """CFG's RF_SW bit of a channel as the run found it, then by the CFG writes (the CPLD ORs it
    with the switch TTL): off after power-up."""
    dec = UrukulDecoder(None, 5)
    assert not dec.rf_switch(4, 100)
    dec.cfg_initial = 0b0001  # channel 0 on
    dec.cfg_log = [(50, 0b0010), (80, 0b0011)]
    assert dec.rf_switch(4, 10) and not dec.rf_switch(5, 10)
    assert not dec.rf_switch(4, 60) and dec.rf_switch(5, 50)
    assert dec.rf_switch(4, 80) and dec.rf_switch(5, 1000)


@pytest.mark.parametrize(
    "beam, change, message",
    [
        (
            "detect",
            {"dds": "node_a.detect_sw"},
            "detect.dds: device 'node_a.detect_sw' is a ttl_out",
        ),
        ("pump", {"amplitude": 0.0}, "beams.pump.amplitude = 0.0 is not physical"),
        ("cool", {"attenuation_db": 40.0}, "beams.cool.attenuation_db = 40.0 is not physical"),
        ("excite", {"dds": "node_a.detect_dds"}, "beams.excite.dds: unknown key"),
    ],
)
def test_beam_rf_keys_are_checked(beam: str, change: dict, message: str) -> None:
    """A beam's DDS must be an AD9910, its RF what a DDS and an attenuator can give; the
    excitation's light is not modelled through a DDS: one-line LabError each."""
    d = tomllib.loads((ROOT / "sim" / "labs" / "oxford2020.toml").read_text())
    d["nodes"]["a"]["beams"][beam].update(change)
    with pytest.raises(LabError, match=re.escape(message)) as exc:
        lab_from_dict(d).validate(KINDS)
    assert "\n" not in str(exc.value)
