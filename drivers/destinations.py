# SPDX-License-Identifier: LGPL-3.0-or-later
"""DRTIO destinations a startup waits for (ARTIQ's manual: a startup kernel of a DRTIO system
waits until every destination it needs is up, polling ``core.get_rtio_destination_status``)."""

__all__ = ["DESTINATION_POLL_S", "DESTINATION_WAIT_S", "DestinationDown", "destinations_of"]

#: how long to wait for a DRTIO destination to come up (s), and the polling period (s)
DESTINATION_WAIT_S = 10.0
DESTINATION_POLL_S = 1e-3


class DestinationDown(Exception):
    """A DRTIO destination did not come up within :data:`DESTINATION_WAIT_S`."""


def destinations_of(core) -> list:
    """The master's own destination 0 and its satellites (the core's ``satellite_cpu_targets``),
    sorted."""
    targets = getattr(core, "satellite_cpu_targets", {}) or {}
    return [0] + sorted(int(d) for d in targets if int(d) != 0)
