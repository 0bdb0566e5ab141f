# SPDX-License-Identifier: LGPL-3.0-or-later
"""The detector gate the single-photon calibration recommends, from the photons' arrival.

One rule serves the experiment (``repository/single_photon.py``, which stores the gate as
``photon.gate_recommended_mu`` and ``calib.photon.gate_start_mu``/``gate_stop_mu``) and the
offline analysis (:func:`analysis.calibration.single_photon_summary`), so that both give the same
gate from the same fit. The gate opens ``start_s`` after the rising edge of the arrivals (the
lifetime fit's onset; the lab's ``calib.link.gate_start_s``) and lasts ``length_s`` (the lab's
``calib.link.gate_length_s`` or the run's ``gate_length``), or ``taus`` lifetimes where no length
is chosen (``length_s`` 0). A run records its rule as ``photon.gate_start_s``,
``photon.gate_length_s`` and ``photon.gate_taus`` (docs/datasets.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["GateRule"]

#: a length within this many mu of a whole number of mu is that number (seconds / ref_period
#: is not exact in binary: 15 ns / 1 ns is 15.000000000000002)
_MU_TOLERANCE = 1e-6


@dataclass(frozen=True)
class GateRule:
    """How the recommended gate follows from the arrivals.

    :param start_s: gate opening after the onset, s
    :param length_s: gate length, s; 0: ``taus`` lifetimes
    :param taus: gate length in lifetimes when ``length_s`` is 0
    """

    start_s: float = 0.0
    length_s: float = 0.0
    taus: float = 3.0

    def gate_mu(self, onset_mu: float, tau_mu: float, ref_period: float = 1e-9) -> tuple[int, int]:
        """The gate [start, stop] in mu from the excitation: start = ⌊onset⌋ + ``start_s``, stop =
        start + ⌈length⌉ (mu of ``ref_period`` s)."""
        start = math.floor(onset_mu) + round(self.start_s / ref_period)
        length = self.length_s / ref_period if self.length_s > 0 else self.taus * tau_mu
        return start, start + math.ceil(length - _MU_TOLERANCE)

    def describe(self) -> str:
        """The rule in words (for reports)."""
        length = (
            f"{self.length_s * 1e9:.4g} ns long"
            if self.length_s > 0
            else f"{self.taus:.3g} lifetimes long"
        )
        return f"opens {self.start_s * 1e9:.4g} ns after the onset, {length}"
