# SPDX-License-Identifier: LGPL-3.0-or-later
"""Simulated ``artiq.coredevice.spi2.SPIMaster`` (behaviour of ``artiq/coredevice/spi2.py``)."""

from __future__ import annotations

from typing import Any

from artiq.language.core import delay_mu

from sim.rtio.channels import Kind
from sim.rtio.inputs import SPI_FIFO_DEPTH
from sim.rtio.phy.spi import SPIPhy
from sim.syscalls import bind_hot, rtio_input_data, rtio_output

__all__ = [
    "SPIMaster",
    "SPI_OFFLINE",
    "SPI_END",
    "SPI_INPUT",
    "SPI_CS_POLARITY",
    "SPI_CLK_POLARITY",
    "SPI_CLK_PHASE",
    "SPI_LSB_FIRST",
    "SPI_HALF_DUPLEX",
    "SPI_DATA_ADDR",
    "SPI_CONFIG_ADDR",
]

SPI_DATA_ADDR = 0
SPI_CONFIG_ADDR = 1

SPI_OFFLINE = 0x01
SPI_END = 0x02
SPI_INPUT = 0x04
SPI_CS_POLARITY = 0x08
SPI_CLK_POLARITY = 0x10
SPI_CLK_PHASE = 0x20
SPI_LSB_FIRST = 0x40
SPI_HALF_DUPLEX = 0x80


class SPIMaster:
    """RTIO SPI master.

    :param div: default clock divider; :param length: default transfer length (bits).
    """

    kernel_invariants = {"core", "ref_period_mu", "channel"}

    def __init__(
        self,
        dmgr: Any,
        channel: int,
        div: int = 0,
        length: int = 0,
        core_device: str = "core",
        **sim_args: Any,
    ) -> None:
        bind_hot(globals())  # its per-event calls go straight to the active engine
        self.core = dmgr.get(core_device)
        self.ref_period_mu = int(self.core.seconds_to_mu(self.core.coarse_ref_period))
        if self.ref_period_mu != self.core.ref_multiplier:
            raise ValueError("SPI reference period must be one coarse RTIO cycle")
        self.channel = channel
        self.update_xfer_duration_mu(div, length)
        eng = getattr(self.core, "engine", None)
        if eng is not None:
            eng.register_channel(
                channel,
                Kind.SPI,
                sim_args.get("name"),
                phy=SPIPhy(eng, channel),
                input_depth=SPI_FIFO_DEPTH,
            )

    @staticmethod
    def get_rtio_channels(channel: int, **kwargs: Any) -> list:
        return [(channel, None)]

    def frequency_to_div(self, f: float) -> int:
        """``round(1 / (f * mu_to_seconds(ref_period_mu)))``."""
        return int(round(1 / (f * self.core.mu_to_seconds(self.ref_period_mu))))

    def set_config(self, flags: int, length: int, freq: float, cs: int) -> None:
        """Advances the timeline cursor by one coarse cycle (8 mu)."""
        self.set_config_mu(flags, length, self.frequency_to_div(freq), cs)

    def set_config_mu(self, flags: int, length: int, div: int, cs: int) -> None:
        """Write the config register at ``now``; ``ValueError`` unless 1 <= length <= 32 and
        2 <= div <= 257. Advances the timeline cursor by one coarse cycle (8 mu)."""
        if length > 32 or length < 1:
            raise ValueError("Invalid SPI transfer length")
        if div > 257 or div < 2:
            raise ValueError("Invalid SPI clock divider")
        rtio_output(
            (self.channel << 8) | SPI_CONFIG_ADDR,
            flags | ((length - 1) << 8) | ((div - 2) << 16) | (cs << 24),
        )
        self.update_xfer_duration_mu(div, length)
        delay_mu(self.ref_period_mu)

    def config_write_mu(self, flags: int, length: int, div: int, cs: int, data: int) -> None:
        """:meth:`set_config_mu` then :meth:`write` in one call (the same events, checks and
        cursor: the simulated drivers' register writes). Advances the timeline cursor by one
        coarse cycle plus the transfer (``xfer_duration_mu``)."""
        if length > 32 or length < 1:
            raise ValueError("Invalid SPI transfer length")
        if div > 257 or div < 2:
            raise ValueError("Invalid SPI clock divider")
        target = self.channel << 8
        rtio_output(
            target | SPI_CONFIG_ADDR,
            flags | ((length - 1) << 8) | ((div - 2) << 16) | (cs << 24),
        )
        ref = self.ref_period_mu
        self.xfer_duration_mu = duration = ((length + 1) * div + 1) * ref
        delay_mu(ref)
        rtio_output(target | SPI_DATA_ADDR, int(data) & 0xFFFFFFFF)
        delay_mu(duration)

    def update_xfer_duration_mu(self, div: int, length: int) -> None:
        """``xfer_duration_mu = ((length + 1) * div + 1) * ref_period_mu``."""
        self.xfer_duration_mu = ((length + 1) * div + 1) * self.ref_period_mu

    def write(self, data: int) -> None:
        """Start a transfer of left-aligned ``data``. Advances the cursor by
        ``xfer_duration_mu``."""
        rtio_output((self.channel << 8) | SPI_DATA_ADDR, int(data) & 0xFFFFFFFF)
        delay_mu(self.xfer_duration_mu)

    def read(self) -> int:
        """Data received by the last ``SPI_INPUT`` transfer (blocks). Does not move the cursor."""
        return rtio_input_data(self.channel)
