# SPDX-License-Identifier: LGPL-3.0-or-later
"""Fidelity summary of one or several remote-entanglement runs (the notebook entry point).

:func:`fidelity_summary` reads the per-herald arrays chunk by chunk and reduces each herald to
a small integer code (ψ sign, analysis bases, outcome, index of its parity-scan phase), so every
outcome table is one ``np.bincount``; the gate trade-off uses cumulative tables over the click
time instead of refits on masked data. Photon tags are histogrammed in one streaming pass (the
next chunk is read in the background). The fidelity estimator follows ``mode``.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import bell
from . import heralds as hs
from . import photons as ph
from . import tomography as tomo
from .estimate import DEFAULT_CL, Estimate
from .herald_table import _NSET, _Acc, _reduce_chunk, _tables
from .io import (
    DEFAULT_CHUNK_ROWS,
    AnalysisError,
    DataError,
    MissingDataError,
    Run,
    SchemaError,
    check_combinable,
    load,
    require,
)
from .lifetime import LifetimeFit, fit_lifetime

__all__ = ["REQUIRED", "SCAN_KEYS", "FidelityReport", "fidelity_summary"]

#: Datasets every fidelity summary needs (plus ``herald.psi`` or ``herald.pattern``).
REQUIRED = [
    "ionlink.experiment", "mode", "herald.basis_a", "herald.basis_b", "herald.bit_a", "herald.bit_b",
    "totals.attempts", "totals.heralds", "totals.lab_time_s", "totals.wall_time_s",
]
#: Extra datasets of a parity scan.
SCAN_KEYS = ["herald.phase"]
_OPTIONAL_ROWS = ["herald.pattern", "herald.psi", "herald.attempts", "herald.t_lab_mu", "herald.t_det_mu"]


@dataclass(frozen=True)
class FidelityReport:
    """Everything :func:`fidelity_summary` found; :meth:`to_dict` gives the JSON summary.

    Fidelity fields are ``None`` where the data cannot give them (e.g. no ψ− heralds).
    Times are in s, rates in s⁻¹, arrival times in ns (1 mu = 1 ns).
    """

    files: list[str]
    schema_version: int
    experiment: str
    mode: str
    heralds: int
    attempts: int
    p_success: Estimate
    rate_lab: Estimate
    rate_wall: Estimate
    lab_time_s: float
    wall_time_s: float
    duty_cycle: float | None
    fidelity: Estimate
    fidelity_psi_plus: Estimate | None
    fidelity_psi_minus: Estimate | None
    fidelity_spam_corrected: Estimate | None
    parts: dict[int, bell.BellFidelity] = field(repr=False)
    tomography: dict[int, tomo.TomographyResult] = field(repr=False)
    split: hs.PatternSplit | None = None
    attempts_distribution: hs.AttemptsDistribution | None = field(default=None, repr=False)
    scans: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    arrival: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    arrival_source: str | None = None
    lifetime: LifetimeFit | None = None
    rate_vs_time: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    window: list[ph.WindowPoint] | None = field(default=None, repr=False)
    readout_errors: tuple[float, float] | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Machine-readable summary (the ``fidelity --json`` output)."""

        def est(e: Estimate | None) -> dict[str, Any] | None:
            return None if e is None else e.to_dict()

        d: dict[str, Any] = {
            "files": self.files,
            "schema_version": self.schema_version,
            "experiment": self.experiment,
            "mode": self.mode,
            "fidelity": est(self.fidelity),
            "fidelity_psi_plus": est(self.fidelity_psi_plus),
            "fidelity_psi_minus": est(self.fidelity_psi_minus),
            "fidelity_spam_corrected": est(self.fidelity_spam_corrected),
            "heralds": self.heralds,
            "attempts": self.attempts,
            "p_success": est(self.p_success),
            "rate_hz_lab": self.rate_lab.value,
            "rate_hz_wall": self.rate_wall.value,
            "rate_hz_lab_ci": [self.rate_lab.lo, self.rate_lab.hi],
            "rate_hz_wall_ci": [self.rate_wall.lo, self.rate_wall.hi],
            "lab_time_s": self.lab_time_s,
            "wall_time_s": self.wall_time_s,
            "duty_cycle": self.duty_cycle,
            "readout_errors": None if self.readout_errors is None else list(self.readout_errors),
            "components": {
                ("psi_plus" if s > 0 else "psi_minus"): {
                    "heralds": p.heralds,
                    "p_odd": est(p.p_odd),
                    "coherence": est(p.coherence),
                    "fidelity_spam_corrected": est(p.fidelity_spam),
                }
                for s, p in self.parts.items()
            },
            "notes": self.notes,
        }
        if self.split is not None:
            d["heralds_by_pattern"] = {f"0b{k:04b}": v for k, v in self.split.by_pattern.items()}
            d["heralds_psi_plus"], d["heralds_psi_minus"] = self.split.psi_plus, self.split.psi_minus
        if self.tomography:
            d["tomography"] = {
                ("psi_plus" if s > 0 else "psi_minus"): {
                    "fidelity_mle": est(t.fidelity),
                    "concurrence": est(t.concurrence),
                    "fidelity_mle_spam_corrected": est(t.fidelity_spam),
                    "rho_real": np.real(t.rho).round(6).tolist(),
                    "rho_imag": np.imag(t.rho).round(6).tolist(),
                }
                for s, t in self.tomography.items()
            }
        if self.attempts_distribution is not None:
            a = self.attempts_distribution
            d["attempts_per_herald"] = {"mean": a.mean_attempts, "expected_mean": 1 / a.p, "chi2": a.chi2, "dof": a.dof, "p_value": a.p_value}
        if self.lifetime is not None:
            d["lifetime_ns"] = est(self.lifetime.tau)
        return d


