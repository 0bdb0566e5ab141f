# SPDX-License-Identifier: LGPL-3.0-or-later
"""Loading, finding, combining, the CLI and every bad-input case."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from analysis_synth import readout_datasets, remote_datasets, write_artiq

from analysis import cli, fidelity_summary, find_runs, load
from analysis.io import DataError, SchemaError, require
from analysis.pooling import check_combinable

#: a real ARTIQ 5 results file kept beside the repository (``IONLINK_FOREIGN_H5`` names it
#: elsewhere, e.g. from a git worktree)
FOREIGN = Path(
    os.environ.get("IONLINK_FOREIGN_H5", "")
    or Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "artiq5_foreign_lab.h5"
)


def test_ctrl_c_while_the_command_line_loads_is_one_line(monkeypatch, capsys):
    """The console entry imports the command line (numpy, h5py: ≈ 0.3 s) inside itself: a Ctrl-C
    then is ``ionlink-analyze: interrupted`` and 130, not a traceback."""
    import importlib.abc

    from analysis import console

    class Interrupting(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "analysis.cli":
                raise KeyboardInterrupt
            return None

    import analysis

    # (both put back after the test: a new analysis.cli module left behind as the package's
    # attribute made later tests in this process patch a module the command line does not run)
    monkeypatch.delitem(sys.modules, "analysis.cli", raising=False)
    monkeypatch.delattr(analysis, "cli", raising=False)
    with monkeypatch.context() as m:
        m.setattr(sys, "meta_path", [Interrupting(), *sys.meta_path])
        assert console.main() == 130
    assert capsys.readouterr().err == "ionlink-analyze: interrupted\n"
    # ... and while it builds its parser (before a command catches its own)
    import argparse

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", interrupted)
    assert console.main() == 130
    assert capsys.readouterr().err == "ionlink-analyze: interrupted\n"


def test_ctrl_c_in_a_weak_reference_callback_still_stops_the_command(monkeypatch, capsys):
    """A Ctrl-C that lands in a weak reference's callback (h5py drops its object ids through
    one; found: ``report`` on a 10⁸-tag file ran on to exit 0 after "Exception ignored …
    KeyboardInterrupt" for one signal in two at some times) is delivered again
    (comms.interrupts): the command stops, one line, 130."""
    import importlib
    import weakref

    from analysis import console

    cli_module = importlib.import_module("analysis.cli")  # (what console.main imports)

    class Held:
        pass

    def command(argv=None):
        held = Held()

        def callback(ref):
            raise KeyboardInterrupt  # what a signal handled inside the callback raises

        ref = weakref.ref(held, callback)
        del held  # the callback runs here; Python cannot raise from it
        assert ref() is None
        time.sleep(2)  # the command's next steps
        return 0

    monkeypatch.setattr(cli_module, "main", command)
    hook = sys.unraisablehook
    t0 = time.perf_counter()
    assert console.main() == 130
    assert time.perf_counter() - t0 < 1.0  # (not after the 2 s the command had left)
    assert capsys.readouterr().err == "ionlink-analyze: interrupted\n"
    assert sys.unraisablehook is hook


@pytest.fixture(scope="module")
def parity_file(tmp_path_factory):
    d = remote_datasets(
        np.random.default_rng(7), n=3000, mode="parity", readout_errors=(0.01, 0.01)
    )
    return write_artiq(
        tmp_path_factory.mktemp("runs") / "000000007-RemoteEntanglement.h5", d, rid=7
    )


def _good(tmp_path, name="000000001-RemoteEntanglement.h5", **kw):
    d = remote_datasets(
        np.random.default_rng(3), n=kw.pop("n", 1500), mode=kw.pop("mode", "parity")
    )
    d.update(kw)
    return write_artiq(tmp_path / name, d), d


@pytest.mark.skipif(not FOREIGN.exists(), reason="shared foreign-lab file absent")
def test_foreign_artiq5_file_loads():
    r = load(FOREIGN)
    assert r.rid == 3170 and r.artiq_version.startswith("5.")
    assert r.expid["class_name"] == "base_experiment" and r.experiment_class == "base_experiment"
    assert r.schema_version is None and len(r.datasets) > 50
    assert r["globals.DDS.650.fast_AOM.frequency"] == 400e6
    assert list(r["globals.TTL_input.channel_names"])[0] == "Alice_camera_side_APD"
    with pytest.raises(SchemaError, match="foreign schema"):
        require(r, ["herald.psi"], "the fidelity summary")


def test_root_metadata_bytes_and_pyon_v1(tmp_path):
    p = write_artiq(
        tmp_path / "a.h5",
        {"x": 1.5},
        expid=b"{'class_name': 'Old', 'arguments': {'n': (1, 2)}}",
        attrs={"x": {"unit": "MHz", "scale": 1e6, "precision": 3}},
        archive={"calib.k": 2},
    )
    r = load(p)
    assert r.expid == {"class_name": "Old", "arguments": {"n": (1, 2)}}
    assert r.datasets["x"].attrs == {"unit": "MHz", "scale": 1e6, "precision": 3}
    assert "calib.k" in r.archive and r.read("calib.k", group="archive") == 2


def test_chunked_reads_equal_full(parity_file):
    r = load(parity_file)
    chunks = list(r.iter_chunks(["herald.bit_a", "herald.t_det_mu"], rows=700))
    assert np.array_equal(
        np.concatenate([c["herald.t_det_mu"] for c in chunks]), r.read("herald.t_det_mu")
    )
    assert (
        sum(
            c.shape[0]
            for c in (np.array(x.copy()) for x in r.iter_array("herald.attempts", rows=999))
        )
        == 3000
    )


def test_find_runs_by_rid_date_and_class(tmp_path):
    for rid, day, hour, cls in [
        (1, "2025-01-01", "09", "A"),
        (2, "2025-01-01", "13", "B"),
        (3, "2025-01-02", "00", "A"),
    ]:
        write_artiq(tmp_path / day / hour / f"{rid:09d}-{cls}.h5", {"x": 1})
    import datetime as dt

    assert [p.name for p in find_runs(tmp_path)] == [
        "000000001-A.h5",
        "000000002-B.h5",
        "000000003-A.h5",
    ]
    assert [p.name for p in find_runs(tmp_path, rid=2)] == ["000000002-B.h5"]
    assert [p.name for p in find_runs(tmp_path, experiment_class="A")] == [
        "000000001-A.h5",
        "000000003-A.h5",
    ]
    got = find_runs(
        tmp_path, since=dt.datetime(2025, 1, 1, 10, 30), until=dt.datetime(2025, 1, 1, 23)
    )
    assert [p.name for p in got] == ["000000002-B.h5"]


def test_combined_runs_and_schema_refusal(tmp_path, parity_file):
    a, _ = _good(tmp_path, "a.h5")
    rep = fidelity_summary([parity_file, a], n_boot=200)
    assert rep.heralds == 4500 and len(rep.files) == 2
    b, _ = _good(tmp_path, "b.h5", mode="tomography")
    with pytest.raises(SchemaError, match="cannot combine"):
        fidelity_summary([a, b], n_boot=200)
    d = remote_datasets(np.random.default_rng(1), n=500)
    d["herald.bit_a"] = d["herald.bit_a"].astype(np.float64)
    c = write_artiq(tmp_path / "c.h5", d)
    with pytest.raises(SchemaError, match="herald.bit_a"):
        check_combinable([load(a), load(c)], ["herald.bit_a"])


def test_runs_of_different_simulated_labs_are_not_combined(tmp_path, capsys):
    """A folder holding runs simulated at two labs (or a simulated and a hardware run) is refused
    with one line naming both; the same lab combines."""
    lab = {
        "ionlink.sim.provenance.lab_name": "oxford2020",
        "ionlink.sim.provenance.lab_sha256": "1562249bfa91",
    }
    a, _ = _good(tmp_path, "000000001-RemoteEntanglement.h5", **lab)
    b, _ = _good(tmp_path, "000000002-RemoteEntanglement.h5", **lab)
    assert fidelity_summary([a, b], n_boot=100).heralds == 3000
    c, _ = _good(
        tmp_path,
        "000000003-RemoteEntanglement.h5",
        **{**lab, "ionlink.sim.provenance.lab_name": "duke2024"},
    )
    code, _, err = _run_cli(["fidelity", str(tmp_path), "--bootstrap", "100"], capsys)
    assert code == 2
    assert "000000003-RemoteEntanglement.h5: cannot combine with" in err
    assert "this run was taken at simulated lab 'duke2024'" in err and "'oxford2020'" in err
    assert len(err.strip().splitlines()) == 1
    hw, _ = _good(tmp_path / "..", "000000004-RemoteEntanglement.h5")
    with pytest.raises(SchemaError, match="no simulated lab"):
        fidelity_summary([a, hw], n_boot=100)
    lab["ionlink.sim.provenance.lab_overrides"] = '{"drtio.fibre_m": 20000}'
    far, _ = _good(tmp_path / "..", "000000005-RemoteEntanglement.h5", **lab)
    with pytest.raises(SchemaError, match="fibre_m"):
        fidelity_summary([a, far], n_boot=100)


def test_fidelity_of_another_experiments_file_says_what_it_is(tmp_path, capsys):
    """A calibration's file is refused by its kind, not with the list of herald datasets it
    lacks."""
    f = write_artiq(
        tmp_path / "000000005-ReadoutCalibration.h5",
        {"ionlink.experiment": "readout_calibration", "calib.readout.threshold_a": 3},
    )
    code, _, err = _run_cli(["fidelity", str(f)], capsys)
    assert code == 2
    assert "'readout_calibration', not a remote-entanglement run" in err
    assert "herald." not in err
    assert "(ionlink-analyze report summarises it)" in err
    # a remote gate's file: the command that reads it is named
    g = write_artiq(
        tmp_path / "000000006-RemoteGate.h5",
        {"ionlink.experiment": "remote_gate", "gate.schema_version": 1},
    )
    code, _, err = _run_cli(["fidelity", str(g)], capsys)
    assert code == 2 and err.count("\n") == 1 and "(ionlink-analyze gate reads it)" in err


def test_a_run_stopped_early_is_noted(tmp_path, capsys):
    """The report says which run ended before its requested heralds and why; a complete run or
    one without the record (older files, hardware) adds no note."""
    a, a_data = _good(
        tmp_path,
        "000000001-RemoteEntanglement.h5",
        **{
            "totals.stop_reason": "terminated",
            "totals.heralds_requested": 1800,
            # (the detection-time correction spreads the phases: the note names the programmed)
            "herald.detection_phase_hz": 5e6,
        },
    )
    b, _ = _good(
        tmp_path,
        "000000002-RemoteEntanglement.h5",
        **{"totals.stop_reason": "complete", "totals.heralds_requested": 1500},
    )
    notes = fidelity_summary([a, b], n_boot=100).notes
    early = [n for n in notes if "stopped early" in n]
    assert early == [
        "000000001-RemoteEntanglement.h5: stopped early (terminated) after 1500 of 1800 heralds"
    ]
    assert not [n for n in fidelity_summary([b], n_boot=100).notes if "stopped early" in n]
    # a parity scan with a run that ended early says which phases its coherence rests on
    xy = (a_data["herald.basis_a"] != 0) | (a_data["herald.basis_b"] != 0)
    phases = np.unique(np.asarray(a_data["herald.phase"])[xy] % 1.0)
    scan = [n for n in notes if n.startswith("parity scan incomplete")]
    assert len(scan) == 1 and f"X/Y heralds at {phases.size} analysis phase(s)" in scan[0], scan
    assert not [n for n in fidelity_summary([b], n_boot=100).notes if "parity scan" in n]
    # stopped before its first X/Y herald: no phase list, no coherence fitted
    z_only = {
        k: (v[~xy] if k.startswith("herald.") and np.ndim(v) else v) for k, v in a_data.items()
    }
    z_only["totals.heralds"] = int((~xy).sum())
    c = write_artiq(tmp_path / "z_only" / "000000003-RemoteEntanglement.h5", z_only)
    (note,) = [n for n in fidelity_summary([c], n_boot=100).notes if "parity scan" in n]
    assert "no X/Y heralds, so no coherence measured" in note, note
    code, out, err = _run_cli(["fidelity", str(tmp_path), "--bootstrap", "100"], capsys)
    assert code == 0, err
    assert "note: 000000001-RemoteEntanglement.h5: stopped early (terminated)" in out


def test_a_run_stopped_before_its_estimator_has_data_says_so(tmp_path, capsys):
    """A tomography run terminated while still in its first setting cannot give a fidelity: the
    one-line refusal also says that the run stopped early, and after how many heralds."""
    d = remote_datasets(np.random.default_rng(5), n=900, mode="tomography")
    first = (d["herald.basis_a"] == d["herald.basis_a"][0]) & (
        d["herald.basis_b"] == d["herald.basis_b"][0]
    )
    for k, v in list(d.items()):
        if k.startswith("herald.") and isinstance(v, np.ndarray) and len(v) == 900:
            d[k] = v[first]
    n = int(first.sum())
    d.update(
        {
            "totals.heralds": n,
            "totals.attempts": int(d["herald.attempts"].sum()),
            "totals.stop_reason": "terminated",
            "totals.heralds_requested": 1800,
        }
    )
    f = write_artiq(tmp_path / "000000005-RemoteEntanglement.h5", d)
    code, _, err = _run_cli(["fidelity", str(f)], capsys)
    assert code == 2
    assert "no heralds in the settings the fidelity estimator needs" in err
    assert f"stopped early (terminated) after {n} of 1800 heralds" in err
    assert len(err.strip().splitlines()) == 1


def test_summary_recovers_truth_and_picks_estimator(tmp_path):
    """Parity files use the population+parity estimator; tomography files correlations + MLE."""
    for mode, word in (("parity", "parity-scan fit"), ("tomography", "correlations")):
        d = remote_datasets(np.random.default_rng(12), n=8000, mode=mode)
        rep = fidelity_summary(write_artiq(tmp_path / f"{mode}.h5", d), n_boot=400)
        assert word in rep.fidelity.method
        assert rep.fidelity.lo <= 0.9 <= rep.fidelity.hi
        assert rep.p_success.lo <= 0.01 <= rep.p_success.hi
    assert (
        rep.estimates.tomography
        and rep.estimates.tomography[1].fidelity.lo
        <= 0.9
        <= rep.estimates.tomography[1].fidelity.hi
    )


def _run_cli(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_fidelity_json_keys(parity_file, capsys):
    code, out, err = _run_cli(
        ["fidelity", str(parity_file), "--json", "--bootstrap", "300"], capsys
    )
    assert code == 0, err
    d = json.loads(out)
    for k in (
        "fidelity",
        "fidelity_psi_plus",
        "fidelity_psi_minus",
        "heralds",
        "attempts",
        "p_success",
        "rate_hz_lab",
        "rate_hz_wall",
        "schema_version",
        "files",
    ):
        assert k in d
    assert set(d["fidelity"]) >= {"value", "ci_low", "ci_high", "method"} and set(
        d["p_success"]
    ) >= {"value", "ci_low", "ci_high"}
    assert d["fidelity_spam_corrected"]["value"] > d["fidelity"]["value"]


def test_cli_report_writes_md_html_and_pngs(parity_file, tmp_path, capsys):
    out = tmp_path / "rep" / "run7.md"
    out.parent.mkdir()
    code, _, err = _run_cli(
        ["report", str(parity_file), "-o", str(out), "--bootstrap", "200"], capsys
    )
    assert code == 0, err
    names = sorted(p.name for p in out.parent.iterdir())
    assert "run7.md" in names and "run7.html" in names
    assert {"run7-parity.png", "run7-arrival.png", "run7-rate.png", "run7-attempts.png"} <= set(
        names
    )
    assert "![Parity scan with fit](run7-parity.png)" in out.read_text()


def _bad_files(tmp_path):
    """(name, path, expected words) for every bad-input case of the issue."""
    cases = []
    text = tmp_path / "notes.h5"
    text.write_text("this is not HDF5\n")
    cases.append(("non-HDF5", text, "not an HDF5 file"))
    good, d = _good(tmp_path, "good.h5")
    raw = good.read_bytes()
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(raw[: len(raw) // 3])
    cases.append(("truncated", trunc, "truncated"))
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(raw[:8] + bytes(200) + raw[208:])
    cases.append(("corrupt", corrupt, "corrupt"))
    cases.append(
        ("foreign", write_artiq(tmp_path / "foreign.h5", {"globals.x": 1.0}), "foreign schema")
    )
    dm = dict(d)
    del dm["herald.bit_b"]
    cases.append(("missing", write_artiq(tmp_path / "missing.h5", dm), "missing: herald.bit_b"))
    cases.append(("empty", write_artiq(tmp_path / "empty.h5", {}), "empty"))
    dn = dict(d)
    dn["herald.phase"] = d["herald.phase"].copy()
    dn["herald.phase"][5] = np.nan
    cases.append(("nan", write_artiq(tmp_path / "nan.h5", dn), "NaN"))
    ds = dict(d)
    ds["herald.bit_a"] = d["herald.bit_a"][:-3]
    cases.append(("shape", write_artiq(tmp_path / "shape.h5", ds), "shape mismatch"))
    dz = remote_datasets(np.random.default_rng(1), n=0)
    cases.append(("zero", write_artiq(tmp_path / "zero.h5", dz), "zero heralds"))
    return cases


def test_every_bad_input_gives_one_line_error_and_exit_2(tmp_path, capsys):
    for name, path, words in _bad_files(tmp_path):
        code, out, err = _run_cli(["fidelity", str(path), "--json"], capsys)
        assert code == 2, (name, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"ionlink-analyze: error: {path}: "), (
            name,
            err,
        )
        assert words in lines[0], (name, lines[0])
        assert "Traceback" not in err and out == ""


def test_debug_shows_traceback(tmp_path, capsys):
    p = tmp_path / "x.h5"
    p.write_text("nope")
    code, _, err = _run_cli(["--debug", "fidelity", str(p)], capsys)
    assert code == 2 and "Traceback" in err
    code, _, err = _run_cli(["fidelity", str(p), "--debug"], capsys)
    assert code == 2 and "Traceback" in err


def test_failed_report_writes_nothing(tmp_path, parity_file, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_text("nope")
    outdir = tmp_path / "out"
    outdir.mkdir()
    code, _, _ = _run_cli(
        ["report", str(parity_file), str(bad), "-o", str(outdir / "r.md")], capsys
    )
    assert code == 2 and list(outdir.iterdir()) == []


def test_zero_heralds_api_error(tmp_path):
    p = write_artiq(tmp_path / "z.h5", remote_datasets(np.random.default_rng(1), n=0))
    with pytest.raises(DataError, match="zero heralds"):
        fidelity_summary(p)


def test_python_dash_m_entry_point(parity_file):
    r = subprocess.run(
        [sys.executable, "-m", "analysis", "info", str(parity_file)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert r.returncode == 0 and "herald.psi" in r.stdout


@pytest.fixture
def folder_with_a_broken_run(tmp_path):
    """Three good parity runs and one stopped at once before it recorded its totals, in a
    results folder (the broken one's name)."""
    day = tmp_path / "results" / "2026-01-01" / "12"
    for rid in (1, 2, 3):
        d = remote_datasets(np.random.default_rng(40 + rid), n=600, mode="parity")
        write_artiq(day / f"{rid:09d}-RemoteEntanglement.h5", d, rid=rid)
    d = remote_datasets(np.random.default_rng(44), n=600, mode="parity")
    d.update({"totals.attempts": 0, "ionlink.sim.stopped_at_once": "SIGINT"})
    bad = write_artiq(day / "000000004-RemoteEntanglement.h5", d, rid=4)
    return tmp_path / "results", bad


def _notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("ionlink-analyze: note:")]


