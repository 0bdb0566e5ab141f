# SPDX-License-Identifier: LGPL-3.0-or-later
"""Fidelity summary of one or several remote-entanglement runs (the notebook entry point).

:func:`fidelity_summary` is I/O at the edge: :func:`analysis.remote_runs.read_remote_runs` reads the
files into per-herald tables (each herald reduced to a small integer code: ψ sign, analysis bases,
outcome, index of its parity-scan phase), and :func:`reduce_fidelity`, a pure function of those
tables and the runs' totals, gives the :class:`FidelityReport`: every outcome table is one
``np.bincount``, the gate trade-off uses cumulative tables over the click time instead of refits on
masked data. The fidelity estimator follows ``mode``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from . import heralds as hs
from . import photons as ph
from .click_times import (
    HIST_RANGE,
    ExcitationFrame,
    excitation_frame,
    joined,
    played_gates,
    quantiles,
    quantiles_of_counts,
    rate_vs_lab_time,
    shifted,
)
from .estimate import DEFAULT_CL, Estimate
from .fidelity_estimator import (
    estimate,
    partial_scan_note,
    pooled_p_odd,
    prefix,
    programmed_phases,
    readout_errors,
    readout_sigmas,
)
from .fidelity_report import (
    FidelityEstimates,
    FidelityReport,
    HeraldStats,
    PhotonTiming,
    SourceInfo,
)
from .herald_table import _NSET, _tables
from .io import DEFAULT_CHUNK_ROWS, DataError
from .lifetime import fit_lifetime
from .remote_runs import (
    REQUIRED,
    SCAN_KEYS,
    RemoteData,
    RunTotals,
    read_remote_runs,
    stopped_early_note,
)

__all__ = ["REQUIRED", "SCAN_KEYS", "FidelityReport", "fidelity_summary", "reduce_fidelity"]


def fidelity_summary(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    cl: float = DEFAULT_CL,
    n_boot: int = 2000,
    seed: int = 0,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: bool = False,
    photons: bool = True,
    window: bool = True,
    timing: bool = True,
) -> FidelityReport:
    """Fidelity, herald statistics and photon timing of one or several runs.

    The estimator follows ``mode``: ``parity`` (or ``z`` + ``parity`` runs combined) uses
    F = ½(P_odd ± C) from Z populations and the parity fit; ``tomography`` uses the XX/YY/ZZ
    correlations and adds MLE tomography (ρ, fidelity, concurrence); ``z`` alone gives only the
    bound F ≤ P_odd (value ``nan``). SPAM-corrected values are added beside the raw ones when
    ``readout.error_a``/``_b`` are present.

    :param paths: results file(s); several runs are combined (same schema required)
    :param cl: confidence level of all intervals
    :param n_boot: bootstrap samples for fidelity intervals
    :param chunk_rows: rows per read (bounds memory)
    :param photons: histogram ``photons.t_mu`` (else the arrival histogram uses ``herald.t_det_mu``)
    :param window: compute the detection-window trade-off (needs ``herald.t_det_mu``)
    :param timing: photon timing and time series at all (arrival histogram, lifetime, window
        trade-off, rate versus time); ``False`` computes only what the fidelity summary JSON
        holds and reads neither ``photons.t_mu``, ``herald.t_det_mu`` nor ``herald.t_lab_mu``
    :raises AnalysisError: (subclasses) on any bad input, naming the file
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    data = read_remote_runs(
        list(paths),
        chunk_rows=chunk_rows,
        progress=progress,
        photons=photons,
        window=window,
        timing=timing,
    )
    return reduce_fidelity(
        data, cl=cl, n_boot=n_boot, rng=np.random.default_rng(seed), window=timing and window
    )


def _duty_cycle(runs: list[RunTotals], lab_s: float) -> float | None:
    """Lab-time-weighted mean duty cycle of the runs; ``None`` if a run lacks it or no lab time."""
    weighted = 0.0
    for r in runs:
        if r.duty_cycle is None:
            return None
        weighted += r.duty_cycle * r.lab_time_s
    return weighted / lab_s if lab_s > 0 else None


