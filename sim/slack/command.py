# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-sim slack EXPERIMENT [KEY=VALUE ...]``: underflow risk per kernel source line.

Runs the experiment once with the cost profile's mean costs (the deterministic timeline of
``ionlink-sim run``) and then ``--runs`` times with drawn CPU costs (:mod:`sim.rtio.cost_spread`),
in one simulated session continuing the lab's stored hardware state (as ``run`` does after
Startup) and reading its dataset store — **read-only**: no results files, no dataset or state
written, the lab stays as it was. A :class:`~sim.slack.probe.SlackProbe` records every
submission's slack by source line; :func:`sim.slack.report.summarise` turns the runs into one
estimate per line (:mod:`sim.slack.estimate` for the method). A run that ends in an uncaught
``RTIOUnderflow`` is an observation (the underflow is counted); any other failure stops with its
message (exit status 1).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from drivers.timing_spread import SPREAD_KEYS
from sim.seed import seed_arg
from sim.slack.estimate import DEFAULT_TARGET
from sim.slack.probe import RunSlack, SlackProbe
from sim.slack.report import format_table, summarise

__all__ = ["add_parser", "cmd_slack", "SlackRuns", "SlackRunFailed", "run_slack"]

PROFILES = ("kasli2", "kasli_soc", "calibrated")


def add_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> Any:
    """Register ``slack`` on the subparsers ``sub`` (``common`` adds -q/-v/--debug)."""
    p = sub.add_parser(
        "slack", help="underflow risk per kernel line: N runs with drawn CPU costs (read-only)"
    )
    p.add_argument("file", metavar="EXPERIMENT", help="experiment file")
    p.add_argument("arguments", metavar="KEY=VALUE", nargs="*", help="arguments, values in PYON")
    p.add_argument("-c", "--class-name", default=None, help="name of the class to run")
    p.add_argument("--device-db", default="device_db.py", help="device database (%(default)s)")
    p.add_argument(
        "--dataset-db", default=None, help="dataset store read (default: ./dataset_db.mdb)"
    )
    p.add_argument(
        "--lab",
        default=None,
        help="lab description (default: lab.toml next to the device db; 'none': no physics)",
    )
    p.add_argument(
        "--seed",
        type=seed_arg,
        default=None,
        help="seed of a power-up; a stored hardware state continues its own random stream "
        "(default), another seed re-seeds it, as with run",
    )
    p.add_argument("-n", "--runs", type=int, default=20, help="runs with drawn costs (%(default)s)")
    p.add_argument(
        "--target",
        type=float,
        default=DEFAULT_TARGET,
        help="underflow probability per run the margin keeps to (%(default)g)",
    )
    p.add_argument(
        "--profile",
        default="kasli2",
        choices=PROFILES,
        help="CPU-cost profile; calibrated: the calib.timing.* datasets (%(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list, one entry per line")
    p.add_argument(
        "--vcd", default=None, help="VCD of all runs, RTIO exceptions under rtio.exceptions"
    )
    common(p)
    return p