def test_per_run_skips_a_broken_run_with_one_note(folder_with_a_broken_run, capsys):
    """``fidelity --per-run`` on a folder: the good runs' results, one note naming the broken
    file and why, exit 3 (results printed, something skipped); the same with --json."""
    folder, bad = folder_with_a_broken_run
    code, out, err = _run_cli(["fidelity", str(folder), "--per-run", "--bootstrap", "50"], capsys)
    assert code == cli.EXIT_SKIPPED == 3, err
    assert out.count("files: ") == 3 and bad.name not in out
    (note,) = _notes(err)
    assert f"skipped {bad}: totals.attempts (0) < totals.heralds (600)" in note
    assert "error" not in err
    code, out, err = _run_cli(
        ["fidelity", str(folder), "--per-run", "--json", "--bootstrap", "50"], capsys
    )
    assert code == 3 and len(json.loads(out)) == 3 and len(_notes(err)) == 1


def test_pooled_fidelity_refuses_a_broken_run(folder_with_a_broken_run, capsys):
    """Pooled, ``fidelity`` refuses the broken run in one line (exit 2), found in a folder or
    named: its one summary must not describe fewer runs than asked; alone, with --per-run too."""
    folder, bad = folder_with_a_broken_run
    good = sorted(str(p) for p in folder.rglob("*.h5") if p != bad)
    for argv in ([str(folder)], [*good, str(bad)], [str(bad), "--per-run"]):
        code, out, err = _run_cli(["fidelity", *argv, "--bootstrap", "50"], capsys)
        assert code == 2 and out == "" and not _notes(err), argv
        assert err.startswith(f"ionlink-analyze: error: {bad}: totals.attempts (0)"), err
        assert len(err.strip().splitlines()) == 1


