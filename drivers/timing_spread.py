# SPDX-License-Identifier: LGPL-3.0-or-later
"""How much a kernel operation's CPU cost varies: the fit of repeated single measurements.

``repository/timing_calibration.py`` times each operation of :data:`SPREAD_KEYS` on its own,
``repeats`` times (RTIO counter read, operation, counter read), and stores the mean costs as
``calib.timing.<name>`` and the spread fitted here as ``calib.timing.<name>_sd_mu``,
``_p_slow`` and ``_slow_mu``, which ``sim.rtio.cost_spread`` reads to draw costs in the simulator.

The model of one operation's cost (mu), given its calibrated mean ``m``::

    cost = m + N(0, sd_mu) + B(p_slow) * Exp(slow_mu) - p_slow * slow_mu

a narrow core (pipeline and bus jitter) and rare slow events (an instruction- or data-cache miss
to SDRAM, a DMA engine waiting for the memory bus, a host that answers an RPC late), exponential
in their excess; the last term keeps the mean at ``m``. The fit (:func:`fit_spread`): the median
``c`` and the median absolute deviation of the samples separate the core from the slow events
(samples above ``c + max(5 sd, 24 mu)``); ``sd_mu`` is the core's standard deviation less the
counter's quantisation (each sample is the difference of two reads of the coarse counter, a
multiple of 8 mu: an error of variance 2 x 64/12 mu^2, subtracted); ``p_slow`` the fraction of
slow samples and ``slow_mu`` their mean excess over the core's mean. With no slow sample among
``n``, ``p_slow`` = 0 (its 95 % upper bound is 3/n; a lab that needs the tail better measures
more). Host code only (numpy), no ARTIQ.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["SPREAD_KEYS", "SPREAD_FIELDS", "OpSpread", "fit_spread", "spread_datasets"]

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


def fit_spread(samples: "list[int] | np.ndarray") -> OpSpread:
    """The spread of one operation from its single measurements (mu; module docstring)."""
    x = np.asarray(samples, dtype=float)
    if x.size < 2:
        return OpSpread()
    c = float(np.median(x))
    mad_sd = 1.4826 * float(np.median(np.abs(x - c)))
    slow = x > c + max(5 * mad_sd, _MIN_SLOW_EXCESS)
    core = x[~slow]
    var = float(np.var(core, ddof=1)) if core.size > 1 else 0.0
    sd = float(np.sqrt(max(var - _QUANTISATION_VAR, 0.0)))
    p = float(slow.mean())
    excess = float(x[slow].mean() - core.mean()) if slow.any() else 0.0
    return OpSpread(round(sd, 2), round(p, 4), round(max(excess, 0.0), 1))


def spread_datasets(name: str, spread: OpSpread) -> dict[str, float]:
    """The ``calib.timing.<name>_*`` datasets of ``spread`` (``name`` from :data:`SPREAD_KEYS`)."""
    return {
        "calib.timing." + name + suffix: float(getattr(spread, field))
        for suffix, field in SPREAD_FIELDS.items()
    }
