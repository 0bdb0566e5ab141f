# SPDX-License-Identifier: LGPL-3.0-or-later
"""Offline analysis of ionlink and ARTIQ results files.

Notebook API::

    from analysis import load, fidelity_summary
    run = load("results/2025-01-01/12/000000042-RemoteEntanglement.h5")
    rep = fidelity_summary([run.path])
    print(rep.fidelity, rep.p_success, rep.rate_lab)

Estimators are pure functions on arrays in :mod:`analysis.bell`, :mod:`analysis.tomography`,
:mod:`analysis.heralds`, :mod:`analysis.photons`, :mod:`analysis.lifetime`, :mod:`analysis.hom`,
:mod:`analysis.dark_rate` and :mod:`analysis.readout`; all return :class:`Estimate` values with a
stated interval method and confidence level. :mod:`analysis.calibration` summarises single-photon,
HOM, readout-calibration and dark-count runs; :func:`write_report` writes a report of any of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .estimate import Estimate, clopper_pearson, poisson_rate, wilson
    from .folders import find_runs
    from .io import (
        AnalysisError,
        DataError,
        FileFormatError,
        MissingDataError,
        Run,
        SchemaError,
        load,
    )
    from .report import write_report
    from .summary import FidelityReport, fidelity_summary

__all__ = [
    "AnalysisError",
    "DataError",
    "Estimate",
    "FidelityReport",
    "FileFormatError",
    "MissingDataError",
    "Run",
    "SchemaError",
    "clopper_pearson",
    "fidelity_summary",
    "find_runs",
    "load",
    "poisson_rate",
    "wilson",
    "write_report",
]

#: where each public name lives; imported on first use, so ``import analysis`` loads neither
#: scipy nor h5py, and reports alone import matplotlib
_HOME = {
    "Estimate": "estimate",
    "clopper_pearson": "estimate",
    "poisson_rate": "estimate",
    "wilson": "estimate",
    "AnalysisError": "io",
    "DataError": "io",
    "FileFormatError": "io",
    "MissingDataError": "io",
    "Run": "io",
    "SchemaError": "io",
    "find_runs": "folders",
    "load": "io",
    "FidelityReport": "summary",
    "fidelity_summary": "summary",
    "write_report": "report",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{home}", __name__), name)