def reduce_fidelity(
    data: RemoteData,
    *,
    cl: float = DEFAULT_CL,
    n_boot: int = 2000,
    rng: np.random.Generator | None = None,
    window: bool = True,
) -> FidelityReport:
    """The fidelity report of runs already read into per-herald tables (no file access).

    :param data: what :func:`analysis.remote_runs.read_remote_runs` read
    :param cl: confidence level of all intervals
    :param n_boot: bootstrap samples for fidelity intervals
    :param rng: random generator of the bootstraps (default: seeded with 0)
    :param window: compute the detection-window trade-off (if the tables hold click times)
    :raises DataError: if the tables cannot give a fidelity, naming the files
    """
    rng = np.random.default_rng(0) if rng is None else rng
    acc, modes, names = data.tables, data.modes, data.files
    attempts = sum(r.attempts for r in data.runs)
    n_h = sum(r.heralds for r in data.runs)
    lab = sum(r.lab_time_s for r in data.runs)
    wall = sum(r.wall_time_s for r in data.runs)
    notes = list(data.notes)
    if sum(c.size for c in acc.codes) == 0:
        raise DataError(names, "empty data: herald arrays have no rows")
    errs = readout_errors(data.readout_errors, notes)
    sigmas = readout_sigmas(data.readout_sigmas, errs)
    phases = acc.phases()
    table = np.zeros(phases.size * _NSET, np.intp)
    for c in acc.codes:  # chunk by chunk: = np.bincount of all codes
        table += np.bincount(c, minlength=table.size)
    tables = _tables(table.reshape(phases.size, _NSET), phases)
    note = partial_scan_note(acc.xy_phases, modes, data.runs)
    if note is not None:
        notes.append(note)
    programmed = programmed_phases(acc.xy_phases)
    try:
        fits = estimate(
            tables,
            modes,
            cl=cl,
            n_boot=n_boot,
            rng=rng,
            errs=errs,
            with_tomo=True,
            names=names,
            sigmas=sigmas,
            programmed=programmed,
        )
    except DataError as e:
        early = [n for n in map(stopped_early_note, data.runs) if n is not None]
        if not early:
            raise
        raise DataError(e.path, "{} ({})".format(e.problem, "; ".join(early))) from e
    assert fits.fidelity is not None
    parts, est_name = fits.parts, fits.estimator
    notes += fits.notes
    duty_cycle = _duty_cycle(data.runs, lab)
    split = hs.pattern_split(acc.patterns) if acc.has_pattern else None
    att = None
    if acc.att_counts is not None and acc.att_n:
        att = hs.attempts_distribution(
            acc.att_counts, data.edges, n_h / attempts, acc.att_sum / acc.att_n
        )
    # where the runs' excitations sat: the trade-off's gate stops and the arrival histogram
    # (in every mode, with or without a fidelity) are given from it when the runs say
    frame = excitation_frame(data.runs) if window else None
    arrival, source, life, from_excitation = None, None, None, False
    hist = acc.tag_hist if acc.tag_hist.total else acc.det_hist
    if hist.total:
        source = "photons.t_mu" if acc.tag_hist.total else "herald.t_det_mu"
        arrival = ph.Histogram(*hist.rebinned(400))
        if (
            source == "herald.t_det_mu"
            and frame is not None
            and frame.excite_mu is not None
            and frame.cycle
        ):
            # the heralds' clicks in the gate's frame, from the excitation (one excitation time
            # in every run: a pooled histogram of runs excited at different times stays as read)
            arrival = ph.Histogram(arrival.edges - frame.excite_mu, arrival.counts)
            from_excitation = True
        try:
            life = fit_lifetime(arrival.edges.astype(float), arrival.counts, cl=cl)
        except ValueError as e:
            notes.append(f"lifetime fit: {e}")
    rvt = rate_vs_lab_time(acc.t_lab, [r.lab_time_s for r in data.runs]) if acc.t_lab else None
    win = None
    if frame is not None and parts and acc.t_last and len(acc.t_last) == len(acc.codes):
        notes += frame.notes
        win = _window(
            acc.codes,
            shifted(acc.t_last, acc.t_last_run, frame.shifts),
            phases,
            modes,
            cl=cl,
            rng=rng,
            lab=lab,
            names=names,
            frame=frame,
            programmed=programmed,
        )
    gates, unrecorded = played_gates(data.runs)
    nan = float("nan")
    rate_lab = (
        hs.herald_rate(n_h, lab, cl=cl) if lab > 0 else Estimate(nan, nan, nan, cl, "no lab time")
    )
    rate_wall = (
        hs.herald_rate(n_h, wall, cl=cl)
        if wall > 0
        else Estimate(nan, nan, nan, cl, "no wall time")
    )
    return FidelityReport(
        source=SourceInfo(
            files=names,
            schema_version=data.schema_version,
            experiment=data.experiment,
            mode="+".join(sorted(set(modes))),
            heralding=data.heralding,
            labs=data.labs,
        ),
        stats=HeraldStats(
            heralds=n_h,
            attempts=attempts,
            p_success=hs.success_probability(n_h, attempts, cl=cl),
            rate_lab=rate_lab,
            rate_wall=rate_wall,
            lab_time_s=lab,
            wall_time_s=wall,
            duty_cycle=duty_cycle,
            split=split,
            attempts_distribution=att,
            rate_vs_time=rvt,
        ),
        estimates=FidelityEstimates(
            fidelity=fits.fidelity,
            fidelity_psi_plus=prefix(parts[1].fidelity, est_name) if 1 in parts else None,
            fidelity_psi_minus=prefix(parts[-1].fidelity, est_name) if -1 in parts else None,
            fidelity_spam_corrected=fits.fidelity_spam,
            parts=parts,
            tomography=fits.tomography,
            scans=tables.scans,
            readout_errors=errs,
            readout_sigmas=sigmas,
            p_odd=pooled_p_odd(tables, cl=cl),
        ),
        timing=PhotonTiming(
            arrival=arrival,
            arrival_source=source,
            arrival_from_excitation=from_excitation,
            lifetime=life,
            window=win,
            played_gates=gates,
            gates_unrecorded=unrecorded,
        ),
        notes=notes,
    )


