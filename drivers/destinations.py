# SPDX-License-Identifier: LGPL-3.0-or-later
"""DRTIO destinations a startup waits for (ARTIQ's manual: a startup kernel of a DRTIO system
waits until every destination it needs is up, polling ``core.get_rtio_destination_status``)."""

__all__ = [
    "DESTINATION_POLL_S",
    "DESTINATION_WAIT_S",
    "INIT_READ_SLACK_S",
    "DestinationDown",
    "blind_init_latency_s",
    "destinations_of",
]

#: how long to wait for a DRTIO destination to come up (s), and the polling period (s)
DESTINATION_WAIT_S = 10.0
DESTINATION_POLL_S = 1e-3
#: the least slack ARTIQ's Urukul inits leave after one of their SPI reads (s): the AD9910's
#: AUX_DAC check is followed by ``delay(50 us)`` before the next write. A read from a satellite
#: returns one round trip after the data, and the next write must reach the satellite before its
#: timestamp: a link with 2 × latency beyond this underflows in ``init`` (on hardware as here).
INIT_READ_SLACK_S = 50e-6


class DestinationDown(Exception):
    """A DRTIO destination did not come up within :data:`DESTINATION_WAIT_S`."""


def destinations_of(core) -> list:
    """The master's own destination 0 and its satellites (the core's ``satellite_cpu_targets``),
    sorted."""
    targets = getattr(core, "satellite_cpu_targets", {}) or {}
    return [0] + sorted(int(d) for d in targets if int(d) != 0)


def blind_init_latency_s(channel, latency_s: float) -> float:
    """The one-way link latency (s) to the destination of RTIO ``channel`` when the Urukul
    there must be initialised blind (its reads' round trip, 2 × ``latency_s``, does not fit in
    :data:`INIT_READ_SLACK_S`), else 0: destination 0 (the master) never."""
    if int(channel) >> 16 == 0 or 2 * latency_s < INIT_READ_SLACK_S:
        return 0.0
    return latency_s
