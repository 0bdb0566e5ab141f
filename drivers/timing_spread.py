# SPDX-License-Identifier: LGPL-3.0-or-later
"""How much a kernel operation's CPU cost varies: the fit of repeated single measurements.

``repository/timing_calibration.py`` times each operation of :data:`SPREAD_KEYS` on its own,
``repeats`` times (RTIO counter read, operation, counter read), and stores the mean costs as
``calib.timing.<name>`` and the spread fitted here as ``calib.timing.<name>_sd_mu``,
``_p_slow`` and ``_slow_mu``, which ``sim.rtio.cost_spread`` reads to draw costs in the
simulator, with the statistical uncertainty of the slow events (:func:`slow_event_datasets`: how
many samples, and 95 % intervals of ``p_slow`` and ``slow_mu``), which the simulator's draws do
not use but ``ionlink-sim slack --profile calibrated`` prints.

The model of one operation's cost (mu), given its calibrated mean ``m``::

    cost = m + N(0, sd_mu) + B(p_slow) * Exp(slow_mu) - p_slow * slow_mu

a narrow core (pipeline and bus jitter) and rare slow events (an instruction- or data-cache miss
to SDRAM, a DMA engine waiting for the memory bus, a host that answers an RPC late), exponential
in their excess; the last term keeps the mean at ``m``. The fit (:func:`fit_spread`): the median
``c`` and the median absolute deviation of the samples separate the core from the slow events
(samples above ``c + max(5 sd, 24 mu)``); ``sd_mu`` is the core's standard deviation less the
counter's quantisation (each sample is the difference of two reads of the coarse counter, a
multiple of 8 mu: an error of variance 2 x 64/12 mu^2, subtracted). Only slow events whose
excess reaches the threshold are seen; the exponential's memorylessness gives the rest: the
seen ones' overshoot beyond the threshold is Exp(``slow_mu``) whatever the core drew, so
``slow_mu`` is their mean overshoot, and a slow event is seen with probability
exp(-lead / ``slow_mu``), lead = threshold - the core's mean, so ``p_slow`` is the fraction seen
times exp(lead / ``slow_mu``) (at most ½: half the samples lie at or below the median). (Until
2026-12-02 the fraction seen and the seen events' mean excess over the core were stored: at
p = 0.02 and 400 mu over a 100 mu lead, p 22 % low and the excess 100 mu high.) With no slow
sample among ``n``, ``p_slow`` = 0 (its 95 % upper bound is ≈ 3.7/n, stored: a lab that needs the
tail better measures more). Host code only (numpy, scipy), no ARTIQ.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "SLOW_EVENT_CL",
    "SPREAD_KEYS",
    "SPREAD_FIELDS",
    "OpSpread",
    "SlowEvents",
    "fit_spread",
    "slow_event_datasets",
    "slow_events",
    "spread_datasets",
]

#: calibration names (``calib.timing.<name>``) whose spread the timing calibration measures
SPREAD_KEYS = ("output_mu", "input_read_mu", "counter_read_mu", "rpc_mu", "dma_playback_start_mu")
#: the suffixes of the stored spread (``calib.timing.<name><suffix>``) → :class:`OpSpread` field
SPREAD_FIELDS = {"_sd_mu": "sd_mu", "_p_slow": "p_slow", "_slow_mu": "slow_mu"}

#: variance (mu^2) of the difference of two reads of a counter quantised to 8 mu
_QUANTISATION_VAR = 2 * 64 / 12
#: a sample this far above the median (at least) is a slow event (mu)
_MIN_SLOW_EXCESS = 24.0


@dataclass(frozen=True)
class OpSpread:
    """Spread of one operation's cost around its mean (module docstring): core standard
    deviation ``sd_mu`` (mu), probability ``p_slow`` of a slow event per operation, and the
    slow events' mean excess ``slow_mu`` (mu, exponential)."""

    sd_mu: float = 0.0
    p_slow: float = 0.0
    slow_mu: float = 0.0

    @property
    def variance(self) -> float:
        """Variance of one operation's cost (mu^2)."""
        p, s = self.p_slow, self.slow_mu
        return self.sd_mu**2 + p * 2 * s * s - (p * s) ** 2


#: confidence level of the stored intervals of the slow events
SLOW_EVENT_CL = 0.95


@dataclass(frozen=True)
class SlowEvents:
    """How well the samples of one operation determine its slow events: ``samples`` single
    measurements, ``slow`` of them seen slow, with :data:`SLOW_EVENT_CL` intervals of the
    probability (the seen fraction's Clopper-Pearson interval and the unseen share's, joined)
    and of the mean excess (exponential: the ``slow`` overshoots sum to ``slow · slow_mu``;
    ``(0, inf)`` without a slow event)."""

    samples: int
    slow: int
    p_slow_ci: tuple[float, float]
    slow_mu_ci: tuple[float, float]


