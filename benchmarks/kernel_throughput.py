# SPDX-License-Identifier: LGPL-3.0-or-later
"""Output-event throughput of the RTIO engine with the full model.

A kernel of 10**5 ``ttl.pulse(); delay()`` pairs (2*10**5 output events) runs with VCD off and with
VCD on (the VCD file is written from the resolved logs after the kernel, and counted). Prints output
events per second by CPU time (best of 3; wall time beside it) and the ratio to the 1 M events/s
target.

    python benchmarks/kernel_throughput.py [--pairs N] [--profile]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sim import artiq_env  # noqa: E402

artiq_env.activate()

from artiq.language import core as lcore  # noqa: E402
from artiq.language.core import delay  # noqa: E402

from sim.session import SimSession  # noqa: E402

TARGET = 1_000_000

DB = {
    "core": {
        "type": "local",
        "module": "artiq.coredevice.core",
        "class": "Core",
        "arguments": {"host": None, "ref_period": 1e-9},
    },
    "ttl0": {
        "type": "local",
        "module": "artiq.coredevice.ttl",
        "class": "TTLOut",
        "arguments": {"channel": 0},
    },
}


class _DMgr:
    def __init__(self, session):
        self.ionlink_session = session
        self.devs = {}

    def get(self, name):
        if name not in self.devs:
            import importlib

            d = DB[name]
            self.devs[name] = getattr(importlib.import_module(d["module"]), d["class"])(
                self, **d["arguments"]
            )
        return self.devs[name]


def run(pairs: int, vcd: bool) -> tuple[float, float]:
    """(events/s by CPU time, by wall time) of one kernel and session close."""
    path = tempfile.mktemp(suffix=".vcd") if vcd else None
    session = SimSession(DB, seed=0, vcd=path)
    prev = lcore._time_manager
    lcore.set_time_manager(session.engine)
    dmgr = _DMgr(session)
    core, ttl = dmgr.get("core"), dmgr.get("ttl0")

    def kernel():
        core.reset()
        for _ in range(pairs):
            ttl.pulse(1e-6)
            delay(1e-6)

    try:
        c0, t0 = time.process_time(), time.perf_counter()
        core.run(kernel, (), {})
        session.close()
        cpu, dt = time.process_time() - c0, time.perf_counter() - t0
    finally:
        lcore.set_time_manager(prev)
        if path and os.path.exists(path):
            os.unlink(path)
    n = session.engine.summary()["n_outputs"]
    assert n == 2 * pairs, n
    return n / cpu, n / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=100_000)
    ap.add_argument("--profile", action="store_true", help="cProfile the VCD-off run")
    args = ap.parse_args()
    if args.profile:
        import cProfile
        import pstats

        cProfile.runctx(
            "run(args.pairs, False)", globals(), {"args": args, "run": run}, "/tmp/kt.prof"
        )
        pstats.Stats("/tmp/kt.prof").sort_stats("tottime").print_stats(15)
        return
    for vcd in (False, True):
        rates = [run(args.pairs, vcd) for _ in range(3)]
        rate = max(r[0] for r in rates)
        print(
            "VCD {:3s}: {:>10,.0f} output events/s by CPU time ({:.2f} x the 1 M/s target; "
            "by wall time {:,.0f}/s)".format(
                "on" if vcd else "off", rate, rate / TARGET, max(r[1] for r in rates)
            )
        )


if __name__ == "__main__":
    main()
