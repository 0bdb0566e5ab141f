# SPDX-License-Identifier: LGPL-3.0-or-later
"""Memory ions in the physics world: the drive, the entangling gate, the joint network–memory
state, memory decoherence and crosstalk, read from a scripted timeline (no analytic shortcut:
the world plays the pulses)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.physics.circuit import partial_trace
from sim.physics.lab import Lab, load_lab
from sim.physics.view import DDSState
from sim.physics.world import PhysicsWorld

from .conftest import FakeView, modify

MU = 1e-9


@pytest.fixture
def lab() -> Lab:
    return modify(
        load_lab("oxford2025"),
        **{
            "nodes__*__t2_s": 1e6,
            "nodes__*__gate__fidelity": 1.0,
        },
    )


class Script:
    """Plays pulses on a FakeView in time order, like a kernel would."""

    def __init__(self, lab: Lab, seed: int = 1) -> None:
        self.lab = lab
        self.view = FakeView(np.random.default_rng(seed))
        self.world = PhysicsWorld(lab, np.random.default_rng(seed))
        self.world.attach(self.view)
        self.t = 1000

    def rotate(self, node: int, memory: bool, theta: float, phi: float) -> None:
        n = self.lab.nodes[node]
        drive = n.memory.drive if memory else n.qubit  # type: ignore[union-attr]
        name = "ab"[node]
        self.view.set_dds(f"node_{name}.qubit_dds", DDSState(self.t, drive.resonance_hz, phi, 1.0))
        t_pi = 0.5 / drive.rabi_frequency_hz
        length = round(theta / math.pi * t_pi / MU)
        self.view.pulse(f"node_{name}.{'mem_sw' if memory else 'qubit_sw'}", self.t + 8, length)
        self.t += length + 16

    def gate(self, node: int, fraction: float = 1.0) -> None:
        length = round(self.lab.nodes[node].gate.duration_s * fraction / MU)  # type: ignore
        self.view.pulse(f"node_{'ab'[node]}.gate_sw", self.t, length)
        self.t += length + 8

    def memory(self) -> np.ndarray:
        self.world.advance(self.t + 8)
        return self.world.memory_state()


def test_lab_lists_ions_and_old_labs_stay_valid() -> None:
    """oxford2025 has a network and a memory ion per node; oxford2020 (no ion list) one network
    ion and no gate."""
    new, old = load_lab("oxford2025"), load_lab("oxford2020")
    assert [i.role for i in new.nodes[0].ions] == ["network", "memory"]
    assert new.nodes[1].memory is not None and new.nodes[1].gate is not None
    assert [i.role for i in old.nodes[0].ions] == ["network"] and old.nodes[0].gate is None


def test_memory_rotation_and_cnot_through_the_world(lab: Lab) -> None:
    """The driver's CNOT (memory control, network target), played as pulses, equals the ideal
    circuit on the four-qubit state (prepared |+⟩ memory, |0⟩ network: a Bell pair)."""
    sc = Script(lab)
    sc.rotate(0, True, math.pi / 2, 0.25)  # memory A → |+⟩
    sc.rotate(0, True, math.pi / 2, 0.25)  # CNOT: control pre-rotation
    sc.gate(0)
    sc.rotate(0, True, math.pi / 2, 0.5)
    sc.rotate(0, False, math.pi / 2, 0.5)
    sc.rotate(0, True, math.pi / 2, 0.75)
    sc.world.advance(sc.t + 8)
    full = sc.world.circuit.full  # type: ignore[union-attr]
    assert full is not None  # network A and memory A are entangled: a Bell pair (|00⟩+|11⟩)/√2
    state = partial_trace(full, (0, 2))  # (network A, memory A)
    bell = np.zeros(4, dtype=complex)
    bell[0] = bell[3] = 1 / math.sqrt(2)
    assert np.real(bell.conj() @ state @ bell) == pytest.approx(1.0, abs=1e-4)


def test_quasi_static_detuning_turns_the_phase_and_an_echo_refocuses_it(lab: Lab) -> None:
    """Memory A in |+x⟩ with a quasi-static T2* only: after a wait its Bloch vector has turned by
    the drawn detuning times the wait (the state evolves: no decay in one shot); a π pulse in the
    middle of the wait (a Hahn echo played as pulses) brings it back to |+x⟩."""
    lab = modify(lab, **{"nodes__*__ions__1__t2_s": 1e9, "nodes__*__ions__1__t2_star_s": 1e-3})
    wait = 400_000  # mu = 0.4 ms
    for echo in (False, True):
        sc = Script(lab, seed=4)
        sc.t += 50_000
        sc.world.advance(sc.t)
        t_prep = sc.t
        sc.rotate(0, True, math.pi / 2, 0.25)  # |0⟩ → |+x⟩, a 5 µs pulse from t_prep + 8
        mid_prep = t_prep + 8 + 2500
        if echo:
            t_pi = sc.t + wait // 2
            sc.t = t_pi
            sc.rotate(0, True, math.pi, 0.0)  # a 10 µs π pulse from t_pi + 8
            mid_pi = t_pi + 8 + 5000
            t_read = 2 * mid_pi - mid_prep  # as long after the π pulse as before
        else:
            t_read = mid_prep + wait
        sc.t = t_read - 8  # Script.memory reads at sc.t + 8
        rho = partial_trace(sc.memory(), (0,))
        delta = sc.world.circuit.detuning_rad_s[0]  # type: ignore[union-attr]
        assert abs(delta) > 10.0  # drawn (σ = √2/T2* ≈ 1400 rad/s)
        x, y = 2 * rho[1, 0].real, 2 * rho[1, 0].imag
        if echo:
            assert x == pytest.approx(1.0, abs=1e-9) and y == pytest.approx(0.0, abs=1e-6)
        else:
            # free precession from the prep pulse's middle to the readout
            turned = math.atan2(y, x) - delta * wait * MU
            assert abs((turned + math.pi) % (2 * math.pi) - math.pi) < 1e-6


def test_quasi_static_ramsey_decays_as_a_gaussian_over_shots() -> None:
    """The shot-average Ramsey coherence of the circuit model (one fresh detuning per shot, the
    memory read and reset between shots) is exp(−(t/T2*)²): 1000 shots, σ of the mean ≤ 0.023,
    compared within 4σ at t = T2*/2, T2* and 2 T2*."""
    from sim.physics.circuit import Circuit

    t2s = 1e-3
    rng = np.random.default_rng(11)
    c = Circuit((math.inf, math.inf), (0.0, 0.0), (0.0, 0.0), 1e-9, (t2s, math.inf), rng)
    had = np.array([[1, 1], [1, -1]], dtype=complex) / math.sqrt(2)
    t = 0
    for frac in (0.5, 1.0, 2.0):
        xs = []
        for _ in range(1000):
            c.rotate(0, had, t)
            t += round(frac * t2s / 1e-9)
            rho = c.memory_state(t)
            xs.append(2 * (rho[0, 2] + rho[1, 3]).real)  # ⟨X⟩ of memory A
            c.mem = np.diag([1.0, 0, 0, 0]).astype(complex)  # read out and reset:
            c.detuning_rad_s[0] = math.nan  # the shot ended (as Circuit.measure_network marks)
            t += 1000
        expected = math.exp(-(frac**2))
        sem = np.std(xs) / math.sqrt(len(xs))
        assert abs(np.mean(xs) - expected) < 4 * max(sem, 1e-3), (frac, np.mean(xs), expected)


def _bell_with_rounding(lab: Lab) -> Script:
    """Network A and memory A in a Bell pair (the driver's CNOT), the joint state carrying the
    rounding a run leaves in it: a trace of 1 + 1e-11i (a remote-gate run at oxford2025 left
    1 + 5e-12i: a readout outcome of small probability magnifies the rounding before it)."""
    sc = Script(lab)
    sc.rotate(0, True, math.pi / 2, 0.25)
    sc.rotate(0, True, math.pi / 2, 0.25)
    sc.gate(0)
    sc.rotate(0, True, math.pi / 2, 0.5)
    sc.rotate(0, False, math.pi / 2, 0.5)
    sc.rotate(0, True, math.pi / 2, 0.75)
    sc.world.advance(sc.t + 8)
    c = sc.world.circuit
    assert c is not None and c.full is not None
    c.full = c.full + 1e-11j * np.eye(16) / 16
    sc.t += 16  # (the world has processed up to sc.t + 8)
    return sc


@pytest.mark.parametrize("beam", ["cool_sw", "pump_sw"])
def test_cooling_or_pumping_a_network_ion_separates_its_memory(lab: Lab, beam: str) -> None:
    """Doppler cooling (or pumping) scatters photons on the network ion and resets its qubit:
    the memory keeps its reduced state, no longer entangled with it, whatever rounding the
    joint state carries (a tighter test left the lab stuck: every later excitation failed, and
    Startup did not help). An excitation then plays."""
    sc = _bell_with_rounding(lab)
    sc.view.pulse(f"node_a.{beam}", sc.t, 20_000)
    sc.t += 20_008
    mem = sc.memory()
    assert sc.world.circuit is not None and not sc.world.circuit.attached
    assert partial_trace(mem, (0,)).real == pytest.approx(0.5 * np.eye(2), abs=1e-9)
    sc.view.pulse("node_a.excite", sc.t, 8)
    sc.world.advance(sc.t + 1000)  # (raised "excited while entangled with its memory" before)


def test_reading_the_network_ions_separates_the_memories(lab: Lab) -> None:
    """The remote gate's last step (each memory copied to its network ion, both read): the
    readout projects the network ions, and leaves the memories separate from them."""
    sc = _bell_with_rounding(lab)
    for node in "ab":
        sc.view.pulse(f"node_{node}.detect_sw", sc.t, 1000)
    sc.t += 1008
    mem = sc.memory()
    assert sc.world.circuit is not None and not sc.world.circuit.attached
    assert np.trace(mem).real == pytest.approx(1.0, abs=1e-12)
    assert max(partial_trace(mem, (0,)).diagonal().real) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(
    "case, amplitude_at",
    [("lab's light", None), ("amplitude 0", 0), ("amplitude 0 halfway", 250_000)],
)
def test_memory_crosstalk_follows_the_beams_light_not_its_switch(
    lab: Lab, case: str, amplitude_at: int | None
) -> None:
    """Memory A in |+x⟩, node A's detection switch open for 0.5 ms (crosstalk dephasing
    2000 s⁻¹, no T2): with the lab's RF the coherence falls by exp(−2000·0.5 ms); with its DDS at
    amplitude 0 from the switch-on there is no light and no crosstalk; at amplitude 0 from
    halfway, half of it. Before 2026-12-03 crosstalk followed the switch: exp(−1) in all three."""
    lab = modify(
        lab,
        **{
            "nodes__*__ions__1__t2_s": 1e9,
            "nodes__*__ions__1__t2_star_s": 1e9,
            "nodes__*__ions__1__crosstalk__dephasing_per_s": 2000.0,
        },
    )
    beam = lab.nodes[0].detect
    sc = Script(lab, seed=5)
    sc.view.set_dds("node_a.detect_dds", DDSState(0, beam.frequency_hz, 0.0, beam.amplitude))
    sc.rotate(0, True, math.pi / 2, 0.25)  # memory A → |+x⟩
    t_on, wait = sc.t + 1000, 500_000
    if amplitude_at is not None:
        sc.view.set_dds(
            "node_a.detect_dds", DDSState(t_on + amplitude_at, beam.frequency_hz, 0.0, 0.0)
        )
    sc.view.pulse("node_a.detect_sw", t_on, wait)
    sc.t = t_on + wait + 1000
    coherence = 2 * abs(sc.memory()[0, 2] + sc.memory()[1, 3])  # |⟨σ+⟩| of memory A
    lit_s = {None: 500e-6, 0: 0.0, 250_000: 250e-6}[amplitude_at]
    assert coherence == pytest.approx(math.exp(-2000.0 * lit_s), rel=1e-6), case


def test_an_entangler_runs_crosstalk_follows_the_pumps_light(lab: Lab) -> None:
    """An entangler run's crosstalk on each memory: the fraction of the cycle its node's pump and
    excitation outputs are high, the pump's weighted by its light at the run's start. Node A's
    pump DDS at amplitude 0: only its excitation counts (before 2026-12-03 the pump's 400 ns
    too); node B's at the lab's RF: both."""
    sc = Script(lab)
    for node in "ab":
        beam = lab.nodes[0].pump
        amp = 0.0 if node == "a" else beam.amplitude
        sc.view.set_dds(f"node_{node}.pump_dds", DDSState(0, beam.frequency_hz, 0.0, amp))
    outputs = {0: (0, 400), 1: (600, 608), 2: (0, 400), 3: (600, 608)}
    sc.world._note_run_light(outputs, 1000, 5000)
    assert sc.world._run_light == pytest.approx([0.008, 0.408])
