# SPDX-License-Identifier: LGPL-3.0-or-later
"""docs/lab-format.md cannot drift from the lab records and the loader: every key of every record
is in it, marked required exactly when the loader requires it, with the record's default
otherwise; and removing a key from a complete lab does what the page says."""

from __future__ import annotations

import copy
import dataclasses
import pathlib
import re
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest

from sim.physics import lab_model
from sim.physics.lab import REQUIRED_WHEN, LabError, lab_from_dict, required_keys

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "lab-format.md"

#: record fields that are tables of their own (documented in their own section) or not read from
#: the file at all
NOT_KEYS = {
    "Lab": {"nodes", "bsa", "entangler", "loop", "drtio", "source", "overrides"},
    "Node": {"name", "species", "optics", "cool", "repump", "pump", "excite", "detect", "qubit",
             "readout", "motion", "fibre", "reference", "ions", "gate"},
    "BSA": {"detectors"},
    # Beam's RF keys, which the loader refuses in excite (its light is not made by a DDS)
    "Excitation": {"dds", "frequency_hz", "amplitude", "attenuation_db", "bandwidth_hz",
                   "saturation"},
}  # fmt: skip
#: documented defaults that are not a record default: the lab's name is the file's stem, a
#: beam's DDS its device when that is an AD9910
SPECIAL = {
    ("Lab", "name"): "default: the file's name without `.toml`",
    ("Beam", "dds"): "default: `device` when it is an AD9910, else none",
}


def records() -> dict[str, type]:
    """Every dataclass of the lab model, by name."""
    return {
        name: obj
        for name, obj in vars(lab_model).items()
        if isinstance(obj, type) and dataclasses.is_dataclass(obj)
    }


def documented() -> dict[str, dict[str, str]]:
    """record → key → its "required / default" column, from the page's tables (a table belongs to
    the last "— `Record`" before it)."""
    tables: dict[str, dict[str, str]] = {}
    record = None
    for line in DOC.read_text().splitlines():
        named = re.findall(r"— `(\w+)`", line)
        if named:
            record = named[0]
        row = re.match(r"^\| `(\w+)` \| [^|]* \| ([^|]*) \|", line)
        if row:
            assert record is not None, line
            key, column = row.groups()
            assert key not in tables.setdefault(record, {}), f"{record}.{key} twice"
            tables[record][key] = column.strip()
    return tables


def expected_column(record: str, key: str) -> str | None:
    """What the page must say for ``record.key`` (None: a default, checked by value)."""
    if (record, key) in SPECIAL:
        return SPECIAL[(record, key)]
    if (record, key) in REQUIRED_WHEN:
        return f"required if {REQUIRED_WHEN[(record, key)]}"
    if key in required_keys(records()[record]):
        return "required"
    return None


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, (tuple, list)) else value


@pytest.mark.parametrize("record", sorted(records()))
def test_every_key_of_every_record_is_documented_as_the_loader_reads_it(record):
    cls = records()[record]
    doc = documented()
    assert record in doc, f"docs/lab-format.md has no table for {record}"
    keys = {f.name for f in dataclasses.fields(cls)} - NOT_KEYS.get(record, set())
    assert set(doc[record]) == keys, f"{record}: documented {sorted(doc[record])}, keys {keys}"
    for f in dataclasses.fields(cls):
        if f.name not in keys:
            continue
        column = doc[record][f.name]
        want = expected_column(record, f.name)
        if want is not None:
            assert column == want, f"{record}.{f.name}: page says {column!r}, loader {want!r}"
            continue
        shown = re.fullmatch(r"default `(.*)`", column)
        assert shown, f"{record}.{f.name} has a default: page says {column!r}"
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        assert tomllib.loads(f"v = {shown.group(1)}")["v"] == _plain(default), (
            f"{record}.{f.name}: page says {shown.group(1)}, record default {default!r}"
        )


def _tables(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, record, table) of every table of a lab document."""
    yield "", "Lab", document
    yield "loop", "LoopTiming", document["loop"]
    yield "bsa", "BSA", document["bsa"]
    yield "entangler", "Entangler", document["entangler"]
    if "drtio" in document:
        yield "drtio", "DrtioLink", document["drtio"]
    for i, detector in enumerate(document["bsa"]["detectors"]):
        yield f"bsa.detectors[{i}]", "Detector", detector
    for name, node in document["nodes"].items():
        p = f"nodes.{name}"
        yield p, "Node", node
        for table, record in [("species", "Species"), ("optics", "Optics"), ("motion", "Motion"),
                              ("qubit_drive", "QubitDrive"), ("readout", "Readout"),
                              ("fibre", "Fibre"), ("reference", "Reference"),
                              ("gate", "EntanglingGate")]:  # fmt: skip
            if table in node:
                yield f"{p}.{table}", record, node[table]
        for beam, table in node["beams"].items():
            yield f"{p}.beams.{beam}", "Excitation" if beam == "excite" else "Beam", table
        for i, ion in enumerate(node.get("ions", [])):
            if ion["role"] == "memory":
                yield f"{p}.ions[{i}]", "Ion", ion
                yield f"{p}.ions[{i}].drive", "QubitDrive", ion["drive"]
                yield f"{p}.ions[{i}].crosstalk", "Crosstalk", ion["crosstalk"]


@pytest.mark.parametrize("lab", ["lab.toml", "oxford2020", "duke2024", "target_99_1khz"])
def test_removing_a_key_does_what_the_page_says(lab):
    """Each key a complete lab gives: left out, a required one is refused naming it and its
    table, a defaulted one loads (``role`` aside: a memory ion without it is a network ion)."""
    path = ROOT / lab if lab.endswith(".toml") else ROOT / "sim" / "labs" / f"{lab}.toml"
    document = tomllib.loads(path.read_text())
    doc = documented()
    checked = 0
    for i, (where, record, table) in enumerate(list(_tables(document))):
        for key in [k for k in table if k in doc[record] and k != "role"]:
            cut = copy.deepcopy(document)
            target = list(_tables(cut))[i][2]
            del target[key]
            if doc[record][key].startswith("required"):
                with pytest.raises(LabError) as refused:
                    lab_from_dict(cut)
                assert re.search(rf"\b{key}\b", str(refused.value)), (where, key, refused.value)
                assert where in str(refused.value), (where, key, refused.value)
            else:
                lab_from_dict(cut)
            checked += 1
    assert checked > 100


def test_the_page_is_linked_from_the_readme_and_the_design():
    for page in ("README.md", "docs/design.md"):
        assert "lab-format.md" in (ROOT / page).read_text(), page
