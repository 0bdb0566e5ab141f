# SPDX-License-Identifier: LGPL-3.0-or-later
"""The fidelity estimator of the remote-entanglement summary (:mod:`analysis.summary`): the
runs' common readout errors for the SPAM correction, and the fidelity estimates of the outcome
tables as ``mode`` asks (the parity-scan fit, correlations and tomography, or only the bound
F ≤ P_odd), each ψ sign's part and their combination, with notes on what is n/a and why."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import bell
from . import tomography as tomo
from .estimate import Estimate
from .herald_table import OutcomeTables
from .io import DataError
from .remote_runs import RunTotals, stopped_early_note

__all__ = [
    "Fidelities",
    "boundary_note",
    "estimate",
    "partial_scan_note",
    "pooled_p_odd",
    "prefix",
    "programmed_phases",
    "psi_name",
    "readout_errors",
    "readout_sigmas",
]


def readout_errors(
    per_run: list[tuple[float, float]] | None, notes: list[str]
) -> tuple[float, float] | None:
    """The runs' common readout errors for the SPAM correction, or ``None`` (noted why)."""
    if per_run is None:
        return None
    errs = set(per_run)
    if len(errs) > 1:
        notes.append("readout errors differ between runs: no SPAM correction")
        return None
    e = errs.pop()
    if not all(0 <= x < 0.5 for x in e):
        notes.append(f"readout errors {e} outside [0, 0.5): no SPAM correction")
        return None
    return e


def readout_sigmas(
    per_run: list[tuple[float, float]] | None, errs: tuple[float, float] | None
) -> tuple[float, float] | None:
    """The standard errors of the runs' common readout errors (one calibration: the same in
    every run), or ``None`` where a run lacks them (the correction then takes the errors as
    exact and says so)."""
    if errs is None or per_run is None or len(set(per_run)) != 1:
        return None
    sa, sb = per_run[0]
    return (sa, sb) if sa >= 0 and sb >= 0 else None


@dataclass(frozen=True)
class Fidelities:
    """What :func:`estimate` gives: per-ψ parts and tomography, the combined (and SPAM-corrected)
    fidelity with the estimator's name."""

    parts: dict[int, bell.BellFidelity]
    tomography: dict[int, tomo.TomographyResult]
    fidelity: Estimate | None
    fidelity_spam: Estimate | None
    estimator: str
    notes: list[str]


def estimate(
    tables: OutcomeTables,
    modes: list[str],
    *,
    cl: float,
    n_boot: int,
    rng: np.random.Generator,
    errs: tuple[float, float] | None,
    with_tomo: bool,
    names: list[str],
    sigmas: tuple[float, float] | None = None,
    programmed: int | None = None,
) -> Fidelities:
    """The fidelity estimates of ``tables``; ``programmed``: the distinct analysis phases (mod
    1/2 turn) the runs programmed for their X/Y heralds (None: not recorded). The fringe fit
    needs 3: a detection-time phase correction spreads one programmed phase over a few
    hundredths of a turn, which makes the fit's design full rank but leaves the coherence
    undetermined (it was fitted to 1, its bootstrap interval collapsed to [1, 1])."""
    counts, scans = tables.counts, tables.scans
    parts: dict[int, bell.BellFidelity] = {}
    tomos: dict[int, tomo.TomographyResult] = {}
    kind = "parity" if "parity" in modes else modes[0]
    lacking: dict[int, str] = {}  # ψ sign → why its part is n/a
    for s, c in counts.items():
        try:
            if kind == "parity":
                # a ψ without the heralds its estimate needs is n/a, as in the other modes
                if s not in scans:
                    lacking[s] = "no X/Y (parity-scan) heralds"
                    continue
                if programmed is not None and programmed < 3:
                    lacking[s] = (
                        f"X/Y heralds at {programmed} programmed analysis phase(s) (mod 1/2 "
                        "turn); the parity fit needs at least 3 (the detection-time phase "
                        "correction only spreads each one)"
                    )
                    continue
                sc = scans[s]
                gap = bell.parity_scan_gap(c[0, 0], sc.phase_turns, sc.n)
                if gap is not None:
                    lacking[s] = gap
                    continue
                parts[s] = bell.fidelity_parity_scan(
                    c[0, 0],
                    sc.phase_turns,
                    sc.n_even,
                    sc.n,
                    psi=s,
                    cl=cl,
                    n_boot=n_boot,
                    rng=rng,
                    readout_errors=errs,
                    readout_sigmas=sigmas,
                )
            elif c[1, 1].sum() and c[2, 2].sum() and c[0, 0].sum():
                parts[s] = bell.fidelity_correlations(
                    c[1, 1],
                    c[2, 2],
                    c[0, 0],
                    psi=s,
                    cl=cl,
                    n_boot=n_boot,
                    rng=rng,
                    readout_errors=errs,
                    readout_sigmas=sigmas,
                )
                if with_tomo and kind == "tomography" and np.all(c.sum(axis=-1) > 0):
                    tomos[s] = tomo.tomography(c, psi=s, cl=cl, rng=rng, readout_errors=errs)
            elif kind == "tomography":
                empty = [nm for nm, i in (("XX", 1), ("YY", 2), ("ZZ", 0)) if not c[i, i].sum()]
                lacking[s] = f"no heralds in setting(s) {', '.join(empty)}"
        except ValueError as e:
            raise DataError(names, f"{psi_name(s)}: {e}") from e
    notes = [f"{psi_name(s)}: n/a: {why}" for s, why in sorted(lacking.items(), reverse=True)]
    if not parts:
        zc = sum(c[0, 0] for c in counts.values())
        if zc.sum() > 0:
            why = (
                "mode 'z' measures no coherence"
                if kind == "z"
                else "no ψ sign has heralds in all of XX, YY and ZZ (a run stopped early?): no "
                "coherence measured"
                if kind == "tomography"
                else "no parity-scan heralds (basis X/Y) yet: the run measured no coherence"
                if not scans
                else "no ψ sign has the heralds its parity fit needs: no coherence measured"
            )
            po = bell.p_odd(zc, cl=cl)
            no_z = [psi_name(s) for s, c in counts.items() if not c[0, 0].sum()]
            bound = (
                Estimate(
                    float("nan"),
                    0.0,
                    po.hi,
                    cl,
                    f"upper bound only: F <= P_odd ({why}); P_odd {po.method}",
                )
                if not no_z  # (P_odd of the other sign's heralds alone bounds theirs alone)
                else Estimate(
                    float("nan"),
                    0.0,
                    1.0,
                    cl,
                    f"no bound: {', '.join(no_z)} without Z-basis heralds for P_odd ({why})",
                )
            )
            return Fidelities(parts, tomos, bound, None, "Z populations only (bound)", notes)
        raise DataError(
            names,
            "no heralds in the settings the fidelity estimator needs "
            "(Z populations and X/Y analysis)",
        )
    est_name = {
        "parity": "F = ½(P_odd ± C), Z populations + parity-scan fit",
        "tomography": "F = (1 ± ⟨XX⟩ ± ⟨YY⟩ − ⟨ZZ⟩)/4 from correlations",
        "z": "F = (1 ± ⟨XX⟩ ± ⟨YY⟩ − ⟨ZZ⟩)/4 from correlations",
    }[kind]
    comb = bell.combine_fidelities(list(parts.values()), rng=rng)
    comb_spam = (
        bell.combine_fidelities(list(parts.values()), spam=True, rng=rng)
        if errs is not None
        else None
    )
    for s, p in sorted(parts.items(), reverse=True):
        at_one = boundary_note(psi_name(s), p.fidelity, p.heralds)
        notes += [at_one] if at_one else []
    name = est_name
    if lacking:  # the combined figure is then the other sign's alone: say so
        only = " and ".join(psi_name(s) for s in sorted(parts, reverse=True))
        name += f"; {only} heralds only ({', '.join(map(psi_name, lacking))} n/a)"
        notes.append(f"the combined fidelity is of the {only} heralds alone")
    return Fidelities(parts, tomos, prefix(comb, name), prefix(comb_spam, name), est_name, notes)