@dataclass(frozen=True)
class _Split:
    """The samples parted at the threshold: the slow ones seen, their mean overshoot beyond
    it, and the threshold's lead over the core's mean (mu)."""

    slow: np.ndarray
    core: np.ndarray
    overshoot: float
    lead: float

    def seen_to_all(self, overshoot: float) -> float:
        """Slow events per slow event seen, for a mean excess ``overshoot`` (estimated from
        the seen ones: 1/excess by (k-1)/(their overshoots' sum), its unbiased estimate)."""
        k = int(self.slow.sum())
        if overshoot <= 0 or k < 2:
            return 1.0
        return math.exp(min(self.lead * (k - 1) / (k * overshoot), 700.0))


def _split(x: np.ndarray) -> _Split:
    """Which samples are slow events, and what their overshoot says (module docstring)."""
    c = float(np.median(x))
    mad_sd = 1.4826 * float(np.median(np.abs(x - c)))
    threshold = c + max(5 * mad_sd, _MIN_SLOW_EXCESS)
    slow = x > threshold
    core = x[~slow]
    overshoot = float(x[slow].mean() - threshold) if slow.any() else 0.0
    return _Split(slow, core, overshoot, max(threshold - float(core.mean()), 0.0))


def fit_spread(samples: "list[int] | np.ndarray") -> OpSpread:
    """The spread of one operation from its single measurements (mu; module docstring)."""
    x = np.asarray(samples, dtype=float)
    if x.size < 2:
        return OpSpread()
    part = _split(x)
    core = part.core
    var = float(np.var(core, ddof=1)) if core.size > 1 else 0.0
    sd = float(np.sqrt(max(var - _QUANTISATION_VAR, 0.0)))
    if not part.slow.any():
        return OpSpread(round(sd, 2), 0.0, 0.0)
    p = min(float(part.slow.mean()) * part.seen_to_all(part.overshoot), 0.5)
    return OpSpread(round(sd, 2), round(p, 4), round(part.overshoot, 1))


def slow_events(samples: "list[int] | np.ndarray", cl: float = SLOW_EVENT_CL) -> SlowEvents:
    """The slow events' counts and intervals behind :func:`fit_spread`'s ``p_slow`` and
    ``slow_mu`` (at least two samples)."""
    from scipy import special

    from analysis.estimate import clopper_pearson

    x = np.asarray(samples, dtype=float)
    if x.size < 2:
        raise ValueError("the slow events need at least two samples")
    part = _split(x)
    n, k = int(x.size), int(part.slow.sum())
    if k == 0:
        seen = clopper_pearson(k, n, cl=cl)
        return SlowEvents(n, k, (seen.lo, seen.hi), (0.0, math.inf))

    def excess(level: float) -> tuple[float, float]:
        """The mean excess's interval at ``level`` (the overshoots' sum: Gamma(k, slow_mu))."""
        a, total = 1 - level, k * part.overshoot
        lo = total / float(special.gammaincinv(k, 1 - a / 2))
        return lo, total / float(special.gammaincinv(k, a / 2))

    # p = (the fraction seen) x exp(lead / slow_mu): each factor's interval at 1 - (1 - cl)/2,
    # joined (Bonferroni: at least cl when both hold)
    half = 1 - (1 - cl) / 2
    seen = clopper_pearson(k, n, cl=half)
    lo_s, hi_s = excess(half)
    p_ci = (
        min(seen.lo * math.exp(part.lead / hi_s), 0.5),
        min(seen.hi * math.exp(min(part.lead / lo_s, 700.0)), 1.0),
    )
    return SlowEvents(n, k, p_ci, excess(cl))


def slow_event_datasets(name: str, events: SlowEvents) -> dict[str, Any]:
    """The ``calib.timing.<name>_samples``, ``_p_slow_ci`` and ``_slow_mu_ci`` datasets of
    ``events`` (an infinite bound stored as -1: no slow event seen)."""
    hi = events.slow_mu_ci[1]
    return {
        "calib.timing." + name + "_samples": events.samples,
        "calib.timing." + name + "_p_slow_ci": list(events.p_slow_ci),
        "calib.timing." + name + "_slow_mu_ci": [
            events.slow_mu_ci[0],
            hi if hi < math.inf else -1.0,
        ],
    }


def spread_datasets(name: str, spread: OpSpread) -> dict[str, float]:
    """The ``calib.timing.<name>_*`` datasets of ``spread`` (``name`` from :data:`SPREAD_KEYS`)."""
    return {
        "calib.timing." + name + suffix: float(getattr(spread, field))
        for suffix, field in SPREAD_FIELDS.items()
    }