def _scalar(run: Run, key: str, kind: type) -> Any:
    v = run.values.get(key)
    try:
        x = kind(np.asarray(v).item())
    except (TypeError, ValueError) as e:
        raise DataError(run.path, f"{key} is not a {kind.__name__} scalar (got {v!r})") from e
    if kind is float and not np.isfinite(x):
        raise DataError(run.path, f"{key} is NaN or inf")
    return x


def _runs_and_checks(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[Run], list[str]]:
    if not paths:
        raise AnalysisError("<no files>", "no input files")
    runs = [load(p) for p in paths]
    modes = []
    for r in runs:
        if not r.datasets:
            raise DataError(r.path, "empty file: no datasets")
        require(r, REQUIRED, "the fidelity summary")
        if r.experiment != "remote_entanglement":
            raise SchemaError(r.path, f"ionlink.experiment is {r.experiment!r}; "
                                      "the fidelity summary needs 'remote_entanglement'")
        if "herald.psi" not in r and "herald.pattern" not in r:
            raise MissingDataError(r.path, "the fidelity summary needs herald.psi or herald.pattern; both missing")
        mode = str(r.values["mode"])
        if mode not in ("z", "parity", "tomography"):
            raise DataError(r.path, f"unknown mode {mode!r} (expected 'z', 'parity' or 'tomography')")
        if mode == "parity":
            require(r, SCAN_KEYS, "a parity-scan fidelity")
        modes.append(mode)
    if len(set(modes)) > 1 and set(modes) != {"z", "parity"}:
        raise SchemaError([str(r.path) for r in runs], f"cannot combine runs of modes {sorted(set(modes))}")
    check_combinable(runs, REQUIRED + _OPTIONAL_ROWS)
    return runs, modes


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
    runs, modes = _runs_and_checks(list(paths))
    rng = np.random.default_rng(seed)
    names = [str(r.path) for r in runs]
    attempts = sum(_scalar(r, "totals.attempts", int) for r in runs)
    n_h = sum(_scalar(r, "totals.heralds", int) for r in runs)
    lab = sum(_scalar(r, "totals.lab_time_s", float) for r in runs)
    wall = sum(_scalar(r, "totals.wall_time_s", float) for r in runs)
    if n_h == 0:
        raise DataError(names, f"zero heralds ({attempts} attempts)")
    if attempts < n_h:
        raise DataError(names, f"totals.attempts ({attempts}) < totals.heralds ({n_h})")
    p_hat = n_h / attempts
    edges = hs.geometric_edges(p_hat)
    use_tags = timing and photons and any(_has_tags(r) for r in runs)
    acc = _Acc(want_t_last=timing and window, want_det_hist=timing and not use_tags, want_t_lab=timing)
    notes_pre: list[str] = []
    skip = set() if timing else {"herald.t_det_mu", "herald.t_lab_mu"}
    if timing and not window and use_tags:
        skip.add("herald.t_det_mu")
    for i_run, (r, mode) in enumerate(zip(runs, modes)):
        acc.run_index = i_run
        phase_hz = _detection_phase_hz(r, mode, notes_pre)
        keys = [k for k in ["herald.basis_a", "herald.basis_b", "herald.bit_a", "herald.bit_b"] + _OPTIONAL_ROWS
                if k in r and (k not in skip or (phase_hz and k == "herald.t_det_mu"))]
        if mode == "parity":
            keys.append("herald.phase")
        n_rows = r.datasets[keys[0]].shape[0] if r.datasets[keys[0]].shape else 0
        if n_rows != _scalar(r, "totals.heralds", int):
            total = _scalar(r, "totals.heralds", int)
            raise DataError(r.path, f"shape mismatch: totals.heralds = {total} "
                                    f"but herald arrays have {n_rows} rows")
        if skip:  # arrays not read must still be per-herald arrays of the same length
            for k in skip & set(r.datasets):
                shp = r.datasets[k].shape
                if (shp[0] if shp else 0) != n_rows:
                    n_k = shp[0] if shp else 0
                    raise DataError(r.path, "shape mismatch: per-herald arrays differ in length "
                                            f"({keys[0]} has {n_rows}, {k} has {n_k} rows)")
        for chunk in r.iter_chunks(keys, rows=chunk_rows, progress=progress, desc=f"{r.path.name} heralds"):
            _reduce_chunk(r, chunk, mode, acc, edges, phase_hz)
        if use_tags and _has_tags(r):
            for tags, tmax in r.iter_array("photons.t_mu", rows=max(chunk_rows, 1 << 20), progress=progress,
                                           prefetch=True, reduce=np.max):
                acc.tag_hist.add(tags, scratch=True, tmax=tmax)
    rep = _finish(runs, modes, acc, edges, cl=cl, n_boot=n_boot, rng=rng, window=timing and window,
                  totals=(attempts, n_h, lab, wall))
    rep.notes[:0] = notes_pre
    return rep


