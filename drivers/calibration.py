# SPDX-License-Identifier: LGPL-3.0-or-later
"""Calibrations that refuse nonsense.

A calibration experiment checks its result before it stores any persistent ``calib.*`` dataset;
when the result is nonsense (a readout that cannot tell bright from dark, no photons in the
window, a fit that did not converge) it raises :class:`CalibrationRefused` instead, so the
previous calibration stays in the dataset store and the run ends with an error (exit status 1
in the simulator, a failed run on the dashboard).
"""

__all__ = ["CalibrationRefused", "refused"]


class CalibrationRefused(Exception):
    """A calibration result was not stored because it is nonsense; the message says why."""


def refused(experiment: str, reason: str) -> CalibrationRefused:
    """The exception to raise: one line saying what was not stored, and why."""
    return CalibrationRefused(
        "{}: calibration not stored (the previous one stays): {}".format(experiment, reason)
    )
