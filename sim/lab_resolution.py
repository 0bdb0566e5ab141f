# SPDX-License-Identifier: LGPL-3.0-or-later
"""Which lab a :class:`~sim.runner.Simulation` simulates: the lab description given (preset
name, TOML path or loaded ``Lab``), else the ``lab.toml`` beside the device database, with the
``--set`` overrides applied (:func:`resolve_lab`); and what a simulation that found none says
(:func:`no_lab_message`).
"""

from __future__ import annotations

import os
import pathlib
from typing import Any, Sequence

from sim.experiment_file import InputError
from sim.provenance import NO_LAB, lab_file

__all__ = ["resolve_lab", "no_lab_message"]


def resolve_lab(
    lab: Any, device_db_path: pathlib.Path | None, overrides: Sequence[str] = ()
) -> Any:
    """Load the lab description: ``lab`` (preset name, path or loaded object), else the ``lab.toml``
    next to the device database if present, else ``None``; with ``overrides`` (``KEY=VALUE``
    texts of ``--set``, :mod:`sim.physics.lab_overrides`) applied to its TOML document.

    :raises InputError: the lab cannot be loaded, an override is bad, or there are overrides
        but no lab file to apply them to.
    """
    if lab == NO_LAB:  # explicitly none: the timing alone
        if overrides:
            raise InputError("--set needs a lab, not --lab {}".format(NO_LAB))
        return None
    if lab is None:
        lab = lab_file(None, device_db_path)
        if lab is None:
            if overrides:
                raise InputError("--set needs a lab: give --lab (no lab.toml beside the device db)")
            return None
    if not isinstance(lab, (str, os.PathLike)):
        if overrides:
            source = getattr(lab, "source", "")
            if not source:
                raise InputError("--set needs a lab read from a TOML file")
            return resolve_lab(source, device_db_path, overrides)
        return lab
    try:
        from sim.physics.lab import load_lab
    except ImportError as exc:
        raise InputError(
            "cannot load lab {!r}: sim.physics is not available".format(str(lab))
        ) from exc
    try:
        from sim.physics.lab_overrides import parse_override

        return load_lab(os.fspath(lab), [parse_override(text) for text in overrides])
    except Exception as exc:
        raise InputError(
            "cannot load lab {!r}: {}".format(str(lab), " ".join(str(exc).split()))
        ) from exc


def no_lab_message(device_db_path: Any) -> str:
    """What a simulation that found no lab description says (no ``--lab``, no ``lab.toml``
    beside the device database): it simulates nothing physical, yet an experiment that only
    counts would exit 0 with e.g. a dark-count rate of 0."""
    from sim.presets import PRESETS

    return (
        "no lab description: no --lab and no lab.toml beside {}, so nothing physical would be "
        "simulated (no photons, fluorescence or clicks); give --lab PRESET or PATH (presets: {}), "
        "or --lab {} for the experiment's timing alone".format(
            device_db_path or "the device database", ", ".join(PRESETS), NO_LAB
        )
    )