def _has_tags(r: Run) -> bool:
    return "photons.t_mu" in r and bool(r.datasets["photons.t_mu"].shape) and r.datasets["photons.t_mu"].shape[0] > 0


def _detection_phase_hz(run: Run, mode: str, notes: list[str]) -> float:
    """``herald.detection_phase_hz`` of a run (0 if absent); notes what is corrected and what is
    not."""
    if "herald.detection_phase_hz" not in run.values and "herald.detection_phase_hz" not in run:
        return 0.0
    f = _scalar(run, "herald.detection_phase_hz", float)
    if f and mode == "parity":
        if "herald.t_det_mu" not in run:
            raise MissingDataError(run.path, "herald.detection_phase_hz needs herald.t_det_mu")
        notes.append(f"{run.path.name}: detection-time phase corrected from the timestamps "
                     f"(f = {f:.6g} Hz)")
        return f
    if f:
        notes.append(f"{run.path.name}: detection-time phase (f = {f:.6g} Hz) not corrected in "
                     f"{mode} mode")
    return 0.0


def _readout_errors(runs: list[Run], notes: list[str]) -> tuple[float, float] | None:
    errs = set()
    for r in runs:
        if "readout.error_a" not in r or "readout.error_b" not in r:
            return None
        errs.add((_scalar(r, "readout.error_a", float), _scalar(r, "readout.error_b", float)))
    if len(errs) > 1:
        notes.append("readout errors differ between runs: no SPAM correction")
        return None
    e = errs.pop()
    if not all(0 <= x < 0.5 for x in e):
        notes.append(f"readout errors {e} outside [0, 0.5): no SPAM correction")
        return None
    return e