def test_report_of_a_folder_skips_an_unreadable_file(folder_with_a_broken_run, capsys):
    """``report`` over a folder: a file that is not HDF5 and the broken run are each named in one
    note; the reports of the good runs are written (per run and pooled), exit 3."""
    folder, bad = folder_with_a_broken_run
    junk = bad.with_name("000000005-RemoteEntanglement.h5")
    junk.write_text("not hdf5")
    out_dir = folder.parent / "reports"
    argv = ["report", str(folder), "--per-run", "--format", "md", "--bootstrap", "50"]
    code, out, err = _run_cli([*argv, "-o", str(out_dir)], capsys)
    assert code == 3, err
    notes = _notes(err)
    assert len(notes) == 2 and str(junk) in notes[0] and "not an HDF5 file" in notes[0]
    assert str(bad) in notes[1] and "totals.attempts (0)" in notes[1]
    assert len([line for line in out.splitlines() if line.endswith(".md")]) == 3
    code, out, err = _run_cli(argv[:2] + argv[3:] + ["-o", str(out_dir / "pooled.md")], capsys)
    assert code == 3 and len(_notes(err)) == 2, err
    assert [line for line in out.splitlines() if line.endswith(".md")] == [
        str(out_dir / "pooled.md")
    ]
    text = (out_dir / "pooled.md").read_text()
    assert f"left out {bad}: totals.attempts (0)" in text and text.count("000000003-") >= 1


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda p: p.mkdir(), "is a directory, not an HDF5 file"),
        (lambda p: None, "no such file"),
        (lambda p: p.write_text("text"), "not an HDF5 file"),
    ],
)
def test_sweep_checks_its_file_as_the_other_commands(tmp_path, capsys, make, says):
    """``sweep`` on a folder, a missing file or a text file: one line, exit 2, as ``gate``."""
    path = tmp_path / "sweep.h5"
    make(path)
    for command in ("sweep", "gate"):
        code, out, err = _run_cli([command, str(path)], capsys)
        assert code == 2 and out == ""
        assert err == f"ionlink-analyze: error: {path}: {says}\n", err


