# SPDX-License-Identifier: LGPL-3.0-or-later
"""The lab's design values that a real lab keeps as persistent datasets, from its description.

A lab decides its entanglement loop (cycle, run, cooling, pump window, gate length) and knows its
qubit splitting from the magnetic-field calibration; on hardware these live in the dataset store
as ``calib.link.*``. A simulation session stores them from the lab description (``[loop]``, the
species) when it starts, so that the experiments read the simulated lab's loop the way they read a
real lab's: :func:`drivers.link_timing.loop_datasets` defines the mapping, also used by the budget.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from drivers.link_timing import loop_datasets

__all__ = [
    "CALIBRATION_LAB",
    "CALIBRATION_LAB_SHA256",
    "CalibrationWatch",
    "MEASURED",
    "MEMORY_AMPLITUDE",
    "calibration_datasets",
    "check_calibration_lab",
    "lab_datasets",
    "lab_fingerprint",
    "measured_calibrations",
    "note_calibration_lab",
    "seed_lab_datasets",
]

#: prefix of the persistent datasets naming the lab at which each measured calibration in the
#: store was taken (``<prefix>.readout``, ``<prefix>.photon``, ``<prefix>.dark-count``; the
#: simulator's: one working directory's store can serve several simulated labs, a real one
#: not). A store written before the calibrations were told apart holds one mark for the readout
#: and photon calibrations under the bare prefix.
CALIBRATION_LAB = "ionlink.sim.calibration_lab"
#: prefix of the persistent datasets holding the SHA-256 of that lab's description (its physics
#: with the ``--set`` values, :func:`lab_fingerprint`) when each measured calibration was taken:
#: a lab of the same name whose TOML file was edited, or run with other ``--set`` values, is
#: another lab for its calibrations (a store without these marks is checked by name alone)
CALIBRATION_LAB_SHA256 = "ionlink.sim.calibration_lab_sha256"


@dataclass(frozen=True)
class MeasuredCalibration:
    """One calibration the experiments measure: its datasets' prefix and who measures it."""

    kind: str
    prefix: str
    experiment: str
    #: a store's one mark from before the calibrations were told apart covers it
    legacy: bool = True


#: the calibrations the experiments measure (readout thresholds and errors, the photon window,
#: the detectors' dark rates, which single photon, HOM and polarisation compensation subtract)
MEASURED = (
    MeasuredCalibration("readout", "calib.readout.", "ReadoutCalibration"),
    MeasuredCalibration("photon", "calib.photon.", "SinglePhoton"),
    MeasuredCalibration("dark-count", "calib.bsa.", "DarkCounts", legacy=False),
)
MEASURED_PREFIXES = tuple(m.prefix for m in MEASURED)

logger = logging.getLogger(__name__)

MEMORY_AMPLITUDE = 0.5  # AD9910 full-scale fraction of the memory drive's calibrated pulses


def lab_datasets(lab: Any) -> dict[str, float]:
    """``{key: value}`` of the ``calib.link.*`` datasets of ``lab`` (a ``sim.physics.lab.Lab``)."""
    lp = lab.loop
    values = loop_datasets(
        lp.cycle_s,
        lp.run_s,
        lp.cool_s,
        lp.pump_s,
        lp.gate_start_s,
        lp.gate_length_s,
        max(n.readout.duration_s for n in lab.nodes),
    )
    # frequency of the photon's polarisation phase (≈ qubit splitting): the analysis corrects
    # the detection-time phase of the parity scan with it
    values["calib.link.detection_phase_hz"] = float(lab.nodes[0].species.qubit_splitting_hz)
    # memory ions: the drive on resonance at half amplitude, and the entangling gate's length
    for node in lab.nodes:
        m, p = node.memory, f"calib.node_{node.name}."
        if m is not None and m.drive is not None and m.drive.rabi_frequency_hz > 0:
            values[p + "memory.frequency"] = float(m.drive.resonance_hz)
            values[p + "memory.amplitude"] = MEMORY_AMPLITUDE
            values[p + "memory.pi_time"] = 1.0 / (2 * m.drive.rabi_frequency_hz * MEMORY_AMPLITUDE)
        if node.gate is not None:
            values[p + "gate.duration"] = float(node.gate.duration_s)
    # the DRTIO link's one-way latency, which a two-chassis lab measures (used by experiments
    # only when a node is on a satellite)
    values["calib.link.drtio_latency_s"] = float(lab.drtio.latency_s)
    return values


