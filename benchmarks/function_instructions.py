# SPDX-License-Identifier: LGPL-3.0-or-later
"""Instructions spent inside one Python function of a seeded heralding run, under callgrind.

Runs ``repository/remote_entanglement.py`` (or ``--experiment``) in process, seeded, with
``drivers.link``'s wall clock frozen (so the live updates do not depend on the machine), and with
the function named by ``MODULE QUALNAME`` called through :func:`functools.reduce`, which nothing
else in the simulator calls: callgrind's ``--toggle-collect=functools_reduce`` then counts the
instructions inside that function (its callees included) and nowhere else. Its 'Collected' total
divided by the heralds is the function's cost per herald, exact and independent of the machine's
load (py-spy's shares are not: its samples of short calls are noisy and cache-cold code weighs
more in wall time). Only the outermost call of a recursive function is wrapped.

    OPENBLAS_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        --toggle-collect=functools_reduce python benchmarks/function_instructions.py \\
        sim.physics.world PhysicsWorld._advance_events [--lab target_99_1khz] [--heralds 100]

The module is the one whose namespace the callers look the name up in (a function imported with
``from .x import f`` is wrapped in the importer's module, e.g. ``sim.physics.world
poisson_click_mu``). Without valgrind it just runs (a smoke test of the arguments).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
import tempfile
import types
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]


def wrap_in_reduce(module: str, qualname: str) -> Callable[[], int]:
    """Replace ``module.qualname`` by a wrapper whose outermost call runs inside
    :func:`functools.reduce`; returns a function giving the number of outermost calls so far."""
    owner: Any = importlib.import_module(module)
    *path, name = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    inner = getattr(owner, name)
    reduce = functools.reduce
    state = {"depth": 0, "calls": 0}

    @functools.wraps(inner)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if state["depth"]:
            return inner(*args, **kwargs)
        state["depth"] = 1
        state["calls"] += 1
        try:
            return reduce(lambda _a, _b: inner(*args, **kwargs), (0, 0))
        finally:
            state["depth"] = 0

    setattr(owner, name, wrapper)
    return lambda: state["calls"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("module", help="module whose namespace holds the function")
    ap.add_argument("qualname", help="function or Class.method")
    ap.add_argument("--lab", default="target_99_1khz")
    ap.add_argument("--experiment", default="remote_entanglement")
    ap.add_argument("--mode", default="z")
    ap.add_argument("--heralds", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--law-reads",
        choices=("on", "off"),
        help="CPU heralding: the bsa device's law_reads (sim.devices.law_reads); default its own",
    )
    args = ap.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from sim import artiq_env

    artiq_env.activate()
    import drivers.link

    setattr(drivers.link, "time", types.SimpleNamespace(time=lambda: 0.0))  # frozen wall clock
    calls = wrap_in_reduce(args.module, args.qualname)
    from tests.experiments.simhelpers import run, simulation

    with tempfile.TemporaryDirectory() as tmp:
        sim = simulation(Path(tmp), lab=args.lab, seed=args.seed)
        if args.law_reads is not None:
            sim.device_db["bsa"]["arguments"]["law_reads"] = args.law_reads == "on"
        d = run(sim, args.experiment, mode=args.mode, heralds_per_setting=args.heralds)
    print(
        f"{args.module} {args.qualname}: {calls()} outermost calls; heralds {d['totals.heralds']},"
        f" attempts {d['totals.attempts']}, lab {d['totals.lab_time_s']:.6f} s"
    )


if __name__ == "__main__":
    main()
