# SPDX-License-Identifier: LGPL-3.0-or-later
"""A link experiment that gives up without a herald: :class:`NoHeraldError` and its one line
(:func:`no_herald_message`), which says what was measured — the attempts, the lab time, the P
expected and what the detectors counted (:class:`ClickCounts`) — and the causes that fit it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ClickCounts", "NoHeraldError", "no_herald_message"]


class NoHeraldError(Exception):
    """The link did not herald within its bound (``herald_timeout``)."""


@dataclass(frozen=True)
class ClickCounts:
    """What the 4 detectors counted before a link experiment gave up without a herald (host
    side, sent by the kernel's RPC)."""

    #: in how many of the ``span`` cycles or attempts each detector clicked in its gate
    per_detector: list[int]
    #: the last run's cycles (gateware heralding: the entangler's input counters) or the
    #: attempts made after the timeout to count them (CPU heralding: one cooling's)
    span: int
    #: ``"cycles"`` or ``"attempts"``
    unit: str
    #: how many of them clicked as a herald pattern (counted by the CPU path only: 0 otherwise)
    heralds: int


#: what stops every herald, the link aside: no light at the detectors within the gate
_NO_LIGHT = (
    "beams or their DDS RF off, ions not cooled, pumped or excited, collection or fibres, "
    "detectors off or not gated, the gate window calib.photon.gate_* off the photons"
)


def no_herald_message(exp) -> str:
    """:class:`NoHeraldError`'s line for link experiment ``exp`` that gave up after
    ``no_herald_attempts``: what was measured (the attempts, the lab time, the P expected and
    the detectors' clicks: ``exp.last_run_clicks``, a :class:`ClickCounts`) and the causes
    that fit it, not only the link's."""
    n = exp.no_herald_attempts
    if exp.p_expected > 0:
        expected = "P = {:.3g} per attempt expected from the single-photon calibration".format(
            exp.p_expected
        )
    else:
        expected = "no P expected: no single-photon calibration"
    clicks = exp.last_run_clicks
    if clicks is None:
        measured = (
            "no click counts measured; possible causes: no light at the detectors ({}), or "
            "light that never makes a herald pattern (one node dark, mode overlap, "
            "efficiencies)".format(_NO_LIGHT)
        )
    else:
        counted, unit, heralds = clicks.per_detector, clicks.unit, clicks.heralds
        span = (
            "the last run's {} cycles".format(clicks.span)
            if unit == "cycles"
            else "{} more attempts (one cooling's, made after the timeout to count the clicks)"
            "".format(clicks.span)
        )
        if sum(counted) == 0:
            measured = (
                "{} had no click on any of the 4 detectors in the gate: no light reaches them "
                "within it ({})".format(span, _NO_LIGHT)
            )
        elif heralds:
            measured = (
                "in {} the 4 detectors clicked in {} {}, {} of them a herald: the link heralds, "
                "at far less than the P expected (efficiencies, mode overlap, the gate window)"
                "".format(span, ", ".join(str(c) for c in counted), unit, heralds)
            )
        else:
            measured = (
                "in {} the 4 detectors clicked in {} {}: light or dark counts reach them but "
                "never as a herald pattern (one node dark: its beams, pumping or excitation, its "
                "fibre; the gate window; mode overlap; efficiencies)".format(
                    span, ", ".join(str(c) for c in counted), unit
                )
            )
    return "no herald in {} attempts ({:.3g} s of lab time; {}); {}; {} heralds recorded".format(
        n, exp.totals["lab_mu"] * exp.core.ref_period, expected, measured, exp.recorded()
    )
