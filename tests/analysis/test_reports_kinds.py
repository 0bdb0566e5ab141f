# SPDX-License-Identifier: LGPL-3.0-or-later
"""Reports of every experiment kind, their figures and HTML, the command line's run selection."""

import json
import math
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from analysis_synth import (
    dark_count_datasets,
    hom_datasets,
    readout_datasets,
    remote_datasets,
    single_photon_datasets,
    write_artiq,
)

from analysis import cli, fidelity_summary, load
from analysis import plots as pl
from analysis.bell import fidelity_parity_scan
from analysis.calibration import summarise
from analysis.report import to_html

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    """Results folder: Startup, a calibration of each kind, two parity runs, a tomography run."""
    root = tmp_path_factory.mktemp("results")
    hour = root / "2026-01-01" / "12"
    rng = np.random.default_rng(11)
    write_artiq(
        hour / "000000000-Startup.h5",
        {"schema_version": 1, "ionlink.experiment": "startup"},
        rid=0,
        class_name="Startup",
    )
    kinds = [
        ("DarkCounts", dark_count_datasets(rng)),
        ("ReadoutCalibration", readout_datasets(rng)),
        ("SinglePhoton", single_photon_datasets(rng)),
        ("HOM", hom_datasets(rng)),
    ]
    for rid, (cls, d) in enumerate(kinds, start=1):
        write_artiq(hour / f"{rid:09d}-{cls}.h5", d, rid=rid, class_name=cls)
    for rid, mode in ((5, "parity"), (6, "parity"), (7, "tomography")):
        d = remote_datasets(np.random.default_rng(rid), n=1500, mode=mode)
        write_artiq(hour / f"{rid:09d}-RemoteEntanglement.h5", d, rid=rid)
    return root