def _estimate(tables: tuple[dict[int, np.ndarray], dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]], modes: list[str],
              *, cl: float, n_boot: int, rng: np.random.Generator, errs: tuple[float, float] | None, with_tomo: bool,
              names: Any) -> tuple[dict[int, bell.BellFidelity], dict[int, tomo.TomographyResult], Estimate | None, Estimate | None, str]:
    counts, scans = tables
    parts: dict[int, bell.BellFidelity] = {}
    tomos: dict[int, tomo.TomographyResult] = {}
    kind = "parity" if "parity" in modes else modes[0]
    for s, c in counts.items():
        try:
            if kind == "parity":
                if s not in scans:
                    raise ValueError("no parity-scan heralds (basis X/Y)")
                parts[s] = bell.fidelity_parity_scan(c[0, 0], *scans[s], psi=s, cl=cl, n_boot=n_boot, rng=rng, readout_errors=errs)
            elif c[1, 1].sum() and c[2, 2].sum() and c[0, 0].sum():
                parts[s] = bell.fidelity_correlations(c[1, 1], c[2, 2], c[0, 0], psi=s, cl=cl, n_boot=n_boot, rng=rng, readout_errors=errs)
                if with_tomo and kind == "tomography" and np.all(c.sum(axis=-1) > 0):
                    tomos[s] = tomo.tomography(c, psi=s, cl=cl, rng=rng, readout_errors=errs)
        except ValueError as e:
            raise DataError(names, f"{'ψ+' if s > 0 else 'ψ−'}: {e}") from e
    if not parts:
        zc = sum(c[0, 0] for c in counts.values())
        if kind == "z" and zc.sum() > 0:
            po = bell.p_odd(zc, cl=cl)
            bound = Estimate(float("nan"), 0.0, po.hi, cl, f"upper bound only: F <= P_odd (mode 'z' measures no coherence); P_odd {po.method}")
            return parts, tomos, bound, None, "Z populations only (bound)"
        raise DataError(names, "no heralds in the settings the fidelity estimator needs "
                               "(Z populations and X/Y analysis)")
    est_name = {"parity": "F = ½(P_odd ± C), Z populations + parity-scan fit",
                "tomography": "F = (1 ± ⟨XX⟩ ± ⟨YY⟩ − ⟨ZZ⟩)/4 from correlations",
                "z": "F = (1 ± ⟨XX⟩ ± ⟨YY⟩ − ⟨ZZ⟩)/4 from correlations"}[kind]
    comb = bell.combine_fidelities(list(parts.values()))
    comb_spam = bell.combine_fidelities(list(parts.values()), spam=True) if errs is not None else None
    return parts, tomos, _prefix(comb, est_name), _prefix(comb_spam, est_name), est_name


def _prefix(e: Estimate | None, name: str) -> Estimate | None:
    return None if e is None else Estimate(e.value, e.lo, e.hi, e.cl, f"{name}; {e.method}")


