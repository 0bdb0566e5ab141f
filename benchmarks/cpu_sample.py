# SPDX-License-Identifier: LGPL-3.0-or-later
"""Where the CPU experiment's host CPU time goes, by sampling: a CPU-time timer
(``ITIMER_PROF``, the kernel's tick, ≈ 4 ms here) interrupts the run of
``repository/remote_entanglement_cpu.py`` and the Python stack is counted (inclusive: each
function once per sample; self: the innermost). No per-call timers, so small functions are not
inflated as by cProfile or thread-time wrappers; a sample is taken at the interpreter's next
check after the tick (a function call or a loop's jump), so a long C call's time can go to the
Python function entered right after it. Use a few thousand samples (``--heralds 200``)::

    PYTHONPATH=. python benchmarks/cpu_sample.py [--heralds 200] [--seed 2] [--lab oxford2020]
        [--within settle,_mark]

``--within`` names functions (suffixes of ``dir/file.py:name``) whose samples are split by the
function they called."""

from __future__ import annotations

import argparse
import collections
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim import artiq_env  # noqa: E402

artiq_env.activate()

from tests.experiments.simhelpers import run, simulation  # noqa: E402


def _name(f: FrameType) -> str:
    c = f.f_code
    p = Path(c.co_filename)
    return f"{p.parent.name}/{p.name}:{c.co_name}"


class Sampler:
    """The stacks' counts (:meth:`take` is the ``SIGPROF`` handler)."""

    def __init__(self, within: list[str]) -> None:
        self.total = 0
        self.inclusive: collections.Counter[str] = collections.Counter()
        self.self_: collections.Counter[str] = collections.Counter()
        self.within = within
        self.split: dict[str, collections.Counter[str]] = {w: collections.Counter() for w in within}

    def take(self, signum: int, frame: FrameType | None) -> None:
        del signum
        self.total += 1
        if frame is None:
            return
        self.self_[_name(frame)] += 1
        seen: set[str] = set()
        below = "(self)"
        f: FrameType | None = frame
        while f is not None:
            n = _name(f)
            if n not in seen:
                seen.add(n)
                self.inclusive[n] += 1
                for w in self.within:
                    if n.endswith(w):
                        self.split[w][below] += 1
            below = n
            f = f.f_back


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--heralds", type=int, default=200)
    p.add_argument("--seed", type=int, default=2)
    p.add_argument("--lab", default="oxford2020")
    p.add_argument("--within", default="", help="comma-separated function names to split")
    p.add_argument("--top", type=int, default=50)
    args = p.parse_args()
    sampler = Sampler([":" + w.split(":")[-1] for w in args.within.split(",") if w])
    with tempfile.TemporaryDirectory() as tmp:
        sim = simulation(Path(tmp), lab=args.lab, seed=args.seed)
        try:
            signal.signal(signal.SIGPROF, sampler.take)
            c0 = time.process_time()
            signal.setitimer(signal.ITIMER_PROF, 0.001, 0.001)
            d = run(sim, "remote_entanglement_cpu", mode="z", heralds_per_setting=args.heralds)
            signal.setitimer(signal.ITIMER_PROF, 0, 0)
            cpu = time.process_time() - c0
        finally:
            sim.close()
    n, heralds = max(1, sampler.total), max(1, int(d["totals.heralds"]))
    lab_s = float(d["totals.lab_time_s"])
    print(
        f"{sampler.total} samples, CPU {cpu:.3f} s, {heralds} heralds, "
        f"{int(d['totals.attempts'])} attempts, lab {lab_s:.4f} s, lab/CPU {lab_s / cpu:.3f}x"
    )

    def rows(title: str, counts: collections.Counter[str], top: int) -> None:
        print(f"--- {title} (share of the samples; ms of CPU a herald)")
        for k, v in counts.most_common(top):
            print(f"{100 * v / n:6.1f} % {1e3 * cpu * v / n / heralds:7.2f} ms  {k}")

    rows("inclusive", sampler.inclusive, args.top)
    rows("self", sampler.self_, 25)
    for w, counts in sampler.split.items():
        rows("within " + w, counts, 12)
    return 0


if __name__ == "__main__":
    sys.exit(main())
