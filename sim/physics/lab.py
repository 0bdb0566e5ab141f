# SPDX-License-Identifier: LGPL-3.0-or-later
"""Declarative lab description: the TOML loader and its checks (the records:
:mod:`sim.physics.lab_model`).

A lab is one TOML file (presets in ``sim/labs/``, the repository's own lab in ``lab.toml``). Beams,
detectors and PMTs refer to device_db names (docs/design.md). Every error is one line,
raised as :class:`LabError` naming the offending key.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, fields, replace
from pathlib import Path
from typing import Any

from drivers.link_timing import CYCLE_MAX_MU, CYCLE_MIN_MU, RUN_MAX_CYCLES, loop_datasets
from sim.physics.lab_ions import MEMORY_KEYS, check_ions, parse_ions
from sim.physics.lab_model import (
    BSA,
    ENCODINGS,
    FORMAT_DOC,
    RF_KEYS,
    RF_ROLES,
    Beam,
    Detector,
    DrtioLink,
    Entangler,
    Excitation,
    Fibre,
    Lab,
    LabError,
    LoopTiming,
    Motion,
    Node,
    Optics,
    QubitDrive,
    Readout,
    Reference,
    Species,
)
from sim.physics.lab_overrides import LabOverride, apply_overrides, format_overrides
from sim.presets import LABS_DIR, PRESETS

__all__ = [
    "BSA",
    "LABS_DIR",
    "PRESETS",
    "Beam",
    "Detector",
    "DrtioLink",
    "Entangler",
    "Excitation",
    "Fibre",
    "Lab",
    "LabError",
    "LoopTiming",
    "Motion",
    "Node",
    "Optics",
    "QubitDrive",
    "Readout",
    "Reference",
    "Species",
    "check_detection_gate",
    "lab_from_dict",
    "load_lab",
]


# --------------------------------------------------------------------------------------------
# parsing


#: keys whose record field has a default (unused in the other case) that a lab file must give
#: when the table is of the kind named: (record, field) → the condition, as docs/lab-format.md
#: states it
REQUIRED_WHEN: dict[tuple[str, str], str] = {
    ("Excitation", "pulse_area_rad"): 'mode = "pulsed"',
    ("Excitation", "rabi_frequency_hz"): 'mode = "aom"',
    **{("Ion", k): 'role = "memory"' for k in ("drive", *MEMORY_KEYS)},
}


def required_keys(cls: type) -> list[str]:
    """The fields of record ``cls`` without a default: keys every table of it must give."""
    return [
        f.name
        for f in fields(cls)
        if f.init and f.default is MISSING and f.default_factory is MISSING
    ]


def _require(lab: str, path: str, present: Mapping[str, Any], keys: Sequence[str]) -> None:
    """One line naming the keys of ``keys`` the table at ``path`` leaves out (a missing value
    never stands for an ideal one)."""
    missing = [k for k in keys if k not in present]
    if missing:
        raise LabError(
            f"lab {lab}: [{path}] is missing required key(s) {', '.join(missing)} "
            f"(the lab format: {FORMAT_DOC})"
        )


def _build(
    cls: type,
    data: Mapping[str, Any],
    path: str,
    lab: str,
    require: Sequence[str] = (),
    **extra: Any,
) -> Any:
    """Construct dataclass ``cls`` from a TOML table, rejecting unknown keys and missing ones
    (the fields without a default and those in ``require``)."""
    if not isinstance(data, Mapping):
        raise LabError(f"lab {lab}: {path}: expected a table, got {data!r}")
    names = {f.name for f in fields(cls)}
    for key in data:
        if key not in names or key in extra:
            raise LabError(f"lab {lab}: {path}.{key}: unknown key")
    kwargs = dict(data)
    kwargs.update(extra)
    _require(lab, path, kwargs, [*required_keys(cls), *require])
    obj = cls(**kwargs)
    for f in fields(cls):
        v = getattr(obj, f.name)
        if f.type in ("float", "int") and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise LabError(f"lab {lab}: {path}.{f.name}: expected a number, got {v!r}")
        if f.type == "str" and not isinstance(v, str):
            raise LabError(f"lab {lab}: {path}.{f.name}: expected a string, got {v!r}")
    return obj


def _check_range(
    lab: str, path: str, value: float, lo: float, hi: float, lo_open: bool = False
) -> None:
    ok = (value > lo if lo_open else value >= lo) and value <= hi and math.isfinite(value)
    if not ok:
        lo_b = "(" if lo_open else "["
        raise LabError(f"lab {lab}: {path} = {value!r} is not physical (allowed {lo_b}{lo}, {hi}])")


def _check_beam_rf(lab: str, path: str, beam: Beam) -> None:
    """The RF keys of a beam (:class:`Beam`): a device name, values an AD9910 and a Urukul
    attenuator can take."""
    if beam.dds is not None and not isinstance(beam.dds, str):
        raise LabError(f"lab {lab}: {path}.dds: expected a string, got {beam.dds!r}")
    _check_range(lab, f"{path}.frequency_hz", beam.frequency_hz, 0, 1e9, lo_open=True)
    _check_range(lab, f"{path}.amplitude", beam.amplitude, 0, 1, lo_open=True)
    _check_range(lab, f"{path}.attenuation_db", beam.attenuation_db, 0, 31.5)
    _check_range(lab, f"{path}.bandwidth_hz", beam.bandwidth_hz, 0, 1e9, lo_open=True)
    _check_range(lab, f"{path}.saturation", beam.saturation, 0, 1e6, lo_open=True)


def _check_physics(lab: Lab) -> None:
    """Reject non-physical numbers (probabilities outside [0, 1], negative rates, ...)."""
    n = lab.name
    inf = math.inf
    for node in lab.nodes:
        p = f"nodes.{node.name}"
        s = node.species
        _check_range(n, f"{p}.species.lifetime_s", s.lifetime_s, 0, 1.0, lo_open=True)
        _check_range(n, f"{p}.species.branching_ratio", s.branching_ratio, 0, 1)
        _check_range(n, f"{p}.species.readdress_prob", s.readdress_prob, 0, 1)
        _check_range(n, f"{p}.species.photon_wavelength_m", s.photon_wavelength_m, 0, 1e-5, True)
        _check_range(n, f"{p}.species.qubit_splitting_hz", s.qubit_splitting_hz, 0, 1e11)
        if s.encoding not in ENCODINGS:
            raise LabError(
                f"lab {n}: {p}.species.encoding = {s.encoding!r}: supported "
                f"{ENCODINGS} (time_bin and frequency are not implemented yet)"
            )
        o = node.optics
        for k in ("collection_efficiency", "transmission", "fibre_transmission"):
            _check_range(n, f"{p}.optics.{k}", getattr(o, k), 0, 1)
        _check_range(n, f"{p}.optics.polarisation_mixing", o.polarisation_mixing, 0, 0.5)
        _check_range(n, f"{p}.optics.photon_delay_s", o.photon_delay_s, 0, 1e-3)
        for role in RF_ROLES:
            _check_beam_rf(n, f"{p}.beams.{role}", getattr(node, role))
        e = node.excite
        if e.mode not in ("pulsed", "aom"):
            raise LabError(f"lab {n}: {p}.beams.excite.mode = {e.mode!r}: use 'pulsed' or 'aom'")
        _check_range(n, f"{p}.beams.excite.pulse_area_rad", e.pulse_area_rad, 0, 100)
        _check_range(n, f"{p}.beams.excite.pulse_length_s", e.pulse_length_s, 0, 1e-6)
        _check_range(n, f"{p}.beams.excite.rabi_frequency_hz", e.rabi_frequency_hz, 0, 1e12)
        if e.mode == "aom" and e.rabi_frequency_hz <= 0:
            raise LabError(f"lab {n}: {p}.beams.excite.rabi_frequency_hz must be > 0 for 'aom'")
        _check_range(n, f"{p}.qubit_drive.rabi_frequency_hz", node.qubit.rabi_frequency_hz, 0, 1e9)
        r = node.readout
        _check_range(n, f"{p}.readout.bright_rate_hz", r.bright_rate_hz, 0, 1e9)
        _check_range(n, f"{p}.readout.dark_rate_hz", r.dark_rate_hz, 0, r.bright_rate_hz)
        _check_range(n, f"{p}.readout.prep_error", r.prep_error, 0, 0.5)
        _check_range(n, f"{p}.pumping_time_s", node.pumping_time_s, 0, 1.0, lo_open=True)
        _check_range(n, f"{p}.t2_s", node.t2_s, 0, inf, lo_open=True)
        if node.dephasing not in ("gaussian", "exponential"):
            raise LabError(f"lab {n}: {p}.dephasing = {node.dephasing!r}: gaussian|exponential")
        m = node.motion
        for k in ("heating_rate_per_s", "doppler_n", "initial_n"):
            _check_range(n, f"{p}.motion.{k}", getattr(m, k), 0, 1e9)
        for k in ("cooling_time_s", "n_fluorescence", "n_mode"):
            _check_range(n, f"{p}.motion.{k}", getattr(m, k), 0, inf, lo_open=True)
        f = node.fibre
        _check_range(n, f"{p}.fibre.drift_rad_per_sqrt_s", f.drift_rad_per_sqrt_s, 0, 10.0)
        _check_range(n, f"{p}.fibre.drift_step_s", f.drift_step_s, 1e-3, 3600.0)
        if node.reference is not None:
            _check_range(n, f"{p}.reference.rate_hz", node.reference.rate_hz, 0, 1e8)
        check_ions(n, node, _check_range)
    b = lab.bsa
    _check_range(n, "bsa.mode_overlap", b.mode_overlap, 0, 1)
    _check_range(n, "bsa.frequency_mismatch_hz", b.frequency_mismatch_hz, 0, 1e12)
    for i, d in enumerate(b.detectors):
        q = f"bsa.detectors[{i}]"
        _check_range(n, f"{q}.efficiency", d.efficiency, 0, 1)
        _check_range(n, f"{q}.dark_rate_hz", d.dark_rate_hz, 0, 1e8)
        _check_range(n, f"{q}.dead_time_s", d.dead_time_s, 0, 1e-3)
        _check_range(n, f"{q}.jitter_s", d.jitter_s, 0, 1e-6)
        _check_range(n, f"{q}.afterpulse_prob", d.afterpulse_prob, 0, 1)
        _check_range(n, f"{q}.pulse_width_s", d.pulse_width_s, 1e-9, 1e-3)
    lp = lab.loop
    _check_range(n, "loop.cycle_s", lp.cycle_s, 0, 1.0, lo_open=True)
    for k in ("run_s", "cool_s", "overhead_s", "gate_start_s", "herald_to_rotation_s", "pump_s"):
        _check_range(n, f"loop.{k}", getattr(lp, k), 0, 1e3)
    _check_range(n, "loop.gate_length_s", lp.gate_length_s, 0, lp.cycle_s, lo_open=True)
    _check_loop(lab)


def _excite_time_s(lab: Lab) -> float:
    """The excitation pulse's start in the cycle (s), as the experiments play the lab's
    ``[loop]`` (``calib.link.excite_time_s``)."""
    lp = lab.loop
    return loop_datasets(
        lp.cycle_s, lp.run_s, lp.cool_s, lp.pump_s, lp.gate_start_s, lp.gate_length_s, 0.0
    )["calib.link.excite_time_s"]


def check_detection_gate(lab: Lab, gate_mu: tuple[int, int]) -> None:
    """A detection gate ``[start, stop)`` (mu = ns from the excitation pulse's start, as
    ``calib.photon.gate_start_mu``/``gate_stop_mu``) that the experiments can play at ``lab``:
    it ends inside the cycle, as they require before anything runs.

    :raises LabError: it does not."""
    cycle_mu = round(lab.loop.cycle_s * 1e9) & ~7
    end_mu = round(_excite_time_s(lab) * 1e9) + gate_mu[1]
    if end_mu >= cycle_mu:
        raise LabError(
            f"detection gate [{gate_mu[0]}, {gate_mu[1]}) ns from the excitation: it ends "
            f"{end_mu} ns into lab {lab.name}'s {cycle_mu} ns cycle (excitation at "
            f"{end_mu - gate_mu[1]} ns); the experiments refuse a gate that ends after the cycle"
        )


def _check_loop(lab: Lab) -> None:
    """The ``[loop]`` the entangler can play: a cycle its register holds, runs of whole cycles
    (at least one), and each node's pump, excitation and gate inside the cycle (the limits the
    experiment's ``GatewareLoop.prepare_gateware`` enforces, found before anything runs)."""
    n, lp = lab.name, lab.loop
    cycle_mu = round(lp.cycle_s * 1e9) & ~7
    if not CYCLE_MIN_MU <= cycle_mu <= CYCLE_MAX_MU:
        raise LabError(
            f"lab {n}: loop.cycle_s = {lp.cycle_s!r}: the entangler's cycle is "
            f"{CYCLE_MIN_MU}..{CYCLE_MAX_MU} ns (8 ns steps)"
        )
    if not 1 <= round(lp.run_s * 1e9) // cycle_mu < RUN_MAX_CYCLES:
        raise LabError(
            f"lab {n}: loop.run_s = {lp.run_s!r}: a run is at least one cycle "
            f"(loop.cycle_s = {lp.cycle_s!r}) and fewer than {RUN_MAX_CYCLES} cycles"
        )
    excite_s = _excite_time_s(lab)
    for node in lab.nodes:
        gate_end_s = excite_s + node.optics.photon_delay_s + lp.gate_start_s + lp.gate_length_s
        if round(gate_end_s * 1e9) >= cycle_mu:
            raise LabError(
                f"lab {n}: the gate of nodes.{node.name} ends {gate_end_s * 1e9:.0f} ns into the "
                f"{cycle_mu} ns cycle (loop.cycle_s): excitation at {excite_s * 1e9:.0f} ns (after "
                "loop.pump_s) + optics.photon_delay_s + loop.gate_start_s + loop.gate_length_s; "
                "lengthen the cycle or shorten the pump"
            )


