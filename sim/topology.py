# SPDX-License-Identifier: LGPL-3.0-or-later
"""The DRTIO topology a device database describes, checked before any kernel runs.

A channel number is ``(destination << 16) | local channel``; the destinations with a link are 0
(the master's own RTIO) and the keys of the core's ``satellite_cpu_targets`` (what
``artiq_ddb_template master.json -s 1 satellite.json`` writes). Entangler cores
(``drivers.entangler.Entangler``) pair up as one master (``is_master``, the default) and at most
one slave (``is_master: False``) linked to it by the entangler's own cable.

Bad input, one clear :class:`~sim.device_manager.DeviceDBError` each: a channel on a destination
without a link, two devices on one RTIO channel, two entangler masters, a slave without a master,
two slaves.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Iterable

from sim.device_manager import DeviceDBError

__all__ = ["Topology", "check_link_overrides", "install_drtio", "is_two_chassis", "topology_of"]


@dataclass(frozen=True)
class Topology:
    """What the simulator needs of a device database's DRTIO layout.

    :param satellites: destinations other than 0 with a link (sorted).
    :param entangler_master: RTIO channel of the master entangler core (None: no entangler).
    :param entangler_slave: RTIO channel of its slave (None: none).
    """

    satellites: tuple[int, ...] = ()
    entangler_master: int | None = None
    entangler_slave: int | None = None


def _linked_destinations(device_db: dict) -> set[int]:
    core = device_db.get("core")
    targets: Any = {}
    if isinstance(core, dict):
        targets = core.get("arguments", {}).get("satellite_cpu_targets") or {}
    try:
        return {int(d) for d in targets}
    except (TypeError, ValueError):
        raise DeviceDBError(
            "core: satellite_cpu_targets must map destination numbers to CPU targets, got "
            "{!r}".format(targets)
        ) from None


def topology_of(device_db: dict) -> Topology:
    """Check ``device_db`` (raw or transformed) and return its :class:`Topology`.

    :raises DeviceDBError: see the module docstring.
    """
    from sim.registry import DEVICE_CLASSES

    linked = _linked_destinations(device_db) - {0}
    masters: list[tuple[str, int]] = []
    slaves: list[tuple[str, int]] = []
    owners: dict[int, str] = {}  # RTIO channel → the device whose PHY it is
    for name, desc in device_db.items():
        if not isinstance(desc, dict) or desc.get("type") != "local":
            continue
        args = desc.get("arguments", {})
        if "channel" not in args:
            continue
        try:
            channel = -1 if isinstance(args["channel"], bool) else operator.index(args["channel"])
        except TypeError:
            channel = -1
        if not 0 <= channel < 1 << 32:
            raise DeviceDBError(
                "device '{}': channel {!r} is not an RTIO channel number (an integer >= 0, "
                "e.g. 0x000021)".format(name, args["channel"])
            )
        model = DEVICE_CLASSES.get(desc.get("class", ""))
        if model is not None and model.make_phy is not None:
            if channel in owners:
                raise DeviceDBError(
                    "devices '{}' and '{}' both have RTIO channel {} (0x{:06x}): each channel "
                    "is one device's".format(owners[channel], name, channel, channel)
                )
            owners[channel] = name
        dest = channel >> 16
        if dest and dest not in linked:
            raise DeviceDBError(
                "device '{}' is on DRTIO destination {} (channel 0x{:06x}), which has no link: "
                "the core's satellite_cpu_targets lists {}".format(
                    name, dest, channel, sorted(linked) or "no satellite"
                )
            )
        if desc.get("class") == "Entangler":
            (masters if args.get("is_master", True) else slaves).append((name, channel))
    if len(masters) > 1:
        raise DeviceDBError(
            "two entangler masters, '{}' and '{}': a link has one master (the other needs "
            '"is_master": False)'.format(masters[0][0], masters[1][0])
        )
    if slaves and not masters:
        raise DeviceDBError(
            "entangler '{}' is a slave (is_master False) without a master entangler in the "
            "device database".format(slaves[0][0])
        )
    if len(slaves) > 1:
        raise DeviceDBError(
            "two entangler slaves, '{}' and '{}': the master's link cable has one partner".format(
                slaves[0][0], slaves[1][0]
            )
        )
    return Topology(
        satellites=tuple(sorted(linked)),
        entangler_master=masters[0][1] if masters else None,
        entangler_slave=slaves[0][1] if slaves else None,
    )


def is_two_chassis(device_db_path: Any) -> bool:
    """Whether the device database file at ``device_db_path`` has satellites (None: no)."""
    if device_db_path is None:
        return False
    from sim import artiq_env
    from sim.device_manager import load_device_db

    # a simulator device database (device_db_sim*.py) transforms its entries when loaded: the
    # models import artiq, so make it importable first (as the runner does), else every entry,
    # the core's satellite list with it, becomes a placeholder
    artiq_env.activate()

    return bool(topology_of(load_device_db(device_db_path)).satellites)


def link_override_keys(lab_set: Iterable[str]) -> list[str]:
    """The ``--set`` keys (``KEY=VALUE`` texts) that change the lab's ``[drtio]`` table."""
    keys = [text.split("=", 1)[0].strip() for text in lab_set]
    return [k for k in keys if k == "drtio" or k.startswith("drtio.")]


