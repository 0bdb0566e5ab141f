# SPDX-License-Identifier: LGPL-3.0-or-later
"""Attempt rate of both heralding paths in lab (RTIO-timeline) time, in the simulator.

Runs ``repository/remote_entanglement.py`` (gateware heralding, entangler core) and
``repository/remote_entanglement_cpu.py`` (CPU heralding) at the ``oxford2020`` preset with the
Kasli cost model, and prints each path's attempt rate as a fraction of the physical limit
1/T_cycle x duty cycle, with duty = T_run / (T_run + T_cool): the rate a link would reach with zero
CPU overhead between runs. The loop time excludes the analysis pulses and readout after each herald
(``totals.loop_time_s``). Target for the gateware path: >= 95 %.

Usage: ``python benchmarks/attempt_rate.py [--heralds N] [--lab oxford2020] [--seed 1]``
"""

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.experiments.simhelpers import run, simulation  # noqa: E402

PATHS = [("gateware", "remote_entanglement"), ("cpu", "remote_entanglement_cpu")]


def measure(lab, seed, heralds):
    """[(path, attempts/s in lab time, fraction of the limit, heralds/s)] for both paths."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for path, name in PATHS:
            sim = simulation(Path(tmp) / path, lab=lab, seed=seed)
            try:
                d = run(sim, name, mode="z", heralds_per_setting=heralds)
                loop = sim.lab.loop
                cycle_s = d["totals.cycle_mu"] * 1e-9
                limit = 1.0 / cycle_s * loop.run_s / (loop.run_s + loop.cool_s)
                # attempts per second of the attempt loop: the time spent on analysis pulses and
                # readout after each herald is not attempt overhead
                rate = d["totals.attempts"] / d["totals.loop_time_s"]
                out.append(
                    (
                        path,
                        rate,
                        rate / limit,
                        d["totals.heralds"] / d["totals.lab_time_s"],
                        d["totals.underflows_recovered"],
                    )
                )
            finally:
                sim.close()
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lab", default="oxford2020")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--heralds", type=int, default=20)
    args = p.parse_args()
    print(
        "{:<9} {:>16} {:>12} {:>12} {:>10}".format(
            "path", "attempts/s (lab)", "of limit", "heralds/s", "underflows"
        )
    )
    for path, rate, frac, hrate, uf in measure(args.lab, args.seed, args.heralds):
        print(
            "{:<9} {:>16.4g} {:>11.1%} {:>12.4g} {:>10d}".format(path, rate, frac, hrate, int(uf))
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
