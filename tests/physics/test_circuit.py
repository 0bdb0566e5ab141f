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
