# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulated timeline depends only on the seed: never on how fast the host runs.

The same sequence of experiments with the same seed is run twice with the host's clocks
(``time.time``, ``time.monotonic``, ``time.perf_counter``) patched to run at very different speeds;
every dataset but the wall-clock ones must be identical.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from sim.runner import Simulation

ROOT = Path(__file__).resolve().parents[2]

WALL_CLOCK = ("t_wall", "wall")


class _FakeClock:
    """A host clock that advances by ``step`` seconds on every reading."""

    def __init__(self, step: float) -> None:
        self.t = 1.7e9
        self.step = step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


def _session(tmp_path: Path, step: float) -> dict:
    clock = _FakeClock(step)
    tmp_path.mkdir()
    with (
        mock.patch("time.time", clock),
        mock.patch("time.monotonic", clock),
        mock.patch("time.perf_counter", clock),
    ):
        with Simulation(
            ROOT / "device_db.py", seed=7, lab="oxford2020", results_dir=tmp_path / "results"
        ) as sim:
            assert sim.run(ROOT / "repository" / "startup.py").exit_code == 0
            r = sim.run(
                ROOT / "repository" / "remote_entanglement.py",
                arguments={"mode": "z", "heralds_per_setting": 30},
            )
    assert r.exit_code == 0, r.error_message
    return r.datasets


def _timeline(datasets: dict) -> dict:
    return {k: v for k, v in datasets.items() if not any(w in k for w in WALL_CLOCK)}


@pytest.mark.slow
def test_same_seed_same_timeline_whatever_the_host_speed(tmp_path: Path) -> None:
    fast = _session(tmp_path / "fast", 1e-7)  # a host 10^6 times faster than...
    slow = _session(tmp_path / "slow", 0.3)  # ...this one (0.3 s per clock reading)
    a, b = _timeline(fast), _timeline(slow)
    assert sorted(a) == sorted(b)
    assert int(a["totals.heralds"]) == 30
    differing = [k for k in a if not np.array_equal(np.asarray(a[k]), np.asarray(b[k]))]
    assert differing == []
    # the wall-clock datasets did see the two speeds (the patch reached the experiment)
    assert fast["totals.wall_time_s"] < slow["totals.wall_time_s"]


def test_host_code_run_by_an_rpc_costs_the_kernel_nothing() -> None:
    """A kernel's RPC is charged once; the @rpc methods the host code behind it calls (e.g.
    ``set_dataset`` from a live-dataset update) are host calls, not kernel RPCs."""
    from sim import syscalls
    from sim.rtio.engine import RTIOEngine

    engine = RTIOEngine(costs="kasli2")
    calls = []

    def inner() -> None:
        calls.append("inner")

    def outer() -> None:
        calls.append("outer")
        syscalls.call_rpc(inner, (), {}, True)
        syscalls.call_rpc(inner, (), {}, False)

    prev = syscalls.activate(engine)
    try:
        c0 = engine.get_rtio_counter_mu()
        syscalls.call_rpc(outer, (), {}, True)
        charged = engine.get_rtio_counter_mu() - c0
    finally:
        syscalls.activate(prev)
    assert calls == ["outer", "inner", "inner"]
    assert charged == engine.costs.rpc_async
    # outside a kernel nothing is charged
    c1 = engine.get_rtio_counter_mu()
    syscalls.call_rpc(outer, (), {}, False)
    assert engine.get_rtio_counter_mu() == c1


def _vcd_after_a_stored_state(folder: Path) -> str:
    """Startup with seed 7 in one process's simulation, then a run with a VCD and no seed in the
    next (continuing the stored state, as the README's chain does): the VCD's text without its
    ``$date``."""
    folder.mkdir()
    paths = {"results_dir": folder / "results", "dataset_db": folder / "ds.mdb", "state": True}
    with Simulation(ROOT / "device_db.py", seed=7, lab="oxford2020", **paths) as sim:
        assert sim.run(ROOT / "repository" / "startup.py").exit_code == 0
    vcd = folder / "run.vcd"
    with Simulation(ROOT / "device_db.py", lab="oxford2020", vcd=str(vcd), **paths) as sim:
        r = sim.run(
            ROOT / "repository" / "remote_entanglement.py",
            arguments={"mode": "z", "heralds_per_setting": 20},
        )
        assert r.exit_code == 0, r.error_message
    return "\n".join(ln for ln in vcd.read_text().splitlines() if not ln.startswith("$date"))


@pytest.mark.slow
def test_a_continued_state_gives_the_same_waveform(tmp_path: Path) -> None:
    """The waveform file of a run that continues a stored state without ``--seed`` is the same
    in two labs with the same history: what it draws for the waveform alone (the clicks of the
    entangler's non-herald cycles) follows the stored stream, not fresh entropy."""
    a = _vcd_after_a_stored_state(tmp_path / "a")
    b = _vcd_after_a_stored_state(tmp_path / "b")
    assert "bsa_det0" in a and a.count("\n") > 1000
    assert a == b
