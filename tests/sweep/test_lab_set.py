# SPDX-License-Identifier: LGPL-3.0-or-later
"""``--set KEY=VALUE``: lab overrides checked as the TOML file is, recorded in the provenance."""

import json
from pathlib import Path

import h5py
import pytest

from sim.cli import main
from sim.physics.lab import LabError, load_lab
from sim.physics.lab_overrides import apply_overrides, parse_override

ROOT = Path(__file__).resolve().parents[2]


def test_overrides_change_the_lab_and_only_the_named_values():
    base = load_lab("oxford2020")
    lab = load_lab(
        "oxford2020",
        [
            parse_override("bsa.mode_overlap=0.9"),
            parse_override("nodes.*.optics.collection_efficiency=0.05"),
            parse_override("bsa.detectors[2].dark_rate_hz=1e3"),
            parse_override("nodes.b.dephasing=exponential"),
        ],
    )
    assert lab.bsa.mode_overlap == 0.9 and base.bsa.mode_overlap != 0.9
    assert [n.optics.collection_efficiency for n in lab.nodes] == [0.05, 0.05]
    assert [d.dark_rate_hz for d in lab.bsa.detectors][2] == 1e3
    assert lab.bsa.detectors[1] == base.bsa.detectors[1]
    assert lab.node("b").dephasing == "exponential" and lab.node("a") != lab.node("b")
    assert lab.loop == base.loop
    assert json.loads(lab.overrides)["bsa.mode_overlap"] == 0.9


def test_apply_overrides_leaves_the_document_alone():
    data = {"bsa": {"mode_overlap": 1.0, "detectors": [{"efficiency": 0.5}] * 2}}
    out = apply_overrides(data, [parse_override("bsa.detectors[*].efficiency=0.7")])
    assert data["bsa"]["detectors"][0]["efficiency"] == 0.5
    assert [d["efficiency"] for d in out["bsa"]["detectors"]] == [0.7, 0.7]


@pytest.mark.parametrize(
    "setting, message",
    [
        ("bsa.mode_overlapp=0.9", "bsa.mode_overlapp: unknown key"),
        ("bsa.mode_overlap=1.5", "bsa.mode_overlap = 1.5 is not physical"),
        ("bsa.mode_overlap=high", "expected a number, got 'high'"),
        ("bsa.mode_overlap=true", "expected a number, got True"),
        ("bsa.mode_overlap", "expected KEY=VALUE"),
        ("bsa.detectors[4].efficiency=0.5", "no [4]"),
        ("bsa=1", "bsa is a table, not a value"),
        ("nodes.c.t2_s=1", "need exactly nodes 'a' and 'b'"),
    ],
)
@pytest.mark.parametrize("command", ["budget", "run", "demo"])
def test_bad_set_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch, command, setting, message):
    monkeypatch.chdir(tmp_path)  # (the command line's dataset store and hardware state)
    argv = {
        "budget": ["budget", "oxford2020"],
        "run": ["run", str(ROOT / "repository/startup.py"), "--lab", "oxford2020"],
        "demo": ["demo"],
    }[command] + {
        "budget": [],
        "run": ["--device-db", str(ROOT / "device_db.py")],
        "demo": [],
    }[command]
    argv += ["--set", setting]
    if command != "budget":
        argv += ["--results", str(tmp_path / "r")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ionlink-sim: error:"), err
    assert message in err
    assert not (tmp_path / "r").exists()  # nothing ran


def test_budget_follows_the_override(capsys):
    assert main(["budget", "oxford2020", "--json"]) == 0
    base = json.loads(capsys.readouterr().out)
    assert main(["budget", "oxford2020", "--json", "--set", "bsa.mode_overlap=0.9"]) == 0
    lower = json.loads(capsys.readouterr().out)
    assert lower["fidelity_state"] < base["fidelity_state"] - 0.02
    assert lower["p_success"] == base["p_success"]


def test_run_records_the_overrides_in_the_provenance(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["run", str(ROOT / "repository/startup.py"), "--lab", "oxford2020", "-q"]
    argv += ["--device-db", str(ROOT / "device_db.py")]
    argv += ["--results", str(tmp_path / "results"), "--seed", "3"]
    argv += ["--set", "bsa.mode_overlap=0.93", "--set", "loop.cool_s=3e-5"]
    assert main(argv) == 0
    (path,) = (tmp_path / "results").rglob("*.h5")
    with h5py.File(path) as f:
        recorded = f["datasets/ionlink.sim.provenance.lab_overrides"][()].decode()
        assert f["datasets/ionlink.sim.provenance.lab_name"][()].decode() == "oxford2020"
    assert json.loads(recorded) == {"bsa.mode_overlap": 0.93, "loop.cool_s": 3e-5}


def test_lab_error_is_a_value_error():
    with pytest.raises(LabError, match="expected KEY=VALUE"):
        parse_override("=3")
