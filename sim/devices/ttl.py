# SPDX-License-Identifier: LGPL-3.0-or-later
"""Simulated TTL drivers with ARTIQ 9's API (behaviour of ``artiq/coredevice/ttl.py``).

Every method drives the engine only through the RTIO syscalls, but ``pulse``, ``on`` and ``off``,
which are the engine's :func:`~sim.rtio.ttl_outputs.ttl_pulse`, :func:`~sim.rtio.ttl_outputs.ttl_on`
and :func:`~sim.rtio.ttl_outputs.ttl_off` (the syscalls run as the methods themselves). Methods are
plain Python (they are called from inside simulated kernels); the timeline effect of each is stated
in its docstring.
Addresses: 0 output level, 1 output enable, 2 input sensitivity, 3 sensitivity + sample
(``artiq/gateware/rtio/phy/ttl_serdes_generic.py``).
"""

from __future__ import annotations

from typing import Any

import numpy
from artiq.language.core import delay, delay_mu, now_mu

from sim.rtio.channels import Kind
from sim.rtio.phy.clockgen import ClockGenPhy
from sim.rtio.phy.ttl import TTLOutPhy
from sim.rtio.phy.ttl_input import TTLInputPhy
from sim.rtio.ttl_outputs import ttl_off, ttl_on, ttl_pulse
from sim.syscalls import (
    bind_hot,
    input_count,
    rtio_input_data,
    rtio_input_timestamp,
    rtio_output,
    rtio_pulse,
)

__all__ = ["TTLOut", "TTLInOut", "TTLClockGen"]

_ADDR_O = 0
_ADDR_OE = 1
_ADDR_SENS = 2
_ADDR_SAMPLE = 3


def _register(dmgr: Any, core: Any, channel: int, kind: str, phy: Any, name: str | None) -> None:
    eng = getattr(core, "engine", None)
    if eng is not None:
        eng.register_channel(channel, kind, name, phy=phy)


class TTLOut:
    """RTIO TTL output channel.

    :param channel: RTIO channel number.
    :param core_device: core device name.
    """

    kernel_invariants = {"core", "channel", "target_o"}

    def __init__(self, dmgr: Any, channel: int, core_device: str = "core", **sim_args: Any) -> None:
        bind_hot(globals())  # its per-event calls go straight to the active engine
        self.core = dmgr.get(core_device)
        self.channel = channel
        self.target_o = channel << 8
        _register(dmgr, self.core, channel, Kind.TTL_OUT, TTLOutPhy(), sim_args.get("name"))

    @staticmethod
    def get_rtio_channels(channel: int, **kwargs: Any) -> list:
        return [(channel, None)]

    def output(self) -> None:
        """No-op (API compatibility with TTLInOut). Does not modify the timeline cursor."""

    def set_o(self, o: bool) -> None:
        """Set the output level at ``now``. Does not modify the timeline cursor."""
        rtio_output(self.target_o, 1 if o else 0)

    #: output high at ``now``; does not modify the timeline cursor (the engine's code as this
    #: method, :func:`~sim.rtio.ttl_outputs.ttl_on`)
    on = ttl_on
    #: output low at ``now``; does not modify the timeline cursor
    off = ttl_off

    def pulse_mu(self, duration: int) -> None:
        """High for ``duration`` mu. Advances the timeline cursor by ``duration``.
        (``on(); delay_mu(duration); off()`` in one engine call.)"""
        rtio_pulse(self.target_o, duration, False)

    #: high for ``duration`` seconds; advances the timeline cursor by ``duration``
    #: (``on(); delay(duration); off()`` in one engine call, the engine's code as this method)
    pulse = ttl_pulse


