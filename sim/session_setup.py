# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulated hardware a :class:`~sim.runner.Simulation` drives: a session of its device
database and lab (:func:`make_session`; a bad entry is an :class:`InputError`), and the time
tagger's feed tapping it (:func:`open_tag_feed`). Both import their modules when called.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from sim.device_manager import DeviceDBError
from sim.experiment_file import InputError

__all__ = ["make_session", "open_tag_feed"]

#: the simulation's logger (as the run's reports: :mod:`sim.run`)
logger = logging.getLogger("sim.runner")


def make_session(
    device_db: dict,
    seed: int | None,
    lab: Any,
    vcd: str | None,
    hardware_faithful: bool = False,
    link_down: Any = (),
    cost_profile: Any = "kasli2",
    drawn_costs: Any = None,
    engine_setup: Callable[[Any], None] | None = None,
) -> Any:
    try:
        from sim.session import SimSession
    except ImportError:
        logger.warning("sim.session is not available: running without an RTIO engine")
        return None
    try:
        session = SimSession(
            device_db=device_db,
            seed=seed,
            lab=lab,
            vcd=vcd,
            cost_profile=cost_profile,
            hardware_faithful=hardware_faithful,
            link_down=link_down,
            drawn_costs=drawn_costs,
        )
    except DeviceDBError as exc:  # says what is wrong with which entry
        raise InputError("device database: {}".format(" ".join(str(exc).split()))) from exc
    except Exception as exc:
        raise InputError(
            "cannot set up the simulation (device database / lab): {}: {}".format(
                type(exc).__name__, " ".join(str(exc).split())
            )
        ) from exc
    if engine_setup is not None:
        engine_setup(session.engine)
    return session


def open_tag_feed(address: str | None, session: Any) -> Any:
    """The time tagger's feed at ``address`` tapping ``session``, or None."""
    if not address:
        return None
    from sim.tag_feed import TagFeed

    feed = TagFeed(address)
    if session is not None:
        feed.attach(session)
    return feed