def test_info_shows_short_string_arrays(tmp_path, capsys):
    """``info`` shows a 1-D value whose text is short (eight channel names as fixed-length byte
    strings, ``|S5[8]``), not a long one."""
    names = np.array([b"ttl8", b"ttl9", b"ttl10", b"ttl11", b"ttl12", b"ttl13", b"a", b"b"])
    p = write_artiq(tmp_path / "x.h5", {"names": names, "counts": np.arange(60)})
    code, out, _ = _run_cli(["info", str(p)], capsys)
    assert code == 0
    assert (
        "  names  |S5[8] = ['ttl8', 'ttl9', 'ttl10', 'ttl11', 'ttl12', 'ttl13', 'a', 'b']\n" in out
    )
    assert "  counts  int64[60]\n" in out


def _day_of_mixed_runs(root, *entanglement):
    """A results folder: a readout calibration and entanglement runs with the given extra
    datasets (one run each); their paths."""
    day = root / "results" / "2026-01-01" / "12"
    write_artiq(
        day / "000000001-ReadoutCalibration.h5",
        readout_datasets(np.random.default_rng(1)),
        rid=1,
        class_name="ReadoutCalibration",
    )
    paths = []
    for rid, (cls, extra) in enumerate(entanglement, start=2):
        d = remote_datasets(np.random.default_rng(50 + rid), n=600, mode="z")
        d.update(extra)
        paths.append(write_artiq(day / f"{rid:09d}-{cls}.h5", d, rid=rid, class_name=cls))
    return root / "results", paths