def _node(lab: str, name: str, t: Mapping[str, Any]) -> Node:
    p = f"nodes.{name}"
    known = {
        "species",
        "optics",
        "beams",
        "qubit_drive",
        "readout",
        "motion",
        "fibre",
        "reference",
        "pumping_time_s",
        "t2_s",
        "dephasing",
        "ions",
        "gate",
    }
    for key in t:
        if key not in known:
            raise LabError(f"lab {lab}: {p}.{key}: unknown key")
    for key in ("species", "optics", "beams", "qubit_drive", "readout", "motion"):
        if key not in t:
            raise LabError(f"lab {lab}: {p}: missing table [{p}.{key}] ({FORMAT_DOC})")
    _require(lab, p, t, ("pumping_time_s", "t2_s", "dephasing"))
    beams = dict(t["beams"])
    for role in ("cool", "repump", "pump", "excite", "detect"):
        if role not in beams:
            raise LabError(f"lab {lab}: {p}.beams: missing beam '{role}'")
    extra = set(beams) - {"cool", "repump", "pump", "excite", "detect"}
    if extra:
        raise LabError(f"lab {lab}: {p}.beams.{min(extra)}: unknown beam")
    kw: dict[str, Any] = {k: t[k] for k in ("pumping_time_s", "t2_s", "dephasing")}
    kw["ions"], kw["gate"] = parse_ions(lab, p, t, _build)
    mode = beams["excite"].get("mode") if isinstance(beams["excite"], Mapping) else None
    rf = sorted(RF_KEYS & set(beams["excite"])) if isinstance(beams["excite"], Mapping) else []
    if rf:
        raise LabError(
            f"lab {lab}: {p}.beams.excite.{rf[0]}: unknown key (the excitation's light is not "
            "modelled through a DDS)"
        )
    excite_needs = [
        k
        for (rec, k), when in REQUIRED_WHEN.items()
        if rec == "Excitation" and when == f'mode = "{mode}"'
    ]
    if "fibre" in t:
        kw["fibre"] = _build(Fibre, t["fibre"], f"{p}.fibre", lab)
    return Node(
        name=name,
        species=_build(Species, t["species"], f"{p}.species", lab),
        optics=_build(Optics, t["optics"], f"{p}.optics", lab),
        cool=_build(Beam, beams["cool"], f"{p}.beams.cool", lab),
        repump=_build(Beam, beams["repump"], f"{p}.beams.repump", lab),
        pump=_build(Beam, beams["pump"], f"{p}.beams.pump", lab),
        excite=_build(Excitation, beams["excite"], f"{p}.beams.excite", lab, excite_needs),
        detect=_build(Beam, beams["detect"], f"{p}.beams.detect", lab),
        qubit=_build(QubitDrive, t["qubit_drive"], f"{p}.qubit_drive", lab),
        readout=_build(Readout, t["readout"], f"{p}.readout", lab),
        motion=_build(Motion, t["motion"], f"{p}.motion", lab),
        reference=(
            _build(Reference, t["reference"], f"{p}.reference", lab) if "reference" in t else None
        ),
        **kw,
    )


