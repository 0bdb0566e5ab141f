# SPDX-License-Identifier: LGPL-3.0-or-later
"""Which remote-entanglement arguments the error budget follows, and as what: the one registry
(:data:`COUNTERPARTS`) that turns a run's arguments into the budget's inputs.

The budget (:mod:`sim.physics.budget`) predicts the loop of a lab description's ``[loop]`` played
by the gateware experiment. An argument given to the experiment changes what it plays, so a
budget beside a run must follow it. Each argument the experiment declares is one of:

- a lab key: the argument plays what the lab's key describes (``cooling_time`` is
  ``loop.cool_s``); the budget's lab gets the argument's value there;
- a budget argument: a field of :class:`~sim.physics.budget.LoopArguments`, or the analysis mode;
- neither, with no effect on the budget's figures (it only acts on an underflow, a stop or a
  failure, which the budget does not predict);
- not modelled: the run depends on it and the budget cannot say how; a budget beside such an
  argument would be a wrong number, so there is none (:attr:`BudgetInputs.unmodelled`).

``tests/sweep/test_sweep_budget.py`` checks that the registry names every argument the experiment
declares, so an argument added later has to be classified here.

Besides its arguments a run plays the detection gate of its single-photon calibration
(``calib.photon.gate_start_mu``/``gate_stop_mu``, archived in its results file), which may sit a
nanosecond or more off the lab's nominal gate: :func:`calibrated_gate` gives it to the budget
(:attr:`~sim.physics.budget.LoopArguments.gate_mu`), so that a budget beside a run predicts the
gate the run played.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "COUNTERPARTS",
    "CPU_COUNTERPARTS",
    "LOOP_OPTIONS",
    "add_loop_options",
    "assumed_lines",
    "loop_options",
    "BudgetInputs",
    "Counterpart",
    "budget_inputs",
    "calibrated_gate",
    "played_gate",
    "unmodelled",
    "unmodelled_note",
]


@dataclass(frozen=True)
class Counterpart:
    """How one experiment argument enters the budget (at most one of the fields is set).

    :param lab_key: the lab description's dotted key the argument's value (same unit) replaces.
    :param budget: the budget's own input it is: ``mode`` or a field of
        :class:`~sim.physics.budget.LoopArguments`.
    :param unmodelled: why the budget cannot follow it (empty when it can).
    """

    lab_key: str = ""
    budget: str = ""
    unmodelled: str = ""


#: every argument of the remote-entanglement experiment → its place in the budget
COUNTERPARTS: dict[str, Counterpart] = {
    "mode": Counterpart(budget="mode"),
    "heralds_per_setting": Counterpart(budget="heralds_per_setting"),
    "parity_points": Counterpart(budget="parity_points"),
    "cooling_time": Counterpart(lab_key="loop.cool_s"),
    "slack_margin": Counterpart(budget="slack_margin_s"),
    "cycle_length": Counterpart(lab_key="loop.cycle_s"),
    "run_duration": Counterpart(lab_key="loop.run_s"),
    # the pump window's length is the pumping each attempt has; the excitation's time moves the
    # gate with it (the gateware figures do not depend on it, the CPU loop's reads do)
    "pump_start": Counterpart(budget="pump_start_s"),
    "pump_stop": Counterpart(budget="pump_stop_s"),
    "excite_time": Counterpart(budget="excite_time_s"),
    "check_every": Counterpart(budget="check_every"),
    # acts only after an underflow, at a stop or on a dead link: not in the budget's figures
    "readout_delay": Counterpart(),
    "max_wall_time": Counterpart(),
    "herald_timeout": Counterpart(),
}

#: every argument of the CPU-heralding experiment (``remote_entanglement_cpu.py``): the
#: gateware's but ``run_duration``; it re-cools every ``attempts_per_cool`` attempts (the CPU
#: budget's input of that name) and pauses every ``check_every`` attempts
CPU_COUNTERPARTS: dict[str, Counterpart] = {
    **{name: c for name, c in COUNTERPARTS.items() if name != "run_duration"},
    "attempts_per_cool": Counterpart(budget="attempts_per_cool"),
}


@dataclass(frozen=True)
class BudgetInputs:
    """The budget of one run's arguments: ``budget_dict(resolve_lab(lab, …, overrides), mode,
    two_chassis, LoopArguments(**arguments))``; none when :attr:`unmodelled` is not empty.

    :param overrides: ``KEY=VALUE`` lab overrides standing for arguments (after the run's own).
    :param mode: the analysis mode. :param arguments: fields of ``LoopArguments`` that differ
        from the experiment's defaults. :param unmodelled: arguments given that the budget does
        not model.
    """

    overrides: tuple[str, ...]
    mode: str
    arguments: dict[str, Any]
    unmodelled: tuple[str, ...]


def budget_inputs(
    arguments: Mapping[str, Any],
    mode: str = "parity",
    counterparts: Mapping[str, Counterpart] = COUNTERPARTS,
) -> BudgetInputs:
    """The budget's inputs for a run of the remote-entanglement experiment with ``arguments``
    (values in SI units, as the experiment takes them; ``mode`` unless an argument sets it);
    ``counterparts``: the registry of the experiment's heralding path (:data:`COUNTERPARTS`,
    :data:`CPU_COUNTERPARTS`).

    :raises KeyError: an argument the registry does not know (the experiment's declared arguments
        are checked before, so this is a registry out of date)."""
    overrides: list[str] = []
    loop: dict[str, Any] = {}
    for name, value in arguments.items():
        counterpart = counterparts[name]
        if counterpart.unmodelled:
            continue
        if counterpart.lab_key:
            overrides.append("{}={}".format(counterpart.lab_key, json.dumps(value)))
        elif counterpart.budget == "mode":
            mode = str(value)
        elif counterpart.budget:
            loop[counterpart.budget] = value
    return BudgetInputs(tuple(overrides), mode, loop, tuple(unmodelled(arguments, counterparts)))


#: the calibration datasets of the detection gate a link experiment plays (mu from the excitation)
GATE_DATASETS = ("calib.photon.gate_start_mu", "calib.photon.gate_stop_mu")


def calibrated_gate(calibrations: Mapping[str, Any]) -> tuple[int, int] | None:
    """The detection gate ``(start, stop)`` in mu from the excitation pulse start that a run
    with ``calibrations`` (dataset key → value, e.g. its results file's ``archive/``) played;
    None when it read no single-photon calibration (the experiment's defaults are no gate a
    lab would use, and the budget keeps the lab's nominal one)."""
    if not all(key in calibrations for key in GATE_DATASETS):
        return None
    start, stop = (int(calibrations[key]) for key in GATE_DATASETS)
    return start, stop


def played_gate(results_file: str | os.PathLike[str]) -> tuple[int, int] | None:
    """:func:`calibrated_gate` of the run of ``results_file`` (its ``archive/``: the calibration
    datasets it read)."""
    from analysis import load

    run = load(results_file)
    return calibrated_gate({k: run.read(k, "archive") for k in GATE_DATASETS if k in run.archive})


def unmodelled(
    names: Iterable[str], counterparts: Mapping[str, Counterpart] = COUNTERPARTS
) -> list[str]:
    """The arguments among ``names`` that the budget does not model (in their order)."""
    return [name for name in names if counterparts[name].unmodelled]


def unmodelled_note(
    names: tuple[str, ...] | list[str], counterparts: Mapping[str, Counterpart] = COUNTERPARTS
) -> str:
    """One line: the budget does not model the arguments ``names``, and why."""
    by_reason: dict[str, list[str]] = {}
    for name in names:
        by_reason.setdefault(counterparts[name].unmodelled, []).append(name)
    return "; ".join(
        "the budget does not model argument{} {} ({})".format(
            "s" if len(group) > 1 else "", ", ".join(repr(n) for n in group), reason
        )
        for reason, group in by_reason.items()
    )


#: the budget command's options that are experiment arguments the loop timing follows:
#: (option, argument, type, help)
LOOP_OPTIONS = (
    (
        "--slack-margin",
        "slack_margin_s",
        float,
        "the run's slack_margin in s, as the experiment takes it (default: the experiment's, "
        "3e-6 gateware, 1.8e-6 cpu)",
    ),
    (
        "--check-every",
        "check_every",
        int,
        "the run's check_every: entangler runs (cpu: attempts) between pause checks, each a "
        "synchronous RPC (default: the experiment's, 500)",
    ),
    (
        "--pump-start",
        "pump_start_s",
        float,
        "the run's pump_start in s (the pump window's start in the cycle; default: "
        "calib.link.pump_start_s)",
    ),
    (
        "--pump-stop",
        "pump_stop_s",
        float,
        "the run's pump_stop in s (the pump window's end; the ion is pumped for stop - start; "
        "default: calib.link.pump_stop_s)",
    ),
    (
        "--attempts-per-cool",
        "attempts_per_cool",
        int,
        "--path cpu: the run's attempts_per_cool (default: the experiment's, calib.link.run_s "
        "over the cycle)",
    ),
    (
        "--excite-time",
        "excite_time_s",
        float,
        "--path cpu: the run's excite_time in s (the reads wait for the gate after it; default: "
        "calib.link.excite_time_s)",
    ),
)


def add_loop_options(parser: Any) -> None:
    """Add :data:`LOOP_OPTIONS` to the ``budget`` command's ``parser``."""
    for option, _, kind, text in LOOP_OPTIONS:
        parser.add_argument(option, type=kind, default=None, metavar="X", help=text)


def loop_options(args: Any) -> dict[str, Any]:
    """The :class:`~sim.physics.budget.LoopArguments` fields the ``budget`` command's options
    ``args`` set (``--heralds-per-setting``, ``--parity-points`` and :data:`LOOP_OPTIONS`),
    checked as the experiment of heralding path ``args.path`` checks its arguments.

    :raises ValueError: a value the experiment would refuse, or an option with ``--gate``
        (one line)."""
    from drivers.link_timing import MIN_SLACK_MARGIN_S

    options = [
        ("--heralds-per-setting", "heralds_per_setting"),
        ("--parity-points", "parity_points"),
    ] + [(option, name) for option, name, _, _ in LOOP_OPTIONS]
    out: dict[str, Any] = {}
    for option, name in options:
        value = getattr(args, name.removesuffix("_s"))
        if value is None:
            continue
        floor = {
            "slack_margin_s": MIN_SLACK_MARGIN_S[args.path],
            "excite_time_s": 0.0,
            "pump_start_s": 0.0,
            "pump_stop_s": 0.0,
        }.get(name, 1)
        if not value >= floor:
            raise ValueError(
                "{} {:g}: below the {} loop's minimum {:g} s (the experiment refuses it)".format(
                    option, value, args.path, floor
                )
                if name == "slack_margin_s"
                else "{} {}: need at least {}".format(option, value, floor)
            )
        if args.gate:
            raise ValueError("{} is for the entanglement budget, not with --gate".format(option))
        if name == "attempts_per_cool" and args.path != "cpu":
            raise ValueError(
                "{} is an argument of the CPU loop (--path cpu); the entangler re-cools after "
                "each run (--set loop.run_s=…)".format(option)
            )
        if name == "excite_time_s" and args.path != "cpu":
            raise ValueError(
                "{}: the CPU loop's reads wait for it (--path cpu); the entangler's figures do "
                "not depend on it (its gate follows the excitation)".format(option)
            )
        out[name] = value
    return out


def assumed_lines(d: dict) -> list[str]:
    """The gateware budget's lines naming what it assumes of a run besides its gate and mode
    (``d``: a budget dict's ``slack_margin_s``, ``check_every``, ``pulses_s``, ``readout_s``):
    the arguments it follows and how to give a run's own."""
    pump0, pump1, excite = (x * 1e9 for x in d["pulses_s"])
    return [
        (
            f"  the run's arguments assumed            slack_margin {d['slack_margin_s']:g} s, "
            f"check_every {d['check_every']} (--slack-margin, --check-every)"
        ),
        (
            f"    pump [{pump0:.0f}, {pump1:.0f}) ns, excitation at {excite:.0f} ns (a run's "
            "pump_start/pump_stop: --pump-start, --pump-stop; default calib.link.*)"
        ),
        (
            "    readout {:g}, {:g} µs (nodes' readout.duration_s; a readout calibration with "
            "another detection_time: --set)".format(*(x * 1e6 for x in d["readout_s"]))
        ),
    ]
