# SPDX-License-Identifier: LGPL-3.0-or-later
"""The memory (circuit) qubits of the two nodes and, while they are entangled with the network
ions, the joint four-qubit state.

Qubits: 0 = network A, 1 = network B, 2 = memory A, 3 = memory B (basis index with qubit 0 most
significant, as :mod:`sim.physics.ions`). While no entangling gate has acted since the memory was
last separable, the state is ρ_net ⊗ ρ_mem: the world keeps ρ_net (4×4) as always and this
module ρ_mem (4×4). A node's entangling gate *attaches* the two into one 16×16 state; every
operation the world then does on a network ion (a linear map of its 4×4 ρ_net) is applied to each
memory block of the joint state, and the state is *detached* again as soon as it factorises
(after the network ions were measured or pumped). Memory decoherence (T2, crosstalk while
the network ion's light is on, and a quasi-static detuning: see below) is applied lazily before
each operation on a memory qubit (for a gate or a memory pulse, the world applies it up to the
operation's midpoint, the rest after it):
it acts on the memory qubits alone and so commutes with everything done to the network ions.

Quasi-static dephasing (``t2_star_s``): slow noise of the memory's frequency (magnetic field and
light-shift drifts) is a detuning δ constant over a shot and independent between shots, Gaussian
with σ = √2/T2*, so that a Ramsey sequence averaged over shots decays as exp(−(t/T2*)²). The
memory accumulates the phase δ·dt as a Z rotation between the operations (a state evolving under
δ, not a decay factor): a π pulse in between flips the phase accumulated before it, so an echo
refocuses it because the state evolves. The simulation cannot see where a shot begins; it draws a
fresh δ after a readout (a measurement of a network ion entangled with the memory) leaves the
memory in a Z eigenstate (within 5 %: an imperfect copy leaves a few 10⁻³), as the mid-circuit
readout that resets it and the final readout do: nothing the detuning did before can then be
refocused, so this is the shot-to-shot ensemble a T2* measurement averages over. (A memory that
a readout inside a shot leaves in a Z eigenstate draws anew too: single-shot statistics are
unchanged, the correlation of its phase before and after that readout is lost.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

__all__ = [
    "Circuit",
    "CircuitRecord",
    "apply_1q",
    "dephase_q",
    "depolarise_2q",
    "depolarise_q",
    "measure_q",
    "ms_unitary",
    "partial_trace",
]

_X = np.array([[0, 1], [1, 0]], dtype=complex)
#: a joint state this close to the product of its halves has separated: above the rounding of
#: a shot's operations on the 16×16 state, far below any correlation a readout could show
_FACTOR_TOL = 1e-10
#: a memory a readout leaves within this of a Z eigenstate holds no phase (up to the
#: imperfections of the operations that read it): its quasi-static detuning is drawn anew
_NO_PHASE_TOL = 0.05


def _nq(rho: np.ndarray) -> int:
    return int(round(math.log2(rho.shape[0])))


def apply_1q(rho: np.ndarray, u: np.ndarray, q: int) -> np.ndarray:
    """U_q ρ U_q† for a single-qubit unitary on qubit ``q``."""
    n = _nq(rho)
    full = np.kron(np.kron(np.eye(2**q), u), np.eye(2 ** (n - q - 1)))
    return full @ rho @ full.conj().T


def _ops_2q(n: int, q1: int, q2: int, op: np.ndarray) -> np.ndarray:
    """A 4×4 operator on qubits (q1, q2) of n, as a 2ⁿ×2ⁿ matrix."""
    t = op.reshape(2, 2, 2, 2)
    dim = 2**n
    out = np.zeros((dim, dim), dtype=complex)
    idx = np.arange(dim)
    b1 = (idx >> (n - 1 - q1)) & 1
    b2 = (idx >> (n - 1 - q2)) & 1
    rest = idx & ~((1 << (n - 1 - q1)) | (1 << (n - 1 - q2)))
    same = rest[:, None] == rest[None, :]
    out[same] = t[b1[:, None], b2[:, None], b1[None, :], b2[None, :]][same]
    return out


def ms_unitary(theta: float) -> np.ndarray:
    """exp(−iθ X⊗X) (θ = π/4: the maximally entangling Mølmer–Sørensen gate)."""
    xx = np.kron(_X, _X)
    return math.cos(theta) * np.eye(4) - 1j * math.sin(theta) * xx


def apply_2q(rho: np.ndarray, u: np.ndarray, q1: int, q2: int) -> np.ndarray:
    """A two-qubit unitary ``u`` (4×4, q1 the more significant) on qubits q1, q2."""
    full = _ops_2q(_nq(rho), q1, q2, u)
    return full @ rho @ full.conj().T


def _mask(n: int, q: int) -> np.ndarray:
    j = (np.arange(2**n) >> (n - 1 - q)) & 1
    return (j[:, None] != j[None, :]).astype(float)


def dephase_q(rho: np.ndarray, q: int, factor: float) -> np.ndarray:
    """Multiply qubit ``q``'s coherences by ``factor``."""
    if factor == 1.0:
        return rho
    m = _mask(_nq(rho), q)
    return rho * (1 - m + factor * m)