def _drtio(lab: str, data: Mapping[str, Any]) -> DrtioLink:
    """The ``[drtio]`` table: numbers ≥ 0, outages as ``[down_s, up_s]`` pairs in time order."""
    t = dict(data)
    raw = t.pop("outages", [])
    link = _build(DrtioLink, t, "drtio", lab)
    for k in ("fibre_m", "serdes_ns", "ns_per_m", "cable_ns"):
        v = getattr(link, k)
        if not (math.isfinite(v) and v >= 0):
            raise LabError(f"lab {lab}: drtio.{k} = {v!r}: a link latency cannot be negative")
    outages: list[tuple[float, float]] = []
    for i, pair in enumerate(raw if isinstance(raw, list) else [raw]):
        ok = isinstance(pair, list) and len(pair) == 2
        ok = ok and all(isinstance(x, (int, float)) and math.isfinite(x) for x in pair)
        if not ok or not 0 <= pair[0] < pair[1] or (outages and pair[0] < outages[-1][1]):
            raise LabError(
                f"lab {lab}: drtio.outages[{i}] = {pair!r}: need [down_s, up_s] with "
                "0 ≤ down_s < up_s, after the previous outage"
            )
        outages.append((float(pair[0]), float(pair[1])))
    return replace(link, outages=tuple(outages))


