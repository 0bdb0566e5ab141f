# SPDX-License-Identifier: LGPL-3.0-or-later
"""AD9910 RAM playback reaches the physics: the qubit drive of the repository's lab follows a RAM
amplitude waveform (sim.rtio.phy.ad9910_ram) step by step."""

from __future__ import annotations

import pathlib

import pytest
from artiq.language.core import at_mu, delay, now_mu
from artiq.language.units import us

from sim.device_manager import load_device_db

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]

T_PI_MU = 5000  # π pulse at full amplitude: the lab's Rabi frequency is 100 kHz


@pytest.mark.parametrize("amplitudes, p1", [((1.0, 0.0), 1.0), ((1.0, 1.0), 0.0)])
def test_ram_amplitude_ramp_drives_the_qubit(make_env, amplitudes, p1):
    """RAM amplitude words played one per π-pulse time while the drive is on for two: a π pulse
    then nothing leaves the ion in |1⟩, full amplitude throughout (2π) in |0⟩."""
    env = make_env(load_device_db(REPO_ROOT / "device_db.py"), lab="oxford2020", seed=1)
    core, cpld = env.core, env.get("urukul0_cpld")
    dds, sw = env.get("node_a.qubit_dds"), env.get("node_a.qubit_sw")
    resonance = env.session.world.lab.nodes[0].qubit.resonance_hz

    def k():
        core.reset()
        cpld.init()
        dds.init()
        core.break_realtime()
        ram = [0, 0]
        dds.amplitude_to_ram(list(amplitudes)[::-1], ram)  # the RAM is written from its end
        dds.set_cfr1(ram_enable=0)
        dds.io_update.pulse_mu(8)
        dds.set_profile_ram(start=0, end=1, step=T_PI_MU // 4, profile=0)
        cpld.set_profile(3, 0)
        dds.io_update.pulse_mu(8)
        dds.write_ram(ram)
        dds.set_frequency(resonance)  # the parameters the RAM does not drive
        dds.set_phase(0.0)
        dds.set_cfr1(ram_enable=1, ram_destination=2)  # RAM → amplitude
        delay(10 * us)
        t = now_mu()
        dds.io_update.pulse_mu(8)  # the playback starts
        at_mu(t)
        sw.pulse_mu(2 * T_PI_MU)
        delay(10 * us)
        return now_mu()

    t_end = env.run(k)
    world = env.session.world
    world.advance(t_end)
    assert world.rho[2, 2].real + world.rho[3, 3].real == pytest.approx(p1, abs=1e-3)
