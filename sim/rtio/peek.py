# SPDX-License-Identifier: LGPL-3.0-or-later
"""Peek API for tests: a signal's value at time t and its events, by device name or channel."""

from __future__ import annotations

from typing import Any

from sim.rtio.channels import Kind, Trace
from sim.rtio.phy.ttl_input import TTLInputPhy

__all__ = ["Peek"]

_NEG = -(1 << 62)


class Peek:
    """Read-only access to the waveforms of an engine (the same data the VCD shows)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def _channel(self, signal: Any) -> tuple[str, int, dict]:
        if isinstance(signal, int):
            st = self.engine.channels.get(signal)
            return (st.kind if st else Kind.UNKNOWN, signal, {})
        return self.engine.resolve_device(signal)

    def events(self, signal: Any, t_from_mu: int = _NEG, t_to_mu: int = 1 << 62) -> list:
        """Level changes ``(t, level)`` of a TTL-like output, DDS states of an AD9910, or input
        events ``(t, data)`` of an input channel (name suffix ``".in"``)."""
        if isinstance(signal, str) and signal.endswith(".in"):
            _, ch, _ = self._channel(signal[:-3])
            phy = self.engine.channels[ch].phy
            inp = self.engine.inputs.get(ch)
            if inp is not None:
                inp.generate(self.engine.counter + 1)
            log = phy.log if isinstance(phy, TTLInputPhy) else []
            return [e for e in log if t_from_mu <= e[0] < t_to_mu]
        kind, ch, extra = self._channel(signal)
        if Kind(kind).trace is Trace.DDS:
            return self.engine.dds_states(ch, extra["cs"], t_from_mu, t_to_mu)
        return self.engine.ttl_levels(ch, t_from_mu, t_to_mu)

    def value(self, signal: Any, t_mu: int) -> Any:
        """Level of a TTL-like output at ``t_mu`` (0/1), or the ``DDSState`` of an AD9910."""
        kind, ch, extra = self._channel(signal)
        if Kind(kind).trace is Trace.DDS:
            return self.engine.dds_state_at(ch, extra["cs"], t_mu)
        return self.engine.ttl_level_at(ch, t_mu)