def test_report_of_a_folder_reports_each_heralding_path(tmp_path, capsys):
    """``report`` over a folder with a calibration, a gateware-heralded run and two CPU-heralded
    runs: one entanglement report per heralding path (the CPU runs pooled), the calibration's,
    a note saying why, exit 0. It wrote the calibration's alone, exit 3, with one note naming one
    CPU file as if the rest were reported (the pool's refusal was taken for that file's).
    ``fidelity`` splits the same runs the same way (it refused them, exit 2)."""
    folder, (gw, cpu1, cpu2) = _day_of_mixed_runs(
        tmp_path,
        ("RemoteEntanglement", {"ionlink.heralding": "gateware"}),
        ("RemoteEntanglementCPU", {"ionlink.heralding": "cpu"}),
        ("RemoteEntanglementCPU", {"ionlink.heralding": "cpu"}),
    )
    argv = ["report", str(folder), "--format", "md", "--bootstrap", "50", "--no-progress"]
    code, out, err = _run_cli(argv, capsys)
    assert code == 0, err
    written = {Path(line).name for line in out.splitlines() if line.endswith(".md")}
    assert written == {
        "000000001-ReadoutCalibration-report.md",
        f"{gw.stem}-report.md",
        f"{cpu1.stem}-combined-report.md",
    }, out
    (note,) = _notes(err)
    assert "heralded by gateware (1 run(s)) and by cpu (2 run(s))" in note
    pooled = cpu1.with_name(f"{cpu1.stem}-combined-report.md").read_text()
    assert cpu2.name in pooled and gw.name not in pooled
    assert "mode `z`, heralded by `cpu`" in pooled
    code, out, err = _run_cli(["fidelity", str(folder), "--bootstrap", "50"], capsys)
    assert code == 0 and "one result per heralding path" in err, err  # split as report does
    assert [b.split("  (")[0] for b in out.strip().split("\n\n")] == [
        f"files: {gw}",
        f"files: {cpu1}, {cpu2}",
    ]


