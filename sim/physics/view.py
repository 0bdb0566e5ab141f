# SPDX-License-Identifier: LGPL-3.0-or-later
"""The read-only view of the RTIO engine that the physics world reads outputs through.

The engine engineer implements :class:`PhyView`; the physics never writes to the engine. All
times are RTIO machine units (mu, 1 ns on Kasli), int64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

__all__ = ["DDSState", "PhyView", "World"]


@dataclass(frozen=True)
class DDSState:
    """One resolved AD9910 state change, effective from ``t_mu`` (the IO_UPDATE).

    :param t_mu: time of the IO_UPDATE, in mu.
    :param frequency_hz: output frequency, in Hz.
    :param phase_turns: phase offset, in turns (phase referenced to t = 0, ARTIQ absolute/tracking
        phase mode).
    :param amplitude: amplitude as a fraction of full scale, 0..1.
    :param profile: active profile, 0..7.
    """

    t_mu: int
    frequency_hz: float
    phase_turns: float
    amplitude: float
    profile: int = 0


@runtime_checkable
class PhyView(Protocol):
    """What the engine offers the physics world (implemented by the RTIO engine)."""

    rng: np.random.Generator

    def resolve_device(self, name: str) -> tuple[str, int, dict[str, Any]]:
        """Resolve a device_db name (aliases followed).

        :return: ``(kind, rtio_channel, extra)``, e.g. ``("ttl_out", 12, {})`` or
            ``("ad9910", spi_channel, {"cs": 4, "sw": "node_a.qubit_sw"})``.
        :raises KeyError: unknown device.
        """
        ...

    def ttl_levels(self, channel: int, t_from_mu: int, t_to_mu: int) -> list[tuple[int, int]]:
        """Resolved output level changes ``(t_mu, level)`` of a TTL channel in [t_from, t_to).

        Replacement and collisions are resolved by the engine; for a TTLInOut only while OE is on.
        """
        ...

    def ttl_levels_many(
        self, channels: Sequence[int], t_from_mu: int, t_to_mu: int
    ) -> list[tuple[int, int, int]]:
        """:meth:`ttl_levels` of several channels at once: ``(t_mu, index in channels, level)``,
        grouped by channel (not merged in time)."""
        ...

    def ttl_level_at(self, channel: int, t_mu: int) -> int:
        """The output level of a TTL channel at ``t_mu`` (its changes at ``t_mu`` made; 0 before
        the first), as :meth:`ttl_levels` resolves them."""
        ...

    def output_watch(self, channels: Sequence[int]) -> Any:
        """A watch on the outputs submitted to ``channels``: its ``next_from(t_mu)`` is the
        earliest timestamp ``>= t_mu`` of one submitted so far (``1 << 62`` if none)."""
        ...

    def dds_states(self, spi_channel: int, cs: int, t_from_mu: int, t_to_mu: int) -> list[DDSState]:
        """Resolved AD9910 state changes with IO_UPDATE in [t_from, t_to), time-ordered."""
        ...

    def dds_state_at(self, spi_channel: int, cs: int, t_mu: int) -> DDSState | None:
        """The AD9910 state in force at ``t_mu`` (last IO_UPDATE at or before it), or None."""
        ...

    def dds_attenuation(
        self, spi_channel: int, cs: int, t_from_mu: int, t_to_mu: int
    ) -> tuple[float | None, list[tuple[int, float]]]:
        """The Urukul attenuation of that AD9910's output in force at ``t_from_mu`` and its
        changes ``(t_mu, dB)`` before ``t_to_mu``, in dB (None: not written since power-up)."""
        ...

    def dds_rf_switch(self, spi_channel: int, cs: int, t_mu: int) -> bool:
        """Whether that AD9910's output passes the Urukul's RF switch at ``t_mu``: the CPLD's
        CFG RF_SW bit of the channel or the channel's switch TTL (False: neither set since
        power-up)."""
        ...

    def dds_change_times(
        self, spi_channel: int, cs: int, t_from_mu: int, t_to_mu: int
    ) -> list[int]:
        """The times ``t_from <= t < t_to`` (mu), ascending, at which the answers of the three
        reads above for that AD9910 may change (an IO_UPDATE applying another state, a change of
        its attenuation or of its Urukul's CFG RF_SW bit, a level change of its switch TTL); at
        no other time in the window do they change."""
        ...

    def dds_watch(self, keys: Sequence[tuple[int, int]]) -> Any:
        """A watch on the AD9910s ``keys`` ((spi_channel, cs) each): its ``latest()`` is a time
        (mu) at or after the latest change recorded so far of what the three reads above answer
        for any of them (``-(1 << 62)`` if none): none of their answers changes after it. Cheap
        while nothing of any AD9910 changed since its last answer."""
        ...

    def dds_changes(self, spi_channel: int, cs: int) -> tuple[int, int, int] | None:
        """A mark of what the three reads above answer for that AD9910: ``(stamp, stamp,
        latest time in mu)``; while it is the same, their answers at any time at or after its
        latest time are the same. None: no such mark (the answers may change without one)."""
        ...


class World(Protocol):
    """What the engine calls of an input source attached to it (implemented by
    :class:`sim.physics.world.PhysicsWorld` and :class:`sim.rtio.loopback.LoopbackWorld`)."""

    def attach(self, view: PhyView) -> None: ...

    def input_edges(self, channel: int, t_end_mu: int) -> list[tuple[int, int]]:
        """New level transitions ``(t_mu, level)`` on input ``channel`` with t < t_end_mu,
        time-ordered, each returned once. Every output with timestamp < t_end_mu is final."""
        ...

    def quiet_until(self, channel: int, t_need_mu: int) -> int:
        """A time (mu) up to which :meth:`input_edges` of ``channel`` finds nothing and moves
        nothing, as long as no output is submitted meanwhile (``-(1 << 62)``: it cannot tell);
        it may stop short of ``t_need_mu``."""
        ...

    @property
    def processed_mu(self) -> int:
        """Time (mu) up to which the world has turned outputs into its state: the outputs'
        history before it is no longer read (``1 << 62``: it keeps no such state)."""
        ...

    @property
    def wires(self) -> Mapping[int, Sequence[Sequence[int]]]:
        """Cables from outputs to inputs: input channel → ``[out_channel, …]`` each (the
        outputs' level history is read on demand, never retired); empty for none."""
        ...

    def reset(self) -> None: ...
