# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.coredevice.spi2``: simulated SPI master and its flags."""

from sim.devices.spi2 import (  # noqa: F401
    SPI_CLK_PHASE,
    SPI_CLK_POLARITY,
    SPI_CONFIG_ADDR,
    SPI_CS_POLARITY,
    SPI_DATA_ADDR,
    SPI_END,
    SPI_HALF_DUPLEX,
    SPI_INPUT,
    SPI_LSB_FIRST,
    SPI_OFFLINE,
    SPIMaster,
)

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
