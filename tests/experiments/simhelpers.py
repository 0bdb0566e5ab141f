# SPDX-License-Identifier: LGPL-3.0-or-later
"""Helpers for running repository experiments in the simulator (tests and benchmarks)."""

import math
from pathlib import Path

from sim.lab_datasets import calibration_datasets as lab_calibration  # noqa: F401 (re-export)

ROOT = Path(__file__).resolve().parents[2]
REPO = ROOT / "repository"


def simulation(
    tmp_path,
    lab="oxford2020",
    seed=1,
    calibration=True,
    startup=True,
    device_db="device_db.py",
    write_results=False,
    **options,
):
    """A :class:`sim.runner.Simulation` on the repository's ``device_db`` with ``lab`` (a preset's
    name, a lab file or a lab), an in-memory dataset store seeded with the lab's calibrations, and
    results files only with ``write_results``; ``options``: more of the simulation's keyword
    arguments (``vcd``, ``tag_feed``, ...). With ``startup`` the Startup experiment has run (as
    after a power-up in the lab: the Urukuls need their init)."""
    from sim.lab_resolution import resolve_lab
    from sim.runner import Simulation

    lab_obj = resolve_lab(lab, None)
    s = Simulation(
        ROOT / device_db,
        seed=seed,
        lab=lab_obj,
        results_dir=tmp_path / "results",
        dataset_db=False,
        write_results=write_results,
        **options,
    )
    if calibration:
        for key, value in lab_calibration(lab_obj).items():
            s.dataset_db.set(key, value, persist=True)
    if startup:
        run(s, "startup")
    return s


def run(sim, name, **arguments):
    """Run ``repository/<name>.py``; assert it succeeded; return its datasets."""
    result = sim.run(REPO / (name + ".py"), None, arguments)
    assert result.exit_code == 0, result.error_message
    return result.datasets


def assert_lab_duty_is_the_budgets(d: dict, budget: dict) -> None:
    """The run's ``totals.duty_cycle`` (attempt cycles' share of lab time) within 4σ + 0.5 % of
    the budget's ``lab_duty_cycle``: its noise is that of the heralds' handling share of lab time
    (T_herald·R), which moves with the number of heralds (relative σ ≈ 1/√n); the loop's own
    duty cycle D is several % (gateware) to 3× (CPU) away."""
    n = int(d["totals.heralds"])
    expected = budget["lab_duty_cycle"]
    share = budget["herald_time_s"] * budget["rate_hz"]
    tol = expected * (4 * share / math.sqrt(n) + 0.005)
    assert abs(d["totals.duty_cycle"] - expected) < tol, (d["totals.duty_cycle"], expected, tol)


def engine_state(sim) -> dict:
    """What a session's engine and physics leave behind, for comparing two runs exactly: the
    cursor and counter, the SED lanes and their queues, every channel's log, the generator's state
    (every draw made), the ions' state bit for bit and their temperatures."""
    eng, world = sim.session.engine, sim.session.world
    return dict(
        clocks=(eng.now, eng.counter),
        lanes=(eng._lane, eng._last_c, list(eng._lane_last), [list(q) for q in eng._lane_q]),
        logs={ch: list(st.raw) for ch, st in eng.channels.items()},
        rng=repr(eng.rng.bit_generator.state),
        ions=(world.rho.tobytes(), [t.n for t in world.ions.thermal]),
    )
