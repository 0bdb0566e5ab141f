# SPDX-License-Identifier: LGPL-3.0-or-later
"""A beam on an AD9910 follows its RF while its switch stays open (sim.physics.beam_rf): a change
of the DDS's attenuation or state at a time the beam is on acts from that time, in the event path,
in planned windows and in the quiet checks that would otherwise skip over it. Before, the level
was taken at the switch-on and held until the next one."""

from __future__ import annotations

import math

import pytest

from sim.physics.beam_rf import light_level
from sim.physics.cycle_build import nominal_cycle
from sim.physics.lab import Lab
from sim.physics.view import DDSState

from .conftest import DEVICES, scripted_world

PMT_A = DEVICES["node_a.pmt"][1]


def test_cooling_rate_follows_an_attenuator_change_while_on(oxford: Lab) -> None:
    """Cooling on for 100 µs, the attenuator 10 dB up at 10 µs: the ion cools at the lab's rate
    for 10 µs and at the weaker light's (x = 0.1) for 90 µs, then heats."""
    world, view = scripted_world(oxford, 11)
    beam = oxford.nodes[0].cool
    world.ions.thermal[0].n = 200.0
    view.pulse("node_a.cool_sw", 0, 100_000)
    view.set_att("node_a.cool_dds", 10_000, beam.attenuation_db + 10.0)
    world.advance(200_000)
    th = oxford.nodes[0].motion
    weak = light_level(beam, 0.1)
    assert weak == pytest.approx(0.2 / 1.1)
    cooled = (10e-6 + 90e-6 * weak) / th.cooling_time_s
    want = th.doppler_n + (200.0 - th.doppler_n) * math.exp(-cooled)
    want += th.heating_rate_per_s * 100e-6
    assert world.ions.thermal[0].n == pytest.approx(want, rel=1e-9)


def test_pumping_stops_at_amplitude_zero_while_on(oxford: Lab) -> None:
    """Node A's ion in |1⟩, its pump beam on for 2 µs but its DDS at amplitude 0 from 10 ns after
    the switch-on: pumped for 10 ns only (50 ns pumping time), not fully."""
    world, view = scripted_world(oxford, 12)
    view.set_dds("node_a.qubit_dds", DDSState(0, 5e6, 0.0, 1.0))
    view.pulse("node_a.qubit_sw", 1000, 5000)  # π pulse: |1⟩
    view.pulse("node_a.pump_sw", 10_000, 2000)
    view.set_dds("node_a.pump_dds", DDSState(10_010, 110e6, 0.0, 0.0))
    world.advance(20_000)
    p1 = world.ions.population_one(0)
    assert 0.5 < p1 < 0.95, p1


def test_quiet_until_and_settle_stop_at_a_change_while_on(oxford: Lab) -> None:
    """Cooling on from 0 to 1 ms, the attenuator changed at 300 µs: the PMT's quiet window ends
    there (not at the switch-off), and settle processes up to it."""
    world, view = scripted_world(oxford, 13)
    view.pulse("node_a.cool_sw", 0, 1_000_000)
    view.set_att("node_a.cool_dds", 300_000, 20.0)
    world.advance(1000)
    assert world.quiet_until(PMT_A, 2_000_000) == 300_000
    assert world.settle(500_000) and world.processed_mu == 300_000
    assert world.quiet_until(PMT_A, 2_000_000) == 1_000_000  # (the change is made)


def test_quiet_until_ignores_changes_while_off(oxford: Lab) -> None:
    """The same change while the cooling beam is off: nothing to stop at."""
    world, view = scripted_world(oxford, 13)
    view.pulse("node_a.cool_sw", 500_000, 1000)
    view.set_att("node_a.cool_dds", 300_000, 20.0)
    world.advance(1000)
    assert world.quiet_until(PMT_A, 2_000_000) == 500_000


def test_a_pump_light_change_ends_the_cycle_law(oxford: Lab) -> None:
    """After a run's cycle law, a change of node A's pumping light (its DDS at amplitude 0 at
    50 µs) is where the skipped runs must stop; the next law takes the new light."""
    world, view = scripted_world(oxford, 14)
    lit = world.cycle_model(*nominal_cycle(oxford), t_start_mu=1000)
    assert world._pump_light_change(2000, 100_000) == 100_000
    view.set_dds("node_a.pump_dds", DDSState(50_000, 110e6, 0.0, 0.0))
    assert world._pump_light_change(2000, 100_000) == 50_000
    assert world._pump_light_change(60_000, 100_000) == 60_000  # (differs already)
    dark = world.cycle_model(*nominal_cycle(oxford), t_start_mu=60_000)
    assert dark is not lit and dark.nodes[0].p_pumped == 0.0


@pytest.mark.parametrize("gap", ["rf", "switch"])
def test_detection_light_that_returns_keeps_its_mapping_error(oxford: Lab, gap: str) -> None:
    """Node A's ion pumped to |0⟩ (dark), ``prep_error`` 0.5, its detection switch open: light
    for 5 µs, none for 5 µs, light again. With the DDS at amplitude 0 in the gap (``rf``) the
    light that returns continues the detection: the same bit in every seed (before 2026-12-03
    a new draw: it differed in about half of them). With the switch closed in the gap
    (``switch``) the second light is a new detection with its own draw."""
    from .conftest import modify

    lab = modify(oxford, **{"nodes__*__readout__prep_error": 0.5})
    beam = lab.nodes[0].detect
    differ = 0
    for seed in range(40):
        world, view = scripted_world(lab, 100 + seed)
        view.set_dds("node_a.detect_dds", DDSState(0, beam.frequency_hz, 0.0, beam.amplitude))
        view.pulse("node_a.pump_sw", 1000, 5000)
        if gap == "rf":
            view.pulse("node_a.detect_sw", 10_000, 15_000)
            view.set_dds("node_a.detect_dds", DDSState(15_000, beam.frequency_hz, 0.0, 0.0))
            view.set_dds(
                "node_a.detect_dds", DDSState(20_000, beam.frequency_hz, 0.0, beam.amplitude)
            )
        else:
            view.pulse("node_a.detect_sw", 10_000, 5_000)
            view.pulse("node_a.detect_sw", 20_000, 5_000)
        world.advance(12_000)
        first = world._bright[0]
        world.advance(22_000)
        differ += world._bright[0] != first
    if gap == "rf":
        assert differ == 0
    else:
        assert 10 <= differ <= 30, differ  # 40 draws of p = 0.5: 20 ± 3.2