def _window(
    codes: list[np.ndarray],
    t_last: list[np.ndarray],
    phases: np.ndarray,
    modes: list[str],
    *,
    cl: float,
    rng: np.random.Generator,
    lab: float,
    names: list[str],
    frame: ExcitationFrame,
    programmed: int | None = None,
) -> list[ph.WindowPoint] | None:
    """Gate trade-off: for each gate stop, the fidelity of the heralds whose last click is <= stop.

    One joint ``bincount`` over (stop bucket, herald code) and a cumulative sum give every
    stop's outcome tables; each stop is then estimated like the full data (B = 400). ``codes``
    and ``t_last`` are the heralds' codes and last click times (−1: none) chunk by chunk, on the
    scale of ``frame``, whose excitation turns each stop into the gate's stop from it; the
    stops (quantiles of the click times) come from their histogram when their range is below
    :data:`analysis.click_times.HIST_RANGE` (no concatenated copy), else from the joined arrays.
    """
    n = sum(t.size for t in t_last)
    if sum(int(np.count_nonzero(t >= 0)) for t in t_last) < 10:
        return None
    qs = np.linspace(0.3, 1.0, 8)
    tmin = min(int(t.min()) for t in t_last if t.size)
    tmax = max(int(t.max()) for t in t_last if t.size)
    nc = phases.size * _NSET
    if tmax - tmin < HIST_RANGE:  # bucket b: herald kept for stop s iff b <= s (t <= stops[s])
        hist = np.zeros(tmax - tmin + 1, np.intp)
        for t in t_last:
            hist += np.bincount((t - tmin).astype(np.intp, copy=False), minlength=hist.size)
        ok = hist[max(0, tmin) - tmin :]  # clicks at times >= 0
        nz = np.flatnonzero(ok)
        first = int(nz[0])
        q = quantiles_of_counts(ok[first : int(nz[-1]) + 1], max(0, tmin) + first, qs)
        stops = np.unique(q.astype(np.int64))
        lut = np.searchsorted(stops, np.arange(tmin, tmax + 1), side="left")
        joint = np.zeros((stops.size + 1) * nc, np.intp)
        for c, t in zip(codes, t_last):
            bucket = lut[(t - tmin).astype(np.intp, copy=False)]
            bucket *= nc
            bucket += c
            joint += np.bincount(bucket, minlength=joint.size)
    else:
        t_all, c_all = joined(t_last), joined(codes)
        stops = np.unique(quantiles(t_all[t_all >= 0], qs).astype(np.int64))
        bucket = np.searchsorted(stops, t_all, side="left")
        bucket *= nc  # (a new array: in place)
        bucket += c_all
        joint = np.bincount(bucket, minlength=(stops.size + 1) * nc)
    kept = np.cumsum(joint.reshape(stops.size + 1, nc), axis=0)[: stops.size]
    out = []
    for stop, tab in zip(stops, kept):
        k = int(tab.sum())
        fid: Estimate | None = None
        if k:
            try:
                fid = estimate(
                    _tables(tab, phases),
                    modes,
                    cl=cl,
                    n_boot=400,
                    rng=rng,
                    errs=None,
                    with_tomo=False,
                    names=names,
                    programmed=programmed,
                ).fidelity
            except (ValueError, DataError):
                fid = None
        rate = k / lab if lab > 0 else float("nan")
        gate_stop = (
            None if frame.excite_mu is None else ph.gate_stop_from_excitation(stop, frame.excite_mu)
        )
        last = int(stop) if frame.cycle else None
        out.append(ph.WindowPoint(gate_stop, last, k, k / n if n else float("nan"), rate, fid))
    return out
