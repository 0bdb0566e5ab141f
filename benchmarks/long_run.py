# SPDX-License-Identifier: LGPL-3.0-or-later
"""Peak memory of a long heralding run against its length, through the CLI path.

For each herald count N it makes a fresh lab folder, runs ``ionlink-sim run`` for Startup, then
``repository/remote_entanglement.py mode="z" heralds_per_setting=N`` at ``oxford2020`` (one
process each, as a user would), and reads that process's peak resident set size from the kernel
(``os.wait4``). It prints, per N: peak RSS, the size of the per-herald records in the results file
(``herald.*`` datasets), their size while the run holds them (``drivers.herald_records``: 11
int64/float64 words a herald), and the peak less that size relative to the first N's: "flat
within 20 %" means that ratio stays ≤ 1.20. Also the wall time and the simulated lab time per
herald.

``--path cpu`` measures CPU heralding instead (``repository/remote_entanglement_cpu.py``, after
Startup, ReadoutCalibration and SinglePhoton as a new user runs them), by default at 20, 50 and
200 heralds (≈ 5×10³ attempts a herald at ``oxford2020``, each logging ≈ 2 kB of submissions
unless they are retired).

    PYTHONPATH=. python benchmarks/long_run.py [--path gateware|cpu] [--heralds N ...] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py

ROOT = Path(__file__).resolve().parents[1]
HELD_BYTES_PER_HERALD = 11 * 8  # drivers.herald_records.HeraldRecords: 11 machine words
LIMIT = 1.20
#: per path: the experiments run before (in order), the measured one, its results file, default N
PATHS = {
    "gateware": ((), "remote_entanglement", "RemoteEntanglement", [1000, 10000, 100000]),
    "cpu": (
        ("readout_calibration", "single_photon"),
        "remote_entanglement_cpu",
        "RemoteEntanglementCPU",
        [20, 50, 200],
    ),
}


def run_cli(args: list[str], cwd: Path) -> tuple[int, float]:
    """Run ``ionlink-sim ARGS`` in ``cwd``; return its peak RSS (kB, Linux) and wall time (s)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sim", *args, "-q"], cwd=cwd, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit("ionlink-sim {} failed with status {}".format(args, proc.returncode))
    return usage.ru_maxrss, time.perf_counter() - t0


def herald_records(path: Path) -> tuple[int, int, float]:
    """Bytes of the ``herald.*`` datasets, heralds, and lab time per herald (s)."""
    with h5py.File(path, "r") as f:
        d = f["datasets"]
        keys = [k for k in d if k.startswith("herald.")]
        nbytes = sum(d[k].nbytes for k in keys)
        t = d["herald.t_lab_mu"][()]
        per = float(t[-1] - t[0]) * 1e-9 / max(len(t) - 1, 1)
    return nbytes, len(t), per


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", choices=sorted(PATHS), default="gateware")
    parser.add_argument("--heralds", type=int, nargs="+", help="default: per path (see above)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lab", default="oxford2020")
    args = parser.parse_args()
    before, name, cls, default_heralds = PATHS[args.path]
    rows = []
    base = None
    print("heralds  peak RSS  records (file)  records (held)  excess ratio  wall   lab/herald")
    for n in args.heralds or default_heralds:
        with tempfile.TemporaryDirectory() as tmp:
            cwd = Path(tmp)
            common = ["--lab", args.lab, "--seed", str(args.seed)]
            common += ["--device-db", str(ROOT / "device_db.py")]
            for exp in ("startup", *before):
                run_cli(["run", str(ROOT / "repository/{}.py".format(exp)), *common], cwd)
            rss_kb, wall = run_cli(
                [
                    "run",
                    str(ROOT / "repository/{}.py".format(name)),
                    'mode="z"',
                    "heralds_per_setting={}".format(n),
                    *common,
                ],
                cwd,
            )
            (path,) = cwd.rglob("*{}.h5".format(cls))
            nbytes, heralds, lab_per_herald = herald_records(path)
        rss = rss_kb * 1024
        held = heralds * HELD_BYTES_PER_HERALD
        excess = rss - held
        base = base if base is not None else excess
        ratio = excess / base
        rows.append(ratio)
        row = "{:>7}  {:>6.0f} MB  {:>10.2f} MB  {:>10.1f} MB  {:>12.3f}  {:>5.0f} s  {:.2f} ms"
        print(
            row.format(
                n, rss / 2**20, nbytes / 2**20, held / 2**20, ratio, wall, lab_per_herald * 1e3
            ),
            flush=True,
        )
    worst = max(rows)
    print("worst excess ratio {:.3f} (limit {:.2f}): {}".format(worst, LIMIT, worst <= LIMIT))
    return 0 if worst <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