def seed_lab_datasets(dataset_db: Any, lab: Any) -> None:
    """Store :func:`lab_datasets` as persistent datasets in ``dataset_db`` (overwriting: the lab
    description is the simulated lab's design)."""
    for key, value in lab_datasets(lab).items():
        dataset_db.set(key, value, persist=True)


def measured_calibrations(dataset_db: Any) -> dict[str, Any]:
    """The measured calibrations in ``dataset_db`` (``calib.readout.*``, ``calib.photon.*``,
    ``calib.bsa.*``)."""
    return {k: repr(v[1]) for k, v in dataset_db.data.items() if k.startswith(MEASURED_PREFIXES)}


def lab_fingerprint(lab: Any) -> str:
    """SHA-256 (hex) of the description of ``lab`` (a ``sim.physics.lab.Lab``: every physical
    value, with its ``--set`` values; not the path it was read from), as the hardware-state
    file fingerprints it."""
    return hashlib.sha256(repr(lab).encode()).hexdigest()


def note_calibration_lab(
    dataset_db: Any, lab: Any, before: dict[str, Any], written: Iterable[str] = ()
) -> None:
    """After an experiment, before its datasets are saved: record that each measured calibration
    it changed (``before``: the :func:`measured_calibrations` it started with) or wrote
    (``written``: the keys it set, also to the values they had) belongs to ``lab``, as described
    now. The marks are set, not saved: the experiment's one save stores them with the values,
    so that no interruption leaves new values under an older mark."""
    if lab is None:
        return
    after = measured_calibrations(dataset_db)
    written = tuple(written)
    for m in MEASURED:
        if _of(after, m.prefix) != _of(before, m.prefix) or any(
            k.startswith(m.prefix) for k in written
        ):
            dataset_db.set(f"{CALIBRATION_LAB}.{m.kind}", str(lab.name), persist=True)
            dataset_db.set(f"{CALIBRATION_LAB_SHA256}.{m.kind}", lab_fingerprint(lab), persist=True)


def _of(calibrations: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k: v for k, v in calibrations.items() if k.startswith(prefix)}


def check_calibration_lab(
    dataset_db: Any, lab: Any, kinds: Sequence[MeasuredCalibration] = MEASURED
) -> str | None:
    """A warning when any measured calibration of ``kinds`` in the store was taken at another
    lab than ``lab``, or at this lab as it was described before its TOML file or its ``--set``
    values changed (it would be used silently: thresholds or the photon window of other
    physics), else None."""
    if lab is None:
        return None
    measured = measured_calibrations(dataset_db)
    legacy = dataset_db.data.get(CALIBRATION_LAB)
    foreign, changed = [], []
    for m in kinds:
        if not _of(measured, m.prefix):
            continue
        entry = dataset_db.data.get(f"{CALIBRATION_LAB}.{m.kind}", legacy if m.legacy else None)
        taken = dataset_db.data.get(f"{CALIBRATION_LAB_SHA256}.{m.kind}")
        if entry is not None and entry[1] != lab.name:
            foreign.append((m, entry[1]))
        elif taken is not None and taken[1] != lab_fingerprint(lab):
            changed.append(m)
    warnings = []
    if foreign:
        what = " and ".join(
            "the {} calibration ({}*) at lab '{}'".format(m.kind, m.prefix, at) for m, at in foreign
        )
        warnings.append(
            "the dataset store holds {}, this simulation is at '{}': run {} again (or use "
            "another working directory per lab)".format(
                what, lab.name, " and ".join(m.experiment for m, _ in foreign)
            )
        )
    if changed:
        warnings.append(
            "the dataset store holds {} taken at lab '{}' as it was described then, not as "
            "now (its TOML file edited, another file of that name, or other --set values): run "
            "{} again".format(
                " and ".join("the {} calibration ({}*)".format(m.kind, m.prefix) for m in changed),
                lab.name,
                " and ".join(m.experiment for m in changed),
            )
        )
    return "; ".join(warnings) or None


