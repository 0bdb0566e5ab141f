# SPDX-License-Identifier: LGPL-3.0-or-later
"""A run without ``--seed`` can be repeated: its power-up draws a seed from the operating system's
entropy and records it (results files, hardware-state header); a run that continues a stored
state says so (``ionlink.sim.provenance.random_stream``)."""

from __future__ import annotations

import json

import h5py
import numpy as np

from sim.cli import main

from .simhelpers import REPO, ROOT, run, simulation


def _provenance(path) -> tuple[int, str]:
    with h5py.File(path, "r") as f:
        d = f["datasets"]
        assert d["ionlink.sim.seed"][()] == d["ionlink.sim.provenance.seed"][()]
        return int(d["ionlink.sim.provenance.seed"][()]), d["ionlink.sim.provenance.random_stream"][
            ()
        ].decode()


def test_a_run_without_seed_records_the_seed_it_drew(tmp_path, monkeypatch):
    """Unseeded power-up: the seed drawn is in the results file (``random_stream`` "entropy")
    and the state header; the next run continues the state, and says which; another seed
    re-seeds it, and says so."""
    monkeypatch.chdir(tmp_path)
    common = ["--device-db", str(ROOT / "device_db.py"), "--lab", "oxford2020", "-q"]
    startup = ["run", str(REPO / "startup.py"), *common]
    files = []
    for extra in ([], [], ["--seed", "5"]):
        assert main([*startup, *extra]) == 0
        files.append(max(tmp_path.glob("results/*/*/*.h5")))
    (state_file,) = (tmp_path / "sim_state").glob("*.state")
    seed, stream = _provenance(files[0])
    assert 0 <= seed < 2**63 and stream == "entropy"
    assert _provenance(files[1]) == (seed, f"state {state_file} (1 experiments since power-up)")
    assert _provenance(files[2]) == (
        5,
        f"state {state_file} (2 experiments since power-up), re-seeded",
    )
    header = json.loads(state_file.read_bytes().partition(b"\n")[0])
    assert header["seed"] == 5 and header["experiments"] == 3


def _chain(tmp_path, seed):
    """Startup and a readout calibration from a power-up: the simulation's seed and stream, and
    the seeded datasets (not the wall-clock ones)."""
    with simulation(tmp_path, seed=seed, startup=False) as sim:
        datasets = [run(sim, "startup"), run(sim, "readout_calibration", shots=20)]
        seeded = [{k: v for k, v in d.items() if "wall" not in k} for d in datasets]
        return sim.seed, sim.provenance.random_stream, seeded


def test_the_recorded_seed_repeats_the_run(tmp_path):
    """The seed an unseeded simulation drew, given as its seed, gives the same datasets."""
    drawn, stream, unseeded = _chain(tmp_path / "unseeded", None)
    assert drawn is not None and stream == "entropy"
    again, stream, seeded = _chain(tmp_path / "seeded", drawn)
    assert again == drawn and stream == "seed"
    for a, b in zip(unseeded, seeded):
        assert a.keys() == b.keys()
        for key in a:
            assert np.array_equal(np.asarray(a[key]), np.asarray(b[key])), key
