# SPDX-License-Identifier: LGPL-3.0-or-later
"""Remote-gate runs (``repository/remote_gate.py``): read a results file, reduce it with the pure
estimators of :mod:`analysis.process`, and write the report (Markdown/HTML with the Pauli transfer
matrix beside the ideal one). File access only here and in :mod:`analysis.io`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .direct_fidelity import DirectFidelity, direct_fidelity
from .estimate import DEFAULT_CL, Estimate
from .folders import report_stem, staged_outputs
from .io import DataError, Run, SchemaError, kind_problem, load
from .pooling import uncalibrated_note
from .process import CNOT, CZ, GateTomography, TruthTable, gate_tomography, grover_success
from .process import truth_table as truth_table_of
from .stop_reason import stopped_early_note

__all__ = ["GateReport", "format_gate", "gate_summary", "gate_summary_dict", "write_gate_report"]

_TARGETS = {"cz": CZ, "cnot": CNOT}
#: the analysis of a Grover run (``mode`` grover), whatever its ``gate.analysis`` says
GROVER_ANALYSIS = "grover_success"
_PROCESS_ANALYSES = ("process_tomography", "direct_fidelity")


@dataclass(frozen=True)
class GateReport:
    """What a remote-gate run gives: its mode and analysis, shots, attempts per shot, the
    feed-forward latency (herald → last correction, s), the outcomes of the network bits, and the
    process tomography, direct fidelity estimate, truth table or Grover success (whichever the
    run measured)."""

    path: str
    mode: str
    analysis: str
    shots: int
    attempts_mean: float
    latency_s: float
    network_outcomes: np.ndarray  # (4,) shots per (m_a, m_b) of the (last) teleportation
    tomography: GateTomography | None
    direct: DirectFidelity | None
    truth_table: TruthTable | None
    grover: Estimate | None
    grover_by_marked: np.ndarray | None
    notes: tuple[str, ...] = ()


def gate_summary(
    path: str | os.PathLike[str] | Run,
    *,
    cl: float = DEFAULT_CL,
    n_boot: int = 2000,
    seed: int = 0,
) -> GateReport:
    """Read and reduce one remote-gate results file (a path, or the file :func:`load` read).

    :raises AnalysisError: not a remote-gate run, or datasets missing or inconsistent.
    """
    run = path if isinstance(path, Run) else load(path)
    problem = kind_problem(run, ("remote_gate",))
    if problem is not None:
        raise SchemaError(run.path, f"{problem}; not a remote-gate run")
    try:
        return _reduce(run, cl, n_boot, seed)
    except ValueError as e:
        raise DataError(run.path, str(e)) from None


def _reduce(run: Run, cl: float, n_boot: int, seed: int) -> GateReport:
    mode = str(run["mode"])
    # Grover has its own settings (each marked state, Z basis): the analysis argument stored
    # beside it (default process_tomography) is not what it ran
    analysis = GROVER_ANALYSIS if mode == "grover" else str(run["gate.analysis"])
    if mode not in (*_TARGETS, "grover"):
        raise DataError(run.path, f"mode {mode!r} is not a remote-gate mode (cz, cnot, grover)")
    if analysis not in (GROVER_ANALYSIS, "truth_table", *_PROCESS_ANALYSES):
        raise DataError(run.path, f"gate.analysis {analysis!r} is not a remote-gate analysis")
    setting = np.asarray(run["gate.setting"], dtype=int)
    if setting.size == 0:
        raise DataError(run.path, "no shots recorded")
    table = np.array(
        [run["gate.settings." + k] for k in ("prep_a", "prep_b", "basis_a", "basis_b")], dtype=int
    ).T
    bit_a = np.asarray(run["gate.bit_a"], dtype=int)
    bit_b = np.asarray(run["gate.bit_b"], dtype=int)
    m_a = np.asarray(run["gate.m_a"], dtype=int)
    m_b = np.asarray(run["gate.m_b"], dtype=int)
    _check_shots(run, setting, len(table), bit_a, bit_b, m_a, m_b)
    last = np.where(m_a[:, 1] >= 0, 1, 0)
    rows = np.arange(len(last))
    outcomes = np.bincount(2 * m_a[rows, last] + m_b[rows, last], minlength=4)
    tomo = tt = grover = direct = None
    by_marked = None
    stopped = _stopped_early_note(run, int(setting.size))
    notes = [n for n in (stopped, uncalibrated_note(run), _underflow_note(run)) if n is not None]
    if mode == "grover":
        marked = np.asarray(run["gate.settings.marked"], dtype=int)[setting]
        correct = 2 * bit_a + bit_b == marked
        by_marked = np.array(
            [np.mean(correct[marked == k]) if np.any(marked == k) else np.nan for k in range(4)]
        )
        missing = [k for k in range(4) if np.isnan(by_marked[k])]
        if missing:
            notes.append(_missing_note("Grover search", "marked state", missing, stopped))
        else:
            grover = grover_success(marked, bit_a, bit_b, cl=cl)
    elif analysis == "truth_table":
        preps = table[setting]
        tt = truth_table_of(preps[:, 0], preps[:, 1], bit_a, bit_b, _TARGETS[mode], cl=cl)
        if tt.missing_inputs:
            notes.append(_missing_note("truth table", "input", tt.missing_inputs, stopped))
    else:
        # settings run in order: a run stopped early may lack some that the estimator needs
        try:
            if analysis == "direct_fidelity":
                direct = direct_fidelity(
                    np.asarray(run["gate.prep_bloch"]),
                    np.asarray(run["gate.basis_axes"]),
                    table,
                    np.asarray(run["gate.settings.pauli"], dtype=int),
                    setting,
                    bit_a,
                    bit_b,
                    _TARGETS[mode],
                    cl=cl,
                )
            else:
                tomo = gate_tomography(
                    np.asarray(run["gate.prep_bloch"]),
                    np.asarray(run["gate.basis_axes"]),
                    table,
                    setting,
                    bit_a,
                    bit_b,
                    _TARGETS[mode],
                    n_boot=n_boot,
                    cl=cl,
                    seed=seed,
                )
        except ValueError as e:
            if stopped is None:
                raise
            notes.append(f"no process fidelity from the shots taken: {e}")
    return GateReport(
        str(run.path),
        mode,
        analysis,
        int(setting.size),
        float(np.mean(run["gate.attempts"])),
        float(np.mean(run["gate.latency_mu"])) * 1e-9,
        outcomes,
        tomo,
        direct,
        tt,
        grover,
        by_marked,
        tuple(notes),
    )


def _check_shots(
    run: Run,
    setting: np.ndarray,
    n_settings: int,
    bit_a: np.ndarray,
    bit_b: np.ndarray,
    m_a: np.ndarray,
    m_b: np.ndarray,
) -> None:
    """Refuse per-shot datasets the estimators would misread: lengths other than the shots',
    settings outside the table, memory bits other than 0/1 (a bit of -1 would index the last
    outcome and count the shot there), network bits other than 0/1 (-1: no teleportation).

    :raises DataError: naming the first inconsistency
    """
    n = setting.size
    per_shot = {"gate.bit_a": bit_a, "gate.bit_b": bit_b, "gate.m_a": m_a, "gate.m_b": m_b}
    for key, v in per_shot.items():
        if v.ndim == 0 or len(v) != n:
            raise DataError(run.path, f"{key} has {v.size} values for {n} shots (gate.setting)")
    if setting.min() < 0 or setting.max() >= n_settings:
        raise DataError(
            run.path,
            f"gate.setting holds indices outside its table of {n_settings} settings "
            f"({setting.min()}..{setting.max()})",
        )
    for key, v, allowed in (
        ("gate.bit_a", bit_a, (0, 1)),
        ("gate.bit_b", bit_b, (0, 1)),
        ("gate.m_a", m_a, (-1, 0, 1)),
        ("gate.m_b", m_b, (-1, 0, 1)),
    ):
        bad = np.setdiff1d(np.unique(v), allowed)
        if bad.size:
            raise DataError(
                run.path,
                f"{key} holds {bad.tolist()}: a bit is 0 or 1 (not the layout of remote_gate.py)",
            )
    if m_a.ndim != 2 or m_a.shape[1] != 2 or np.any(m_a[:, 0] < 0):
        raise DataError(run.path, "gate.m_a is not one or two network bits per shot")


def _stopped_early_note(run: Run, shots: int) -> str | None:
    """A note for a run that ended before its requested shots (None: complete, or the file
    does not say)."""
    requested = run.values.get("totals.shots_requested")
    of = "" if requested is None else f" of {int(requested)}"
    return stopped_early_note(run, f"{shots}{of} shots", last="shot")


def _underflow_note(run: Run) -> str | None:
    """A note for a run whose shots underflowed and were taken again (None: none, or the file
    does not say): which shots underflow depends on their outcomes (the kernel's feed-forward
    has more to play for some), so the shots kept may be selected by them."""
    n = int(run.values.get("totals.underflows_recovered", 0))
    if n == 0:
        return None
    retried = ""
    total = run.values.get("totals.attempts")
    if total is not None:
        spent = int(total) - int(np.sum(run["gate.attempts"]))
        if spent > 0:
            retried = (
                f" (the shots not kept took {spent} attempts: in totals.attempts, not in "
                "attempts per shot)"
            )
    return (
        f"{n} shot(s) underflowed and were taken again{retried}: the shots kept may be "
        "selected by their outcomes (a reset's flips, the corrections); a run with more "
        "correction_delay has none"
    )


def _ket(k: int) -> str:
    return f"|{k >> 1}{k & 1}>"


def _missing_note(what: str, kind: str, missing: list[int], stopped: str | None) -> str:
    """The note of a truth table or Grover search lacking some of its four computational
    states (``kind``: input or marked state): its figure is over all four, so it is n/a."""
    early = " (a run ended early)" if stopped is not None else ""
    states = ", ".join(_ket(k) for k in missing)
    figure = "truth-table fidelity" if what == "truth table" else "Grover success"
    return (
        f"{what} incomplete{early}: no shots of {kind}(s) {states}; the {figure} "
        "(over all four) is n/a"
    )


def gate_summary_dict(rep: GateReport) -> dict[str, Any]:
    """JSON-ready summary: ``process_fidelity`` and ``average_gate_fidelity`` (each ``value``,
    ``ci_low``, ``ci_high``, ``cl``, ``method``; ``null`` unless process tomography or direct
    fidelity estimation), ``process_fidelity_sigma`` (the direct estimate's standard error, else
    ``null``), ``truth_table_fidelity``, ``grover_success``, ``shots``, ``attempts_mean``,
    ``feed_forward_latency_s``, ``network_outcomes``, ``mode``, ``analysis`` (``grover_success``
    for a Grover run, else the run's ``gate.analysis``), ``file``,
    ``notes`` (e.g. a run taken uncalibrated, or stopped before all its settings had shots: its
    figure is then ``null``)."""
    t: GateTomography | DirectFidelity | None = rep.tomography or rep.direct
    return {
        "file": rep.path,
        "mode": rep.mode,
        "analysis": rep.analysis,
        "shots": rep.shots,
        "process_fidelity": t.process_fidelity.to_dict() if t else None,
        "average_gate_fidelity": t.average_gate_fidelity.to_dict() if t else None,
        "process_fidelity_sigma": rep.direct.sigma if rep.direct else None,
        "truth_table_fidelity": (
            rep.truth_table.fidelity.to_dict()
            if rep.truth_table and rep.truth_table.fidelity
            else None
        ),
        "grover_success": rep.grover.to_dict() if rep.grover else None,
        "attempts_mean": rep.attempts_mean,
        "feed_forward_latency_s": rep.latency_s,
        "network_outcomes": [int(x) for x in rep.network_outcomes],
        "notes": list(rep.notes),
    }


def format_gate(rep: GateReport) -> str:
    """A few lines for the terminal."""
    what = "Grover search success" if rep.analysis == GROVER_ANALYSIS else rep.analysis
    lines = [f"remote gate: {rep.mode} ({what}), {rep.shots} shots, {rep.path}"]
    if rep.tomography:
        lines.append(f"process fidelity:      {rep.tomography.process_fidelity}")
        lines.append(f"average gate fidelity: {rep.tomography.average_gate_fidelity}")
    if rep.direct:
        lines.append(f"process fidelity:      {rep.direct.process_fidelity}")
        lines.append(f"  standard error:      {rep.direct.sigma:.4f}")
        lines.append(f"average gate fidelity: {rep.direct.average_gate_fidelity}")
    if rep.analysis in _PROCESS_ANALYSES and not (rep.tomography or rep.direct):
        lines.append("process fidelity:      n/a (see the notes)")
    tt = rep.truth_table
    if tt:
        missing = ", ".join(_ket(k) for k in tt.missing_inputs)
        fid = tt.fidelity if tt.fidelity else f"n/a (no shots of input(s) {missing})"
        lines.append(f"truth table fidelity:  {fid}")
        for i, row in enumerate(tt.table):
            cells = " ".join(f"{x:.3f}" for x in row) if tt.shots[i] else "no shots"
            lines.append(f"  in {_ket(i)}: {cells}")
    if rep.grover:
        lines.append(f"Grover success:        {rep.grover}")
    elif rep.analysis == GROVER_ANALYSIS and rep.grover_by_marked is not None:
        missing = ", ".join(_ket(int(k)) for k in np.flatnonzero(np.isnan(rep.grover_by_marked)))
        lines.append(f"Grover success:        n/a (no shots of marked state(s) {missing})")
    lines.append(
        f"attempts per shot {rep.attempts_mean:.0f}; feed-forward (herald -> last correction) "
        f"{rep.latency_s * 1e6:.1f} us; network outcomes (m_a m_b = 00 01 10 11) "
        f"{' '.join(str(int(x)) for x in rep.network_outcomes)}"
    )
    lines += [f"note: {n}" for n in rep.notes]
    return "\n".join(lines)


def _ptm_figure(t: GateTomography, mode: str) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [a + b for a in "IXYZ" for b in "IXYZ"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2))
    for ax, m, title in (
        (axes[0], t.ptm, f"measured (F_pro = {t.process_fidelity.value:.3f})"),
        (axes[1], t.ptm_ideal, f"ideal {mode.upper()}"),
    ):
        im = ax.imshow(m, cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_xticks(range(16), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(16), labels, fontsize=7)
        ax.set_xlabel("input Pauli")
        ax.set_ylabel("output Pauli")
        ax.set_title(title)
    fig.colorbar(im, ax=axes, shrink=0.8)
    return fig


def write_gate_report(
    rep: GateReport, output: str | os.PathLike[str], *, formats: tuple[str, ...] = ("md", "html")
) -> list[Path]:
    """Write ``<stem>.md``/``.html`` and the Pauli-transfer-matrix PNG next to them (``output``
    a report path, as :func:`analysis.report.write_report`'s)."""
    from .report import to_html

    parent, stem = report_stem(output)
    parent.mkdir(parents=True, exist_ok=True)
    with staged_outputs(parent) as stage:
        md = [f"# Remote gate: {rep.mode}", "", "```", format_gate(rep), "```", ""]
        if rep.tomography:
            png = f"{stem}-ptm.png"
            fig = _ptm_figure(rep.tomography, rep.mode)
            fig.savefig(stage / png, dpi=110, bbox_inches="tight")
            import matplotlib.pyplot as plt

            plt.close(fig)
            md += [
                "Pauli transfer matrix R_ij = Tr(P_i Φ(P_j))/4 of the CPTP maximum-likelihood",
                "estimate (left) beside the ideal gate's (right).",
                "",
                f"![Pauli transfer matrix]({png})",
                "",
            ]
        text = "\n".join(md)
        if "md" in formats:
            (stage / f"{stem}.md").write_text(text, encoding="utf-8")
        if "html" in formats:
            (stage / f"{stem}.html").write_text(
                to_html(text, f"Remote gate {rep.mode}"), encoding="utf-8"
            )
        written = [parent / q.name for q in stage.iterdir()]
    return sorted(written)
