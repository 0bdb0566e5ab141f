# SPDX-License-Identifier: LGPL-3.0-or-later
"""Fixtures for the physics tests: a scripted fake of the engine's PhyView."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from sim.physics.lab import Lab, load_lab
from sim.physics.view import DDSState
from sim.rtio.channels import Kind

# device name -> (kind, channel, extra), the docs/design.md names
DEVICES: dict[str, tuple[Kind, int, dict[str, Any]]] = {}
for _k, _node in enumerate("ab"):
    for _i, _sig in enumerate(("cool_sw", "repump_sw", "pump_sw", "excite", "detect_sw")):
        DEVICES[f"node_{_node}.{_sig}"] = (Kind.TTL_OUT, 8 * _k + _i, {})
    DEVICES[f"node_{_node}.qubit_sw"] = (Kind.TTL_OUT, 40 + _k, {})
    DEVICES[f"node_{_node}.qubit_dds"] = (
        Kind.AD9910,
        50 + _k,
        {"cs": 7, "sw": f"node_{_node}.qubit_sw"},
    )
    for _cs, _beam in enumerate(("cool", "pump", "detect")):  # the beams' AOM drives
        DEVICES[f"node_{_node}.{_beam}_dds"] = (Kind.AD9910, 50 + _k, {"cs": 4 + _cs})
    DEVICES[f"node_{_node}.pmt"] = (Kind.TTL_INOUT, 20 + _k, {})
    DEVICES[f"node_{_node}.mem_sw"] = (Kind.TTL_OUT, 44 + _k, {})
    DEVICES[f"node_{_node}.gate_sw"] = (Kind.TTL_OUT, 46 + _k, {})
for _i in range(4):
    DEVICES[f"bsa_det{_i}"] = (Kind.TTL_INOUT, 16 + _i, {})
DEVICES["entangler"] = (Kind.ENTANGLER, 60, {})
KINDS = {name: kind for name, (kind, _, _) in DEVICES.items()}


#: what Startup programs into the beams' AD9910s (repository/startup.py's DDS_DEFAULTS)
BEAM_DDS = DDSState(0, 110e6, 0.0, 0.5)


class FakeView:
    """Serves scripted TTL level changes and DDS states, like the engine's resolved outputs. The
    beams' AD9910s start as Startup leaves them (:data:`BEAM_DDS`, RF switch closed, the
    attenuators not written: the lab's); ``rf_off`` holds the (spi, cs) whose switch is open."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.ttl: dict[int, list[tuple[int, int]]] = {}
        self.dds: dict[tuple[int, int], list[DDSState]] = {}
        self.att: dict[tuple[int, int], list[tuple[int, float]]] = {}
        self.rf_off: set[tuple[int, int]] = set()
        for name, (kind, spi, extra) in DEVICES.items():
            if kind == Kind.AD9910 and not name.endswith("qubit_dds"):
                self.dds[(spi, extra["cs"])] = [BEAM_DDS]

    def resolve_device(self, name: str) -> tuple[str, int, dict[str, Any]]:
        return DEVICES[name]

    def pulse(self, name: str, t_mu: int, length_mu: int) -> None:
        ch = DEVICES[name][1]
        self.ttl.setdefault(ch, []).extend([(t_mu, 1), (t_mu + length_mu, 0)])

    def set_dds(self, name: str, state: DDSState) -> None:
        _, spi, extra = DEVICES[name]
        self.dds.setdefault((spi, extra["cs"]), []).append(state)

    def set_att(self, name: str, t_mu: int, db: float) -> None:
        """The Urukul attenuation of the AD9910 ``name`` is ``db`` from ``t_mu`` on."""
        _, spi, extra = DEVICES[name]
        self.att.setdefault((spi, extra["cs"]), []).append((t_mu, db))

    def ttl_levels(self, channel: int, t_from_mu: int, t_to_mu: int) -> list[tuple[int, int]]:
        return sorted(e for e in self.ttl.get(channel, []) if t_from_mu <= e[0] < t_to_mu)

    def ttl_levels_many(
        self, channels: list[int], t_from_mu: int, t_to_mu: int
    ) -> list[tuple[int, int, int]]:
        return [
            (t, i, lvl)
            for i, ch in enumerate(channels)
            for t, lvl in self.ttl_levels(ch, t_from_mu, t_to_mu)
        ]

    def ttl_level_at(self, channel: int, t_mu: int) -> int:
        past = self.ttl_levels(channel, -(1 << 62), t_mu + 1)
        return past[-1][1] if past else 0

    def output_watch(self, channels: list[int]) -> Any:
        """The engine's watch on outputs: ``next_from(t)``, the earliest scripted change at or
        after ``t`` on ``channels`` (``1 << 62`` if none)."""
        ttl = self.ttl

        class Watch:
            def next_from(self, t_mu: int) -> int:
                times = [t for ch in channels for t, _ in ttl.get(ch, []) if t >= t_mu]
                return min(times, default=1 << 62)

        return Watch()

    def dds_states(self, spi: int, cs: int, t_from_mu: int, t_to_mu: int) -> list[DDSState]:
        return [s for s in self.dds.get((spi, cs), []) if t_from_mu <= s.t_mu < t_to_mu]

    def dds_state_at(self, spi: int, cs: int, t_mu: int) -> DDSState | None:
        past = [s for s in self.dds.get((spi, cs), []) if s.t_mu <= t_mu]
        return past[-1] if past else None

    def dds_attenuation(
        self, spi: int, cs: int, t_from_mu: int, t_to_mu: int
    ) -> tuple[float | None, list[tuple[int, float]]]:
        """(dB in force at ``t_from_mu``, changes before ``t_to_mu``) of ``self.att``'s
        (time, dB) list for (spi, cs); None (not written: the lab's attenuation) without one."""
        changes = self.att.get((spi, cs), [])
        now = [a for t, a in changes if t <= t_from_mu]
        later = [(t, a) for t, a in changes if t_from_mu < t < t_to_mu]
        return (now[-1] if now else None), later

    def dds_rf_switch(self, spi: int, cs: int, t_mu: int) -> bool:
        return (spi, cs) not in self.rf_off

    def dds_change_times(self, spi: int, cs: int, t_from_mu: int, t_to_mu: int) -> list[int]:
        """Every scripted DDS state's and attenuation's time in the window (the RF switch is
        scripted as fixed)."""
        times = [s.t_mu for s in self.dds.get((spi, cs), [])]
        times += [t for t, _ in self.att.get((spi, cs), [])]
        return sorted({t for t in times if t_from_mu <= t < t_to_mu})

    def dds_watch(self, keys: list[tuple[int, int]]) -> Any:
        """The engine's watch on the DDSs ``keys``: ``latest()``, the latest scripted state or
        attenuation time of any of them (``-(1 << 62)`` if none)."""
        view = self

        class Watch:
            def latest(self) -> int:
                times = [s.t_mu for k in keys for s in view.dds.get(k, [])]
                times += [t for k in keys for t, _ in view.att.get(k, [])]
                return max(times, default=-(1 << 62))

        return Watch()

    def dds_changes(self, spi: int, cs: int) -> None:
        """No mark (the tests edit the scripted DDS states in place): the world reads them."""
        return None


