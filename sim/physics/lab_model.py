# SPDX-License-Identifier: LGPL-3.0-or-later
"""The lab description as records: species, motion, optics, beams, qubit drive, readout, nodes,
detectors, the Bell-state analyser, the entangler wiring and the loop timing, with the check of
their device names against a device database (:meth:`Lab.validate`). Reading them from TOML:
:mod:`sim.physics.lab`.

A field without a default is a key every lab file must give: every quantity modelling an
imperfection or a property of the apparatus is one, so that a missing line is refused rather than
read as ideal physics. The defaults left are neutral (labels, the TTL pulse widths, the fibre walk's
step, the DRTIO bench link, optional features); docs/lab-format.md lists them all (checked by
tests/physics/test_lab_format_doc.py). ``kw_only`` lets required fields follow defaulted ones
without reordering the fields (their order is the records' repr, part of the hardware-state
fingerprint)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from sim.rtio.channels import Kind

__all__ = [
    "BSA",
    "Beam",
    "Crosstalk",
    "Detector",
    "Entangler",
    "EntanglingGate",
    "Excitation",
    "Fibre",
    "Ion",
    "Lab",
    "LabError",
    "LoopTiming",
    "Motion",
    "Node",
    "Optics",
    "QubitDrive",
    "RF_KEYS",
    "RF_ROLES",
    "Readout",
    "Reference",
    "Species",
]

ENCODINGS = ("polarisation",)  # extension points: "time_bin", "frequency"
OUTPUT_KINDS = (Kind.TTL_OUT,)
INPUT_KINDS = (Kind.TTL_INOUT,)
DDS_KINDS = (Kind.AD9910,)
#: the beams whose light an AOM on a DDS may make (:class:`Beam`'s RF keys), and those keys
RF_ROLES = ("cool", "repump", "pump", "detect")
RF_KEYS = frozenset(
    {"dds", "frequency_hz", "amplitude", "attenuation_db", "bandwidth_hz", "saturation"}
)


#: the user's reference of the lab TOML format, named by the missing-key errors
FORMAT_DOC = "docs/lab-format.md"


class LabError(ValueError):
    """A wrong or inconsistent lab description (one line, names the key)."""


# --------------------------------------------------------------------------------------------
# dataclasses


@dataclass(frozen=True, kw_only=True)
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
    readdress_prob: float


@dataclass(frozen=True)
class Motion:
    """Simple thermal model: mean phonon number n̄.

    n̄ relaxes to ``doppler_n`` with time constant ``cooling_time_s`` while the cooling beam is on
    and grows by ``heating_rate_per_s`` otherwise. Fluorescence scales by 1/(1 + n̄/n_fluorescence)
    and the photon mode overlap by 1/(1 + n̄/n_mode).
    """

    heating_rate_per_s: float
    doppler_n: float
    cooling_time_s: float
    n_fluorescence: float
    n_mode: float
    initial_n: float


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
    transmission: float
    fibre_transmission: float
    polarisation_mixing: float
    photon_delay_s: float

    @property
    def efficiency(self) -> float:
        """Ion-to-beam-splitter efficiency (without branching, excitation, detector)."""
        return self.collection_efficiency * self.transmission * self.fibre_transmission


@dataclass(frozen=True)
class Beam:
    """A beam switched by a TTL output (or by an AD9910's RF switch), its light made by an AOM
    driven by an AD9910 (:mod:`sim.physics.beam_rf`): the lab's rates (cooling, pumping,
    fluorescence) hold at the RF that Startup programs (``frequency_hz``, ``amplitude``,
    ``attenuation_db``: its defaults); the light scales with the RF power, none without RF.

    :param device: device_db name of the switch (``ttl_out``) or of an ``ad9910``.
    :param delay_s: optical delay from the TTL edge to the light, in s.
    :param dds: device_db name of the AD9910 driving the beam's AOM (None: ``device`` when it is
        an AD9910, else no DDS: the light follows the switch alone).
    :param frequency_hz: the AOM's RF frequency at which the beam is on the ion, in Hz.
    :param amplitude: the DDS amplitude (fraction of full scale) at which the lab's rates hold.
    :param attenuation_db: the Urukul attenuation at which the lab's rates hold, in dB.
    :param bandwidth_hz: an RF further than this from ``frequency_hz`` puts no light on the ion
        (the AOM's bandwidth and the transition); within it the detuning is not modelled, in Hz.
    :param saturation: the transition's saturation parameter s₀ at the lab's RF power: the
        scattering rate goes as s/(1 + s), s = s₀ × the RF power relative to the lab's.
    """

    device: str
    delay_s: float = 0.0
    dds: str | None = None
    frequency_hz: float = 110e6
    amplitude: float = 0.5
    attenuation_db: float = 10.0
    bandwidth_hz: float = 10e6
    saturation: float = 1.0


@dataclass(frozen=True, kw_only=True)
class Excitation(Beam):
    """The excitation beam.

    :param mode: ``"pulsed"`` (each rising edge triggers one short pulse of area ``pulse_area_rad``
        and length ``pulse_length_s``) or ``"aom"`` (the light is on while the TTL is high; pulse
        area = 2π·rabi_frequency_hz·on-time).
    """

    mode: str
    pulse_area_rad: float = math.pi
    pulse_length_s: float
    rabi_frequency_hz: float = 0.0


@dataclass(frozen=True, kw_only=True)
class QubitDrive:
    """Microwave or Raman qubit drive, gated by ``switch`` and set by the AD9910 ``dds``.

    :param rabi_frequency_hz: Rabi frequency at full-scale amplitude (1.0) through the Urukul
        attenuation ``attenuation_db``, in Hz; linear in amplitude and in the RF voltage, so ×
        10^(−(att − attenuation_db)/20) at another attenuation.
    :param resonance_hz: DDS frequency at which the drive is resonant with the qubit, in Hz.
    :param attenuation_db: the attenuation at which ``rabi_frequency_hz`` holds (Startup's
        default for the qubit channel, 10 dB).
    """

    switch: str
    dds: str
    kind: str = "microwave"
    rabi_frequency_hz: float
    resonance_hz: float
    attenuation_db: float = 10.0


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
    duration_s: float
    prep_error: float
    pulse_width_s: float = 10e-9


@dataclass(frozen=True)
class Fibre:
    """Birefringence drift of the node's fibre to the analyser: a random walk of its polarisation
    rotation on the Poincaré sphere (:mod:`sim.physics.polarisation`), seeded, a function of lab
    time only. At power-up the fibre is compensated (no rotation).

    :param drift_rad_per_sqrt_s: σ of each Stokes component of the rotation vector per √s, in
        rad/√s (0: no drift; the rms rotation angle after t is σ·√(3t)).
    :param drift_step_s: lab time between steps of the walk (the rotation is constant within a
        step), in s.
    """

    drift_rad_per_sqrt_s: float
    drift_step_s: float = 1.0


#: a node without a ``[nodes.X.fibre]`` table: its fibre does not drift
NO_DRIFT = Fibre(drift_rad_per_sqrt_s=0.0)


@dataclass(frozen=True)
class Reference:
    """Classical reference light injected into the node's fibre for polarisation compensation,
    switched by the TTL output ``device``; its polarisation is set by the node's motorised
    ``ref`` half-wave plate (:mod:`drivers.polarisation`).

    :param rate_hz: photon rate of the (attenuated) light at the analyser, before the beam
        splitter and the detectors' efficiency, in s⁻¹.
    """

    device: str
    rate_hz: float


@dataclass(frozen=True)
class Crosstalk:
    """What the network ion's light does to a memory ion of the same node while it is on.

    :param beams: the network ion's beam roles that scatter onto the memory ion (``cool``,
        ``repump``, ``pump``, ``excite``, ``detect``).
    :param dephasing_per_s: rate at which the memory's coherence decays while any of them is on,
        in s⁻¹ (coherence × exp(−rate·t_on)).
    :param depolarising_per_s: rate of complete depolarisation while any of them is on, in s⁻¹
        (probability 1 − exp(−rate·t_on) of I/2).
    """

    beams: tuple[str, ...]
    dephasing_per_s: float
    depolarising_per_s: float


#: the crosstalk record of a network ion (unused: crosstalk acts on a memory ion only)
NETWORK_CROSSTALK = Crosstalk(
    beams=("cool", "pump", "excite", "detect"), dephasing_per_s=0.0, depolarising_per_s=0.0
)


@dataclass(frozen=True)
class Ion:
    """One ion of a node's list. The ``network`` ion is the node's own species, beams, qubit
    drive and readout (the node's tables); a ``memory`` (circuit) ion has its own species name,
    qubit drive (switch + DDS), coherence and crosstalk, and is entangled with the network ion
    only through the node's :class:`EntanglingGate` (read out through the network ion).

    :param t2_s: memory coherence time T2 (exponential decay of the coherence), in s.
    :param t2_star_s: memory T2* of quasi-static dephasing (a Gaussian detuning, constant over a
        shot, σ = √2/T2*: an unechoed Ramsey decays as exp(−(t/T2*)²); an echo refocuses it), in s
        (``inf``: none). A memory ion's file entry must give ``species``, ``drive``, ``t2_s``,
        ``t2_star_s`` and ``crosstalk`` (:data:`sim.physics.lab_ions.MEMORY_KEYS`); the defaults
        serve the network ion, described by the node's own tables.
    """

    role: str = "network"
    species: str = ""
    drive: QubitDrive | None = None
    t2_s: float = math.inf
    t2_star_s: float = math.inf
    crosstalk: Crosstalk = field(default_factory=lambda: NETWORK_CROSSTALK)


@dataclass(frozen=True)
class EntanglingGate:
    """The node's mixed-species Mølmer–Sørensen-type gate between its network and memory ions.

    While ``switch`` is high the gate beams act: U = exp(−iθ X⊗X), θ = (π/4)·t_on/duration_s (a
    full gate, t_on = duration_s, is maximally entangling), followed by a two-qubit depolarising
    channel of probability (16/15)(1 − fidelity)·t_on/duration_s.

    :param duration_s: length of one full gate, in s. :param fidelity: its process fidelity.
    """

    switch: str
    duration_s: float
    fidelity: float


@dataclass(frozen=True, kw_only=True)
class Node:
    """One trap node (by default a single network ion; ``ions`` lists a memory ion too)."""

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
    motion: Motion
    fibre: Fibre = field(default_factory=lambda: NO_DRIFT)
    reference: Reference | None = None
    pumping_time_s: float
    t2_s: float
    dephasing: str
    ions: tuple[Ion, ...] = (Ion(),)
    gate: EntanglingGate | None = None

    @property
    def memory(self) -> Ion | None:
        """The node's memory (circuit) ion, if its ion list has one."""
        return next((i for i in self.ions if i.role == "memory"), None)

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
    dark_rate_hz: float
    dead_time_s: float
    jitter_s: float
    afterpulse_prob: float
    afterpulse_delay_s: float
    pulse_width_s: float = 10e-9


@dataclass(frozen=True)
class BSA:
    """Bell-state analyser: 50:50 beam splitter, two PBS, four detectors (det0 = port0 H,
    det1 = port0 V, det2 = port1 H, det3 = port1 V).

    :param mode_overlap: static spatial×spectral×polarisation-mode overlap M, 0..1.
    :param frequency_mismatch_hz: photon centre-frequency mismatch, in Hz (M ×= 1/(1+(Δωτ)²)).
    """

    detectors: tuple[Detector, Detector, Detector, Detector]
    mode_overlap: float
    frequency_mismatch_hz: float


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
    gate_start_s: float
    gate_length_s: float
    pump_s: float
    herald_to_rotation_s: float
    phase_correction: bool


@dataclass(frozen=True)
class DrtioLink:
    """The DRTIO link between the master and its satellite (destination 1), used when the device
    database puts devices on a satellite (``device_db_drtio.py``; ignored otherwise).

    One-way latency = ``serdes_ns`` + ``ns_per_m`` · ``fibre_m`` (≈ 290 ns for 2 m, ≈ 100 µs
    for 20 km). :param cable_ns: propagation on the entangler's master/slave link cable.
    :param outages: ``[down_s, up_s]`` intervals of lab (RTIO) time with the link down.
    """

    fibre_m: float = 2.0
    serdes_ns: float = 280.0
    ns_per_m: float = 5.0
    cable_ns: float = 5.0
    outages: tuple[tuple[float, float], ...] = ()

    @property
    def latency_s(self) -> float:
        """One-way link latency master → satellite (s)."""
        return (self.serdes_ns + self.ns_per_m * self.fibre_m) * 1e-9


@dataclass(frozen=True)
class Lab:
    """A whole lab: two nodes, the analyser, the entangler wiring and the nominal loop."""

    name: str
    nodes: tuple[Node, Node]
    bsa: BSA
    entangler: Entangler
    loop: LoopTiming
    description: str = ""
    # the TOML file it was loaded from ("" if built otherwise): where, not what, so it stays out
    # of repr and the hardware-state fingerprint (a preset read from another checkout or
    # installation is the same lab; with it in, its saved state was discarded as "changed")
    source: str = field(default="", repr=False)
    drtio: DrtioLink = DrtioLink()
    # ``--set`` overrides applied to that file, as a JSON object ("" for none); the values are
    # already in the records, so the field stays out of repr (and the hardware-state fingerprint)
    overrides: str = field(default="", repr=False)

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
                dds = getattr(n, role).dds
                if dds is not None:
                    need(f"{p}.beams.{role}.dds", dds, DDS_KINDS, "a beam's AOM drive")
            need(f"{p}.qubit_drive.switch", n.qubit.switch, OUTPUT_KINDS, "a switch (an output)")
            need(f"{p}.qubit_drive.dds", n.qubit.dds, DDS_KINDS, "the qubit drive")
            need(f"{p}.readout.pmt", n.readout.pmt, INPUT_KINDS, "a PMT (an input)")
            if n.reference is not None:
                need(
                    f"{p}.reference.device",
                    n.reference.device,
                    OUTPUT_KINDS,
                    "a switch (an output)",
                )
            m = n.memory
            if m is not None and m.drive is not None:
                q = f"{p}.ions.memory.drive"
                need(f"{q}.switch", m.drive.switch, OUTPUT_KINDS, "a switch (an output)")
                need(f"{q}.dds", m.drive.dds, DDS_KINDS, "the memory drive")
            if n.gate is not None:
                need(f"{p}.gate.switch", n.gate.switch, OUTPUT_KINDS, "a switch (an output)")
        for i, d in enumerate(self.bsa.detectors):
            need(f"bsa.detectors[{i}]", d.device, INPUT_KINDS, "a detector (an input)")
        e = self.entangler
        need("entangler.device", e.device, (Kind.ENTANGLER,), "the entangler")
        for i, o in enumerate(e.outputs):
            need(f"entangler.outputs[{i}]", o, OUTPUT_KINDS, "an entangler output")
        for i, o in enumerate(e.inputs):
            need(f"entangler.inputs[{i}]", o, INPUT_KINDS, "an entangler gate input")