class TTLInOut:
    """RTIO TTL input/output channel; defaults to input mode (OE off).

    :param gate_latency_mu: how long after a gate's end ``count``/``timestamp_mu`` wait for events;
        default ``13 * core.ref_multiplier`` = 104 mu (``ttl.py``).
    """

    kernel_invariants = {
        "core",
        "channel",
        "gate_latency_mu",
        "target_o",
        "target_oe",
        "target_sens",
        "target_sample",
    }

    def __init__(
        self,
        dmgr: Any,
        channel: int,
        gate_latency_mu: int | None = None,
        core_device: str = "core",
        **sim_args: Any,
    ) -> None:
        bind_hot(globals())  # its per-event calls go straight to the active engine
        self.core = dmgr.get(core_device)
        self.channel = channel
        if gate_latency_mu is None:
            gate_latency_mu = 13 * self.core.ref_multiplier
        self.gate_latency_mu = gate_latency_mu
        self.target_o = (channel << 8) + _ADDR_O
        self.target_oe = (channel << 8) + _ADDR_OE
        self.target_sens = (channel << 8) + _ADDR_SENS
        self.target_sample = (channel << 8) + _ADDR_SAMPLE
        eng = getattr(self.core, "engine", None)
        phy = TTLInputPhy(eng, channel) if eng is not None else None
        _register(dmgr, self.core, channel, Kind.TTL_INOUT, phy, sim_args.get("name"))

    @staticmethod
    def get_rtio_channels(channel: int, **kwargs: Any) -> list:
        return [(channel, None)]

    # outputs
    def set_oe(self, oe: bool) -> None:
        """Set output enable at ``now``. Does not modify the timeline cursor."""
        rtio_output(self.target_oe, 1 if oe else 0)

    def output(self) -> None:
        """Output mode (OE on). Allow one coarse cycle before other commands on this channel.
        Does not modify the timeline cursor."""
        self.set_oe(True)

    def input(self) -> None:
        """Input mode (OE off). Does not modify the timeline cursor."""
        self.set_oe(False)

    # the output side is TTLOut's (same target, same events)
    set_o = TTLOut.set_o
    on = TTLOut.on
    off = TTLOut.off
    pulse_mu = TTLOut.pulse_mu
    pulse = TTLOut.pulse

    # gating
    def _set_sensitivity(self, value: int) -> None:
        rtio_output(self.target_sens, value)

    def _gate_mu(self, sens: int, duration: int) -> int:
        self._set_sensitivity(sens)
        delay_mu(duration)
        self._set_sensitivity(0)
        return now_mu()

    def _gate(self, sens: int, duration: float) -> int:
        self._set_sensitivity(sens)
        delay(duration)
        self._set_sensitivity(0)
        return now_mu()

    def gate_rising_mu(self, duration: int) -> int:
        """Register rising edges for ``duration`` mu. Advances the timeline cursor by ``duration``;
        returns the gate end in mu."""
        return self._gate_mu(1, duration)

    def gate_falling_mu(self, duration: int) -> int:
        return self._gate_mu(2, duration)

    def gate_both_mu(self, duration: int) -> int:
        return self._gate_mu(3, duration)

    def gate_rising(self, duration: float) -> int:
        """Advances the timeline cursor by ``duration`` (rounded); returns the gate end in mu."""
        return self._gate(1, duration)

    def gate_falling(self, duration: float) -> int:
        return self._gate(2, duration)

    def gate_both(self, duration: float) -> int:
        return self._gate(3, duration)

    def count(self, up_to_timestamp_mu: int) -> int:
        """Number of registered edges (leftovers of earlier gates included). Blocks until the
        counter reaches ``up_to_timestamp_mu + gate_latency_mu``; does not move the cursor."""
        return input_count(up_to_timestamp_mu + self.gate_latency_mu, self.channel)

    def timestamp_mu(self, up_to_timestamp_mu: int) -> numpy.int64:
        """Timestamp of the next registered edge, or -1. Returns at once if an event is buffered,
        else blocks until ``up_to_timestamp_mu + gate_latency_mu``; does not move the cursor."""
        return numpy.int64(
            rtio_input_timestamp(up_to_timestamp_mu + self.gate_latency_mu, self.channel)
        )

    # sampling
    def sample_input(self) -> None:
        """Request a sample of the input level at ``now``. Does not modify the timeline cursor."""
        rtio_output(self.target_sample, 0)

    def sample_get(self) -> int:
        """The sampled level (blocks until the sample event arrives)."""
        return rtio_input_data(self.channel)

    def sample_get_nonrt(self) -> int:
        """Sample at ``now``, wait for it, then ``break_realtime``."""
        self.sample_input()
        r = self.sample_get()
        self.core.break_realtime()
        return r

    # watching
    def watch_stay_on(self) -> bool:
        """Sample and watch for a falling edge; True if the input is high now."""
        rtio_output(self.target_sample, 2)
        return rtio_input_data(self.channel) == 1

    def watch_stay_off(self) -> bool:
        """Sample and watch for a rising edge; True if the input is low now."""
        rtio_output(self.target_sample, 1)
        return rtio_input_data(self.channel) == 0

    def watch_done(self) -> bool:
        """Stop watching at ``now``; True iff no edge was seen. Blocks until
        ``now + gate_latency_mu``."""
        rtio_output(self.target_sens, 0)
        success = True
        try:
            while rtio_input_timestamp(now_mu() + self.gate_latency_mu, self.channel) != -1:
                success = False
        except Exception:  # RTIOOverflow
            success = False
        return success


class TTLClockGen:
    """Clock generator on an RTIO channel (``ttl.py::TTLClockGen``).

    :param acc_width: phase accumulator width in bits (24; Urukul SYNC uses 4).
    """

    kernel_invariants = {"core", "channel", "target", "acc_width"}

    def __init__(
        self,
        dmgr: Any,
        channel: int,
        acc_width: int = 24,
        core_device: str = "core",
        **sim_args: Any,
    ) -> None:
        bind_hot(globals())  # its per-event calls go straight to the active engine
        self.core = dmgr.get(core_device)
        self.channel = channel
        self.target = channel << 8
        self.acc_width = numpy.int64(acc_width)
        _register(
            dmgr, self.core, channel, Kind.CLKGEN, ClockGenPhy(acc_width), sim_args.get("name")
        )

    @staticmethod
    def get_rtio_channels(channel: int, **kwargs: Any) -> list:
        return [(channel, None)]

    def frequency_to_ftw(self, frequency: float) -> int:
        """``round(2**acc_width * frequency * coarse_ref_period)``."""
        return round(float(2 ** int(self.acc_width)) * frequency * self.core.coarse_ref_period)

    def ftw_to_frequency(self, ftw: int) -> float:
        return ftw / self.core.coarse_ref_period / 2.0 ** int(self.acc_width)

    def set_mu(self, frequency: int) -> None:
        """Set the FTW at ``now`` (first rising edge there). Does not modify the timeline cursor."""
        rtio_output(self.target, int(frequency))

    def set(self, frequency: float) -> None:
        """Set the frequency in Hz. Does not modify the timeline cursor."""
        self.set_mu(self.frequency_to_ftw(frequency))

    def stop(self) -> None:
        """Stop the clock (FTW 0). Does not modify the timeline cursor."""
        self.set_mu(0)
