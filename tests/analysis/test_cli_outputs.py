# SPDX-License-Identifier: LGPL-3.0-or-later
"""What a new user meets first: where ``report -o`` and ``gate -o`` write, ``info`` over a folder
holding a file it cannot read, and the words of the header lines and errors."""

import json
from pathlib import Path

import numpy as np
import pytest
from analysis_synth import dark_count_datasets, readout_datasets, write_artiq

from analysis import cli, load
from analysis.calibration import summarise
from analysis.report import write_report

FOREIGN = "/work/shared/data/artiq5_foreign_lab.h5"


def _cli(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _notes(err):
    return [line for line in err.splitlines() if line.startswith("ionlink-analyze: note:")]


def _gate_datasets(mode="cz", analysis="truth_table", n=40):
    """A remote-gate run as ``repository/remote_gate.py`` wrote it before 2026-12-02
    (``gate.schema_version``, no ``schema_version``): a truth table of an ideal CZ, or Grover
    finding each marked state."""
    setting = np.arange(n) % 4
    prep = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    grover = mode == "grover"
    return {
        "gate.schema_version": 1,
        "ionlink.experiment": "remote_gate",
        "mode": mode,
        "gate.analysis": analysis,
        "gate.setting": setting,
        "gate.settings.prep_a": np.zeros(4, int) if grover else prep[:, 0],
        "gate.settings.prep_b": np.zeros(4, int) if grover else prep[:, 1],
        "gate.settings.basis_a": np.zeros(4, int),
        "gate.settings.basis_b": np.zeros(4, int),
        "gate.settings.marked": np.arange(4) if grover else np.full(4, -1),
        "gate.bit_a": prep[setting, 0],
        "gate.bit_b": prep[setting, 1],
        "gate.m_a": np.column_stack([setting % 2, np.full(n, -1)]),
        "gate.m_b": np.column_stack([setting // 2, np.full(n, -1)]),
        "gate.attempts": np.full(n, 10),
        "gate.latency_mu": np.full(n, 600_000),
    }


@pytest.fixture
def day(tmp_path):
    """A results hour folder: a dark-count run, a readout calibration and a remote gate."""
    hour = tmp_path / "results" / "2026-01-01" / "12"
    rng = np.random.default_rng(5)
    return {
        "dark": write_artiq(
            hour / "000000001-DarkCounts.h5", dark_count_datasets(rng), rid=1, class_name="DC"
        ),
        "readout": write_artiq(
            hour / "000000002-ReadoutCalibration.h5", readout_datasets(rng), rid=2
        ),
        "gate": write_artiq(
            hour / "000000003-RemoteGate.h5", _gate_datasets(), rid=3, class_name="RemoteGate"
        ),
    }


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_report_path_of_each_kind_of_output():
    """-o: a folder (existing, or ending in a separator) takes each report by its results file's
    name; otherwise one report is the path itself, several go into it or take it as prefix."""
    from analysis.folders import report_path  # (here: the other tests run on older trees)

    default = Path("results/000000001-DC-report")
    for several in (False, True):
        assert str(report_path("rep", default, several=several, folder=True)) == (
            "rep/000000001-DC-report"
        )
    assert str(report_path("rep", default, several=False, folder=False)) == "rep"
    assert str(report_path("rep.md", default, several=False, folder=False)) == "rep.md"
    assert str(report_path("rep", default, several=True, folder=False)) == (
        "rep/000000001-DC-report"
    )
    assert str(report_path("o/rep.md", default, several=True, folder=False)) == (
        "o/rep-000000001-DC-report"
    )


def test_report_into_an_existing_folder_or_a_trailing_slash_writes_inside(tmp_path, day, capsys):
    """``report FILE -o DIR`` with DIR a folder wrote DIR.md, DIR.html and DIR-*.png beside it,
    and a second report into the same DIR overwrote the first and mixed their PNGs; now each
    report is inside, named after its file. ``-o new/`` (not yet a folder) likewise; a path
    that is not a folder keeps its meaning (one report: that path)."""
    rep = tmp_path / "rep"
    rep.mkdir()
    for kind in ("dark", "readout"):
        code, out, err = _cli(["report", day[kind], "-o", rep, "--format", "md"], capsys)
        assert code == 0, err
    assert _names(tmp_path) == ["rep", "results"]  # nothing beside the folder
    dark, readout = (day[k].stem + "-report" for k in ("dark", "readout"))
    assert {f"{dark}.md", f"{dark}-rates.png", f"{readout}.md"} <= set(_names(rep)), _names(rep)
    assert "Dark" in (rep / f"{dark}.md").read_text()  # not overwritten by the second report
    code, out, err = _cli(["report", day["dark"], "-o", f"{tmp_path / 'new'}/"], capsys)
    assert code == 0, err
    assert {f"{dark}.md", f"{dark}.html"} <= set(_names(tmp_path / "new")), out
    code, _, err = _cli(["report", day["dark"], "-o", tmp_path / "day1", "--format", "md"], capsys)
    assert code == 0 and (tmp_path / "day1.md").is_file(), err
    code, out, err = _cli(["gate", day["gate"], "-o", rep], capsys)
    assert code == 0, err
    assert (rep / f"{day['gate'].stem}-report.md").is_file(), err


def test_write_report_refuses_a_folder(tmp_path, day):
    """The library call with a folder as the report path refuses it, not writing beside it."""
    with pytest.raises(IsADirectoryError, match="is a folder"):
        write_report(summarise(load(day["dark"])), tmp_path)
    assert _names(tmp_path) == ["results"]


def test_info_of_a_folder_skips_a_truncated_file(tmp_path, day, capsys):
    """``info FOLDER`` with a truncated file there gave that file's error alone (exit 2); now
    the others are listed and it is skipped with one note (exit 3), as ``report`` does; named
    alone it is still an error."""
    bad = day["gate"].with_name("000000004-RemoteGate.h5")
    bad.write_bytes(day["gate"].read_bytes()[:3000])
    folder = tmp_path / "results"
    code, out, err = _cli(["info", folder], capsys)
    assert code == cli.EXIT_SKIPPED, err
    (note,) = _notes(err)
    assert f"skipped {bad}: corrupt or truncated HDF5 file" in note and "error" not in err
    assert [line.split(":")[0] for line in out.splitlines() if not line.startswith(" ")] == [
        str(day[k]) for k in ("dark", "readout", "gate")
    ]
    code, out, err = _cli(["info", folder, "--json"], capsys)
    assert code == 3 and len(json.loads(out)) == 3 and len(_notes(err)) == 1
    code, out, err = _cli(["info", bad], capsys)
    assert code == 2 and out == "" and err.startswith(f"ionlink-analyze: error: {bad}: corrupt")


def test_info_names_the_gate_schema(day, capsys):
    """A remote-gate run of before 2026-12-02 stores ``gate.schema_version`` alone: info said
    ``schema None``."""
    code, out, _ = _cli(["info", day["gate"]], capsys)
    assert code == 0
    assert "schema 1 (gate.schema_version), experiment remote_gate" in out.splitlines()[0]


def test_gate_files_with_and_without_schema_version_analyse_alike(tmp_path, capsys):
    """remote_gate.py writes ``schema_version`` beside ``gate.schema_version`` (before
    2026-12-02 the latter alone): a file of either kind is a remote-gate run to ``gate``,
    ``report`` and ``info``, with the same figures."""
    old = _gate_datasets()
    paths = {
        "old": write_artiq(tmp_path / "old" / "000000001-RemoteGate.h5", old, rid=1),
        "new": write_artiq(
            tmp_path / "new" / "000000001-RemoteGate.h5", {"schema_version": 1, **old}, rid=1
        ),
    }
    summaries, schemas = {}, {}
    for age, path in paths.items():
        code, out, err = _cli(["gate", path, "--json"], capsys)
        assert code == 0, err
        summaries[age] = {k: v for k, v in json.loads(out).items() if k != "file"}
        code, _, err = _cli(["report", path, "-o", tmp_path / "reports" / f"{age}.md"], capsys)
        assert code == 0, err
        assert "# Remote gate: cz" in (tmp_path / "reports" / f"{age}.md").read_text()
        code, out, _ = _cli(["info", path], capsys)
        assert code == 0
        schemas[age] = out.splitlines()[0].split(", schema ")[1]
    assert summaries["old"] == summaries["new"]
    assert summaries["new"]["truth_table_fidelity"]["value"] == 1.0
    assert schemas == {
        "old": "1 (gate.schema_version), experiment remote_gate",
        "new": "1, experiment remote_gate",
    }


def test_gate_and_report_name_a_foreign_file_in_the_same_words(capsys):
    """``gate`` on another lab's ARTIQ 5 file said ``ionlink.experiment = None``. (The file is
    the workplace's, outside the repository: skipped where it is not, as in test_results.)"""
    if not Path(FOREIGN).exists():
        pytest.skip("foreign file not available")
    heads = []
    for command in ("gate", "report"):
        code, out, err = _cli([command, FOREIGN], capsys)
        assert code == 2 and out == "" and "None" not in err, err
        heads.append(err.split(";")[0])
    words = (
        f"ionlink-analyze: error: {FOREIGN}: no ionlink experiment datasets (no "
        "'ionlink.experiment' among its 64 datasets, no schema_version)"
    )
    assert heads == [words, words]


def test_grover_header_says_grover_not_the_unused_analysis_argument(tmp_path, capsys):
    """A Grover run stores the (unused) analysis argument, process_tomography by default: the
    header said ``grover (process_tomography)``."""
    path = write_artiq(
        tmp_path / "000000001-RemoteGate.h5",
        _gate_datasets("grover", "process_tomography"),
        class_name="RemoteGate",
    )
    code, out, err = _cli(["gate", path], capsys)
    assert code == 0, err
    assert out.startswith("remote gate: grover (Grover search success), 40 shots"), out
    assert "process_tomography" not in out
    code, out, _ = _cli(["gate", path, "--json"], capsys)
    d = json.loads(out)
    assert d["analysis"] == "grover_success" and d["grover_success"]["value"] == 1.0


def test_a_folder_without_results_names_says_which_files_it_did_not_take(tmp_path, capsys):
    """``info`` on a folder whose one file is not named ``{rid}-{Class}.h5`` said only "no
    results files match"; now it names the file and says to give it by its path."""
    renamed = write_artiq(tmp_path / "copy_of_run.h5", readout_datasets(np.random.default_rng(1)))
    code, out, err = _cli(["info", tmp_path], capsys)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "({rid:09d}-{Class}.h5)" in err and "not named so" in err, err
    assert renamed.name in err and "give them by their paths" in err
    assert _cli(["info", renamed], capsys)[0] == 0