def _finish(runs: list[Run], modes: list[str], acc: _Acc, edges: np.ndarray, *, cl: float, n_boot: int,
            rng: np.random.Generator, window: bool, totals: tuple[int, int, float, float]) -> FidelityReport:
    attempts, n_h, lab, wall = totals
    names = [str(r.path) for r in runs]
    notes: list[str] = []
    codes = np.concatenate(acc.codes) if acc.codes else np.zeros(0, np.intp)
    if codes.size == 0:
        raise DataError(names, "empty data: herald arrays have no rows")
    errs = _readout_errors(runs, notes)
    phases = acc.phases()
    table = np.bincount(codes, minlength=phases.size * _NSET).reshape(phases.size, _NSET)
    tables = _tables(table, phases)
    parts, tomos, fid, fid_spam, est_name = _estimate(tables, modes, cl=cl, n_boot=n_boot, rng=rng, errs=errs,
                                                      with_tomo=True, names=names)
    assert fid is not None
    scans = tables[1]
    duty = [r.values.get("totals.duty_cycle") for r in runs]
    lab_each = [_scalar(r, "totals.lab_time_s", float) for r in runs]
    duty_cycle = None
    if all(d is not None for d in duty) and lab > 0:
        duty_cycle = float(sum(float(d) * t for d, t in zip(duty, lab_each) if d is not None) / lab)
    split = hs.pattern_split(acc.patterns) if acc.has_pattern else None
    att = None
    if acc.att_counts is not None and acc.att_n:
        att = hs.attempts_distribution(acc.att_counts, edges, n_h / attempts, acc.att_sum / acc.att_n)
    arrival, source, life = None, None, None
    hist = acc.tag_hist if acc.tag_hist.total else acc.det_hist
    if hist.total:
        source = "photons.t_mu" if acc.tag_hist.total else "herald.t_det_mu"
        arrival = hist.rebinned(400)
        try:
            life = fit_lifetime(arrival[0].astype(float), arrival[1], cl=cl)
        except ValueError as e:
            notes.append(f"lifetime fit: {e}")
    rvt = None
    if acc.t_lab:
        rvt = _rate_vs_lab_time(acc.t_lab, [_scalar(r, "totals.lab_time_s", float) for r in runs])
    win = None
    if window and parts and acc.t_last and len(acc.t_last) == len(acc.codes):
        win = _window(codes, np.concatenate(acc.t_last), phases, modes, cl=cl, rng=rng, lab=lab, names=names)
    rate_lab = hs.herald_rate(n_h, lab, cl=cl) if lab > 0 else Estimate(float("nan"), float("nan"), float("nan"), cl, "no lab time")
    rate_wall = hs.herald_rate(n_h, wall, cl=cl) if wall > 0 else Estimate(float("nan"), float("nan"), float("nan"), cl, "no wall time")
    r0 = runs[0]
    return FidelityReport(
        files=names, schema_version=int(r0.schema_version or 0), experiment=str(r0.experiment),
        mode="+".join(sorted(set(modes))), heralds=n_h, attempts=attempts,
        p_success=hs.success_probability(n_h, attempts, cl=cl), rate_lab=rate_lab, rate_wall=rate_wall,
        lab_time_s=lab, wall_time_s=wall, duty_cycle=duty_cycle, fidelity=fid,
        fidelity_psi_plus=_prefix(parts[1].fidelity, est_name) if 1 in parts else None,
        fidelity_psi_minus=_prefix(parts[-1].fidelity, est_name) if -1 in parts else None,
        fidelity_spam_corrected=fid_spam, parts=parts, tomography=tomos, split=split,
        attempts_distribution=att, scans=scans, arrival=arrival, arrival_source=source, lifetime=life,
        rate_vs_time=rvt, window=win, readout_errors=errs, notes=notes,
    )