def check_link_overrides(lab_set: Iterable[str], device_db_path: Any, where: str = "") -> None:
    """Refuse ``--set drtio.…`` on a device database of one chassis: the ``[drtio]`` table
    describes the link between two, so there it would change nothing and every figure would
    silently not depend on the value asked for.

    :param where: what the one-chassis database is, for the message (default: its path).
    :raises sim.experiment_file.InputError: such a key on a database without a satellite.
    """
    keys = link_override_keys(lab_set)
    if not keys or is_two_chassis(device_db_path):
        return
    from sim.experiment_file import InputError

    raise InputError(
        "--set {}: {} has one chassis, no DRTIO link for the [drtio] table to describe; "
        "use a two-chassis device database (--device-db device_db_drtio.py)".format(
            keys[0],
            where
            or (
                "the budget without --device-db"
                if device_db_path is None
                else "device database '{}'".format(device_db_path)
            ),
        )
    )


def install_drtio(session: Any, link_down: Any = ()) -> None:
    """Give ``session``'s engine its satellites' links (latency and outages from the lab's
    ``[drtio]`` table, defaults without a lab), force ``link_down`` destinations down, and pair
    the entangler master with its slave (trigger over the link cable).

    :raises DeviceDBError: a ``link_down`` destination that has no link.
    """
    from sim.physics.lab_model import DrtioLink
    from sim.rtio.drtio import Drtio, LinkSpec

    topo: Topology = session.topology
    engine = session.engine
    lab = getattr(session.world, "lab", None)
    link: DrtioLink = lab.drtio if lab is not None else DrtioLink()
    ref = engine.ref_period
    spec = LinkSpec(
        latency_mu=int(round(link.latency_s / ref)),
        outages=tuple((int(round(a / ref)), int(round(b / ref))) for a, b in link.outages),
    )
    drtio = Drtio(engine, {d: spec for d in topo.satellites})
    for d in link_down:
        if int(d) not in drtio.destinations:
            raise DeviceDBError(
                "--link-down {}: destination {} has no link (satellites: {})".format(
                    d, d, ", ".join(str(s) for s in topo.satellites) or "none"
                )
            )
        drtio.set_link_down(int(d))
    drtio.install()
    if topo.entangler_master is not None and topo.entangler_slave is not None:
        master = engine.channel(topo.entangler_master).phy
        slave = engine.channel(topo.entangler_slave).phy
        if master is not None and slave is not None:
            master.pair_with(slave, int(round(link.cable_ns * 1e-9 / ref)))
