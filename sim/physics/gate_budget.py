# SPDX-License-Identifier: LGPL-3.0-or-later
"""Budget of the teleported remote gate (``repository/remote_gate.py``): the process fidelity of
the teleported CZ between the memory qubits as process tomography measures it, term by term.

Independent of the timeline simulation: the ideal protocol (a Bell pair of the network ions,
CNOT memory A → network A, CZ network B ↔ memory B, network B in the X basis, both network ions
measured, Z corrections from the two bits) is evaluated exactly on a six-qubit density matrix
(two reference qubits hold the Choi state of the memories' input), with the lab's errors inserted
as channels where they act:

- Bell pair: the link budget's state fidelity at the herald (:func:`sim.physics.budget.predict`),
  as a Bell-diagonal state; the network ions' dephasing (T2) from the herald over the local gates.
- local gates: a two-qubit depolarising channel of 16/15·(1 − F_gate) after each node's gate.
- network readout: each network bit read wrong with the readout error (wrong correction).
- memory during the attempts: T2 over the time to a herald (exponential, mean 1/R_loop, so the
  coherence factor is 1/(1 + λ/R_loop)); during feed-forward: T2 from the herald to the last
  correction (with node B on a DRTIO satellite, ``two_chassis``, the link's share of it: the
  slave entangler's answer and the slack margin's latencies before the local gates, and node B's
  PMT counts read over the link, a round trip each, as :func:`sim.physics.budget.herald_timing`
  counts them for the link experiments, and the margin's latencies before the corrections);
  crosstalk: the memories' rates while the network ion's light is on during the attempts (the
  loop's light fraction) and the gate's network readout.
- memory T2* (quasi-static, a lab's optional ``t2_star_s``): a Gaussian detuning δ constant over
  the shot (σ = √2/T2*) turns the memory about Z by δ·T_Z while it is in its own frame and about
  an equatorial axis by δ·t_r while the local gate holds it in a rotated frame (t_r ≈ the gate,
  one memory and one network π/2 pulse and three DDS updates); Z phases commute with the
  teleported CZ, so T_Z is the net signed free evolution. A rotation about Z by a and one about
  an orthogonal axis by b have fidelity cos²(a/2)cos²(b/2) ≈ (1 + c(a) + c(b) + (c(a+b) +
  c(a−b))/2)/4 on average, c(x) = E[cos δx] = exp(−(σx)²/2): the budget's coherence factor is
  twice that minus 1. Without an echo T_Z = T_wait + t_ff − t_r (the wait for the herald,
  exponential with mean 1/R_loop, averaged in closed form); with ``remote_gate``'s echo
  (``dd_pulses`` even, spaced by the measured free time less a gate) T_Z = 0 and only the
  rotated frame's c(t_r) remains, while the memory's T2 acts over the echo's added
  (dd_pulses − 1)·(T_wait + t_ff) (term "memory T2 during the echo").
- SPAM: the memories are reset and read through their network ions (a CNOT and a readout): the
  reset leaves |1⟩ and the readout flips with probability ε = p_gate/2 + ε_readout + ε_T2 each,
  which tomography sees as depolarising of 2ε on input and output. ε_T2: the memory's
  dephasing while the CNOT copies it; a phase flip during the memory's first π/2 pulse or the
  gate flips the copy with probability ½ on average over the pulse and the gate (none later),
  so ε_T2 = (1 − exp(−t/T2))/2 with t = (t_π/2 + t_gate)/2.

Each term is the infidelity with that error alone; ``process_fidelity`` has all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import erfcx

from drivers.link_timing import DRTIO_MARGIN_LATENCIES, GATEWARE_MARGIN_S

from .budget import (
    LoopArguments,
    _coherence_t2,
    _spam,
    herald_timing,
    herald_to_rotation_s,
    predict,
)
from .circuit import apply_1q, apply_2q, dephase_q, depolarise_2q, depolarise_q
from .lab import Lab, LabError

__all__ = [
    "GateBudget",
    "drtio_feed_forward_s",
    "format_gate_budget",
    "gate_budget_dict",
    "predict_gate",
    "quasi_static_coherence",
]

# qubits of the evaluation: references 0, 1; memories 2 (A), 3 (B); network ions 4 (A), 5 (B)
_RA, _RB, _MA, _MB, _NA, _NB = range(6)
_CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex)
_CZ = np.diag([1, 1, 1, -1]).astype(complex)
_RY_MINUS = np.array([[1, 1], [-1, 1]], dtype=complex) / math.sqrt(2)  # R(π/2, ¾): X → Z
_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Z = np.diag([1.0, -1.0]).astype(complex)
DDS_UPDATE_S = 1.256e-6  # an AD9910 profile write on Kasli (the timeline's cost of each pulse)
READOUT_DELAY_S = 5e-6  # remote_gate's default slack after the herald
CORRECTION_DELAY_S = 10e-6  # remote_gate's default slack before the corrections
MEMORY_AMPLITUDE = 0.5  # the memory pulses' DDS amplitude (sim.lab_datasets)


@dataclass(frozen=True)
class GateBudget:
    """Predicted teleported-CZ process fidelity (with the tomography's SPAM) and its terms
    (one-at-a-time infidelities), with the times that set them (s)."""

    lab: str
    process_fidelity: float
    average_gate_fidelity: float
    terms: dict[str, float]
    bell_fidelity: float
    herald_time_s: float
    local_time_s: float
    feed_forward_s: float
    two_chassis: bool = False
    drtio_feed_forward_s: float = 0.0
    dd_pulses: int = 0


def _ideal_choi_start() -> np.ndarray:
    v = np.zeros(64, dtype=complex)
    for i in range(4):  # Σ_i |i⟩_ref |i⟩_mem |00⟩_net / 2
        v[(i << 4) | (i << 2)] = 0.5
    return np.outer(v, v.conj())


def _bell(fidelity: float) -> np.ndarray:
    """ψ+ with fidelity F, the rest spread over the other Bell states."""
    s = 1 / math.sqrt(2)
    states = [np.array(v, dtype=complex) * s for v in ([0, 1, 1, 0], [0, 1, -1, 0])]
    states += [np.array(v, dtype=complex) * s for v in ([1, 0, 0, 1], [1, 0, 0, -1])]
    rho = fidelity * np.outer(states[0], states[0])
    for v in states[1:]:
        rho += (1 - fidelity) / 3 * np.outer(v, v)
    return rho


@dataclass(frozen=True)
class _Errors:
    bell: float = 1.0  # Bell-pair fidelity
    net_coherence: float = 1.0  # each network ion's coherence factor before its measurement
    p_gate: tuple[float, float] = (0.0, 0.0)
    readout: tuple[float, float] = (0.0, 0.0)
    mem_dephase: tuple[float, float] = (1.0, 1.0)  # coherence factors over the protocol
    mem_depol: tuple[float, float] = (0.0, 0.0)
    spam: tuple[float, float] = (0.0, 0.0)  # ε of reset and readout per memory


def _teleported_fidelity(e: _Errors) -> float:
    """Process fidelity to CZ of the teleported protocol with errors ``e``."""
    rho = _ideal_choi_start()
    for k, q in enumerate((_MA, _MB)):
        rho = depolarise_q(rho, q, 2 * e.spam[k])
        rho = dephase_q(rho, q, e.mem_dephase[k])
        rho = depolarise_q(rho, q, e.mem_depol[k])
    net = np.zeros((64, 64), dtype=complex)
    # replace the network pair |00⟩ by the Bell pair: ρ ⊗ ρ_bell on the last two qubits
    blocks = rho.reshape(16, 4, 16, 4)[:, 0, :, 0]
    net = np.einsum("ab,cd->acbd", blocks, _bell(e.bell)).reshape(64, 64)
    rho = dephase_q(dephase_q(net, _NA, e.net_coherence), _NB, e.net_coherence)
    rho = apply_2q(rho, _CNOT, _MA, _NA)  # node A: memory controls the network ion
    rho = depolarise_2q(rho, _MA, _NA, e.p_gate[0])
    rho = apply_2q(rho, _CZ, _MB, _NB)  # node B
    rho = depolarise_2q(rho, _MB, _NB, e.p_gate[1])
    rho = apply_1q(rho, _RY_MINUS, _NB)
    out = np.zeros((16, 16), dtype=complex)
    bits = (np.arange(64) >> 1) & 1, np.arange(64) & 1  # network A, network B
    for ma in (0, 1):
        for mb in (0, 1):
            keep = (bits[0] == ma) & (bits[1] == mb)
            branch = rho * np.outer(keep, keep)
            branch = np.einsum("ixjx->ij", branch.reshape(16, 4, 16, 4))  # trace the network
            for ra in (0, 1):  # the bits as read (readout errors)
                for rb in (0, 1):
                    pr = (e.readout[0] if ra != ma else 1 - e.readout[0]) * (
                        e.readout[1] if rb != mb else 1 - e.readout[1]
                    )
                    if pr == 0:
                        continue
                    b = branch
                    if ra == 0:  # node A's bit 0: Z on memory B
                        b = apply_1q(b, _Z, 3)
                    if rb == 1:  # node B's bit differs from ψ+'s sign (0): Z on memory A
                        b = apply_1q(b, _Z, 2)
                    out += pr * b
    for k in range(2):
        out = depolarise_q(out, 2 + k, 2 * e.spam[k])
    v = np.zeros(16, dtype=complex)
    for i in range(4):
        v[(i << 2) | i] = _CZ[i, i] * 0.5
    return float(np.real(v.conj() @ out @ v))


def _memory_half_pi_s(lab: Lab) -> float:
    """The memory's π/2 time at the experiment's amplitude (s), the slower node's."""
    mems = [n.memory for n in lab.nodes]
    rabi = min(m.drive.rabi_frequency_hz for m in mems if m and m.drive)
    return 0.5 / (2 * rabi * MEMORY_AMPLITUDE)


def _local_time(lab: Lab) -> tuple[float, float]:
    """(herald → both network ions measured, herald → last correction), s, as remote_gate
    plays it with the lab's calibrations (each pulse after its DDS write)."""
    t_net = max(0.5 / (2 * n.qubit.rabi_frequency_hz * 0.5) for n in lab.nodes)  # π/2
    t_mem = _memory_half_pi_s(lab)
    gate = sum(n.gate.duration_s for n in lab.nodes if n.gate)
    local = 6 * (t_mem + DDS_UPDATE_S) + 5 * (t_net + DDS_UPDATE_S) + gate + READOUT_DELAY_S
    detect = max(n.readout.duration_s for n in lab.nodes)
    # on average one Z correction (two π pulses) per memory
    ff = local + detect + CORRECTION_DELAY_S + GATEWARE_MARGIN_S + 2 * (2 * t_mem + DDS_UPDATE_S)
    return local, ff


def drtio_feed_forward_s(lab: Lab) -> tuple[float, float]:
    """What node B on a DRTIO satellite adds to herald → network ions measured and to herald →
    last correction (s): before the local gates, the slave entangler's answer (a round trip) and
    the slack margin's latencies (:func:`~sim.physics.budget.herald_to_rotation_s`); after node
    B's network readout, its PMT counts read over the link, a round trip per count and one for
    the read that times out (the ion is bright half of the time:
    :func:`~sim.physics.budget.herald_timing`), and the margin's latencies in the slack before
    the corrections (node B's go out over the link)."""
    before = herald_to_rotation_s(lab, True) - herald_to_rotation_s(lab, False)
    t = herald_timing(lab, two_chassis=True)
    reads = t.satellite_reads * 2 * t.link_mu * 1e-9
    return before, before + reads + DRTIO_MARGIN_LATENCIES * t.link_mu * 1e-9


def quasi_static_coherence(t2_star_s: float, wait_s: float, fixed_s: float) -> float:
    """Shot-average coherence exp(−(σT)²/2), σ = √2/T2*, over T = T_wait + ``fixed_s`` with T_wait
    exponential of mean ``wait_s`` (closed form: with a = σ²/2, b = 1/wait_s,
    (1/wait_s)∫ e^{−bt − a(t+c)²} dt = √(π/a)·erfcx(√a c + b/(2√a))·e^{−ac²}/(2 wait_s))."""
    if not math.isfinite(t2_star_s):
        return 1.0
    a = 1.0 / t2_star_s**2  # σ²/2
    if wait_s <= 0.0:
        return math.exp(-a * fixed_s**2)
    ra = math.sqrt(a)
    x = ra * fixed_s + 1.0 / (2 * ra * wait_s)
    return float(math.sqrt(math.pi) / ra * erfcx(x) * math.exp(-a * fixed_s**2) / (2 * wait_s))


def _quasi_static_factor(t2_star_s: float, wait_s: float, z_s: float, r_s: float) -> float:
    """The coherence factor of a rotation δ·(T_wait + ``z_s``) about Z and δ·``r_s`` about an
    orthogonal axis (module docstring), T_wait exponential of mean ``wait_s``."""
    c_z, c_r = (quasi_static_coherence(t2_star_s, w, x) for w, x in ((wait_s, z_s), (0.0, r_s)))
    c_p = quasi_static_coherence(t2_star_s, wait_s, z_s + r_s)
    c_m = quasi_static_coherence(t2_star_s, wait_s, z_s - r_s)
    return (1 + c_z + c_r + (c_p + c_m) / 2) / 2 - 1


def predict_gate(
    lab: Lab,
    two_chassis: bool = False,
    dd_pulses: int = 0,
    gate_mu: tuple[int, int] | None = None,
) -> GateBudget:
    """The teleported-CZ budget of ``lab`` (both nodes need a memory ion and a gate), on one
    chassis or (``two_chassis``) with node B on a DRTIO satellite (``device_db_drtio.py``): the
    feed-forward then pays the link (:func:`drtio_feed_forward_s`); ``dd_pulses``: remote_gate's
    echo of the memories (even; 0 = none); ``gate_mu``: the detection gate the run plays, in mu
    from the excitation pulse start (its ``calib.photon.gate_*``; None: the lab's nominal).

    :raises LabError: a node without a memory ion or gate, or an odd ``dd_pulses``.
    """
    if dd_pulses < 0 or dd_pulses % 2:
        raise LabError(f"dd_pulses = {dd_pulses}: the echo needs an even number of pulses")
    for n in lab.nodes:
        if n.memory is None or n.gate is None:
            raise LabError(f"lab {lab.name}: node {n.name} has no memory ion or no gate")
    link = predict(
        replace(lab, loop=replace(lab.loop, herald_to_rotation_s=0.0)),
        arguments=LoopArguments(gate_mu=gate_mu),
    )
    local, ff = _local_time(lab)
    drtio_local, drtio = drtio_feed_forward_s(lab) if two_chassis else (0.0, 0.0)
    local += drtio_local
    ff += drtio
    tau = 1.0 / link.loop_rate_hz  # mean time to a herald, s
    mems = [n.memory for n in lab.nodes]
    lp = lab.loop
    light = []
    for n, m in zip(lab.nodes, mems):
        assert m is not None
        per_cycle = (lp.pump_s if "pump" in m.crosstalk.beams else 0.0) + (
            16e-9 if "excite" in m.crosstalk.beams else 0.0
        )
        cooling = lp.cool_s if "cool" in m.crosstalk.beams else 0.0
        frac = (lp.run_s * per_cycle / lp.cycle_s + cooling) / (lp.run_s + lp.cool_s)
        detect = n.readout.duration_s if "detect" in m.crosstalk.beams else 0.0
        light.append((frac, detect))
    t2 = [m.t2_s for m in mems]  # type: ignore[union-attr]
    deph = [m.crosstalk.dephasing_per_s for m in mems]  # type: ignore[union-attr]
    depol = [m.crosstalk.depolarising_per_s for m in mems]  # type: ignore[union-attr]
    att_t2 = tuple(1 / (1 + tau / t) for t in t2)
    ff_t2 = tuple(math.exp(-ff / t) for t in t2)
    t2s = [m.t2_star_s for m in mems]  # type: ignore[union-attr]
    t_net = max(0.5 / (2 * n.qubit.rabi_frequency_hz * 0.5) for n in lab.nodes)
    frame = _memory_half_pi_s(lab) + t_net + 3 * DDS_UPDATE_S  # with the gate: the rotated frame
    t_r = [n.gate.duration_s + frame for n in lab.nodes]  # type: ignore[union-attr]
    if dd_pulses:  # the echo balances the Z part: the rotated frame's remains
        qs = tuple(quasi_static_coherence(t, 0.0, r) for t, r in zip(t2s, t_r))
    else:
        qs = tuple(_quasi_static_factor(t, tau, ff - r, r) for t, r in zip(t2s, t_r))
    extra = dd_pulses - 1 if dd_pulses else 0  # the echo's added free time, in units of T
    echo_t2 = tuple(math.exp(-extra * ff / t) / (1 + extra * tau / t) for t in t2)
    xt_deph = tuple(math.exp(-d * det) / (1 + d * f * tau) for d, (f, det) in zip(deph, light))
    xt_depol = tuple(
        1 - math.exp(-d * det) / (1 + d * f * tau) for d, (f, det) in zip(depol, light)
    )
    p_gate = tuple(16 / 15 * (1 - n.gate.fidelity) for n in lab.nodes)  # type: ignore[union-attr]
    readout = tuple(_spam(n) for n in lab.nodes)
    net_c = min(_coherence_t2(n, local) for n in lab.nodes)
    t_copy = [0.5 * (_memory_half_pi_s(lab) + n.gate.duration_s) for n in lab.nodes]  # type: ignore
    copy_t2 = [-0.5 * math.expm1(-t / t2_k) for t, t2_k in zip(t_copy, t2)]
    spam = tuple(p / 2 + r + c for p, r, c in zip(p_gate, readout, copy_t2))
    single = {
        "Bell pair (link budget)": _Errors(bell=link.fidelity_state),
        "network dephasing (herald to measurement)": _Errors(net_coherence=net_c),
        "local gates": _Errors(p_gate=p_gate),  # type: ignore[arg-type]
        "network readout (wrong corrections)": _Errors(readout=readout),  # type: ignore[arg-type]
        "memory T2 during attempts": _Errors(mem_dephase=att_t2),  # type: ignore[arg-type]
        "memory T2 during feed-forward": _Errors(mem_dephase=ff_t2),  # type: ignore[arg-type]
        "crosstalk on the memories": _Errors(
            mem_dephase=xt_deph,  # type: ignore[arg-type]
            mem_depol=xt_depol,  # type: ignore[arg-type]
        ),
        "SPAM (reset and readout via network ion)": _Errors(spam=spam),  # type: ignore[arg-type]
    }
    if any(math.isfinite(t) for t in t2s):
        echo = f"echoed, dd_pulses={dd_pulses}" if dd_pulses else "no echo"
        single[f"memory T2* quasi-static ({echo})"] = _Errors(mem_dephase=qs)  # type: ignore
    if dd_pulses:
        single["memory T2 during the echo"] = _Errors(mem_dephase=echo_t2)  # type: ignore
    terms = {k: 1 - _teleported_fidelity(e) for k, e in single.items()}
    every = _Errors(
        bell=link.fidelity_state,
        net_coherence=net_c,
        p_gate=p_gate,  # type: ignore[arg-type]
        readout=readout,  # type: ignore[arg-type]
        mem_dephase=tuple(  # type: ignore[arg-type]
            a * b * c * q * e for a, b, c, q, e in zip(att_t2, ff_t2, xt_deph, qs, echo_t2)
        ),
        mem_depol=xt_depol,  # type: ignore[arg-type]
        spam=spam,  # type: ignore[arg-type]
    )
    f = _teleported_fidelity(every)
    return GateBudget(
        lab.name,
        f,
        (4 * f + 1) / 5,
        terms,
        link.fidelity_state,
        tau,
        local,
        ff,
        two_chassis,
        drtio,
        dd_pulses,
    )


def _states_t2_star(lab: Lab) -> bool:
    """Whether a memory of ``lab`` has a quasi-static T2* (the echo's lines are shown)."""
    return any(math.isfinite(m.t2_star_s) for m in (n.memory for n in lab.nodes) if m)


def gate_budget_dict(
    lab: Lab, two_chassis: bool = False, gate_mu: tuple[int, int] | None = None
) -> dict:
    """:func:`predict_gate` as JSON-ready values."""
    b = predict_gate(lab, two_chassis, gate_mu=gate_mu)
    out: dict = {
        "lab": b.lab,
        "process_fidelity": b.process_fidelity,
        "average_gate_fidelity": b.average_gate_fidelity,
        "bell_fidelity": b.bell_fidelity,
        "terms": dict(b.terms),
        "herald_time_s": b.herald_time_s,
        "local_time_s": b.local_time_s,
        "feed_forward_s": b.feed_forward_s,
        "two_chassis": b.two_chassis,
        "drtio_feed_forward_s": b.drtio_feed_forward_s,
        "dd_pulses": b.dd_pulses,
        "detection_gate_mu": None if gate_mu is None else list(gate_mu),
    }
    if _states_t2_star(lab):
        out["process_fidelity_with_echo"] = {  # remote_gate's dd_pulses
            str(n): predict_gate(lab, two_chassis, n, gate_mu).process_fidelity for n in (2, 4)
        }
    return out


def format_gate_budget(
    lab: Lab, two_chassis: bool = False, gate_mu: tuple[int, int] | None = None
) -> str:
    """The budget as text, one term per line."""
    b = predict_gate(lab, two_chassis, gate_mu=gate_mu)
    lines = [
        f"teleported CZ budget for {b.lab} (process fidelity with the tomography's SPAM)",
        "  detection gate                           "
        + (
            "the lab's nominal"
            if gate_mu is None
            else f"[{gate_mu[0]}, {gate_mu[1]}) ns from the excitation (a run's calibrated gate)"
        ),
        f"  Bell pair at the herald (link budget)    F = {b.bell_fidelity:.4f}",
        f"  mean time to a herald                    {b.herald_time_s * 1e3:.2f} ms",
        f"  herald -> network ions measured          {b.local_time_s * 1e6:.0f} us",
        f"  herald -> last correction (feed-forward) {b.feed_forward_s * 1e6:.0f} us",
    ]
    if b.two_chassis:
        lines.append(
            f"    of which the DRTIO link (node B on the satellite, fibre {lab.drtio.fibre_m:g} m, "
            f"{lab.drtio.latency_s * 1e6:.3f} us one way) {b.drtio_feed_forward_s * 1e6:.1f} us"
        )
    lines.append("  infidelity terms (each alone):")
    for k, v in b.terms.items():
        lines.append(f"    {k:<44} {v:.4f}")
    lines.append(f"  process fidelity (all)                   F_pro = {b.process_fidelity:.4f}")
    lines.append(
        f"  average gate fidelity                    F_avg = {b.average_gate_fidelity:.4f}"
    )
    if _states_t2_star(lab):
        lines.append("  with the memories' echo (remote_gate dd_pulses=N, X pi pulses):")
        for n in (2, 4):
            e = predict_gate(lab, two_chassis, n, gate_mu)
            lines.append(
                f"    dd_pulses={n}: F_pro = {e.process_fidelity:.4f}  (memory T2 during the "
                f"echo {e.terms['memory T2 during the echo']:.4f})"
            )
    return "\n".join(lines)
