# SPDX-License-Identifier: LGPL-3.0-or-later
"""The repository's lab.toml refers only to devices of device_db.py, with the right kinds."""

import runpy

from sim.physics.lab import load_lab
from sim.registry import kind_of_class
from tests.experiments.simhelpers import ROOT


def device_kinds():
    """device name (aliases resolved) -> kind, as the lab description names them."""
    ddb = runpy.run_path(str(ROOT / "device_db.py"))["device_db"]

    def resolve(name):
        while isinstance(ddb.get(name), str):
            name = ddb[name]
        return ddb[name]

    kinds = {}
    for name in ddb:
        desc = resolve(name)
        cls = desc.get("class")
        kinds[name] = kind_of_class(cls) or cls
    return kinds


def test_lab_toml_matches_device_db():
    lab = load_lab(str(ROOT / "lab.toml"))
    lab.validate(device_kinds())


def test_entangler_wiring_matches_design():
    """docs/design.md: entangler outputs 0-3 and gate inputs 0-3."""
    e = load_lab(str(ROOT / "lab.toml")).entangler
    assert list(e.outputs) == ["node_a.pump_sw", "node_a.excite", "node_b.pump_sw", "node_b.excite"]
    assert list(e.inputs) == ["bsa_det0", "bsa_det1", "bsa_det2", "bsa_det3"]