class CalibrationWatch:
    """Warns, once per calibration, when an experiment reads a measured calibration that was
    taken at another lab than ``lab``: at the moment it is read (:meth:`reader` gives the
    ``on_read`` of :class:`sim.datasets.DatasetManager`), so that a chain that measures it first
    (the demo: ReadoutCalibration, SinglePhoton, then the link) is not warned about. The
    experiment that measures a calibration reads the old values (its nodes load every
    calibration) but does not use them: it is not warned about that one."""

    def __init__(self, dataset_db: Any, lab: Any) -> None:
        self.dataset_db = dataset_db
        self.lab = lab
        self.warned: set[str] = set()

    def reader(self, experiment: str) -> Callable[[str], None]:
        """The read hook of a run of the experiment class named ``experiment``."""
        kinds = {m.prefix: m for m in MEASURED if m.experiment != experiment}

        def on_read(key: str) -> None:
            if not key.startswith(MEASURED_PREFIXES):
                return
            kind = next((m for p, m in kinds.items() if key.startswith(p)), None)
            if kind is None or kind.kind in self.warned:
                return
            warning = check_calibration_lab(self.dataset_db, self.lab, (kind,))
            if warning is not None:
                self.warned.add(kind.kind)
                logger.warning(warning)

        return on_read


def calibration_datasets(lab: Any) -> dict[str, Any]:
    """The persistent calibrations a lab would have after its calibration runs (readout
    thresholds and errors, qubit drive, detection window), computed from the lab description
    instead of measured: what an experiment run on its own, or a sweep that skips the calibration
    experiments, starts from. Thresholds are the Poisson crossing points of the bright and dark
    count means; readout errors a nominal 1 %."""
    cal: dict[str, Any] = {}
    for node in lab.nodes:
        x = node.name
        amp = 0.5
        cal["calib.node_{}.qubit.frequency".format(x)] = float(node.qubit.resonance_hz)
        cal["calib.node_{}.qubit.amplitude".format(x)] = amp
        cal["calib.node_{}.qubit.pi_time".format(x)] = 1.0 / (
            2 * node.qubit.rabi_frequency_hz * amp
        )
        cal["calib.node_{}.detect.duration".format(x)] = float(node.readout.duration_s)
        mb = node.readout.bright_rate_hz * node.readout.duration_s
        md = node.readout.dark_rate_hz * node.readout.duration_s
        # Poisson crossing point as threshold (count > t => bright)
        t = int(math.floor((mb - md) / math.log(mb / md))) if md > 0 else 0
        cal["calib.readout.threshold_" + x] = max(0, t)
        cal["calib.readout.error_" + x] = 0.01
    cal["calib.link.detection_phase_hz"] = float(lab.nodes[0].species.qubit_splitting_hz)
    delay = lab.nodes[0].excite.delay_s + lab.nodes[0].optics.photon_delay_s
    cal["calib.photon.gate_start_mu"] = int(round(delay * 1e9)) + int(
        round(lab.loop.gate_start_s * 1e9)
    )
    cal["calib.photon.gate_stop_mu"] = cal["calib.photon.gate_start_mu"] + int(
        round(lab.loop.gate_length_s * 1e9)
    )
    return cal
