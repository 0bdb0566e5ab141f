# SPDX-License-Identifier: LGPL-3.0-or-later
"""Which runs may be combined (one run given twice, uncalibrated runs), and the CLI's lines about
what it read: ``find`` on bad paths, ``report`` of foreign files and remote gates, skipped runs."""

import json
import os
import shutil

import numpy as np
import pytest
from analysis_synth import remote_datasets, write_artiq

from analysis import cli, fidelity_summary
from analysis.io import SchemaError

RE = "RemoteEntanglement"
#: what the simulator writes about a run's random stream (analysis.pooling._SIM_REPLAY_KEYS)
SIM = {
    "ionlink.sim.provenance.lab_name": "oxford2020",
    "ionlink.sim.provenance.lab_sha256": "1562249bfa91",
    "ionlink.sim.seed": 2,
    "ionlink.sim.now_mu": 2182945471,
}


def _run(path, *, seed=3, n=600, start_time=None, **extra):
    d = remote_datasets(np.random.default_rng(seed), n=n, mode="parity")
    d.update(extra)
    return write_artiq(path, d, rid=3, start_time=start_time)


def _cli(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_error(code, err, *words):
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("ionlink-analyze: error: "), err
    for w in words:
        assert str(w) in lines[0], (w, err)


def test_one_run_given_twice_is_refused_naming_both(tmp_path, capsys):
    """The same file twice, a link to it, or copies of it in two folders (the same rid,
    start_time and run_time) are refused in one line naming both files, by fidelity and report
    (nothing written); with ``--per-run`` both are reported, with a note that one repeats the
    other; another run with the same rid (a master's rids restart) combines."""
    a = _run(tmp_path / "a" / f"000000003-{RE}.h5")
    b = tmp_path / "b" / a.name
    b.parent.mkdir()
    shutil.copy(a, b)
    link = tmp_path / "link.h5"
    os.symlink(a, link)
    for argv, words in (
        ([a, a], ["the same file given twice"]),
        ([a, link], [link, "the same file given twice"]),
        ([tmp_path / "a", tmp_path / "b"], [b, "one run (rid 3", "given twice"]),
    ):
        code, out, err = _cli(["fidelity", *argv, "--bootstrap", "50"], capsys)
        _one_error(code, err, a, *words)
        assert out == ""
    out_dir = tmp_path / "reports"
    code, _, err = _cli(["report", a, b, "-o", out_dir, "--bootstrap", "50"], capsys)
    _one_error(code, err, a, b, "counted twice")
    assert not out_dir.exists() or not any(out_dir.iterdir())
    # --per-run reports each file, and says which result repeats another
    code, out, err = _cli(["fidelity", a, b, "--per-run", "--json", "--bootstrap", "50"], capsys)
    assert code == 0
    first, second = json.loads(out)
    repeat = f"{b} holds the run of {a} (one run (rid 3"
    assert any(n.startswith(repeat) for n in second["notes"]), second["notes"]
    assert not any("holds the run" in n for n in first["notes"])
    code, out, err = _cli(["fidelity", a, a, "--per-run", "--bootstrap", "50"], capsys)
    assert code == 0 and f"note: {a} given twice: its per-run result repeats" in out
    code, _, err = _cli(["fidelity", a, "--per-run", "--bootstrap", "50"], capsys)
    assert code == 0 and "holds the run" not in err
    other = _run(tmp_path / "c" / a.name, seed=4)  # rid 3 again, another start time
    assert fidelity_summary([a, other], n_boot=50).heralds == 1200


def test_a_simulated_replay_is_refused(tmp_path):
    """Two simulations from the same power-up seed at the same lab with the same arguments that
    end at the same RTIO time replayed one random stream: refused although their files differ
    in start time; another seed combines."""
    a = _run(tmp_path / "000000003-A.h5", start_time=1.8e9, **SIM)
    b = _run(tmp_path / "000000003-B.h5", start_time=1.9e9, **SIM)
    with pytest.raises(SchemaError, match="one simulated run replayed .seed 2.*another --seed"):
        fidelity_summary([a, b], n_boot=50)
    c = _run(tmp_path / "000000003-C.h5", start_time=2.0e9, **{**SIM, "ionlink.sim.seed": 5})
    assert fidelity_summary([a, c], n_boot=50).heralds == 1200


def test_uncalibrated_runs_are_noted_and_not_mixed(tmp_path, capsys):
    """A run taken without calibrations (ionlink.uncalibrated lists them) is analysed with a note
    (JSON and text); combined with a calibrated run it is refused, naming it."""
    missing = "calib.readout.threshold_a,calib.photon.gate_start_mu"
    bare = _run(tmp_path / f"000000001-{RE}.h5", **{"ionlink.uncalibrated": missing})
    calibrated = _run(tmp_path / f"000000002-{RE}.h5", **{"ionlink.uncalibrated": ""})
    code, out, err = _cli(["fidelity", bare, "--json", "--bootstrap", "50"], capsys)
    assert code == 0, err
    notes = json.loads(out)["notes"]
    assert any(
        f"{bare.name}: taken uncalibrated (calib.readout.threshold_a, calib.photon.gate_start_mu"
        in n
        for n in notes
    ), notes
    code, out, err = _cli(["fidelity", bare, "--bootstrap", "50"], capsys)
    assert "note: " + bare.name + ": taken uncalibrated" in out
    code, out, _ = _cli(["fidelity", calibrated, "--json", "--bootstrap", "50"], capsys)
    assert not any("uncalibrated" in n for n in json.loads(out)["notes"])
    code, _, err = _cli(["fidelity", tmp_path, "--bootstrap", "50"], capsys)
    _one_error(code, err, bare, "taken uncalibrated", calibrated.name, "analyse them separately")


def test_find_says_what_is_wrong_with_its_path(tmp_path, capsys):
    """find: a missing path and a file not named like a results file are errors (exit 2); a
    results file is listed; a selection matching nothing says so on stderr."""
    run = _run(tmp_path / f"000000003-{RE}.h5")
    other = write_artiq(tmp_path / "notes.h5", {"x": 1})
    _one_error(*_cli(["find", tmp_path / "nothing"], capsys)[::2], "no such file or directory")
    _one_error(*_cli(["find", other], capsys)[::2], "not named like a results file")
    assert _cli(["find", run], capsys)[:2] == (0, f"{run}\n")
    code, out, err = _cli(["find", tmp_path, "--rid", "4"], capsys)
    assert code == 0 and out == "" and "no results files" in err


def test_report_says_what_it_reads_and_covers_remote_gates(tmp_path, capsys):
    """report: a file without ionlink datasets is named as such, a remote-gate run gets its
    report, and runs of other kinds found in a folder are skipped with a note saying why."""
    foreign = write_artiq(tmp_path / "foreign.h5", {"globals.x": 1.0})
    code, _, err = _cli(["report", foreign], capsys)
    _one_error(code, err, "no ionlink experiment datasets")
    assert "is None" not in err
    hour = tmp_path / "results" / "2026-01-01" / "12"
    write_artiq(
        hour / "000000000-Startup.h5", {"ionlink.experiment": "startup"}, class_name="Startup"
    )
    n = 40
    setting = np.arange(n) % 4
    prep = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    gate = {
        "schema_version": 1,
        "ionlink.experiment": "remote_gate",
        "mode": "cz",
        "gate.analysis": "truth_table",
        "gate.setting": setting,
        "gate.settings.prep_a": prep[:, 0],
        "gate.settings.prep_b": prep[:, 1],
        "gate.settings.basis_a": np.zeros(4, int),
        "gate.settings.basis_b": np.zeros(4, int),
        "gate.bit_a": prep[setting, 0],  # CZ keeps computational inputs
        "gate.bit_b": prep[setting, 1],
        "gate.m_a": np.column_stack([setting % 2, np.full(n, -1)]),
        "gate.m_b": np.column_stack([setting // 2, np.full(n, -1)]),
        "gate.attempts": np.full(n, 10),
        "gate.latency_mu": np.full(n, 600_000),
    }
    write_artiq(hour / "000000001-RemoteGate.h5", gate, rid=1, class_name="RemoteGate")
    out = tmp_path / "reports" / "gate.md"
    code, _, err = _cli(["report", tmp_path / "results", "-o", out], capsys)
    assert code == 0, err
    assert "skipped 1 run(s) of other kinds (Startup): report reads" in err
    assert "not selected" not in err
    md = out.read_text()
    assert "# Remote gate: cz" in md and "truth table" in md.lower()
    code, _, err = _cli(["fidelity", tmp_path / "results", "--class", "Startup"], capsys)
    assert code == 2 and "skipped 1 run(s) of other kinds (Startup): fidelity reads" in err


def test_json_of_a_short_run_is_strict_json(tmp_path, capsys):
    """A run with too few heralds for some statistic (the attempts-per-herald χ² has no degree
    of freedom) still gives valid JSON: the undefined figures are null, not NaN."""
    short = _run(tmp_path / f"000000003-{RE}.h5", n=12)
    code, out, err = _cli(["fidelity", short, "--json", "--bootstrap", "50"], capsys)
    assert code == 0, err
    d = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert d["heralds"] == 12
    assert d["attempts_per_herald"]["chi2"] is None, d["attempts_per_herald"]


def test_gateware_and_cpu_heralded_runs_give_one_result_each(tmp_path, capsys):
    """A folder holding a gateware-heralded and two CPU-heralded runs: ``fidelity`` gives one
    result per heralding path (the CPU runs pooled), in text and JSON, with a note, as ``report``
    gives one report per path; it was refused (exit 2). One summary over both paths is still
    refused (their rates differ: one pooled rate would describe neither); a pool that must not
    be made within a path (calibrated with uncalibrated) is refused whole, exit 2; files that do
    not say how they heralded combine as before."""
    day = tmp_path / "day"
    gw = _run(day / f"000000001-{RE}.h5", **{"ionlink.heralding": "gateware"})
    cpu = _run(day / f"000000002-{RE}.h5", seed=4, **{"ionlink.heralding": "cpu"})
    cpu2 = _run(day / f"000000004-{RE}.h5", seed=6, **{"ionlink.heralding": "cpu"})
    code, out, err = _cli(["fidelity", day, "--bootstrap", "50"], capsys)
    assert code == 0, err
    assert (
        "heralded by gateware (1 run(s)) and by cpu (2 run(s)): one result per heralding path"
        in err
    )
    first, second = out.strip().split("\n\n")
    assert first.startswith(f"files: {gw}  (mode parity, heralded by gateware, schema 1)")
    assert second.startswith(f"files: {cpu}, {cpu2}  (mode parity, heralded by cpu, schema 1)")
    code, out, err = _cli(["fidelity", day, "--bootstrap", "50", "--json"], capsys)
    assert code == 0, err
    got = [(d["heralding"], d["heralds"], d["files"]) for d in json.loads(out)]
    assert got == [("gateware", 600, [str(gw)]), ("cpu", 1200, [str(cpu), str(cpu2)])]
    with pytest.raises(SchemaError, match="heralded by cpu"):
        fidelity_summary([gw, cpu], n_boot=50)
    assert _cli(["fidelity", day, "--per-run", "--bootstrap", "50"], capsys)[0] == 0
    bare = _run(
        day / f"000000005-{RE}.h5",
        seed=7,
        **{"ionlink.heralding": "cpu", "ionlink.uncalibrated": "calib.readout.threshold_a"},
    )
    code, out, err = _cli(["fidelity", day, "--bootstrap", "50"], capsys)
    assert code == 2 and out == "", err
    assert err.strip().splitlines()[-1].startswith(f"ionlink-analyze: error: {bare}: taken "), err
    old = _run(tmp_path / "old" / f"000000003-{RE}.h5", seed=5)
    assert fidelity_summary([gw, old], n_boot=50).heralds == 1200