def boundary_note(label: str, e: Estimate, heralds: int) -> str | None:
    """A note where a fidelity's point sits at 1: every herald its estimate uses came out as the
    state predicts (few heralds do by chance). The point is then the boundary, not a perfect
    state measured; the interval's lower end says what the heralds support."""
    if not e.value >= 1.0:
        return None
    return (
        f"{label}: F = 1 because all {heralds} heralds its estimate uses came out as the state "
        f"predicts, not a perfect state measured: they support F >= {e.lo:.4f} ({e.cl:.3g} CL)"
    )


def psi_name(s: int) -> str:
    return "ψ+" if s > 0 else "ψ−"


def programmed_phases(xy_phases: set[float]) -> int | None:
    """The distinct analysis phases (mod 1/2 turn, the fringe's period) programmed for the X/Y
    heralds (None: the files record no ``herald.phase``, or no X/Y herald)."""
    return len({round(p % 0.5, 9) % 0.5 for p in xy_phases}) if xy_phases else None


def partial_scan_note(xy_phases: set[float], modes: list[str], runs: list[RunTotals]) -> str | None:
    """A note when a parity scan was cut short: a run stopped early covers only the analysis
    phases it reached (the settings run in order; ``xy_phases``: those programmed for its X/Y
    heralds), so the coherence rests on those."""
    if "parity" not in modes or all(stopped_early_note(r) is None for r in runs):
        return None
    taken = sorted({round(p % 1.0, 9) for p in xy_phases})
    if not taken:
        return (
            "parity scan incomplete (a run ended early): no X/Y heralds, so no coherence "
            "measured (the Z populations alone bound the fidelity)"
        )
    shown = ", ".join(f"{p:g}" for p in taken)
    fitted = (
        "the coherence is fitted to those alone"
        if (programmed_phases(xy_phases) or 0) >= 3
        else "too few to fit the fringe: no coherence measured"
    )
    return (
        f"parity scan incomplete (a run ended early): X/Y heralds at {len(taken)} analysis "
        f"phase(s) [{shown}] turn; {fitted}"
    )


def prefix(e: Estimate | None, name: str) -> Estimate | None:
    return None if e is None else Estimate(e.value, e.lo, e.hi, e.cl, f"{name}; {e.method}")


def pooled_p_odd(tables: OutcomeTables, *, cl: float) -> Estimate | None:
    """P_odd of the Z-basis heralds of both ψ signs pooled (``None`` without any): a ``z``-mode
    run's measured figure (both Bell states ψ± have odd parity in Z)."""
    z = sum((c[0, 0] for c in tables.counts.values()), np.zeros(4, dtype=np.int64))
    return bell.p_odd(z, cl=cl) if z.sum() > 0 else None
