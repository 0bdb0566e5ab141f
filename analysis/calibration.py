# SPDX-License-Identifier: LGPL-3.0-or-later
"""Summaries of the calibration experiments: single photon, HOM, readout calibration, dark counts.

Each ``*_summary(run)`` reads the datasets its experiment writes (docs/datasets.md) and applies
the same pure estimators as the experiment itself (:mod:`analysis.lifetime`, :mod:`analysis.hom`,
:mod:`analysis.readout`, Garwood rates), so a report recomputes what the run stored.
:func:`summarise` picks the summary by ``ionlink.experiment``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .estimate import DEFAULT_CL, Estimate, clopper_pearson, poisson_rate
from .hom import hom_visibility
from .io import DataError, MissingDataError, Run, SchemaError, require
from .lifetime import LifetimeFit, fit_lifetime_tags
from .readout import ThresholdResult, optimise_threshold

__all__ = [
    "KINDS",
    "DarkCountSummary",
    "HOMSummary",
    "ReadoutSummary",
    "SinglePhotonSummary",
    "summarise",
]


@dataclass(frozen=True)
class SinglePhotonSummary:
    """Single-photon run: lifetime, click probability per node, gate.

    :param t_mu: click times relative to the excitation, mu; ``node`` the node of each click
    :param gate_mu: gate [start, stop) of the run, mu
    :param click_prob: per node, clicks per attempt (Clopper–Pearson; one click per clicking
        detector)
    :param gate_recommended_mu: [onset, onset + gate_taus·τ] from this analysis, mu
    :param stored: values the experiment stored (``photon.*``), for comparison
    """

    file: str
    t_mu: np.ndarray = field(repr=False)
    node: np.ndarray = field(repr=False)
    gate_mu: tuple[int, int]
    attempts: list[int]
    click_prob: list[Estimate]
    lifetime: LifetimeFit | None
    gate_recommended_mu: tuple[int, int] | None
    stored: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    kind: str = "single_photon"


@dataclass(frozen=True)
class HOMSummary:
    """HOM run: coincidence probability per delay and the visibility."""

    file: str
    delay_mu: np.ndarray
    coincidences: np.ndarray
    attempts: np.ndarray
    p_coinc: list[Estimate]
    visibility: Estimate | None
    stored: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    kind: str = "hom"


@dataclass(frozen=True)
class ReadoutSummary:
    """Readout calibration: per ion ('a', 'b') the count histograms and the optimal threshold."""

    file: str
    bright: dict[str, np.ndarray] = field(repr=False)
    dark: dict[str, np.ndarray] = field(repr=False)
    thresholds: dict[str, ThresholdResult]
    stored: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    kind: str = "readout_calibration"


@dataclass(frozen=True)
class DarkCountSummary:
    """Dark counts (all beams off) and background (cooling light on) per detector, in s⁻¹."""

    file: str
    duration_s: float
    dark: list[Estimate]
    background: list[Estimate] | None
    notes: list[str] = field(default_factory=list)
    kind: str = "dark_counts"


def _stored(run: Run, prefixes: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in sorted(run.values.items()) if k.startswith(prefixes)}


def single_photon_summary(
    run: Run, *, cl: float = DEFAULT_CL, gate_taus: float | None = None
) -> SinglePhotonSummary:
    """Lifetime (:func:`analysis.lifetime.fit_lifetime_tags`), click probabilities, gate.

    :param gate_taus: recommended gate length in lifetimes (default: the run's argument, else 3)
    """
    require(
        run,
        ["photons.t_mu", "photons.node", "photons.attempts", "photons.gate_mu"],
        "a single-photon summary",
    )
    t = np.asarray(run["photons.t_mu"], dtype=np.int64)
    node = np.asarray(run["photons.node"], dtype=np.int64)
    att = [int(x) for x in np.atleast_1d(run["photons.attempts"])]
    gate = tuple(int(x) for x in np.asarray(run["photons.gate_mu"]).ravel()[:2])
    if t.shape != node.shape:
        raise DataError(
            run.path, f"shape mismatch: photons.t_mu has {t.size} rows, photons.node {node.size}"
        )
    notes: list[str] = []
    probs = []
    for i, n in enumerate(att):
        k = int(np.count_nonzero(node == i))
        if n <= 0 or k > n:
            notes.append(
                f"node {'ab'[i] if i < 2 else i}: {k} clicks in {n} attempts, no click probability"
            )
            probs.append(Estimate(math.nan, math.nan, math.nan, cl, "no attempts"))
        else:
            probs.append(clopper_pearson(k, n, cl=cl))
    if gate_taus is None:
        args = run.expid.get("arguments", {}) if isinstance(run.expid, dict) else {}
        gate_taus = float(args.get("gate_taus", 3.0)) if isinstance(args, dict) else 3.0
    life, rec = None, None
    try:
        life = fit_lifetime_tags(t, stop_mu=gate[1], cl=cl)
        rec = (math.floor(life.onset), math.ceil(life.onset + gate_taus * life.tau.value))
    except ValueError as e:
        notes.append(f"lifetime fit: {e}")
    return SinglePhotonSummary(
        str(run.path),
        t,
        node,
        (gate[0], gate[1]),
        att,
        probs,
        life,
        rec,
        _stored(run, ("photon.", "calib.photon.")),
        notes,
    )


def hom_summary(run: Run, *, cl: float = DEFAULT_CL) -> HOMSummary:
    """Coincidences per attempt per delay (Clopper–Pearson) and the visibility
    (:func:`analysis.hom.hom_visibility`)."""
    require(run, ["hom.delay_mu", "hom.coincidences", "hom.attempts"], "a HOM summary")
    d = np.atleast_1d(np.asarray(run["hom.delay_mu"], dtype=np.int64))
    c = np.atleast_1d(np.asarray(run["hom.coincidences"], dtype=np.int64))
    a = np.atleast_1d(np.asarray(run["hom.attempts"], dtype=np.int64))
    if not d.shape == c.shape == a.shape:
        raise DataError(
            run.path,
            f"shape mismatch: hom.delay_mu {d.shape}, hom.coincidences {c.shape}, "
            f"hom.attempts {a.shape}",
        )
    notes: list[str] = []
    p = [
        clopper_pearson(int(k), int(n), cl=cl)
        if n > 0 and 0 <= k <= n
        else Estimate(math.nan, math.nan, math.nan, cl, "no attempts")
        for k, n in zip(c, a)
    ]
    try:
        v: Estimate | None = hom_visibility(d, c, a, cl=cl)
    except ValueError as e:
        v = None
        notes.append(f"visibility: {e}")
    return HOMSummary(str(run.path), d, c, a, p, v, _stored(run, ("hom.visibility",)), notes)


def readout_summary(
    run: Run, *, cl: float = DEFAULT_CL, n_boot: int = 2000, seed: int = 0
) -> ReadoutSummary:
    """Optimal threshold and discrimination errors per ion
    (:func:`analysis.readout.optimise_threshold`)."""
    bright, dark, res = {}, {}, {}
    rng = np.random.default_rng(seed)
    for x in "ab":
        kb, kd = f"readout.bright_counts_{x}", f"readout.dark_counts_{x}"
        if kb in run and kd in run:
            bright[x] = np.asarray(run[kb]).ravel()
            dark[x] = np.asarray(run[kd]).ravel()
            try:
                res[x] = optimise_threshold(bright[x], dark[x], cl=cl, n_boot=n_boot, rng=rng)
            except ValueError as e:
                raise DataError(run.path, f"ion {x}: {e}") from e
    if not res:
        raise MissingDataError(
            run.path,
            "a readout summary needs readout.bright_counts_a/_b and "
            "readout.dark_counts_a/_b; none present",
        )
    return ReadoutSummary(
        str(run.path), bright, dark, res, _stored(run, ("calib.readout.", "readout.error"))
    )


def dark_count_summary(run: Run, *, cl: float = DEFAULT_CL) -> DarkCountSummary:
    """Dark and background count rates per detector (Garwood intervals)."""
    require(run, ["dark.duration_s"], "a dark-count summary")
    dur = float(np.asarray(run["dark.duration_s"]).item())
    if not dur > 0:
        raise DataError(run.path, f"dark.duration_s is {dur}; needs > 0")
    if "dark.counts" not in run:
        raise MissingDataError(run.path, "a dark-count summary needs dark.counts")
    dark = [poisson_rate(int(k), dur, cl=cl) for k in np.asarray(run["dark.counts"]).ravel()]
    bkg = None
    if "background.counts" in run:
        bkg = [
            poisson_rate(int(k), dur, cl=cl) for k in np.asarray(run["background.counts"]).ravel()
        ]
    return DarkCountSummary(str(run.path), dur, dark, bkg)


#: Experiment kinds (``ionlink.experiment``) with a summary here, and their summary functions.
KINDS: dict[str, Callable[..., Any]] = {
    "single_photon": single_photon_summary,
    "hom": hom_summary,
    "readout_calibration": readout_summary,
    "dark_counts": dark_count_summary,
}


def summarise(run: Run, *, cl: float = DEFAULT_CL, n_boot: int = 2000, seed: int = 0) -> Any:
    """The summary of a calibration run, chosen by its ``ionlink.experiment``.

    :raises SchemaError: for other kinds (entanglement runs have :func:`analysis.fidelity_summary`)
    """
    kind = run.experiment
    if kind not in KINDS:
        raise SchemaError(
            run.path,
            f"ionlink.experiment is {kind!r}; summaries exist for "
            f"remote_entanglement, {', '.join(KINDS)}",
        )
    if kind == "readout_calibration":
        return readout_summary(run, cl=cl, n_boot=n_boot, seed=seed)
    return KINDS[kind](run, cl=cl)
