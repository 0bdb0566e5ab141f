# SPDX-License-Identifier: LGPL-3.0-or-later
"""The result of a fidelity summary: :class:`FidelityReport` and the named records it groups.

A report holds where the data came from (:class:`SourceInfo`), the herald statistics
(:class:`HeraldStats`), the fidelity estimates (:class:`FidelityEstimates`) and the photon timing
(:class:`PhotonTiming`), plus notes. The headline figures are also attributes of the report itself
(``rep.fidelity``, ``rep.p_success``, ``rep.rate_lab``, …). :meth:`FidelityReport.to_dict` gives the
``ionlink-analyze fidelity --json`` summary. Times are in s, rates in s⁻¹, arrival times in ns
(1 mu = 1 ns).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import bell
from . import heralds as hs
from . import photons as ph
from . import tomography as tomo
from .estimate import Estimate
from .herald_table import ParityScan
from .lifetime import LifetimeFit

__all__ = ["FidelityEstimates", "FidelityReport", "HeraldStats", "PhotonTiming", "SourceInfo"]


@dataclass(frozen=True)
class SourceInfo:
    """The runs a report summarises: file paths, ionlink schema version, experiment kind, mode
    (``z``, ``parity``, ``tomography`` or ``parity+z`` for combined runs) and heralding path
    (``ionlink.heralding``: ``gateware``, ``cpu``; ``None`` where the files do not say)."""

    files: list[str]
    schema_version: int
    experiment: str
    mode: str
    heralding: str | None = None
    #: the simulated labs the runs were taken in (``name`` or ``name (--set …)``; none for a
    #: real lab's files)
    labs: tuple[str, ...] = ()


@dataclass(frozen=True)
class HeraldStats:
    """Heralds, attempts and rates.

    :param p_success: heralds per attempt
    :param rate_lab: heralds per second of lab (RTIO) time; ``rate_wall`` per second of the run's
        wall-clock time (host speed, not physics)
    :param duty_cycle: lab-time-weighted ``totals.duty_cycle`` of the runs, if all have it
    :param split: heralds by click pattern and by ψ sign (runs with ``herald.pattern``)
    :param attempts_distribution: attempts per herald against the geometric law
    :param rate_vs_time: heralds per bin of lab time (edges in s), from ``herald.t_lab_mu``
    """

    heralds: int
    attempts: int
    p_success: Estimate
    rate_lab: Estimate
    rate_wall: Estimate
    lab_time_s: float
    wall_time_s: float
    duty_cycle: float | None
    split: hs.PatternSplit | None = None
    attempts_distribution: hs.AttemptsDistribution | None = field(default=None, repr=False)
    rate_vs_time: ph.Histogram | None = field(default=None, repr=False)


@dataclass(frozen=True)
class FidelityEstimates:
    """Fidelity of the heralded Bell states; ``None`` where the data cannot give it (e.g. no ψ−
    heralds, no readout errors for the SPAM correction).

    :param parts: per ψ sign (+1, −1): the fidelity with its P_odd, coherence and
        SPAM-corrected value
    :param tomography: per ψ sign, maximum-likelihood tomography (tomography runs)
    :param scans: per ψ sign, the heralds of the parity scan binned by phase
    :param readout_errors: the readout errors (ε_a, ε_b) the SPAM correction used
    :param readout_sigmas: their standard errors, propagated into its interval (``None``: the
        errors were taken as exact)
    :param p_odd: the odd-parity fraction of the Z-basis heralds, both ψ signs pooled
        (Clopper–Pearson; ``None`` without Z heralds): what a ``z``-mode run measures, whose
        fidelity has only the bound F ≤ P_odd (``ionlink-sim budget`` predicts it)
    """

    fidelity: Estimate
    fidelity_psi_plus: Estimate | None
    fidelity_psi_minus: Estimate | None
    fidelity_spam_corrected: Estimate | None
    parts: dict[int, bell.BellFidelity] = field(repr=False)
    tomography: dict[int, tomo.TomographyResult] = field(repr=False)
    scans: dict[int, ParityScan] = field(default_factory=dict, repr=False)
    readout_errors: tuple[float, float] | None = None
    readout_sigmas: tuple[float, float] | None = None
    p_odd: Estimate | None = None


@dataclass(frozen=True)
class PhotonTiming:
    """Photon arrival times and the detection-window trade-off (all ``None`` without timing).

    :param arrival: histogram of the photon arrival times (edges in ns)
    :param arrival_source: the dataset the histogram comes from (``photons.t_mu`` or
        ``herald.t_det_mu``)
    :param arrival_from_excitation: ``arrival``'s edges are in ns from the excitation pulse start
        (the runs say where it sat), else as its source keeps them
    :param lifetime: fit of the excited-state lifetime to ``arrival``
    :param window: fidelity and rate for a range of gate stops (:class:`~analysis.photons.
        WindowPoint`: in mu from the excitation, as the calibrated gate, where the runs say
        where their excitation sat)
    :param played_gates: the detection gates [start, stop) the runs played, in mu from the
        excitation (their archived ``calib.photon.gate_start_mu``/``gate_stop_mu``), each once
    :param gates_unrecorded: runs whose files record no gate (or whose gate was not read)
    """

    arrival: ph.Histogram | None = field(default=None, repr=False)
    arrival_source: str | None = None
    arrival_from_excitation: bool = False
    lifetime: LifetimeFit | None = None
    window: list[ph.WindowPoint] | None = field(default=None, repr=False)
    played_gates: tuple[tuple[int, int], ...] = ()
    gates_unrecorded: int = 0


@dataclass(frozen=True)
class FidelityReport:
    """Everything :func:`analysis.fidelity_summary` found; :meth:`to_dict` gives the JSON."""

    source: SourceInfo
    stats: HeraldStats
    estimates: FidelityEstimates
    timing: PhotonTiming = field(default_factory=PhotonTiming)
    notes: list[str] = field(default_factory=list)

    # the headline figures, as attributes of the report (the notebook API)
    @property
    def files(self) -> list[str]:
        return self.source.files

    @property
    def mode(self) -> str:
        return self.source.mode

    @property
    def fidelity(self) -> Estimate:
        return self.estimates.fidelity

    @property
    def fidelity_psi_plus(self) -> Estimate | None:
        return self.estimates.fidelity_psi_plus

    @property
    def fidelity_psi_minus(self) -> Estimate | None:
        return self.estimates.fidelity_psi_minus

    @property
    def fidelity_spam_corrected(self) -> Estimate | None:
        return self.estimates.fidelity_spam_corrected

    @property
    def heralds(self) -> int:
        return self.stats.heralds

    @property
    def attempts(self) -> int:
        return self.stats.attempts

    @property
    def p_success(self) -> Estimate:
        return self.stats.p_success

    @property
    def rate_lab(self) -> Estimate:
        """Heralds per second of lab time."""
        return self.stats.rate_lab

    @property
    def rate_wall(self) -> Estimate:
        """Heralds per second of the runs' wall-clock time."""
        return self.stats.rate_wall

    @property
    def lifetime(self) -> LifetimeFit | None:
        return self.timing.lifetime

    def to_dict(self) -> dict[str, Any]:
        """Machine-readable summary (the ``fidelity --json`` output)."""

        def est(e: Estimate | None) -> dict[str, Any] | None:
            return None if e is None else e.to_dict()

        src, st, fe = self.source, self.stats, self.estimates
        d: dict[str, Any] = {
            "files": src.files,
            "schema_version": src.schema_version,
            "experiment": src.experiment,
            "mode": src.mode,
            "heralding": src.heralding,
            "simulated_labs": list(src.labs),
            "fidelity": est(fe.fidelity),
            "fidelity_psi_plus": est(fe.fidelity_psi_plus),
            "fidelity_psi_minus": est(fe.fidelity_psi_minus),
            "fidelity_spam_corrected": est(fe.fidelity_spam_corrected),
            "p_odd": est(fe.p_odd),
            "heralds": st.heralds,
            "attempts": st.attempts,
            "p_success": est(st.p_success),
            "rate_hz_lab": st.rate_lab.value,
            "rate_hz_wall": st.rate_wall.value,
            "rate_hz_lab_ci": [st.rate_lab.lo, st.rate_lab.hi],
            "rate_hz_wall_ci": [st.rate_wall.lo, st.rate_wall.hi],
            "lab_time_s": st.lab_time_s,
            "wall_time_s": st.wall_time_s,
            "duty_cycle": st.duty_cycle,
            "readout_errors": None if fe.readout_errors is None else list(fe.readout_errors),
            "readout_error_sigmas": None if fe.readout_sigmas is None else list(fe.readout_sigmas),
            "components": {
                ("psi_plus" if s > 0 else "psi_minus"): {
                    "heralds": p.heralds,
                    "p_odd": est(p.p_odd),
                    "coherence": est(p.coherence),
                    "fidelity_spam_corrected": est(p.fidelity_spam),
                }
                for s, p in fe.parts.items()
            },
            "notes": self.notes,
        }
        if st.split is not None:
            d["heralds_by_pattern"] = {f"0b{k:04b}": v for k, v in st.split.by_pattern.items()}
            d["heralds_psi_plus"], d["heralds_psi_minus"] = st.split.psi_plus, st.split.psi_minus
        if fe.tomography:
            d["tomography"] = {
                ("psi_plus" if s > 0 else "psi_minus"): {
                    "fidelity_mle": est(t.fidelity),
                    "concurrence": est(t.concurrence),
                    "fidelity_mle_spam_corrected": est(t.fidelity_spam),
                    "rho_real": np.real(t.rho).round(6).tolist(),
                    "rho_imag": np.imag(t.rho).round(6).tolist(),
                }
                for s, t in fe.tomography.items()
            }
        if st.attempts_distribution is not None:
            a = st.attempts_distribution
            d["attempts_per_herald"] = {
                "mean": a.mean_attempts,
                "expected_mean": 1 / a.p,
                "chi2": a.chi2,
                "dof": a.dof,
                "p_value": a.p_value,
            }
        if self.timing.lifetime is not None:
            d["lifetime_ns"] = est(self.timing.lifetime.tau)
        return d
