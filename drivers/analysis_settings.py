# SPDX-License-Identifier: LGPL-3.0-or-later
"""The analysis settings of the remote-entanglement experiments (host side, no ARTIQ needed).

Each setting rotates both ions into an analysis basis after a herald: Z (no pulse), X (π/2 about
phase 0.25 turn), Y (π/2 about phase 0.5 turn), or the parity scan's π/2 pulses at ±φ. The
simulator's budget reads the same settings, so it lives in a module that imports no ARTIQ.
"""

from math import pi

__all__ = [
    "GATE_SCHEMA_VERSION",
    "SCHEMA_VERSION",
    "BASIS_Z",
    "BASIS_X",
    "BASIS_Y",
    "PARITY_POINTS",
    "analysis_settings",
]

SCHEMA_VERSION = 1
#: the remote gate's ``gate.*`` layout (``gate.schema_version``, beside ``schema_version``)
GATE_SCHEMA_VERSION = 1
#: phases of the parity scan, the experiments' default ``parity_points``
PARITY_POINTS = 8
BASIS_Z, BASIS_X, BASIS_Y = 0, 1, 2
# analysis rotation per basis: (theta rad, phase turns); docs/datasets.md
_BASIS_PULSE = {BASIS_Z: (0.0, 0.0), BASIS_X: (pi / 2, 0.25), BASIS_Y: (pi / 2, 0.5)}


def analysis_settings(mode, parity_points=PARITY_POINTS):
    """Analysis settings of a mode: lists ``basis_a``, ``basis_b``, ``phase`` (turns),
    ``theta_a``, ``phi_a``, ``theta_b``, ``phi_b`` (rad, turns), one entry per setting."""
    if mode == "z":
        pairs = [(BASIS_Z, BASIS_Z, 0.0)]
    elif mode == "parity":  # Z populations for P_odd, then the scan points
        pairs = [(BASIS_Z, BASIS_Z, 0.0)] + [
            (-1, -1, k / parity_points) for k in range(parity_points)
        ]
    elif mode == "tomography":
        order = [BASIS_X, BASIS_Y, BASIS_Z]
        pairs = [(a, b, 0.0) for a in order for b in order]
    else:
        raise ValueError("mode must be 'z', 'parity' or 'tomography'")
    out = {k: [] for k in ("basis_a", "basis_b", "phase", "theta_a", "phi_a", "theta_b", "phi_b")}
    for a, b, phase in pairs:
        if a < 0:  # parity scan: pi/2 pulses of phase +phase on ion A, -phase on ion B
            ta, pa, tb, pb, a, b = pi / 2, phase, pi / 2, -phase, BASIS_X, BASIS_X
        else:
            (ta, pa), (tb, pb) = _BASIS_PULSE[a], _BASIS_PULSE[b]
        for key, value in zip(out, (a, b, phase, ta, pa, tb, pb)):
            out[key].append(value)
    return out