def _rate_vs_lab_time(t_lab: list[tuple[int, np.ndarray]], lab_s: list[float]
                      ) -> tuple[np.ndarray, np.ndarray] | None:
    """(edges in s of lab time, heralds per bin) from ``herald.t_lab_mu`` (1 mu = 1 ns).

    Each run's times start at its first herald; later runs follow the earlier runs' lab time.
    """
    per_run: dict[int, list[np.ndarray]] = {}
    for i, t in t_lab:
        per_run.setdefault(i, []).append(t)
    parts, offset = [], 0.0
    for i in sorted(per_run):
        t = np.concatenate(per_run[i])
        if t.size:
            parts.append(offset + (t - t.min()) * 1e-9)
        offset += max(lab_s[i], float(t.max() - t.min()) * 1e-9 if t.size else 0.0)
    x = np.sort(np.concatenate(parts)) if parts else np.zeros(0)
    if x.size < 2 or x[-1] <= x[0]:
        return None
    c, e = _histogram(x, min(60, max(5, x.size // 20)))
    return e - e[0], c


def _histogram(x: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.histogram(x, bins)``; for sorted ``x`` (wall-clock times) by bisection at the edges."""
    if x.size > 1 and bool(np.all(x[1:] >= x[:-1])):
        e = np.histogram_bin_edges(x[[0, -1]], bins=bins)  # same edges as np.histogram(x, bins)
        idx = np.searchsorted(x, e, side="left")
        idx[-1] = x.size  # last bin is closed
        return np.diff(idx), e
    return np.histogram(x, bins=bins)


def _quantiles(t: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """``np.quantile(t, qs)`` (linear method) of integer ``t``, from a histogram when the range is
    small."""
    tmin, tmax = int(t.min()), int(t.max())
    if tmax - tmin >= (1 << 22):
        return np.quantile(t, qs)
    cum = np.cumsum(np.bincount((t - tmin).astype(np.intp, copy=False)))
    n = int(cum[-1])
    virtual = (n - 1) * qs  # numpy's virtual index for the linear method
    prev = np.floor(virtual).astype(np.int64)
    nxt = np.minimum(prev + 1, n - 1)
    gamma = virtual - prev
    a = (tmin + np.searchsorted(cum, np.clip(prev, 0, n - 1), side="right")).astype(float)  # order statistics
    b = (tmin + np.searchsorted(cum, nxt, side="right")).astype(float)
    return np.where(gamma >= 0.5, b - (b - a) * (1 - gamma), a + (b - a) * gamma)


def _window(codes: np.ndarray, t_last: np.ndarray, phases: np.ndarray, modes: list[str], *, cl: float,
            rng: np.random.Generator, lab: float, names: Any) -> list[ph.WindowPoint] | None:
    """Gate trade-off: for each gate stop, the fidelity of the heralds whose last click is <= stop.

    One joint ``bincount`` over (stop bucket, herald code) and a cumulative sum give every
    stop's outcome tables; each stop is then estimated like the full data (B = 400).
    """
    ok = t_last >= 0
    if ok.sum() < 10:
        return None
    stops = np.unique(_quantiles(t_last[ok], np.linspace(0.3, 1.0, 8)).astype(np.int64))
    tmin, tmax = int(t_last.min()), int(t_last.max())
    if tmax - tmin < (1 << 22):  # bucket b: herald kept for stop s iff b <= s (t <= stops[s])
        lut = np.searchsorted(stops, np.arange(tmin, tmax + 1), side="left")
        bucket = lut[(t_last - tmin).astype(np.intp, copy=False)]
    else:
        bucket = np.searchsorted(stops, t_last, side="left")
    nc = phases.size * _NSET
    joint = np.bincount(bucket * nc + codes, minlength=(stops.size + 1) * nc).reshape(stops.size + 1, nc)
    kept = np.cumsum(joint, axis=0)[: stops.size]
    n = t_last.size
    out = []
    for stop, tab in zip(stops, kept):
        k = int(tab.sum())
        fid: Estimate | None = None
        if k:
            try:
                _, _, fid, _, _ = _estimate(_tables(tab, phases), modes, cl=cl, n_boot=400, rng=rng, errs=None,
                                            with_tomo=False, names=names)
            except (ValueError, DataError):
                fid = None
        rate = k / lab if lab > 0 else float("nan")
        out.append(ph.WindowPoint(int(stop), k, k / n if n else float("nan"), rate, fid))
    return out
