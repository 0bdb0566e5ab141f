# SPDX-License-Identifier: LGPL-3.0-or-later
"""The device_db classes the simulator models: each class's channel :class:`~sim.rtio.channels.Kind`
(hence what the VCD file and peeks show of it, :attr:`Kind.trace`) and the factory of its PHY.

The one table of them (:data:`DEVICE_CLASSES`): the session declares the channels of a device
database from it, so that drivers that register nothing (a real ARTIQ's) find their PHYs; the
tests and tools that need a class's kind read it here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.rtio.channels import Kind
from sim.rtio.inputs import SPI_FIFO_DEPTH
from sim.rtio.phy.clockgen import ClockGenPhy
from sim.rtio.phy.edge_counter import EdgeCounterPhy
from sim.rtio.phy.entangler import EntanglerPhy
from sim.rtio.phy.spi import SPIPhy
from sim.rtio.phy.ttl import TTLOutPhy
from sim.rtio.phy.ttl_input import TTLInputPhy

__all__ = ["DEVICE_CLASSES", "DeviceClass", "kind_of_class"]

#: ``(engine, channel, device_db arguments) -> PHY``
PhyFactory = Callable[[Any, int, dict], Any]


@dataclass(frozen=True)
class DeviceClass:
    """A device_db class the simulator models.

    :param name: the class name in the device database (``"TTLOut"``).
    :param kind: the kind of its RTIO channel (or, for an AD9910, of the named device).
    :param make_phy: its PHY's factory; None for a device without a channel of its own.
    :param input_depth: depth of its input FIFO (None: the engine's default).
    """

    name: str
    kind: Kind
    make_phy: PhyFactory | None = None
    input_depth: int | None = None


DEVICE_CLASSES: dict[str, DeviceClass] = {
    c.name: c
    for c in (
        DeviceClass("TTLOut", Kind.TTL_OUT, lambda eng, ch, args: TTLOutPhy()),
        DeviceClass("TTLInOut", Kind.TTL_INOUT, lambda eng, ch, args: TTLInputPhy(eng, ch)),
        DeviceClass(
            "TTLClockGen",
            Kind.CLKGEN,
            lambda eng, ch, args: ClockGenPhy(int(args.get("acc_width", 24))),
        ),
        DeviceClass(
            "EdgeCounter",
            Kind.EDGE_COUNTER,
            lambda eng, ch, args: EdgeCounterPhy(eng, ch, int(args.get("gateware_width", 31))),
        ),
        DeviceClass("SPIMaster", Kind.SPI, lambda eng, ch, args: SPIPhy(eng, ch), SPI_FIFO_DEPTH),
        DeviceClass("Entangler", Kind.ENTANGLER, lambda eng, ch, args: EntanglerPhy(eng, ch)),
        DeviceClass("AD9910", Kind.AD9910),
    )
}


def kind_of_class(class_name: str) -> Kind | None:
    """The kind of a device_db class (None: not a simulated RTIO device)."""
    entry = DEVICE_CLASSES.get(class_name)
    return None if entry is None else entry.kind
