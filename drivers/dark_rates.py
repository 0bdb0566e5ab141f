# SPDX-License-Identifier: LGPL-3.0-or-later
"""The detectors' dark-count calibration as the experiments that subtract it read it (host side:
single photon, HOM, polarisation compensation).

Dark counts stores the rates (``calib.bsa.dark_rate_hz``) and, since 2026-12-02, what they were
measured from: the counts (``calib.bsa.dark_counts``) and the gated time of each detector
(``calib.bsa.dark_duration_s``), from which :class:`analysis.dark_rate.DarkCalibration` gives
the rates' own uncertainty. A store with the rates alone is still read, with a warning: its
rates are then taken as exact.
"""

import logging

import numpy as np

logger = logging.getLogger(__name__)

RATES = "calib.bsa.dark_rate_hz"
COUNTS = "calib.bsa.dark_counts"
DURATION = "calib.bsa.dark_duration_s"


def read_dark_calibration(experiment, purpose):
    """(rates, calibration) from the dataset store: the rates (array of 4, s⁻¹) or ``None``
    without a Dark counts calibration, and the :class:`analysis.dark_rate.DarkCalibration` they
    were measured from, or ``None`` (warned about, naming ``purpose``) where the store lacks the
    counts or they do not give its rates (rates set by hand)."""
    rates = experiment.get_dataset(RATES, None)
    if rates is None:
        return None, None
    rates = np.asarray(rates, dtype=float)
    counts = experiment.get_dataset(COUNTS, None)
    duration = experiment.get_dataset(DURATION, None)
    if counts is None or duration is None:
        logger.warning(
            "%s: %s has no %s/%s (a Dark counts run before 2026-12-02): the rates' own "
            "uncertainty is not in the intervals, they are taken as exact; run Dark counts "
            "again to propagate it",
            purpose,
            RATES,
            COUNTS,
            DURATION,
        )
        return rates, None
    from analysis.dark_rate import DarkCalibration

    try:
        cal = DarkCalibration(np.asarray(counts), float(duration))
    except ValueError as e:
        logger.warning("%s: %s: %s; the rates are taken as exact", purpose, COUNTS, e)
        return rates, None
    if cal.counts.shape != rates.shape or not np.allclose(cal.rates, rates, rtol=1e-9):
        logger.warning(
            "%s: %s (%s s⁻¹) is not %s / %s (%s counts in %.4g s): the rates were set by hand; "
            "they are taken as exact",
            purpose,
            RATES,
            np.array2string(rates, precision=4),
            COUNTS,
            DURATION,
            cal.counts.tolist(),
            cal.duration_s,
        )
        return rates, None
    return rates, cal