class SlackRunFailed(Exception):
    """A run failed otherwise than by an RTIO underflow; ``exit_code`` is that run's (2 bad
    input, 1 the experiment raised, ≥ 128 terminated by a signal)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class SlackRuns:
    """The nominal run and the drawn runs' slack (what :func:`run_slack` returns); ``seed``: the
    seed of the random stream they ran on (the stored state's power-up seed when none was given;
    None: unseeded)."""

    nominal: RunSlack
    runs: list[RunSlack]
    exit_codes: list[int]
    seed: int | None
    #: the store's ``calib.timing.*`` datasets the drawn costs came from (``--profile
    #: calibrated``; empty otherwise)
    timing: dict[str, Any] = field(default_factory=dict)


def _profile(name: str, store: Any) -> tuple[Any, Any]:
    """``(cost profile, spread)`` of ``--profile`` (calibrated: from the dataset store)."""
    from sim.rtio.cost_spread import SPREADS, CostSpread
    from sim.rtio.costs import PROFILES, CostProfile

    if name != "calibrated":
        return PROFILES[name], SPREADS[name]
    data = _timing(store)
    if not data:
        from sim.runner import InputError

        raise InputError(
            "--profile calibrated: no calib.timing.* datasets (run timing_calibration)"
        )
    return CostProfile.from_dataset(data), CostSpread.from_dataset(data)


def run_slack(
    file: str,
    arguments: dict,
    *,
    runs: int,
    class_name: str | None = None,
    device_db: str = "device_db.py",
    dataset_db: str | None = None,
    lab: Any = None,
    seed: int | None = None,
    profile: str = "kasli2",
    vcd: str | None = None,
    progress: bool = False,
    lab_required: bool = False,
) -> SlackRuns:
    """Run ``file`` once with mean costs, then ``runs`` times with drawn costs; the probe's runs.

    :raises InputError: bad input; :raises SlackRunFailed: a run failed otherwise than by an
        underflow (the message names the run). ``lab_required``: as
        :class:`~sim.runner.Simulation`'s (the command line's)."""
    from sim.lab_stores import copied_store
    from sim.runner import InputError, Simulation

    if runs < 2:
        raise InputError("--runs must be at least 2")
    store_path = dataset_db if dataset_db is not None else "dataset_db.mdb"
    store = copied_store(pathlib.Path(store_path))
    profile_p, spread = _profile(profile, store)
    timing = _timing(store) if profile == "calibrated" else {}
    probe = SlackProbe()
    out: list[RunSlack] = []
    codes: list[int] = []
    with Simulation(
        device_db,
        seed=seed,
        lab=lab,
        lab_required=lab_required,
        dataset_db=store_path,
        vcd=vcd,
        state=True,
        read_only=True,
        cost_profile=profile_p,
        engine_setup=probe.attach,
    ) as sim:
        bar = _bar(progress, runs + 1)
        nominal = None
        for k in range(runs + 1):
            if k == 1:
                sim.drawn_costs = spread
            probe.start_run()
            result = sim.run(file, class_name, arguments)
            slack = probe.end_run()
            underflowed = any(line.underflows for line in slack.lines.values())
            if result.exit_code != 0 and not (
                underflowed and "RTIOUnderflow" in type(result.exception).__name__
            ):
                what = "the mean-cost run" if k == 0 else f"drawn run {k}"
                raise SlackRunFailed(
                    f"{what}: {result.error_message or result.status}", result.exit_code
                )
            if k == 0:
                nominal = slack
            else:
                out.append(slack)
                codes.append(result.exit_code)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
    assert nominal is not None
    return SlackRuns(nominal, out, codes, sim.seed, timing)


def _bar(enabled: bool, total: int) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="slack runs", unit="run", leave=False, file=sys.stderr)


def cmd_slack(args: argparse.Namespace) -> int:
    """``ionlink-sim slack``: the table (or ``--json`` list) of every line that submits events."""
    from sim.experiment_file import check_experiment_file
    from sim.runner import InputError, parse_arguments
    from sim.termination import signals_interrupt

    arguments = parse_arguments(args.arguments)
    check_experiment_file(args.file)
    if not 0 < args.target < 0.5:
        raise InputError("--target must lie in (0, 0.5)")
    with signals_interrupt():
        try:
            result = run_slack(
                args.file,
                arguments,
                runs=args.runs,
                class_name=args.class_name,
                device_db=args.device_db,
                dataset_db=args.dataset_db,
                lab=args.lab,
                seed=args.seed,
                profile=args.profile,
                vcd=args.vcd,
                progress=not args.quiet and sys.stderr.isatty(),
                lab_required=True,
            )
        except SlackRunFailed as exc:
            if exc.exit_code >= 128:
                sys.stderr.write("ionlink-sim: terminated ({})\n".format(exc))
            else:
                sys.stderr.write("ionlink-sim: error: {}\n".format(" ".join(str(exc).split())))
            return exc.exit_code
    estimates = summarise(result.nominal, result.runs, args.target)
    if args.json:
        print(json.dumps([e.to_dict() for e in estimates], indent=1))
        return 0
    title = (
        "slack per kernel line (mu): {} with mean costs, then {} runs with drawn {} costs "
        "({}); margin = slack the line needs in the mean-cost run for p_underflow <= {:g} "
        "per run".format(
            args.file,
            args.runs,
            args.profile,
            "no seed" if result.seed is None else f"seed {result.seed}",
            args.target,
        )
    )
    print(format_table(estimates, title))
    if estimates:
        print("method: " + estimates[0].method)
    note = calibrated_spread_note(result.timing)
    if note:
        print(note)
    return 0


def _timing(store: Any) -> dict[str, Any]:
    """The ``calib.timing.*`` datasets of ``store`` (the timing calibration's)."""
    return {k: v[1] for k, v in store.data.items() if k.startswith("calib.timing.")}


def calibrated_spread_note(data: dict[str, Any]) -> str:
    """What the timing calibration's samples leave open about the slow events the drawn costs
    use (``calib.timing.<name>_p_slow_ci``, ``_slow_mu_ci``, ``_samples``): one line per
    operation; empty for a store calibrated before they were stored."""
    lines = []
    for name in SPREAD_KEYS:
        ci = data.get(f"calib.timing.{name}_p_slow_ci")
        if ci is None:
            continue
        p = float(data.get(f"calib.timing.{name}_p_slow", 0.0))
        slow = float(data.get(f"calib.timing.{name}_slow_mu", 0.0))
        lo, hi = data.get(f"calib.timing.{name}_slow_mu_ci", [0.0, -1.0])
        excess = f"{slow:g} [{lo:.0f}, {'inf' if hi < 0 else f'{hi:.0f}'}] mu"
        lines.append(
            f"  {name}: p_slow {p:.2g} [{ci[0]:.2g}, {ci[1]:.2g}], slow excess {excess} "
            f"({int(data.get(f'calib.timing.{name}_samples', 0))} samples)"
        )
    if not lines:
        return ""
    head = (
        "calibrated slow events (95 % intervals from the timing calibration's samples; the "
        "drawn costs use the point values, so a margin is only as sure as these):"
    )
    return "\n".join([head, *lines])