def _cli(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.li_parents, self.text, self.tags = [], [], [], []

    def handle_starttag(self, tag, attrs):
        if tag == "li":
            self.li_parents.append(self.stack[-1] if self.stack else None)
        self.tags.append(tag)
        if tag not in ("img", "meta", "br", "hr"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        self.text.append(data)


def _html_ok(html: str) -> _Tags:
    t = _Tags()
    t.feed(html)
    assert all(p in ("ul", "ol") for p in t.li_parents), t.li_parents
    assert "`" not in "".join(t.text)  # Markdown code spans became <code>
    assert {"table", "td", "code", "img", "h1"} <= set(t.tags)
    assert t.stack == []  # every element closed
    return t


def test_markdown_to_html_structure():
    t = _html_ok(
        to_html("# T\n\n- a `x`\n- b\n\n## S\n\n| a | b |\n|---|---|\n| `k` | 1 |\n\n![p](p.png)\n")
    )
    assert t.li_parents == ["ul", "ul"] and {"thead", "th", "h2"} <= set(t.tags)


def test_report_of_every_kind(day, tmp_path, capsys):
    out = tmp_path / "reports" / "day1"  # folders that do not exist yet
    # --mode selects among the entanglement runs: none is in mode z, so only the calibration runs
    # are reported (entanglement reports: test_io_cli and test_tomography_report_figures)
    code, _, err = _cli(["report", day, "-o", out, "--bootstrap", "100", "--mode", "z"], capsys)
    assert code == 0, err
    assert "skipped 1 run(s) of other kinds (Startup): report reads" in err
    assert "skipped 3 run(s): " in err and "mode parity" in err
    names = {p.name for p in out.iterdir()}
    for stem, pngs in (
        ("000000001-DarkCounts", ["rates"]),
        ("000000002-ReadoutCalibration", ["readout-a", "readout-b"]),
        ("000000003-SinglePhoton", ["arrival"]),
        ("000000004-HOM", ["hom"]),
    ):
        assert f"{stem}-report.md" in names and f"{stem}-report.html" in names, (stem, names)
        for png in pngs:
            assert f"{stem}-report-{png}.png" in names, (stem, png)
        _html_ok((out / f"{stem}-report.html").read_text())
    hom = (out / "000000004-HOM-report.md").read_text()
    assert (
        "Visibility V = 1 − P(0)/P(ref): 1.0000 [0." in hom
        and ", 1.0000] (0.95 CL; exact conditional" in hom
    )
    sp = (out / "000000003-SinglePhoton-report.md").read_text()
    assert "lifetime τ (ns) | 7." in sp and "recommended gate" in sp
    assert "| node B's photons after node A's (mean arrival, ns) | 0.41 [-0.57, 1.39] (0.95" in sp


def test_tomography_report_figures(day):
    """Tomography runs: ρ beside the ideal state, no parity plot (drawn, not rendered: fast)."""
    from analysis.report import _fidelity_plots, render_markdown

    rep = fidelity_summary(
        day / "2026-01-01" / "12" / "000000007-RemoteEntanglement.h5", n_boot=100
    )
    figs = {}
    _fidelity_plots(rep, lambda fig, name, title: figs.setdefault(name, fig), 0.95)
    assert {"rho-plus", "rho-minus", "arrival", "rate", "attempts"} <= set(
        figs
    ) and "parity" not in figs
    ax = figs["rho-plus"].axes
    titles = [a.get_title() for a in ax]
    assert "Re ρ, ideal" in titles and any(t.startswith("Im ρ, ψ+") for t in titles)
    assert np.allclose(
        ax[2].images[0].get_array(),
        [[0, 0, 0, 0], [0, 0.5, 0.5, 0], [0, 0.5, 0.5, 0], [0, 0, 0, 0]],
    )
    import matplotlib.pyplot as plt

    for f in figs.values():
        plt.close(f)
    assert "F MLE ψ+" in render_markdown(rep, {})


def test_calibration_summaries_recover_truth(day):
    hour = day / "2026-01-01" / "12"
    sp = summarise(load(hour / "000000003-SinglePhoton.h5"))
    assert sp.lifetime.tau.lo <= 7.4 <= sp.lifetime.tau.hi
    assert all(p.lo <= 0.02 <= p.hi for p in sp.click_prob)
    ro = summarise(load(hour / "000000002-ReadoutCalibration.h5"), n_boot=200)
    assert all(1 <= r.threshold <= 8 and r.error.hi < 0.02 for r in ro.thresholds.values())
    dk = summarise(load(hour / "000000001-DarkCounts.h5"))
    assert all(e.lo <= 20 <= e.hi for e in dk.dark) or sum(e.lo <= 20 <= e.hi for e in dk.dark) >= 3
    hm = summarise(load(hour / "000000004-HOM.h5"))
    assert hm.visibility.hi == 1.0 and hm.visibility.lo > 0.5


def test_fidelity_selects_entanglement_runs_by_mode_and_per_run(day, capsys):
    code, out, err = _cli(["fidelity", day, "--json", "--bootstrap", "100"], capsys)
    assert code == 0, err
    groups = json.loads(out)  # parity group and tomography group, with a note
    assert [g["mode"] for g in groups] == ["parity", "tomography"] and [
        g["heralds"] for g in groups
    ] == [3000, 1500]
    assert "skipped 5 run(s)" in err and "--mode" in err
    code, out, err = _cli(
        ["fidelity", day, "--mode", "parity", "--json", "--bootstrap", "100"], capsys
    )
    assert code == 0 and json.loads(out)["heralds"] == 3000 and len(json.loads(out)["files"]) == 2
    code, out, _ = _cli(
        [
            "fidelity",
            day,
            "--per-run",
            "--class",
            "RemoteEntanglement",
            "--json",
            "--bootstrap",
            "100",
        ],
        capsys,
    )
    assert code == 0 and [len(g["files"]) for g in json.loads(out)] == [1, 1, 1]


def test_info_on_a_folder_prints_scalar_values(day, capsys):
    code, out, err = _cli(["info", day], capsys)
    assert code == 0, err
    assert "totals.heralds  int64[] = 1500" in out and "000000001-DarkCounts.h5" in out
    assert "dark.duration_s  float64[] = 1.0" in out


@pytest.mark.parametrize(
    "argv, word",
    [
        (["--cl", "1.5"], "argument --cl"),
        (["--bootstrap", "-3"], "argument --bootstrap"),
        (["--cl", "x"], "argument --cl"),
    ],
)
def test_bad_arguments_are_one_line_argument_errors(day, capsys, argv, word):
    for cmd in ("fidelity", "report"):
        code, out, err = _cli([cmd, day, *argv], capsys)
        assert code == 2 and out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"ionlink-analyze: error: {word}"), err


def test_closed_pipe_is_quiet(day):
    r = subprocess.run(
        f"{sys.executable} -m analysis info {day} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert r.stdout.count("\n") == 1 and r.stderr == "", r.stderr


def test_parity_plot_bins_heralds_by_phase():
    """Per-herald phases (n = 1 each) are binned; the bars are Clopper–Pearson intervals."""
    rng = np.random.default_rng(2)
    phase = rng.random(2000)
    even = rng.random(2000) < (1 + 0.9 * np.cos(4 * np.pi * phase)) / 2
    x, y, lo, hi, m = pl.bin_parity_scan(phase, even.astype(int), np.ones(2000, int))
    assert x.size == 24 and m.sum() == 2000 and np.all(m > 40)
    truth = 0.9 * np.cos(
        4 * np.pi * x
    )  # at the bin's mean phase; bins are narrow against the fringe
    assert np.count_nonzero((lo - 0.05 <= truth) & (truth <= hi + 0.05)) >= 22
    assert np.all((lo >= -1) & (hi <= 1) & (lo <= y) & (y <= hi))


def test_rate_is_against_lab_time(tmp_path):
    d = remote_datasets(np.random.default_rng(9), n=2000, mode="parity")
    rep = fidelity_summary(write_artiq(tmp_path / "r.h5", d), n_boot=100)
    edges, counts = rep.stats.rate_vs_time.edges, rep.stats.rate_vs_time.counts
    span_lab = (d["herald.t_lab_mu"].max() - d["herald.t_lab_mu"].min()) * 1e-9
    assert (
        edges[-1] == pytest.approx(span_lab) and counts.sum() == 2000
    )  # not the 1.25× longer wall time


def test_attempts_figure_draws_real_bin_widths_and_no_drop_at_overflow(tmp_path):
    d = remote_datasets(np.random.default_rng(9), n=3000, mode="parity")
    a = fidelity_summary(write_artiq(tmp_path / "r.h5", d), n_boot=100).stats.attempts_distribution
    fig = pl.attempts_figure(a.edges, a.observed, a.p)
    steps = [p for p in fig.axes[0].patches if hasattr(p, "get_data")]
    assert any(np.array_equal(s.get_data().edges, a.edges) for s in steps)
    geo = next(ln for ln in fig.axes[0].lines if ln.get_label().startswith("geometric"))
    assert np.all(geo.get_ydata() > 0) and geo.get_xdata()[-1] == a.edges[-1]
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_coherence_interval_is_clipped_to_the_physical_range():
    ph = np.arange(12) / 12
    ne = np.round(10 * (1 + np.cos(4 * np.pi * ph)) / 2).astype(int)
    r = fidelity_parity_scan(
        np.array([0, 20, 20, 0]),
        ph,
        ne,
        np.full(12, 10),
        psi=1,
        n_boot=400,
        rng=np.random.default_rng(0),
    )
    assert r.coherence.hi <= 1.0 and r.fidelity.hi <= 1.0


def test_several_reports_to_a_markdown_name_share_its_prefix(day, tmp_path, capsys):
    """``report FOLDER -o reports/day1.md`` with several reports: files ``reports/day1-….md``
    beside each other, not a folder named ``day1.md``."""
    out = tmp_path / "reports" / "day1.md"
    code, _, err = _cli(["report", day, "-o", out, "--bootstrap", "100", "--mode", "z"], capsys)
    assert code == 0, err
    assert not out.exists()
    names = {p.name for p in out.parent.iterdir()}
    assert "day1-000000003-SinglePhoton-report.md" in names, names
    assert "day1-000000004-HOM-report.html" in names, names


def test_folder_skips_a_run_that_did_not_herald(tmp_path, capsys):
    """A dead-link run (zero heralds, stopped by its herald bound) in a folder is skipped with a
    note; the other entanglement runs are analysed. Named explicitly, it is an error."""
    hour = tmp_path / "2026-01-01" / "12"
    good = remote_datasets(np.random.default_rng(3), n=1500, mode="parity")
    write_artiq(hour / "000000001-RemoteEntanglement.h5", good, rid=1)
    dead = remote_datasets(np.random.default_rng(4), n=0, mode="parity")
    write_artiq(hour / "000000002-RemoteEntanglement.h5", dead, rid=2)
    code, out, err = _cli(["fidelity", tmp_path, "--bootstrap", "100", "--json"], capsys)
    assert code == 0, err
    assert "rid 2: no heralds" in err
    assert json.loads(out)["heralds"] == 1500
    code, _, err = _cli(["fidelity", hour / "000000002-RemoteEntanglement.h5"], capsys)
    assert code == 2 and "zero heralds" in err


def _keep(d, keep):
    """``d`` with only the heralds where ``keep`` is true (totals as the run's)."""
    out = dict(d)
    for k, v in d.items():
        if k.startswith("herald."):
            out[k] = v[keep]
    out["totals.heralds"] = int(keep.sum())
    return out


def test_parity_run_stopped_before_its_scan_still_reports(tmp_path, capsys):
    """A parity run interrupted while it took its Z-population heralds (no X/Y analysis herald
    yet) is reported with what it has: the fidelity as the Z populations' upper bound, saying
    why, with P and the rate; a ψ without scan heralds is n/a while the other's estimate stands
    (it raised 'no parity-scan heralds' and the whole report failed)."""
    d = remote_datasets(np.random.default_rng(5), n=1500, mode="parity")
    z_only = _keep(d, d["herald.basis_a"] == 0)
    rep = fidelity_summary(write_artiq(tmp_path / "z.h5", z_only), n_boot=100)
    assert math.isnan(rep.fidelity.value) and 0.9 < rep.fidelity.hi <= 1.0
    assert "no parity-scan heralds" in rep.fidelity.method
    assert rep.fidelity_psi_plus is None and rep.fidelity_psi_minus is None
    assert rep.heralds == z_only["totals.heralds"]
    plus_scans = _keep(d, (d["herald.basis_a"] == 0) | (d["herald.psi"] == 1))
    rep = fidelity_summary(write_artiq(tmp_path / "plus.h5", plus_scans), n_boot=200)
    assert rep.fidelity_psi_minus is None and abs(rep.fidelity_psi_plus.value - 0.9) < 0.05
    assert rep.fidelity.value == pytest.approx(rep.fidelity_psi_plus.value, abs=1e-9)
    code, out, _ = _cli(
        ["report", tmp_path / "z.h5", "--no-progress", "-o", tmp_path / "r"], capsys
    )
    assert code == 0 and (tmp_path / "r.md").stat().st_size > 0


def test_a_run_stopped_before_its_totals_is_refused_alone_and_in_a_folder(tmp_path, capsys):
    """A run stopped at once by a second signal before it recorded its totals (attempts 0, its
    heralds kept) is refused by name with the reason, alone and among good runs: summed over a
    folder its heralds without attempts went into P unnoticed."""
    good = remote_datasets(np.random.default_rng(1), n=500, mode="z")
    broken = remote_datasets(np.random.default_rng(2), n=500, mode="z")
    broken["totals.attempts"] = 0
    broken["ionlink.sim.stopped_at_once"] = "SIGINT"
    write_artiq(tmp_path / "000000001-RemoteEntanglement.h5", good, rid=1)
    write_artiq(tmp_path / "000000002-RemoteEntanglement.h5", broken, rid=2)
    for argv in (
        ["fidelity", tmp_path / "000000002-RemoteEntanglement.h5"],
        ["fidelity", tmp_path],
    ):
        code, _, err = _cli([*argv, "--no-progress"], capsys)
        assert code == 2 and "000000002" in err and "stopped at once (a second SIGINT)" in err


def test_complete_parity_run_with_few_heralds_per_setting_is_analysed(tmp_path, capsys):
    """A complete parity run whose few heralds per setting left one ψ sign without the heralds
    its estimate needs (no Z-basis herald for P_odd; X/Y heralds at fewer than 3 phases for the
    fringe fit) is analysed like tomography and Z runs: that ψ is n/a with a note saying why, the
    other ψ and the combined figure (labelled as that ψ's alone) stand, exit 0, report written
    (it raised 'ψ−: no Z-basis heralds for P_odd' and exit 2)."""
    d = remote_datasets(np.random.default_rng(8), n=1500, mode="parity")
    psi, basis, phase = d["herald.psi"], d["herald.basis_a"], d["herald.phase"]
    no_z_minus = write_artiq(
        tmp_path / "000000001-RemoteEntanglement.h5",
        _keep(d, (psi == 1) | (basis != 0)),
        rid=1,
    )
    rep = fidelity_summary(no_z_minus, n_boot=200)
    assert rep.fidelity_psi_minus is None and abs(rep.fidelity_psi_plus.value - 0.9) < 0.06
    assert rep.fidelity.value == pytest.approx(rep.fidelity_psi_plus.value, abs=1e-9)
    assert "ψ+ heralds only (ψ− n/a)" in rep.fidelity.method
    assert "ψ−: n/a: no Z-basis heralds for P_odd" in rep.notes
    two_phases = (psi == -1) | (basis == 0) | np.isin(np.round(phase * 12), (0, 3))
    few_plus = write_artiq(
        tmp_path / "000000002-RemoteEntanglement.h5", _keep(d, two_phases), rid=2
    )
    rep = fidelity_summary(few_plus, n_boot=200)
    assert rep.fidelity_psi_plus is None and abs(rep.fidelity_psi_minus.value - 0.9) < 0.06
    assert any(n.startswith("ψ+: n/a: X/Y heralds at 2 distinct phase(s)") for n in rep.notes)
    for argv in (
        ["fidelity", no_z_minus],
        ["fidelity", few_plus, "--json"],
        ["fidelity", tmp_path, "--per-run"],
        ["report", no_z_minus, "-o", tmp_path / "r1"],
        ["report", tmp_path, "--per-run", "-o", tmp_path / "r2"],
    ):
        code, out, err = _cli([*argv, "--bootstrap", "100", "--no-progress"], capsys)
        assert code == 0 and "error" not in err, (argv, err)
    assert (tmp_path / "r1.md").stat().st_size > 0
    assert len(list((tmp_path / "r2").glob("*.md"))) == 2
    code, out, _ = _cli(["fidelity", no_z_minus, "--bootstrap", "100"], capsys)
    assert "ψ−:        n/a" in out and "note: ψ−: n/a: no Z-basis heralds for P_odd" in out
    assert cli.main(["fidelity", str(tmp_path / "none.h5")], prog="ionlink-sim demo") == 2
    assert capsys.readouterr().err.startswith("ionlink-sim demo: error: ")


def test_a_run_stopped_at_once_with_its_totals_is_named_so(tmp_path, capsys):
    """A run stopped at once whose totals hold (attempts ≥ heralds) is analysed; its note names
    the stop ("stopped at once by a second SIGINT"), not its placeholder stop reason
    "exception". The mark's name is the simulator's own."""
    from analysis.stop_reason import STOPPED_AT_ONCE
    from sim.run import STOPPED_AT_ONCE as WRITTEN

    assert STOPPED_AT_ONCE == WRITTEN
    d = remote_datasets(np.random.default_rng(3), n=500, mode="z")
    d.update({"totals.stop_reason": "exception", STOPPED_AT_ONCE: "SIGINT"})
    write_artiq(tmp_path / "000000001-RemoteEntanglement.h5", d, rid=1)
    code, out, err = _cli(
        ["fidelity", tmp_path / "000000001-RemoteEntanglement.h5", "--no-progress"], capsys
    )
    assert code == 0, err
    text = out + err
    assert "stopped early (stopped at once by a second SIGINT" in text, text
    assert "(exception)" not in text, text
