# SPDX-License-Identifier: LGPL-3.0-or-later
"""Declarative lab description: dataclasses, TOML loader and validation.

A lab is one TOML file (presets in ``sim/labs/``, the repository's own lab in ``lab.toml``). Beams,
detectors and PMTs refer to device_db names (docs/design.md). Every error is one line,
raised as :class:`LabError` naming the offending key.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from sim.rtio.channels import Kind

__all__ = [
    "BSA",
    "LABS_DIR",
    "PRESETS",
    "Beam",
    "Detector",
    "Entangler",
    "Excitation",
    "Lab",
    "LabError",
    "LoopTiming",
    "Motion",
    "Node",
    "Optics",
    "QubitDrive",
    "Readout",
    "Species",
    "lab_from_dict",
    "load_lab",
]

LABS_DIR = Path(__file__).resolve().parent.parent / "labs"
PRESETS = ("oxford2020", "duke2024", "target_99_1khz")
ENCODINGS = ("polarisation",)  # extension points: "time_bin", "frequency"
OUTPUT_KINDS = (Kind.TTL_OUT,)
INPUT_KINDS = (Kind.TTL_INOUT,)
DDS_KINDS = (Kind.AD9910,)


class LabError(ValueError):
    """A wrong or inconsistent lab description (one line, names the key)."""


# --------------------------------------------------------------------------------------------
# dataclasses


@dataclass(frozen=True)
class Species:
    """Ion species constants.

    :param name: e.g. ``"88Sr+"``.
    :param photon_wavelength_m: wavelength of the collected photon, in m.
    :param excitation_wavelength_m: wavelength of the excitation pulse, in m.
    :param lifetime_s: excited-state lifetime τ, in s.
    :param branching_ratio: probability that a decay emits a photon on the collected
        (qubit-closing) transition, 0..1.
    :param qubit_splitting_hz: qubit frequency ω_q/2π, in Hz.
    :param encoding: photonic encoding (``"polarisation"``; time-bin/frequency reserved).
    :param readdress_prob: probability that the ion, after emitting a collected photon during the
        excitation pulse, is again addressed by that pulse (sets double excitation).
    """

    name: str
    photon_wavelength_m: float
    excitation_wavelength_m: float
    lifetime_s: float
    branching_ratio: float
    qubit_splitting_hz: float
    encoding: str = "polarisation"
    readdress_prob: float = 0.5


@dataclass(frozen=True)
class Motion:
    """Simple thermal model: mean phonon number n̄.

    n̄ relaxes to ``doppler_n`` with time constant ``cooling_time_s`` while the cooling beam is on
    and grows by ``heating_rate_per_s`` otherwise. Fluorescence scales by 1/(1 + n̄/n_fluorescence)
    and the photon mode overlap by 1/(1 + n̄/n_mode).
    """

    heating_rate_per_s: float = 100.0
    doppler_n: float = 10.0
    cooling_time_s: float = 5e-6
    n_fluorescence: float = 1e4
    n_mode: float = 1e5
    initial_n: float = 10.0


@dataclass(frozen=True)
class Optics:
    """Photon path of one node from the ion to the beam splitter.

    :param collection_efficiency: fraction of photons on the collected transition entering the
        collection mode (includes the dipole pattern).
    :param transmission: optics transmission (lens, waveplates, filters), 0..1.
    :param fibre_transmission: fibre coupling and transmission, 0..1.
    :param polarisation_mixing: ε_pol, bit-flip probability of the photonic qubit, 0..0.5.
    :param photon_delay_s: delay from emission to detector click (path and electronics), in s.
    """

    collection_efficiency: float
    transmission: float = 1.0
    fibre_transmission: float = 1.0
    polarisation_mixing: float = 0.0
    photon_delay_s: float = 0.0

    @property
    def efficiency(self) -> float:
        """Ion-to-beam-splitter efficiency (without branching, excitation, detector)."""
        return self.collection_efficiency * self.transmission * self.fibre_transmission


@dataclass(frozen=True)
class Beam:
    """A beam switched by a TTL output (or by an AD9910's RF switch).

    :param device: device_db name of the switch (``ttl_out``) or of an ``ad9910``.
    :param delay_s: optical delay from the TTL edge to the light, in s.
    """

    device: str
    delay_s: float = 0.0


@dataclass(frozen=True)
class Excitation(Beam):
    """The excitation beam.

    :param mode: ``"pulsed"`` (each rising edge triggers one short pulse of area ``pulse_area_rad``
        and length ``pulse_length_s``) or ``"aom"`` (the light is on while the TTL is high; pulse
        area = 2π·rabi_frequency_hz·on-time).
    """

    mode: str = "pulsed"
    pulse_area_rad: float = math.pi
    pulse_length_s: float = 2e-12
    rabi_frequency_hz: float = 0.0


@dataclass(frozen=True)
class QubitDrive:
    """Microwave or Raman qubit drive, gated by ``switch`` and set by the AD9910 ``dds``.

    :param rabi_frequency_hz: Rabi frequency at full-scale amplitude (1.0), in Hz; linear in
        amplitude.
    :param resonance_hz: DDS frequency at which the drive is resonant with the qubit, in Hz.
    """

    switch: str
    dds: str
    kind: str = "microwave"
    rabi_frequency_hz: float = 1e5
    resonance_hz: float = 0.0


@dataclass(frozen=True)
class Readout:
    """State-dependent fluorescence readout on the node's PMT.

    :param bright_rate_hz: PMT count rate of a bright (|1⟩) ion incl. background, in s⁻¹.
    :param dark_rate_hz: PMT count rate of a dark (|0⟩) ion (background), in s⁻¹.
    :param duration_s: nominal detection time (for the budget), in s.
    :param prep_error: probability that an ion's state is mapped wrongly before its fluorescence is
        collected (imperfect shelving / state preparation), per detection; applied by the world at
        the start of each detection window and part of the budget's SPAM term.
    """

    pmt: str
    bright_rate_hz: float
    dark_rate_hz: float
    duration_s: float = 1e-3
    prep_error: float = 0.0
    pulse_width_s: float = 10e-9


@dataclass(frozen=True)
class Node:
    """One trap node."""

    name: str
    species: Species
    optics: Optics
    cool: Beam
    repump: Beam
    pump: Beam
    excite: Excitation
    detect: Beam
    qubit: QubitDrive
    readout: Readout
    motion: Motion = field(default_factory=Motion)
    pumping_time_s: float = 50e-9
    t2_s: float = 1e-3
    dephasing: str = "gaussian"

    @property
    def omega_q(self) -> float:
        """Qubit angular frequency, in rad/s."""
        return 2 * math.pi * self.species.qubit_splitting_hz


@dataclass(frozen=True)
class Detector:
    """One single-photon detector of the Bell-state analyser (a TTLInOut input).

    :param efficiency: quantum efficiency, 0..1. :param dark_rate_hz: dark+background rate, s⁻¹.
    :param dead_time_s: in s. :param jitter_s: Gaussian timing jitter (σ), in s.
    :param afterpulse_prob: probability per click of one afterpulse.
    :param afterpulse_delay_s: mean (exponential) afterpulse delay, in s.
    """

    device: str
    efficiency: float
    dark_rate_hz: float = 20.0
    dead_time_s: float = 22e-9
    jitter_s: float = 0.3e-9
    afterpulse_prob: float = 0.0
    afterpulse_delay_s: float = 100e-9
    pulse_width_s: float = 10e-9


@dataclass(frozen=True)
class BSA:
    """Bell-state analyser: 50:50 beam splitter, two PBS, four detectors (det0 = port0 H,
    det1 = port0 V, det2 = port1 H, det3 = port1 V).

    :param mode_overlap: static spatial×spectral×polarisation-mode overlap M, 0..1.
    :param frequency_mismatch_hz: photon centre-frequency mismatch, in Hz (M ×= 1/(1+(Δωτ)²)).
    """

    detectors: tuple[Detector, Detector, Detector, Detector]
    mode_overlap: float = 1.0
    frequency_mismatch_hz: float = 0.0


@dataclass(frozen=True)
class Entangler:
    """Which devices the entangler's outputs 0..3 drive and its gate inputs 0..3 read."""

    device: str
    outputs: tuple[str, ...]
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class LoopTiming:
    """The lab's entanglement loop, all in s: a simulation session stores it as the ``calib.link.*``
    datasets the experiments read (``sim.lab_datasets``), and the budget predicts that loop.

    :param overhead_s: the source's own per-run overhead; informational (the budget takes the
        per-run overhead of the experiment's loop, ``drivers.link_timing``).
    :param gate_start_s: gate opening relative to the earliest photon arrival
        (excitation time + photon delay). :param herald_to_rotation_s: herald → analysis pulse.
    :param phase_correction: whether the analysis corrects ω_q(t_A − t_B) with timestamps.
    """

    cycle_s: float
    run_s: float
    cool_s: float
    overhead_s: float
    gate_start_s: float = 0.0
    gate_length_s: float = 20e-9
    pump_s: float = 0.5e-6
    herald_to_rotation_s: float = 10e-6
    phase_correction: bool = True


@dataclass(frozen=True)
class Lab:
    """A whole lab: two nodes, the analyser, the entangler wiring and the nominal loop."""

    name: str
    nodes: tuple[Node, Node]
    bsa: BSA
    entangler: Entangler
    loop: LoopTiming
    description: str = ""
    source: str = ""  # the TOML file it was loaded from ("" if built otherwise)

    def node(self, name: str) -> Node:
        """The node called ``name`` (``"a"`` or ``"b"``)."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def validate(self, devices: Mapping[str, str]) -> None:
        """Check every device reference against ``devices`` (name → its
        :class:`~sim.rtio.channels.Kind` or that kind's name: ``"ttl_out"``, ``"ttl_inout"``,
        ``"ad9910"``, ``"entangler"`` ...).

        :raises LabError: unknown device, a beam on an input, a detector on an output, ...
        """

        def need(path: str, name: str, kinds: tuple[Kind, ...], what: str) -> None:
            if name not in devices:
                raise LabError(f"lab {self.name}: {path}: device '{name}' is not in the device_db")
            if devices[name] not in kinds:
                raise LabError(
                    f"lab {self.name}: {path}: device '{name}' is a {devices[name]}, "
                    f"{what} needs {' or '.join(kinds)}"
                )

        for n in self.nodes:
            p = f"nodes.{n.name}"
            for role in ("cool", "repump", "pump", "excite", "detect"):
                need(
                    f"{p}.beams.{role}",
                    getattr(n, role).device,
                    OUTPUT_KINDS + DDS_KINDS,
                    "a beam (an output)",
                )
            need(f"{p}.qubit_drive.switch", n.qubit.switch, OUTPUT_KINDS, "a switch (an output)")
            need(f"{p}.qubit_drive.dds", n.qubit.dds, DDS_KINDS, "the qubit drive")
            need(f"{p}.readout.pmt", n.readout.pmt, INPUT_KINDS, "a PMT (an input)")
        for i, d in enumerate(self.bsa.detectors):
            need(f"bsa.detectors[{i}]", d.device, INPUT_KINDS, "a detector (an input)")
        e = self.entangler
        need("entangler.device", e.device, (Kind.ENTANGLER,), "the entangler")
        for i, o in enumerate(e.outputs):
            need(f"entangler.outputs[{i}]", o, OUTPUT_KINDS, "an entangler output")
        for i, o in enumerate(e.inputs):
            need(f"entangler.inputs[{i}]", o, INPUT_KINDS, "an entangler gate input")


# --------------------------------------------------------------------------------------------
# parsing


def _build(cls: type, data: Mapping[str, Any], path: str, lab: str, **extra: Any) -> Any:
    """Construct dataclass ``cls`` from a TOML table, rejecting unknown and missing keys."""
    names = {f.name for f in fields(cls)}
    for key in data:
        if key not in names or key in extra:
            raise LabError(f"lab {lab}: {path}.{key}: unknown key")
    kwargs = dict(data)
    kwargs.update(extra)
    try:
        obj = cls(**kwargs)
    except TypeError as exc:
        missing = [
            f.name
            for f in fields(cls)
            if f.name not in kwargs and f.default is MISSING and f.default_factory is MISSING
        ]
        raise LabError(f"lab {lab}: {path}: missing key(s) {missing or exc}") from None
    for f in fields(cls):
        v = getattr(obj, f.name)
        if f.type in ("float", "int") and not isinstance(v, (int, float)):
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


def _node(lab: str, name: str, t: Mapping[str, Any]) -> Node:
    p = f"nodes.{name}"
    known = {
        "species",
        "optics",
        "beams",
        "qubit_drive",
        "readout",
        "motion",
        "pumping_time_s",
        "t2_s",
        "dephasing",
    }
    for key in t:
        if key not in known:
            raise LabError(f"lab {lab}: {p}.{key}: unknown key")
    for key in ("species", "optics", "beams", "qubit_drive", "readout"):
        if key not in t:
            raise LabError(f"lab {lab}: {p}: missing table [{p}.{key}]")
    beams = dict(t["beams"])
    for role in ("cool", "repump", "pump", "excite", "detect"):
        if role not in beams:
            raise LabError(f"lab {lab}: {p}.beams: missing beam '{role}'")
    extra = set(beams) - {"cool", "repump", "pump", "excite", "detect"}
    if extra:
        raise LabError(f"lab {lab}: {p}.beams.{min(extra)}: unknown beam")
    kw: dict[str, Any] = {k: t[k] for k in ("pumping_time_s", "t2_s", "dephasing") if k in t}
    return Node(
        name=name,
        species=_build(Species, t["species"], f"{p}.species", lab),
        optics=_build(Optics, t["optics"], f"{p}.optics", lab),
        cool=_build(Beam, beams["cool"], f"{p}.beams.cool", lab),
        repump=_build(Beam, beams["repump"], f"{p}.beams.repump", lab),
        pump=_build(Beam, beams["pump"], f"{p}.beams.pump", lab),
        excite=_build(Excitation, beams["excite"], f"{p}.beams.excite", lab),
        detect=_build(Beam, beams["detect"], f"{p}.beams.detect", lab),
        qubit=_build(QubitDrive, t["qubit_drive"], f"{p}.qubit_drive", lab),
        readout=_build(Readout, t["readout"], f"{p}.readout", lab),
        motion=_build(Motion, t.get("motion", {}), f"{p}.motion", lab),
        **kw,
    )


def lab_from_dict(data: Mapping[str, Any], name: str = "lab") -> Lab:
    """Build and check a :class:`Lab` from a parsed TOML document.

    :raises LabError: on the first problem found.
    """
    lab = str(data.get("name", name))
    for key in data:
        if key not in ("name", "description", "nodes", "bsa", "entangler", "loop"):
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
    )
    _check_physics(result)
    return result


def load_lab(name_or_path: str | Path) -> Lab:
    """Load a lab description: a preset name (``oxford2020``, ``duke2024``, ``target_99_1khz``)
    or the path of a TOML file.

    :raises LabError: unknown preset, unreadable or invalid file.
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
    return replace(lab_from_dict(data, name=p.stem), source=str(p.resolve()))
