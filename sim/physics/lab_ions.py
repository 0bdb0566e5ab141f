# SPDX-License-Identifier: LGPL-3.0-or-later
"""A node's ion list and its entangling gate in the lab TOML: ``[[nodes.X.ions]]`` (one
``network`` ion, at most one ``memory`` ion) and ``[nodes.X.gate]``, read into the records of
:mod:`sim.physics.lab_model` and checked. A node without ``ions`` has its network ion only (the
lab files written before memory ions existed stay valid).

.. code-block:: toml

    [[nodes.a.ions]]
    role = "network"                   # the node's species, beams, qubit drive and readout
    [[nodes.a.ions]]
    role = "memory"
    species = "43Ca+"
    t2_s = 0.05
    t2_star_s = 0.01                   # quasi-static dephasing (echo refocuses it; inf: none)
    drive = { switch = "node_a.mem_sw", dds = "node_a.qubit_dds", rabi_frequency_hz = 50e3,
              resonance_hz = 20e6 }
    crosstalk = { beams = ["cool", "pump", "excite", "detect"], dephasing_per_s = 2.0,
                  depolarising_per_s = 0.0 }
    [nodes.a.gate]
    switch = "node_a.gate_sw"
    duration_s = 150e-6
    fidelity = 0.98
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from sim.physics.lab_model import (
    FORMAT_DOC,
    Crosstalk,
    EntanglingGate,
    Ion,
    LabError,
    Node,
    QubitDrive,
)

__all__ = ["MEMORY_KEYS", "ROLES", "check_ions", "parse_ions"]

ROLES = ("network", "memory")
#: the keys a memory ion must give besides its ``drive`` (their record defaults serve the
#: network ion, which takes them from the node's tables)
MEMORY_KEYS = ("species", "t2_s", "t2_star_s", "crosstalk")
CROSSTALK_BEAMS = ("cool", "repump", "pump", "excite", "detect")

Build = Callable[..., Any]


def parse_ions(
    lab: str, path: str, t: Mapping[str, Any], build: Build
) -> tuple[tuple[Ion, ...], EntanglingGate | None]:
    """The ion list and gate of node table ``t`` at ``path`` (``nodes.a``); ``build`` is the
    loader's record builder (unknown and missing keys are errors)."""
    raw = t.get("ions", [{"role": "network"}])
    if not isinstance(raw, list) or not all(isinstance(e, Mapping) for e in raw):
        raise LabError(f"lab {lab}: {path}.ions: expected a list of tables [[{path}.ions]]")
    ions = []
    for i, entry in enumerate(raw):
        q = f"{path}.ions[{i}]"
        role = entry.get("role", "")
        if role not in ROLES:
            raise LabError(f"lab {lab}: {q}.role = {role!r}: use 'network' or 'memory'")
        if role == "network":
            extra = set(entry) - {"role"}
            if extra:
                raise LabError(
                    f"lab {lab}: {q}.{min(extra)}: the network ion is described by the node's "
                    f"own tables (species, beams, qubit_drive, readout)"
                )
            ions.append(Ion())
            continue
        kw = dict(entry)
        if "drive" not in kw:
            raise LabError(f"lab {lab}: {q}: a memory ion needs its drive = {{switch, dds, ...}}")
        missing = [k for k in MEMORY_KEYS if k not in kw]
        if missing:
            raise LabError(
                f"lab {lab}: [{q}] is missing required key(s) {', '.join(missing)} "
                f"(a memory ion; the lab format: {FORMAT_DOC})"
            )
        kw["drive"] = build(QubitDrive, kw["drive"], f"{q}.drive", lab)
        xt = kw["crosstalk"]
        if isinstance(xt, Mapping) and "beams" in xt:
            xt = {**xt, "beams": tuple(xt["beams"])}
        kw["crosstalk"] = build(Crosstalk, xt, f"{q}.crosstalk", lab)
        ions.append(build(Ion, kw, q, lab))
    roles = [i.role for i in ions]
    if roles.count("network") != 1 or roles.count("memory") > 1:
        raise LabError(
            f"lab {lab}: {path}.ions: need exactly one network ion and at most one memory ion, "
            f"got {roles}"
        )
    gate = build(EntanglingGate, t["gate"], f"{path}.gate", lab) if "gate" in t else None
    return tuple(ions), gate


def check_ions(lab: str, node: Node, check_range: Callable[..., None]) -> None:
    """Reject non-physical numbers of ``node``'s memory ion and gate (``check_range`` is the
    loader's range check)."""
    p = f"nodes.{node.name}"
    m = node.memory
    if m is not None:
        q = f"{p}.ions.memory"
        check_range(lab, f"{q}.t2_s", m.t2_s, 0, math.inf, lo_open=True)
        if m.t2_star_s != math.inf:  # absent: no quasi-static dephasing
            check_range(lab, f"{q}.t2_star_s", m.t2_star_s, 0, math.inf, lo_open=True)
        assert m.drive is not None
        check_range(lab, f"{q}.drive.rabi_frequency_hz", m.drive.rabi_frequency_hz, 0, 1e9)
        xt = m.crosstalk
        for b in xt.beams:
            if b not in CROSSTALK_BEAMS:
                raise LabError(
                    f"lab {lab}: {q}.crosstalk.beams: unknown beam {b!r} (one of {CROSSTALK_BEAMS})"
                )
        check_range(lab, f"{q}.crosstalk.dephasing_per_s", xt.dephasing_per_s, 0, 1e9)
        check_range(lab, f"{q}.crosstalk.depolarising_per_s", xt.depolarising_per_s, 0, 1e9)
        if node.gate is None:
            raise LabError(f"lab {lab}: {p}: a memory ion needs the node's [{p}.gate]")
    g = node.gate
    if g is not None:
        check_range(lab, f"{p}.gate.duration_s", g.duration_s, 0, 1.0, lo_open=True)
        check_range(lab, f"{p}.gate.fidelity", g.fidelity, 0.25, 1)