def scripted_world(lab: Lab, seed: int) -> tuple[Any, FakeView]:
    """A :class:`~sim.physics.world.PhysicsWorld` of ``lab`` attached to a :class:`FakeView`,
    both drawing from one generator seeded with ``seed``."""
    from sim.physics.world import PhysicsWorld

    rng = np.random.default_rng(seed)
    view = FakeView(rng)
    world = PhysicsWorld(lab, rng)
    world.attach(view)
    return world, view


def modify(lab: Lab, **changes: Any) -> Lab:
    """Copy of ``lab`` with dotted-path changes, e.g. ``{"bsa.mode_overlap": 0.8}`` or
    ``{"nodes.*.optics.polarisation_mixing": 0.05}`` or ``{"bsa.detectors.*.dark_rate_hz":
    1e5}``."""

    def rec(obj: Any, path: list[str], value: Any) -> Any:
        if not path:
            return value
        head, rest = path[0], path[1:]
        if isinstance(obj, tuple):
            return tuple(
                rec(x, rest, value) if head == "*" or str(i) == head else x
                for i, x in enumerate(obj)
            )
        return dataclasses.replace(obj, **{head: rec(getattr(obj, head), rest, value)})

    for key, value in changes.items():
        lab = rec(lab, key.split("__"), value)
    return lab


@pytest.fixture
def oxford() -> Lab:
    return load_lab("oxford2020")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)
