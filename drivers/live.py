# SPDX-License-Identifier: LGPL-3.0-or-later
"""What the link experiments show while they run: the ``live.*`` datasets (broadcast, not
archived) and the dashboard applets that draw them (``applets/``), started through the ``ccb``
device in the group "ionlink" as ARTIQ experiments do.

Traces, one value appended per live update (every ≈ 0.5 s of host time and at the end; lists, so
the master sends each update as ``append`` mods):

- ``live.trace.t_lab_s``: lab (RTIO) time of the update since the first herald, s;
- ``live.trace.herald_rate_hz`` with ``_lo``/``_hi``: heralds per second of lab time between the
  first and the last herald, exact Poisson (Garwood) interval, 95 %;
- ``live.trace.fidelity`` with ``_lo``/``_hi``: the running fidelity estimate (NaN until both
  terms exist) with a normal-approximation 95 % interval from the binomial spread of its terms,
  clipped to [0, 1] unless the estimate itself is outside (an early estimate above 1 keeps an
  interval around it) — a dashboard figure, not the analysis;
- ``live.trace.attempt_rate_hz``: attempts per second of lab time; ``live.trace.duty_cycle``:
  the fraction of lab time spent in attempt cycles (attempts × cycle / lab time).

Also ``live.psi_plus``/``live.psi_minus`` (counts), ``live.herald_rate``, ``live.fidelity``
(latest values), ``live.arrival_hist`` (the heralds' detector clicks per 1 ns bin after the gate
reference: element k counts the clicks in [k, k + 1) ns; set anew at each update, as long as the
latest click's bin + 1, so its size is bounded by the attempt cycle, not by the run's length) and
``live.arrival_gate_ns`` ([start, stop) of the detection gate, ns).
Host code only (RPC side).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

__all__ = [
    "APPLETS",
    "ARRIVAL_BIN_NS",
    "LiveFigures",
    "LivePublisher",
    "fidelity_interval",
    "live_figures",
    "TRACE_KEYS",
]

T_LAB = "live.trace.t_lab_s"
RATE, RATE_LO, RATE_HI = (
    "live.trace.herald_rate_hz",
    "live.trace.herald_rate_lo",
    "live.trace.herald_rate_hi",
)
FID, FID_LO, FID_HI = "live.trace.fidelity", "live.trace.fidelity_lo", "live.trace.fidelity_hi"
ATTEMPT_RATE, DUTY = "live.trace.attempt_rate_hz", "live.trace.duty_cycle"
PSI_PLUS, PSI_MINUS = "live.psi_plus", "live.psi_minus"
ARRIVAL, GATE = "live.arrival_hist", "live.arrival_gate_ns"
#: bin width of ``live.arrival_hist``, ns
ARRIVAL_BIN_NS = 1.0
#: the traces, in the order of :class:`LiveFigures`' fields
TRACE_KEYS = (T_LAB, RATE, RATE_LO, RATE_HI, FID, FID_LO, FID_HI, ATTEMPT_RATE, DUTY)

#: ``(applet name, command)`` of the applets the experiments start (group "ionlink"); the
#: dashboard substitutes ``${python}``
APPLETS = (
    ("ionlink herald rate", "${python} -m applets.herald_rate --title 'Herald rate'"),
    ("ionlink psi counts", "${python} -m applets.psi_counts --title 'Heralded ψ⁺/ψ⁻'"),
    ("ionlink fidelity", "${python} -m applets.fidelity --title 'Running fidelity'"),
    (
        "ionlink arrival",
        "${python} -m applets.arrival --update-delay 0.2 --title 'Photon arrival'",
    ),
    ("ionlink attempts", "${python} -m applets.attempt_rate --title 'Attempt rate, duty cycle'"),
)
APPLET_GROUP = "ionlink"

_Z95 = 1.959963984540054


@dataclass(frozen=True)
class LiveFigures:
    """One live update (see the module docstring for units)."""

    t_lab_s: float
    herald_rate_hz: float
    herald_rate_lo: float
    herald_rate_hi: float
    fidelity: float
    fidelity_lo: float
    fidelity_hi: float
    attempt_rate_hz: float
    duty_cycle: float

    def values(self) -> tuple[float, ...]:
        """The fields in the order of :data:`TRACE_KEYS`."""
        return (
            self.t_lab_s,
            self.herald_rate_hz,
            self.herald_rate_lo,
            self.herald_rate_hi,
            self.fidelity,
            self.fidelity_lo,
            self.fidelity_hi,
            self.attempt_rate_hz,
            self.duty_cycle,
        )


def fidelity_interval(f: float, sigma: float) -> tuple[float, float]:
    """95 % normal interval ``f ± 1.96 σ`` clipped to [min(0, f), max(1, f)]: to the physical
    range, but never so that it leaves out the estimate (the running estimate is not clipped and
    can lie outside from few heralds). NaN, NaN if ``f`` or ``σ`` is NaN."""
    if not math.isfinite(f) or not math.isfinite(sigma):
        return math.nan, math.nan
    return max(min(0.0, f), f - _Z95 * sigma), min(max(1.0, f), f + _Z95 * sigma)


def live_figures(
    n_heralds: int,
    t_first_mu: int,
    t_last_mu: int,
    attempts_after_first: int,
    ref_period: float,
    cycle_mu: int,
    fidelity: float,
    fidelity_sigma: float,
) -> LiveFigures:
    """The figures of a live update from the heralds so far (running sums, not the heralds).

    :param n_heralds: heralds so far; ``t_first_mu``/``t_last_mu``: lab time of the first and
        the last, mu.
    :param attempts_after_first: attempts spent on the heralds after the first.
    :param ref_period: s per mu.
    :param cycle_mu: attempt cycle, mu.
    :param fidelity: running fidelity estimate and ``fidelity_sigma`` its standard error.
    """
    from analysis.estimate import poisson_rate

    n = n_heralds
    span_s = float(t_last_mu - t_first_mu) * ref_period if n > 1 else 0.0
    if span_s > 0:
        rate = poisson_rate(n - 1, span_s)
        r, lo, hi = rate.value, rate.lo, rate.hi
        spent = float(attempts_after_first)
        attempt_rate = spent / span_s
        duty = min(1.0, spent * cycle_mu * ref_period / span_s)
    else:
        r = lo = hi = attempt_rate = duty = math.nan
    f_lo, f_hi = fidelity_interval(fidelity, fidelity_sigma)
    return LiveFigures(span_s, r, lo, hi, fidelity, f_lo, f_hi, attempt_rate, duty)


class LivePublisher:
    """Publishes the ``live.*`` datasets of one experiment (``exp``: its ``HasEnvironment``)
    and asks the dashboard for the applets."""

    def __init__(self, exp: Any):
        self.exp = exp
        #: heralds whose clicks are in ``live.arrival_hist``
        self.heralds_sent = 0
        self._last_t = math.nan
        self._arrivals: list[int] = []

    def _set(self, key: str, value: Any) -> None:
        self.exp.set_dataset(key, value, broadcast=True, archive=False)

    def start(self, gate_mu: tuple[int, int] | None, ref_period: float) -> None:
        """Empty traces, the gate window (mu, or ``None``) and the applets."""
        for key in TRACE_KEYS + (ARRIVAL,):
            self._set(key, [])
        self.heralds_sent = 0
        self._arrivals = []
        if gate_mu is not None:
            self._set(GATE, [gate_mu[0] * ref_period * 1e9, gate_mu[1] * ref_period * 1e9])
        ccb = getattr(self.exp, "ccb", None)
        if ccb is not None:
            for name, command in APPLETS:
                ccb.issue("create_applet", name, command, group=APPLET_GROUP)

    def update(
        self,
        figures: LiveFigures,
        n_heralds: int,
        new_t_det_mu: Sequence[Sequence[int]],
        ref_period: float,
    ) -> None:
        """Append one update to the traces (unless nothing changed since the last: the same lab
        time) and add the new heralds' clicks to the arrival histogram. ``new_t_det_mu``: the
        detector timestamps (mu, -1: none) of the heralds after the first :attr:`heralds_sent`,
        one row each, ``n_heralds`` heralds in all."""
        if figures.t_lab_s == self._last_t and n_heralds == self.heralds_sent:
            return
        self._last_t = figures.t_lab_s
        for key, value in zip(TRACE_KEYS, figures.values()):
            self.exp.append_to_dataset(key, float(value))
        if math.isfinite(figures.herald_rate_hz):
            self._set("live.herald_rate", float(figures.herald_rate_hz))
        self._set("live.fidelity", float(figures.fidelity))
        hist, added = self._arrivals, False
        for row in new_t_det_mu:
            for t in row:
                if t >= 0:
                    k = int(math.floor(float(t) * ref_period * 1e9 / ARRIVAL_BIN_NS))
                    if k >= len(hist):
                        hist.extend([0] * (k + 1 - len(hist)))
                    hist[k] += 1
                    added = True
        if added:
            self._set(ARRIVAL, list(hist))
        self.heralds_sent = n_heralds
