# SPDX-License-Identifier: LGPL-3.0-or-later
"""The command-line options that set up a :class:`~sim.runner.Simulation`, shared by
``ionlink-sim run`` and ``ionlink-sim master``, and the simulation they describe."""

from __future__ import annotations

import argparse
from typing import Any

from drivers.controllers.zmq_endpoint import endpoint_arg
from sim.presets import LAB_HELP
from sim.seed import seed_arg

__all__ = ["make_simulation", "simulation_options"]


def simulation_options(parser: argparse.ArgumentParser) -> None:
    """The options that set up a :class:`~sim.runner.Simulation` (``run``, ``master``)."""
    parser.add_argument(
        "--device-db", default="device_db.py", help="device database file (default: %(default)s)"
    )
    parser.add_argument(
        "--dataset-db",
        default=None,
        help="dataset store (default: dataset_db.mdb in the working directory; the hardware "
        "state, sim_state/, is kept beside it)",
    )
    parser.add_argument("--seed", type=seed_arg, default=None, help="random seed of the simulation")
    parser.add_argument(
        "--results",
        default="results",
        help="results directory (default: %(default)s); the dataset store, the hardware state "
        "and last_rid.pyon stay the working directory's",
    )
    parser.add_argument("--vcd", default=None, help="write the RTIO timeline as a VCD file")
    parser.add_argument(
        "--tag-feed",
        default=None,
        type=endpoint_arg,
        metavar="ADDRESS",
        help="push detector/PMT clicks to a simulated time tagger (e.g. tcp://127.0.0.1:3276)",
    )
    parser.add_argument(
        "--lab",
        default=None,
        help="lab description (" + LAB_HELP + "; default: lab.toml next to "
        "the device database, refused if there is none; 'none': the timing alone, "
        "nothing physical simulated)",
    )
    parser.add_argument(
        "--power-up",
        action="store_true",
        help="start from a cold machine: discard the hardware state the previous "
        "runs left (sim_state/ next to the dataset store)",
    )
    parser.add_argument(
        "--hardware-faithful",
        action="store_true",
        help="pulses through a Urukul not initialised since power-up do nothing "
        "(a warning) instead of stopping the experiment",
    )
    parser.add_argument(
        "--link-down",
        type=int,
        action="append",
        default=[],
        metavar="DEST",
        help="start with the DRTIO link to destination DEST down (repeatable)",
    )


def make_simulation(
    args: argparse.Namespace, progress: bool = False, interactive: Any = None
) -> Any:
    """The :class:`~sim.runner.Simulation` of :func:`simulation_options`' options: the working
    directory's dataset store, ``last_rid.pyon`` and hardware state (``sim_state/``) wherever
    ``--results`` puts the results files, as ``artiq_master`` keeps them."""
    from sim.runner import Simulation

    return Simulation(
        args.device_db,
        seed=args.seed,
        lab=args.lab,
        results_dir=args.results,
        work_dir=".",
        dataset_db=args.dataset_db,
        vcd=getattr(args, "vcd", None),
        tag_feed=getattr(args, "tag_feed", None),
        progress=progress,
        interactive_input=interactive,
        state=True,
        power_up=args.power_up,
        hardware_faithful=args.hardware_faithful,
        link_down=getattr(args, "link_down", []),
        lab_overrides=getattr(args, "lab_set", ()),
        drawn_costs=getattr(args, "drawn_costs", False),
        lab_required=True,
    )
