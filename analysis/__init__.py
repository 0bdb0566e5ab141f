# SPDX-License-Identifier: LGPL-3.0-or-later
"""Offline analysis of ionlink and ARTIQ results files.

Notebook API::

    from analysis import load, fidelity_summary
    run = load("results/2025-01-01/12/000000042-RemoteEntanglement.h5")
    rep = fidelity_summary([run.path])
    print(rep.fidelity, rep.p_success, rep.rate_lab)

Estimators are pure functions on arrays in :mod:`analysis.bell`, :mod:`analysis.tomography`,
:mod:`analysis.heralds`, :mod:`analysis.photons`, :mod:`analysis.lifetime`, :mod:`analysis.hom` and
:mod:`analysis.readout`; all return :class:`Estimate` values with a stated interval method and
confidence level. :mod:`analysis.calibration` summarises single-photon, HOM, readout-calibration and
dark-count runs; :func:`write_report` writes a report of any of them.
"""
from .estimate import Estimate, clopper_pearson, poisson_rate, wilson
from .io import (
    AnalysisError,
    DataError,
    FileFormatError,
    MissingDataError,
    Run,
    SchemaError,
    find_runs,
    load,
)
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


def __getattr__(name: str):  # lazy: matplotlib is only imported for reports
    if name == "write_report":
        from .report import write_report

        return write_report
    raise AttributeError(name)