def _halves(full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reduced states of qubits (0, 1) and (2, 3) of a four-qubit state (the network pair's
    and the memories', :meth:`Circuit._settle` after every network operation)."""
    t = full.reshape(4, 4, 4, 4)
    return np.einsum("iaja->ij", t), np.einsum("aiaj->ij", t)


def _density(rho: np.ndarray) -> np.ndarray:
    """``rho`` made Hermitian with trace 1 (a state carrying rounding, as it separates)."""
    h = 0.5 * (rho + rho.conj().T)
    return h / h.diagonal().real.sum()


def partial_trace(rho: np.ndarray, keep: tuple[int, ...]) -> np.ndarray:
    """Reduced state of the qubits ``keep`` (in that order)."""
    n = _nq(rho)
    if n == 4 and keep in ((0, 1), (2, 3)):
        return _halves(rho)[keep[0] // 2]
    t = rho.reshape((2,) * (2 * n))
    drop = [q for q in range(n) if q not in keep]
    for q in sorted(drop, reverse=True):
        t = np.trace(t, axis1=q, axis2=q + t.ndim // 2)
    k = len(keep)
    order = sorted(keep)
    perm = [order.index(q) for q in keep]
    t = t.transpose(perm + [p + k for p in perm])
    return t.reshape(2**k, 2**k)


def depolarise_q(rho: np.ndarray, q: int, p: float) -> np.ndarray:
    """With probability ``p`` replace qubit ``q`` by I/2."""
    if p <= 0.0:
        return rho
    paulis = (_X, np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0]).astype(complex))
    twirl = sum(apply_1q(rho, s, q) for s in paulis)
    return (1 - p) * rho + p * 0.25 * (rho + twirl)


def depolarise_2q(rho: np.ndarray, q1: int, q2: int, p: float) -> np.ndarray:
    """With probability ``p`` replace qubits q1, q2 by I/4 (the other qubits' state kept)."""
    if p <= 0.0:
        return rho
    half = depolarise_q(depolarise_q(rho, q1, 1.0), q2, 1.0)
    return (1 - p) * rho + p * half


def _decohere(rho: np.ndarray, q: int, factor: float, p: float) -> np.ndarray:
    return depolarise_q(dephase_q(rho, q, factor), q, p)


def measure_q(rho: np.ndarray, q: int, rng: np.random.Generator) -> tuple[int, np.ndarray]:
    """Projective Z measurement of qubit ``q``: (outcome, post-measurement state, Hermitian
    with trace 1: dividing by an unlikely outcome's probability magnifies the rounding of
    the operations before, which would otherwise stay in the state)."""
    n = _nq(rho)
    one = ((np.arange(2**n) >> (n - 1 - q)) & 1).astype(bool)
    d = rho.diagonal().real
    bit = int(rng.random() < min(max(float(d[one].sum()), 0.0), 1.0))
    keep = one if bit else ~one
    out = rho * np.outer(keep, keep)
    return bit, (_density(out) if float(d[keep].sum()) > 0 else out)


@dataclass
class CircuitRecord:
    """What the memory keeps between experiments (see :class:`Circuit`)."""

    mem: np.ndarray
    full: np.ndarray | None
    t_mu: int
    exposure_s: list[float]
    detuning_rad_s: tuple[float, float] = (math.nan, math.nan)


class Circuit:
    """The memory qubits of nodes A and B (a node without a memory ion has a memory qubit that
    nothing addresses, in |0⟩) and their joint state with the network ions.

    :param t2_s: each memory's T2, s (inf: none). :param dephasing_per_s,
        depolarising_per_s: each memory's crosstalk rates while its network ion's light is on.
    :param t2_star_s: each memory's quasi-static T2* (inf: none), s; ``rng`` draws its detuning.
    """

    def __init__(
        self,
        t2_s: tuple[float, float],
        dephasing_per_s: tuple[float, float],
        depolarising_per_s: tuple[float, float],
        mu_s: float = 1e-9,
        t2_star_s: tuple[float, float] = (math.inf, math.inf),
        rng: np.random.Generator | None = None,
    ) -> None:
        self.t2_s, self.deph, self.depol, self.mu_s = (
            t2_s,
            dephasing_per_s,
            depolarising_per_s,
            mu_s,
        )
        self.sigma_rad_s = tuple(math.sqrt(2) / t for t in t2_star_s)  # 0 for inf
        if any(self.sigma_rad_s) and rng is None:
            raise ValueError("a quasi-static T2* needs the world's rng")
        self.rng = rng
        # the memories' quasi-static detunings, rad/s (nan: drawn when the memory next has phase)
        self.detuning_rad_s = [math.nan, math.nan]
        self.mem = np.zeros((4, 4), dtype=complex)
        self.mem[0, 0] = 1.0
        self.full: np.ndarray | None = None
        self.t_mu = 0
        self.exposure_s = [0.0, 0.0]

    @property
    def attached(self) -> bool:
        """Whether the memory is entangled with (or not yet separated from) the network ions."""
        return self.full is not None

    def save(self) -> CircuitRecord:
        full = None if self.full is None else self.full.copy()
        d = self.detuning_rad_s
        return CircuitRecord(self.mem.copy(), full, self.t_mu, list(self.exposure_s), (d[0], d[1]))

    def load(self, rec: CircuitRecord) -> None:
        self.mem = np.array(rec.mem, dtype=complex)
        self.full = None if rec.full is None else np.array(rec.full, dtype=complex)
        self.t_mu, self.exposure_s = rec.t_mu, list(rec.exposure_s)
        self.detuning_rad_s = list(rec.detuning_rad_s)

    # ---- decoherence -------------------------------------------------------------------------
    def expose(self, node: int, t_s: float) -> None:
        """The network ion of ``node`` had crosstalk light on for ``t_s`` seconds more."""
        self.exposure_s[node] += max(t_s, 0.0)

    def sync(self, t_mu: int) -> None:
        """Apply the memories' decoherence up to ``t_mu``: T2 over the time since the last sync,
        crosstalk over the light exposure accumulated since, and the quasi-static detuning's
        phase δ·dt (a fresh δ first if the memory holds no phase)."""
        dt = max(t_mu - self.t_mu, 0) * self.mu_s
        for k in range(2):
            if self.sigma_rad_s[k] > 0.0 and dt > 0.0:
                self._precess(k, dt)
            x = self.exposure_s[k]
            f = math.exp(-dt / self.t2_s[k] - self.deph[k] * x)
            p = 1.0 - math.exp(-self.depol[k] * x)
            self._apply_mem(partial(_decohere, factor=f, p=p), k)
            self.exposure_s[k] = 0.0
        self.t_mu = max(self.t_mu, t_mu)

    def _precess(self, k: int, dt: float) -> None:
        """Memory ``k`` precesses by its quasi-static detuning over ``dt`` s (a Z rotation)."""
        if math.isnan(self.detuning_rad_s[k]):
            assert self.rng is not None
            self.detuning_rad_s[k] = float(self.rng.normal(0.0, self.sigma_rad_s[k]))
        half = 0.5 * self.detuning_rad_s[k] * dt
        u = np.diag([np.exp(-1j * half), np.exp(1j * half)])
        self._apply_mem(lambda r, qq: apply_1q(r, u, qq), k)

    def _apply_mem(self, fn: Callable[[np.ndarray, int], np.ndarray], k: int) -> None:
        if self.full is not None:
            self.full = fn(self.full, 2 + k)
        else:
            self.mem = fn(self.mem, k)

    # ---- operations --------------------------------------------------------------------------
    def rotate(self, k: int, u: np.ndarray, t_mu: int) -> None:
        """Single-qubit unitary on memory ``k`` at ``t_mu``."""
        self.sync(t_mu)
        self._apply_mem(lambda r, q: apply_1q(r, u, q), k)

    def entangle(
        self, net: np.ndarray, k: int, theta: float, p_dep: float, t_mu: int
    ) -> np.ndarray:
        """Node ``k``'s gate: exp(−iθ X_net X_mem) then two-qubit depolarising ``p_dep``, with
        ``net`` the network pair's 4×4 state. Returns the network pair's reduced state."""
        self.sync(t_mu)
        if self.full is None:
            self.full = np.kron(net, self.mem)
        self.full = apply_2q(self.full, ms_unitary(theta), k, 2 + k)
        self.full = depolarise_2q(self.full, k, 2 + k, p_dep)
        return self._settle()

    def network_map(self, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Apply a linear map ``fn`` of the network pair's 4×4 state to the joint state (to
        each of its 16 memory blocks at once: ``fn`` takes a (16, 4, 4) stack); returns the
        network pair's reduced state."""
        assert self.full is not None
        blocks = self.full.reshape(4, 4, 4, 4).transpose(1, 3, 0, 2).reshape(16, 4, 4)
        out = fn(blocks).reshape(4, 4, 4, 4)  # the two-ion rules take a stack of 4×4 matrices
        self.full = out.transpose(2, 0, 3, 1).reshape(16, 16)
        return self._settle()

    def measure_network(self, k: int, rng: np.random.Generator) -> tuple[int, np.ndarray]:
        """Z measurement of network ion ``k`` in the joint state: (bit, network pair's state)."""
        assert self.full is not None
        bit, self.full = measure_q(self.full, k, rng)
        for j in range(2):  # a memory this readout left in a Z eigenstate: its shot ended
            if partial_trace(self.full, (2 + j,)).diagonal().real.max() > 1.0 - _NO_PHASE_TOL:
                self.detuning_rad_s[j] = math.nan
        return bit, self._settle()

    def _settle(self) -> np.ndarray:
        """The network pair's reduced state; detaches when the joint state factorises."""
        assert self.full is not None
        net, mem = _halves(self.full)
        # (normalised by the trace: a rounding of the trace is no correlation)
        tr = np.trace(net)
        product = (net[:, None, :, None] * mem[None, :, None, :]).reshape(16, 16) / tr
        if np.abs(self.full - product).max() < _FACTOR_TOL:
            self.full, self.mem = None, _density(mem)
            return _density(net)
        return net

    def memory_state(self, t_mu: int) -> np.ndarray:
        """The two memories' reduced 4×4 state at ``t_mu`` (decoherence applied)."""
        self.sync(t_mu)
        return partial_trace(self.full, (2, 3)) if self.full is not None else self.mem.copy()

    def separate(self) -> None:
        """The network ions are re-initialised (an entangler run pumps them): the memory keeps
        its reduced state."""
        if self.full is not None:
            self.mem = partial_trace(self.full, (2, 3))
            self.full = None
