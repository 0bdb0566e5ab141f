# SPDX-License-Identifier: LGPL-3.0-or-later
"""Output events per second of ``ionlink-sim run`` on an experiment file, as a user runs it.

Runs ``benchmarks/experiments/pulse_train.py`` (``pairs`` x ``ttl.pulse(1 us); delay(1 us)`` on
``aux_out0`` of the repository's device database) through the command line,
``python -m sim run``, each in a fresh process, with ``pairs=N`` and with ``pairs=1``, alternating
(``--rounds`` of each). The rate is the extra output events over the extra wall time,
``2 (N - 1) / (median T_N - median T_1)``: the process start, imports, device database and
results file common to both are left out; everything that grows with the events (kernel,
engine, results and hardware state, the VCD file) is in. T is the child process's CPU time
(user + system; on a shared machine wall time mostly measures the other processes), the wall-time
figure is printed beside it. With VCD off and with ``--vcd``. Prints each figure and its ratio to
the target.

    PYTHONPATH=. python benchmarks/cli_throughput.py [--pairs 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = ROOT / "benchmarks" / "experiments" / "pulse_train.py"
TARGETS = {False: 1.5e6, True: 0.5e6}  # output events/s, VCD off / on


def _run(tmp: Path, pairs: int, vcd: bool) -> tuple[float, float]:
    """(CPU time, wall time) in s of one ``python -m sim run`` of the pulse train."""
    cmd = [
        sys.executable,
        "-m",
        "sim",
        "run",
        str(EXPERIMENT),
        "pairs={}".format(pairs),
        "--device-db",
        str(ROOT / "device_db.py"),
        "--results",
        str(tmp / "results"),
        "--power-up",
        "-q",
    ]
    if vcd:
        cmd += ["--vcd", str(tmp / "run.vcd")]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=tmp, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, wall


def measure(pairs: int, rounds: int, vcd: bool) -> tuple[float, float, float, float]:
    """(events/s by CPU time, by wall time, median CPU time of pairs=N, of pairs=1),
    interleaved rounds."""
    big, small = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            small.append(_run(Path(tmp), 1, vcd))
            big.append(_run(Path(tmp), pairs, vcd))
    events = 2 * (pairs - 1)

    def rate(k: int) -> float:
        extra = statistics.median(b[k] for b in big) - statistics.median(s[k] for s in small)
        return events / extra if extra > 0 else float("inf")

    return (
        rate(0),
        rate(1),
        statistics.median(b[0] for b in big),
        statistics.median(s[0] for s in small),
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    for vcd in (False, True):
        rate, rate_wall, t_big, t_small = measure(args.pairs, args.rounds, vcd)
        target = TARGETS[vcd]
        print(
            "ionlink-sim run, VCD {:3s}: {:>10,.0f} output events/s ({:.2f} x the {:.1f} M/s "
            "target; median CPU {:.2f} s for {} events, {:.2f} s for 2; by wall time "
            "{:,.0f}/s)".format(
                "on" if vcd else "off",
                rate,
                rate / target,
                target / 1e6,
                t_big,
                2 * args.pairs,
                t_small,
                rate_wall,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
