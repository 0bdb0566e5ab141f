# SPDX-License-Identifier: LGPL-3.0-or-later
"""A lab description that leaves out a quantity modelling an imperfection (mode overlap,
polarisation mixing, transmissions, state-preparation error, detector dark rate, dead time,
jitter, afterpulsing, coherence times, crosstalk, gate fidelity, ...) is refused in one line
naming the key and its table: a missing line never silently stands for perfect physics."""

from __future__ import annotations

import pathlib
import re
import tomllib
from typing import Any

import pytest

from sim.cli import main
from sim.physics.lab import LabError, lab_from_dict

ROOT = pathlib.Path(__file__).resolve().parents[2]

# (lab file, table path in the TOML document, key): each must be given, none has an ideal default
IMPERFECTIONS = [
    ("lab.toml", "bsa", "mode_overlap"),
    ("lab.toml", "bsa", "frequency_mismatch_hz"),
    ("lab.toml", "nodes.a.optics", "transmission"),
    ("lab.toml", "nodes.a.optics", "fibre_transmission"),
    ("lab.toml", "nodes.b.optics", "polarisation_mixing"),
    ("lab.toml", "nodes.a.optics", "photon_delay_s"),
    ("lab.toml", "nodes.a.readout", "prep_error"),
    ("lab.toml", "nodes.b.readout", "duration_s"),
    ("lab.toml", "nodes.a.species", "readdress_prob"),
    ("lab.toml", "nodes.a.qubit_drive", "rabi_frequency_hz"),
    ("lab.toml", "nodes.a.qubit_drive", "resonance_hz"),
    ("lab.toml", "nodes.a.beams.excite", "mode"),
    ("lab.toml", "nodes.a.beams.excite", "pulse_area_rad"),
    ("lab.toml", "nodes.a.beams.excite", "pulse_length_s"),
    ("duke2024", "nodes.b.beams.excite", "rabi_frequency_hz"),
    ("lab.toml", "nodes.a.motion", "heating_rate_per_s"),
    ("lab.toml", "nodes.a.motion", "n_mode"),
    ("lab.toml", "nodes.a", "t2_s"),
    ("lab.toml", "nodes.a", "pumping_time_s"),
    ("lab.toml", "nodes.b", "dephasing"),
    ("lab.toml", "nodes.a.fibre", "drift_rad_per_sqrt_s"),
    ("lab.toml", "nodes.a.reference", "rate_hz"),
    ("lab.toml", "nodes.a.gate", "fidelity"),
    ("lab.toml", "nodes.a.ions[1]", "t2_s"),
    ("lab.toml", "nodes.a.ions[1]", "t2_star_s"),
    ("lab.toml", "nodes.b.ions[1]", "crosstalk"),
    ("lab.toml", "nodes.a.ions[1].crosstalk", "depolarising_per_s"),
    ("lab.toml", "nodes.a.ions[1].crosstalk", "dephasing_per_s"),
    ("lab.toml", "bsa.detectors[0]", "dark_rate_hz"),
    ("lab.toml", "bsa.detectors[1]", "dead_time_s"),
    ("lab.toml", "bsa.detectors[2]", "jitter_s"),
    ("lab.toml", "bsa.detectors[3]", "afterpulse_prob"),
    ("lab.toml", "bsa.detectors[0]", "afterpulse_delay_s"),
    ("lab.toml", "loop", "gate_length_s"),
    ("lab.toml", "loop", "phase_correction"),
    ("lab.toml", "loop", "herald_to_rotation_s"),
]


def lab_document(lab: str) -> dict[str, Any]:
    """The parsed TOML of ``lab.toml`` or of a preset."""
    path = ROOT / lab if lab.endswith(".toml") else ROOT / "sim" / "labs" / f"{lab}.toml"
    return tomllib.loads(path.read_text())


def table_at(document: dict[str, Any], path: str) -> dict[str, Any]:
    """The table of ``document`` at dotted ``path`` (``nodes.a.ions[1].crosstalk``)."""
    table: Any = document
    for part in path.split("."):
        name, _, index = part.partition("[")
        table = table[name]
        if index:
            table = table[int(index.rstrip("]"))]
    assert isinstance(table, dict)
    return table


@pytest.mark.parametrize("lab, table, key", IMPERFECTIONS)
def test_a_missing_imperfection_is_refused_naming_key_and_table(lab, table, key):
    document = lab_document(lab)
    lab_from_dict(document)  # complete, it loads
    del table_at(document, table)[key]
    with pytest.raises(LabError) as refused:
        lab_from_dict(document)
    line = str(refused.value)
    assert "\n" not in line
    assert re.search(rf"\b{re.escape(key)}\b", line) and table in line, line


@pytest.mark.parametrize("table", ["nodes.a.motion", "nodes.b.motion"])
def test_a_missing_motion_table_is_refused(table):
    document = lab_document("oxford2020")
    node = table_at(document, table.rsplit(".", 1)[0])
    del node["motion"]
    with pytest.raises(LabError, match=re.escape(f"missing table [{table}]")):
        lab_from_dict(document)


@pytest.mark.parametrize(
    "line, table",
    [("mode_overlap", "bsa"), ("polarisation_mixing", "nodes.a.optics")],
)
def test_budget_of_a_lab_file_missing_a_line_exits_2_in_one_line(tmp_path, capsys, line, table):
    """The new-user walk: a copy of oxford2020 without one line gave F = 0.9601 (no
    mode_overlap) or 0.9552 (no polarisation_mixing) instead of 0.9411, exit 0."""
    text = (ROOT / "sim" / "labs" / "oxford2020.toml").read_text()
    cut, n = re.subn(rf"(?m)^{line} = .*\n", "", text, count=1)
    assert n == 1
    (tmp_path / "lab.toml").write_text(cut)
    assert main(["budget", str(tmp_path / "lab.toml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ionlink-sim: error: "), err
    assert line in err[0] and table in err[0], err