def test_report_of_a_folder_refuses_runs_that_must_not_be_pooled(tmp_path, capsys):
    """An uncalibrated run beside a calibrated one in a folder: ``report`` refuses the pool in
    one line naming the uncalibrated file, exit 2, as the README says (it wrote the other
    reports, exit 3, and dropped the calibrated run unmentioned); with --per-run each is reported.
    Two broken runs and no good one: both are named (the first went unmentioned)."""
    folder, (bare, calibrated) = _day_of_mixed_runs(
        tmp_path,
        ("RemoteEntanglement", {"ionlink.uncalibrated": "calib.readout.threshold_a"}),
        ("RemoteEntanglement", {"ionlink.uncalibrated": ""}),
    )
    argv = ["report", str(folder), "--format", "md", "--bootstrap", "50", "--no-progress"]
    code, out, err = _run_cli(argv, capsys)
    assert code == 2 and out == "" and not _notes(err), err
    assert err.startswith(f"ionlink-analyze: error: {bare}: taken uncalibrated"), err
    assert calibrated.name in err and len(err.strip().splitlines()) == 1
    code, out, err = _run_cli([*argv, "--per-run"], capsys)
    assert code == 0 and len([x for x in out.splitlines() if x.endswith(".md")]) == 3, err
    broken = tmp_path / "broken"
    folder, paths = _day_of_mixed_runs(
        broken,
        ("RemoteEntanglement", {"totals.attempts": 0}),
        ("RemoteEntanglement", {"totals.attempts": 0}),
    )
    code, out, err = _run_cli(argv[:1] + [str(folder)] + argv[2:], capsys)
    assert code == 3 and len([x for x in out.splitlines() if x.endswith(".md")]) == 1, err
    notes = _notes(err)
    assert len(notes) == 2 and all(str(p) in " ".join(notes) for p in paths), err


@pytest.mark.parametrize(
    "command, key, make",
    [
        ("fidelity", "schema_version", "remote"),
        ("report", "schema_version", "remote"),
        ("gate", "gate.schema_version", "gate"),
        ("report", "schema_version", "readout"),
    ],
)
def test_a_later_schema_is_refused_in_one_line(tmp_path, capsys, command, key, make):
    """A file of a later ionlink schema than this analysis reads (``schema_version`` or the
    remote gate's ``gate.schema_version`` above 1) is refused in one line, exit 2, by every
    command that estimates from it (it was read as version 1, whose names it may use for other
    things); ``info`` still lists it."""
    from test_cli_outputs import _gate_datasets

    if make == "remote":
        d = remote_datasets(np.random.default_rng(8), n=300, mode="z")
    elif make == "readout":
        d = readout_datasets(np.random.default_rng(8))
    else:
        d = _gate_datasets()
    d[key] = 2
    f = write_artiq(tmp_path / "000000001-Later.h5", d)
    code, _, err = _run_cli([command, str(f)], capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and f"{key} 2 is newer than this analysis reads (1)" in err
    code, out, _ = _run_cli(["info", str(f)], capsys)
    assert code == 0 and key in out