def lab_from_dict(data: Mapping[str, Any], name: str = "lab") -> Lab:
    """Build and check a :class:`Lab` from a parsed TOML document.

    :raises LabError: on the first problem found.
    """
    lab = str(data.get("name", name))
    for key in data:
        if key not in ("name", "description", "nodes", "bsa", "entangler", "loop", "drtio"):
            raise LabError(f"lab {lab}: {key}: unknown key")
    for key in ("nodes", "bsa", "entangler", "loop"):
        if key not in data:
            raise LabError(f"lab {lab}: missing table [{key}]")
    nodes_t = data["nodes"]
    if sorted(nodes_t) != ["a", "b"]:
        raise LabError(f"lab {lab}: nodes: need exactly nodes 'a' and 'b', got {sorted(nodes_t)}")
    nodes = (_node(lab, "a", nodes_t["a"]), _node(lab, "b", nodes_t["b"]))
    bsa_t = dict(data["bsa"])
    dets = bsa_t.pop("detectors", [])
    if len(dets) != 4:
        raise LabError(
            f"lab {lab}: bsa.detectors: need 4 detectors (det0 = port0 H, det1 = port0 V,"
            f" det2 = port1 H, det3 = port1 V), got {len(dets)}"
        )
    detectors = tuple(_build(Detector, d, f"bsa.detectors[{i}]", lab) for i, d in enumerate(dets))
    if len({d.device for d in detectors}) != 4:
        raise LabError(f"lab {lab}: bsa.detectors: the four detectors must be distinct devices")
    bsa = _build(BSA, bsa_t, "bsa", lab, detectors=detectors)
    ent_t = dict(data["entangler"])
    ent = _build(
        Entangler,
        {k: (tuple(v) if isinstance(v, list) else v) for k, v in ent_t.items()},
        "entangler",
        lab,
    )
    if len(ent.outputs) != 4 or len(ent.inputs) != 4:
        raise LabError(
            f"lab {lab}: entangler: need 4 outputs and 4 inputs, got "
            f"{len(ent.outputs)} and {len(ent.inputs)}"
        )
    if tuple(ent.inputs) != tuple(d.device for d in detectors):
        raise LabError(
            f"lab {lab}: entangler.inputs {list(ent.inputs)} must be the analyser "
            f"detectors in order {[d.device for d in detectors]}"
        )
    node_outputs = (
        {n.pump.device for n in nodes}
        | {n.excite.device for n in nodes}
        | {n.repump.device for n in nodes}
        | {n.cool.device for n in nodes}
    )
    for i, o in enumerate(ent.outputs):
        if o not in node_outputs:
            raise LabError(f"lab {lab}: entangler.outputs[{i}] = '{o}' drives no beam of the lab")
    result = Lab(
        name=lab,
        nodes=nodes,
        bsa=bsa,
        entangler=ent,
        loop=_build(LoopTiming, data["loop"], "loop", lab),
        description=str(data.get("description", "")),
        drtio=_drtio(lab, data.get("drtio", {})),
    )
    _check_physics(result)
    return result


def load_lab(name_or_path: str | Path, overrides: Sequence[LabOverride] = ()) -> Lab:
    """Load a lab description: a preset name (``oxford2020``, ``duke2024``, ``target_99_1khz``)
    or the path of a TOML file, with ``--set`` ``overrides`` applied to it
    (:mod:`sim.physics.lab_overrides`) and checked as the file is.

    :raises LabError: unknown preset, unreadable or invalid file, bad override.
    """
    p = Path(name_or_path)
    if not p.suffix and not p.is_file():  # a preset, even beside a directory of that name
        p = LABS_DIR / f"{name_or_path}.toml"
        if not p.exists():
            raise LabError(
                f"lab {name_or_path}: no such preset (have {', '.join(PRESETS)}) or file"
            )
    try:
        data = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LabError(f"lab {p}: cannot read: {exc}") from None
    lab = lab_from_dict(data, name=p.stem)
    if overrides:
        document = apply_overrides(data, overrides)
        try:
            lab = lab_from_dict(document, name=p.stem)
        except LabError as exc:
            raise LabError(f"--set: {exc}") from None
    return replace(lab, source=str(p.resolve()), overrides=format_overrides(overrides))
