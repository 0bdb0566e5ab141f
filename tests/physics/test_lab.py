# SPDX-License-Identifier: LGPL-3.0-or-later
"""Lab description: presets load, validation errors are one clear line."""

from __future__ import annotations

import runpy
import tomllib
from pathlib import Path

import pytest

from sim.physics.lab import PRESETS, LabError, lab_from_dict, load_lab
from sim.registry import kind_of_class

from .conftest import KINDS

ROOT = Path(__file__).resolve().parents[2]


def _preset_dict(name: str = "oxford2020") -> dict:
    return tomllib.loads((ROOT / "sim" / "labs" / f"{name}.toml").read_text())


@pytest.mark.parametrize("name", PRESETS)
def test_presets_load_and_validate(name: str) -> None:
    """Each preset loads and refers only to design.md device names of the right kind."""
    lab = load_lab(name)
    lab.validate(KINDS)
    assert lab.name == name


def test_repository_lab_matches_device_db() -> None:
    """lab.toml validates against the kinds of device_db.py (aliases followed)."""
    ddb = runpy.run_path(str(ROOT / "device_db.py"))["device_db"]
    kinds = {}
    for name in ddb:
        entry = ddb[name]
        while isinstance(entry, str):
            entry = ddb[entry]
        kinds[name] = kind_of_class(entry.get("class", "")) or entry.get("class", "")
    load_lab(ROOT / "lab.toml").validate(kinds)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda d: d["nodes"]["a"]["beams"]["detect"].update(device="node_a.detekt_sw"),
            "nodes.a.beams.detect: device 'node_a.detekt_sw' is not in the device_db",
        ),
        (
            lambda d: d["nodes"]["b"]["beams"]["cool"].update(device="bsa_det0"),
            "is a ttl_inout, a beam (an output) needs",
        ),
        (
            lambda d: d["bsa"]["detectors"][2].update(device="node_a.excite"),
            "bsa.detectors[2]: device 'node_a.excite' is a ttl_out, a detector (an input) needs",
        ),
    ],
)
def test_device_errors(mutate, message: str) -> None:
    """Unknown device, a beam on an input, a detector on an output: one-line LabError."""
    d = _preset_dict()
    mutate(d)
    if "detectors" in message:
        d["entangler"]["inputs"][2] = "node_a.excite"
    with pytest.raises(
        LabError,
        match=message.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("[", r"\[")
        .replace("]", r"\]"),
    ) as exc:
        lab_from_dict(d).validate(KINDS)
    assert "\n" not in str(exc.value)


def test_missing_detector() -> None:
    d = _preset_dict()
    del d["bsa"]["detectors"][3]
    with pytest.raises(LabError, match=r"bsa.detectors: need 4 detectors"):
        lab_from_dict(d)


@pytest.mark.parametrize(
    "path, value, match",
    [
        (
            ("bsa", "detectors", 0, "efficiency"),
            1.5,
            r"bsa.detectors\[0\].efficiency = 1.5 is not physical",
        ),
        (("nodes", "a", "species", "lifetime_s"), -1e-9, r"nodes.a.species.lifetime_s"),
        (("bsa", "mode_overlap"), 1.2, r"bsa.mode_overlap"),
        (("nodes", "b", "optics", "polarisation_mixing"), 0.7, r"polarisation_mixing"),
        (("nodes", "a", "species", "encoding"), "time_bin", r"not implemented"),
    ],
)
def test_nonphysical_numbers(path, value, match: str) -> None:
    d = _preset_dict()
    t = d
    for p in path[:-1]:
        t = t[p]
    t[path[-1]] = value
    with pytest.raises(LabError, match=match):
        lab_from_dict(d)


def test_unknown_key_and_preset() -> None:
    d = _preset_dict()
    d["bsa"]["mode_overlapp"] = 0.9
    with pytest.raises(LabError, match=r"bsa.mode_overlapp: unknown key"):
        lab_from_dict(d)
    with pytest.raises(LabError, match="no such preset"):
        load_lab("nonexistent_lab")


def test_entangler_inputs_must_be_detectors() -> None:
    d = _preset_dict()
    d["entangler"]["inputs"] = ["bsa_det1", "bsa_det0", "bsa_det2", "bsa_det3"]
    with pytest.raises(LabError, match="entangler.inputs"):
        lab_from_dict(d)


def test_the_presets_are_the_shipped_lab_files_and_the_help_names_them(capsys):
    """One list of presets (``sim.presets``): the TOML files shipped, each named by the help of
    every command that takes a lab (the walk found no command that listed them)."""
    from sim.cli import main
    from sim.presets import LABS_DIR

    assert sorted(PRESETS) == sorted(p.stem for p in LABS_DIR.glob("*.toml"))
    for command in (["budget"], ["run"], ["demo"], ["sweep"]):
        assert main([*command, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        assert all(name in text for name in PRESETS), (command, text)
