# SPDX-License-Identifier: LGPL-3.0-or-later
"""Summaries of the calibration experiments: single photon, HOM, readout calibration, dark counts.

Each ``*_summary(run)`` reads the datasets its experiment writes (docs/datasets.md) and applies
the same pure estimators as the experiment itself (:mod:`analysis.lifetime`, :mod:`analysis.hom`,
:mod:`analysis.readout`, :mod:`analysis.gate_rule`, Garwood rates), so a report recomputes what the
run stored. A run stopped early (``totals.stop_reason`` not ``complete``) is summarised from what
it took, with a note; what it did not measure is left out (``n/a``). :func:`summarise` picks the
summary by ``ionlink.experiment``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .estimate import DEFAULT_CL, Estimate, clopper_pearson, poisson_rate
from .gate_rule import GateRule
from .hom import hom_visibility
from .io import DataError, MissingDataError, Run, SchemaError, require
from .lifetime import LifetimeFit, fit_lifetime_tags
from .readout import ThresholdResult, optimise_threshold
from .stop_reason import stop_reason, stopped_early_note

__all__ = [
    "KINDS",
    "DarkCountSummary",
    "HOMSummary",
    "ReadoutSummary",
    "SinglePhotonSummary",
    "gate_rule_of",
    "summarise",
]


@dataclass(frozen=True)
class SinglePhotonSummary:
    """Single-photon run: lifetime, click probability per node, gate.

    :param t_mu: click times relative to the excitation, mu; ``node`` the node of each click
    :param gate_mu: gate [start, stop) of the run, mu
    :param click_prob: per node, clicks per attempt (Clopper–Pearson; one click per clicking
        detector; NaN for a node without attempts)
    :param gate_recommended_mu: the gate the run recommended and stored
        (``photon.gate_recommended_mu``, = ``calib.photon.gate_start_mu``/``gate_stop_mu``), mu;
        None when it stored none (stopped early, refused)
    :param gate_rule: the rule the run recommends its gate by (:mod:`analysis.gate_rule`)
    :param gate_fitted_mu: that rule applied to this analysis's lifetime fit, mu (the run's
        recommendation when the fits agree)
    :param stored: values the experiment stored (``photon.*``), for comparison
    :param stop_reason: ``totals.stop_reason`` (None: the file does not say)
    """

    file: str
    t_mu: np.ndarray = field(repr=False)
    node: np.ndarray = field(repr=False)
    gate_mu: tuple[int, int]
    attempts: list[int]
    click_prob: list[Estimate]
    lifetime: LifetimeFit | None
    gate_recommended_mu: tuple[int, int] | None
    gate_rule: GateRule
    gate_fitted_mu: tuple[int, int] | None
    stored: dict[str, Any]
    stop_reason: str | None = None
    notes: list[str] = field(default_factory=list)
    kind: str = "single_photon"


@dataclass(frozen=True)
class HOMSummary:
    """HOM run: coincidence probability per delay (NaN where not measured) and the visibility;
    ``stop_reason``: ``totals.stop_reason`` (None: the file does not say)."""

    file: str
    delay_mu: np.ndarray
    coincidences: np.ndarray
    attempts: np.ndarray
    p_coinc: list[Estimate]
    visibility: Estimate | None
    stored: dict[str, Any]
    stop_reason: str | None = None
    notes: list[str] = field(default_factory=list)
    kind: str = "hom"


@dataclass(frozen=True)
class ReadoutSummary:
    """Readout calibration: per ion ('a', 'b') the PMT counts of the shots taken (``bright``,
    ``dark``: the ions and states with shots) and the optimal threshold (``thresholds``: the
    ions with both states); ``stop_reason``: ``totals.stop_reason`` (None: the file does not
    say)."""

    file: str
    bright: dict[str, np.ndarray] = field(repr=False)
    dark: dict[str, np.ndarray] = field(repr=False)
    thresholds: dict[str, ThresholdResult]
    stored: dict[str, Any]
    stop_reason: str | None = None
    notes: list[str] = field(default_factory=list)
    kind: str = "readout_calibration"


@dataclass(frozen=True)
class DarkCountSummary:
    """Dark counts (all beams off) and background (cooling light on; None: not measured) per
    detector, in s⁻¹; ``stop_reason``: ``totals.stop_reason`` (None: the file does not say)."""

    file: str
    duration_s: float
    dark: list[Estimate]
    background: list[Estimate] | None
    stop_reason: str | None = None
    notes: list[str] = field(default_factory=list)
    kind: str = "dark_counts"


def _stored(run: Run, prefixes: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in sorted(run.values.items()) if k.startswith(prefixes)}


def single_photon_summary(run: Run, *, cl: float = DEFAULT_CL) -> SinglePhotonSummary:
    """Lifetime (:func:`analysis.lifetime.fit_lifetime_tags`), click probabilities, and the gate
    the run recommended, beside its rule (:func:`gate_rule_of`) applied to this fit."""
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
    requested = run.values.get("totals.attempts_requested")
    of = "" if requested is None else f" of {int(requested)}"
    stopped = stopped_early_note(run, f"{sum(att)}{of} attempts (per node: {att})")
    if stopped is not None:
        notes.append(f"{stopped}: the run stored no calibration")
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
    rule = gate_rule_of(run)
    life, fitted = None, None
    try:
        life = fit_lifetime_tags(t, stop_mu=gate[1], cl=cl)
        fitted = rule.gate_mu(life.onset, life.tau.value)
    except ValueError as e:
        notes.append(f"lifetime fit: {e}")
    rec = None
    if "photon.gate_recommended_mu" in run:
        g = np.asarray(run["photon.gate_recommended_mu"]).ravel()
        rec = (int(g[0]), int(g[1]))
        if fitted is not None and fitted != rec:
            notes.append(
                f"this analysis's fit gives the gate [{fitted[0]}, {fitted[1]}] ns by the run's "
                f"rule, not the [{rec[0]}, {rec[1]}] ns the run recommended"
            )
    return SinglePhotonSummary(
        str(run.path),
        t,
        node,
        (gate[0], gate[1]),
        att,
        probs,
        life,
        rec,
        rule,
        fitted,
        _stored(run, ("photon.", "calib.photon.")),
        stop_reason(run),
        notes,
    )


def gate_rule_of(run: Run) -> GateRule:
    """The rule by which a single-photon run recommends its gate: its ``photon.gate_start_s``,
    ``photon.gate_length_s`` and ``photon.gate_taus``; in files that lack them, the run's
    arguments (``gate_length``, ``gate_taus``) and the ``calib.link.gate_start_s``/
    ``gate_length_s`` it read (archive), else :class:`GateRule`'s defaults."""
    args = run.expid.get("arguments", {}) if isinstance(run.expid, dict) else {}
    args = args if isinstance(args, dict) else {}
    default = GateRule()

    def value(dataset: str, argument: str | None, link: str | None, fallback: float) -> float:
        if dataset in run.values:
            return float(run.values[dataset])
        if argument is not None and argument in args:
            return float(args[argument])
        if link is not None and link in run.archive:
            return float(np.asarray(run.read(link, group="archive")).item())
        return fallback

    return GateRule(
        start_s=value("photon.gate_start_s", None, "calib.link.gate_start_s", default.start_s),
        length_s=value(
            "photon.gate_length_s", "gate_length", "calib.link.gate_length_s", default.length_s
        ),
        taus=value("photon.gate_taus", "gate_taus", None, default.taus),
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
    if "hom.gate_mu" not in run:
        notes.append(
            "no hom.gate_mu (a HOM run before 2026-12-02): each delay's gate ended that delay "
            "after the calibrated one, so the reference took node A's photons whole and more "
            "dark counts than the zero delay: the visibility reads high (0.58 for M = 0.5)"
        )
    stopped = stopped_early_note(run, f"{int(np.count_nonzero(a))} of {a.size} delays")
    if stopped is not None:
        notes.append(f"{stopped}: the delays not reached are n/a")
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
    stored = _stored(run, ("hom.visibility",))
    if "hom.visibility_corrected" in run:
        corrected = [
            float(np.asarray(run[f"hom.visibility_corrected{x}"])) for x in ("", "_lo", "_hi")
        ]
        notes.append(
            "visibility of the photon pairs, the accidental coincidences the singles and the "
            "calibrated dark counts expect subtracted (hom.accidentals): {:.4f} [{:.4f}, "
            "{:.4f}]".format(*corrected)
        )
    return HOMSummary(str(run.path), d, c, a, p, v, stored, stop_reason(run), notes)


def readout_summary(
    run: Run, *, cl: float = DEFAULT_CL, n_boot: int = 2000, seed: int = 0
) -> ReadoutSummary:
    """Optimal threshold and discrimination errors per ion
    (:func:`analysis.readout.optimise_threshold`)."""
    bright: dict[str, np.ndarray] = {}
    dark: dict[str, np.ndarray] = {}
    res: dict[str, ThresholdResult] = {}
    rng = np.random.default_rng(seed)
    for x in "ab":
        for state, counts in (("bright", bright), ("dark", dark)):
            key = f"readout.{state}_counts_{x}"
            if key in run and np.asarray(run[key]).size:
                counts[x] = np.asarray(run[key]).ravel()
        if x in bright and x in dark:
            try:
                res[x] = optimise_threshold(bright[x], dark[x], cl=cl, n_boot=n_boot, rng=rng)
            except ValueError as e:
                raise DataError(run.path, f"ion {x}: {e}") from e
    reason = stop_reason(run)
    if not bright and not dark:
        early = "" if reason in (None, "complete") else f" (the run stopped early: {reason})"
        raise MissingDataError(
            run.path,
            "a readout summary needs readout.bright_counts_a/_b and "
            f"readout.dark_counts_a/_b; none present{early}",
        )
    notes = []
    taken = sum(c.size for c in (*bright.values(), *dark.values()))
    requested = run.values.get("totals.shots_requested")
    of = "" if requested is None else f" of {int(requested)}"
    stopped = stopped_early_note(run, f"{taken}{of} shots")
    if stopped is not None:
        notes.append(f"{stopped}: the run stored no calibration")
    for x in "ab":
        if x not in res:
            notes.append(f"ion {x}: {_shots_text(bright, dark, x)}: no threshold")
    return ReadoutSummary(
        str(run.path),
        bright,
        dark,
        res,
        _stored(run, ("calib.readout.", "readout.error")),
        reason,
        notes,
    )


def _shots_text(bright: dict[str, np.ndarray], dark: dict[str, np.ndarray], x: str) -> str:
    """``"<n> dark, <m> bright shots"`` of ion ``x``."""
    nd = dark[x].size if x in dark else 0
    nb = bright[x].size if x in bright else 0
    return f"{nd} dark, {nb} bright shots"


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
    notes = []
    stopped = stopped_early_note(
        run, "the dark counts" + ("" if bkg is None else " and background")
    )
    if stopped is not None:
        notes.append(f"{stopped}: the run stored no calibration")
    return DarkCountSummary(str(run.path), dur, dark, bkg, stop_reason(run), notes)


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
