# SPDX-License-Identifier: LGPL-3.0-or-later
"""The fast reductions of the fidelity summary agree with the direct (slow) computations."""

import json

import numpy as np
from analysis_synth import remote_datasets, write_artiq

from analysis import cli, fidelity_summary
from analysis import click_times as ct
from analysis import herald_table as ht
from analysis import heralds as hs
from analysis import remote_runs as rr
from analysis import summary as sm


def test_quantiles_and_histogram_match_numpy(rng):
    q = np.linspace(0.3, 1.0, 8)
    for n, hi in ((1, 5), (7, 3), (1000, 300), (5000, 10**7)):
        t = rng.integers(0, hi, n)
        assert np.array_equal(ct.quantiles(t, q), np.quantile(t, q))
    for n in (2, 50, 10000):
        x = np.sort(1.7e9 + rng.random(n) * 100)
        x[n // 2] = x[n // 2 - 1]
        for b in (5, 60):
            c, e = ct.histogram(x, b)
            c0, e0 = np.histogram(x, bins=b)
            assert np.array_equal(c, c0) and np.array_equal(e, e0)
    x = rng.random(100)  # unsorted: falls back to np.histogram
    assert np.array_equal(ct.histogram(x, 7)[0], np.histogram(x, bins=7)[0])


def test_phase_codes_group_like_rounded_unique(rng):
    grid = rng.integers(0, 16, 500) / 16
    odd = np.concatenate([grid, [0.1, 1.0, -0.25, 0.75, 1e-12, 2.5]])
    for ph_arr in (grid, odd):
        acc = ht.HeraldTables()
        idx = np.concatenate([ht._phase_codes(acc, c) for c in np.array_split(ph_arr, 3)])
        q = np.round(np.mod(ph_arr, 1.0) * ht._PHASE_Q).astype(np.int64) % ht._PHASE_Q
        _, inv = np.unique(q, return_inverse=True)
        # same partition of the heralds, and each index carries its phase
        assert (
            len(set(zip(idx.tolist(), inv.tolist())))
            == len(set(inv.tolist()))
            == len(set(idx.tolist()))
        )
        assert np.allclose(acc.phases()[idx], np.mod(ph_arr, 1.0) % 1.0, atol=1e-9)


def test_window_tables_equal_masked_tables(rng):
    """Cumulative per-stop tables = tables of the heralds with t_last <= stop."""
    n, n_ph = 5000, 5
    small = rng.integers(0, ht._NSET, n)
    pidx = rng.integers(0, n_ph, n)
    codes = pidx * ht._NSET + small
    phases = np.sort(rng.random(n_ph))[::-1].copy()  # rows not in phase order
    t_last = np.where(rng.random(n) < 0.05, -1, rng.integers(0, 80, n))
    stops = np.unique(ct.quantiles(t_last[t_last >= 0], np.linspace(0.3, 1.0, 8)).astype(np.int64))
    bucket = np.searchsorted(stops, t_last, side="left")
    nc = n_ph * ht._NSET
    kept = np.cumsum(
        np.bincount(bucket * nc + codes, minlength=(stops.size + 1) * nc).reshape(-1, nc), axis=0
    )
    for s, stop in enumerate(stops):
        mask = t_last <= stop
        direct = np.bincount(codes[mask], minlength=nc)
        assert np.array_equal(kept[s], direct)
        tab = ht._tables(kept[s], phases)
        for psi, scan in tab.scans.items():
            assert np.all(np.diff(scan.phase_turns) > 0)
            assert scan.n.sum() == tab.counts[psi].sum() - tab.counts[psi][0, 0].sum()


def test_cli_fidelity_skips_timing_with_the_same_numbers(tmp_path, capsys):
    d = remote_datasets(np.random.default_rng(5), n=4000, mode="parity")
    p = write_artiq(tmp_path / "000000005-RemoteEntanglement.h5", d, rid=5)
    full = fidelity_summary(p, n_boot=300)
    assert cli.main(["fidelity", str(p), "--json", "--bootstrap", "300"]) == 0
    out = json.loads(capsys.readouterr().out)
    want = cli._json_ready(full.to_dict())
    for k in (
        "fidelity",
        "fidelity_psi_plus",
        "fidelity_psi_minus",
        "p_success",
        "heralds",
        "attempts",
        "rate_hz_lab",
        "rate_hz_wall",
        "attempts_per_herald",
        "components",
    ):
        assert out[k] == want[k], k
    fast = fidelity_summary(p, n_boot=300, timing=False)
    assert (
        fast.timing.arrival is None
        and fast.timing.window is None
        and fast.stats.rate_vs_time is None
        and fast.lifetime is None
    )


def test_reduce_fidelity_on_arrays_equals_the_file_summary(tmp_path):
    """The reduction is a pure function of arrays: tables filled from in-memory chunks give the
    report that fidelity_summary reads from the file (same seed, same numbers)."""
    d = remote_datasets(
        np.random.default_rng(11), n=3000, mode="parity", readout_errors=(0.01, 0.02)
    )
    archive = {
        "calib.link.excite_time_s": 4e-9,
        "calib.photon.gate_start_mu": 6,
        "calib.photon.gate_stop_mu": 60,
    }
    p = write_artiq(tmp_path / "000000011-RemoteEntanglement.h5", d, rid=11, archive=archive)
    from_file = fidelity_summary(p, n_boot=200, seed=3)

    keys = [
        "herald.basis_a",
        "herald.basis_b",
        "herald.bit_a",
        "herald.bit_b",
        "herald.pattern",
        "herald.psi",
        "herald.attempts",
        "herald.t_lab_mu",
        "herald.t_det_mu",
        "herald.phase",
    ]
    edges = hs.geometric_edges(d["totals.heralds"] / d["totals.attempts"])
    tables = ht.HeraldTables()
    for rows in np.array_split(np.arange(d["totals.heralds"]), 3):
        ht.reduce_chunk("memory", {k: d[k][rows] for k in keys}, "parity", tables, edges)
    totals = rr.RunTotals(
        path=str(p),
        mode="parity",
        attempts=d["totals.attempts"],
        heralds=d["totals.heralds"],
        lab_time_s=d["totals.lab_time_s"],
        wall_time_s=d["totals.wall_time_s"],
        duty_cycle=d["totals.duty_cycle"],
        played=rr.PlayedGate(excite_mu=0, gate_mu=(6, 60)),  # (4 ns: the gateware's 8 ns step)
    )
    data = rr.RemoteData(
        runs=[totals],
        schema_version=1,
        experiment="remote_entanglement",
        tables=tables,
        edges=edges,
        readout_errors=[(0.01, 0.02)],
    )
    pure = sm.reduce_fidelity(data, n_boot=200, rng=np.random.default_rng(3))
    assert _as_json(pure) == _as_json(from_file)
    assert pure.fidelity_spam_corrected is not None and pure.lifetime is not None
    assert pure.timing.window == from_file.timing.window
    assert pure.timing.played_gates == from_file.timing.played_gates == ((6, 60),)


def _as_json(rep):
    return cli._json_ready(rep.to_dict())


def test_window_from_chunks_equals_window_of_the_joined_arrays(rng, monkeypatch):
    """The gate trade-off from per-chunk histograms (no joined copy) gives the points of the
    joined arrays' path (quantiles by np.quantile, buckets by searchsorted), fidelities included."""
    n, n_ph = 6000, 6
    phases = rng.permutation(np.arange(n_ph) / n_ph)
    codes = (rng.integers(0, n_ph, n) * ht._NSET + rng.integers(0, ht._NSET, n)).astype(np.int32)
    t_last = np.where(rng.random(n) < 0.05, -1, 3 + rng.geometric(0.08, n))
    cuts = np.sort(rng.integers(0, n, 4))
    chunks_c, chunks_t = np.split(codes, cuts), np.split(t_last, cuts)

    def window(c, t):
        frame = ct.ExcitationFrame([0], 2, True, [])
        kw = dict(cl=0.95, rng=np.random.default_rng(4), lab=2.0, names=["x"], frame=frame)
        return sm._window(c, t, phases, ["parity"], **kw)

    from_chunks = window(chunks_c, chunks_t)
    monkeypatch.setattr(sm, "HIST_RANGE", 0)  # the joined path (and its quantiles too)
    monkeypatch.setattr(ct, "HIST_RANGE", 0)
    joined = window([codes.astype(np.intp)], [t_last])
    assert len(from_chunks) >= 4 and from_chunks == joined
    assert all(w.fidelity is not None for w in from_chunks[2:])


def test_p_odd_pools_the_z_heralds_of_both_signs(tmp_path, capsys):
    """A ``z``-mode run's measured figure: P_odd of every Z-basis herald, ψ+ and ψ− pooled
    (Clopper–Pearson), in the summary, the ``fidelity`` text and its JSON; its fidelity is only
    the bound F ≤ P_odd, whose upper end is P_odd's."""
    d = remote_datasets(np.random.default_rng(3), n=900, mode="z")
    path = write_artiq(tmp_path / "z.h5", d)
    rep = fidelity_summary([path], n_boot=50)
    odd = int(np.sum(d["herald.bit_a"] != d["herald.bit_b"]))
    p = rep.estimates.p_odd
    assert p is not None and p.value == odd / 900 and p.method == "Clopper-Pearson"
    assert p.lo < p.value < p.hi and rep.fidelity.hi == p.hi
    assert cli.main(["fidelity", str(path)]) == 0
    assert f"P_odd:       {p.value:.4f}" in capsys.readouterr().out
    assert cli.main(["fidelity", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["p_odd"]["value"] == p.value


def test_tomography_without_xx_or_yy_heralds_is_a_bound_not_an_error(tmp_path, capsys):
    """A tomography run stopped before its X/Y settings (found by a walk: SIGTERM after 3427 of
    27000 heralds) has Z heralds but no XX or YY: its summary is the bound F ≤ P_odd with the
    reason, exit 0, as a parity run cut short; before, ``fidelity`` refused the file (exit 2)."""
    d = remote_datasets(np.random.default_rng(4), n=1800, mode="tomography")
    keep = np.asarray(d["herald.basis_a"]) == 0  # (Z on A: no XX, no YY)
    n = len(keep)
    cut = {k: (np.asarray(v)[keep] if np.ndim(v) and len(v) == n else v) for k, v in d.items()}
    cut["totals.heralds"] = int(keep.sum())
    path = write_artiq(tmp_path / "tomo_cut.h5", cut)
    rep = fidelity_summary([path], n_boot=50)
    assert np.isnan(rep.fidelity.value) and rep.fidelity.hi == rep.estimates.p_odd.hi
    assert "no ψ sign has heralds in all of XX, YY and ZZ" in rep.fidelity.method
    assert any("no heralds in setting(s) XX, YY" in note for note in rep.notes)
    assert cli.main(["fidelity", str(path)]) == 0
    assert "P_odd:" in capsys.readouterr().out


def test_reports_name_the_simulated_lab_and_its_overrides(tmp_path, capsys):
    """A simulated run's summary names the lab it was taken in, with its ``--set`` overrides
    (from the simulator's provenance datasets), in the text, the JSON and the report; a real
    lab's file (no provenance) names none. Noted by a walk: only ``info`` showed them."""
    d = remote_datasets(np.random.default_rng(6), n=400, mode="z")
    sim = write_artiq(
        tmp_path / "sim.h5",
        {
            **d,
            "ionlink.sim.provenance.lab_name": "oxford2020",
            "ionlink.sim.provenance.lab_overrides": '{"bsa.mode_overlap": 0.85}',
        },
    )
    real = write_artiq(tmp_path / "real.h5", d)
    assert cli.main(["fidelity", str(sim)]) == 0
    assert "simulated lab: oxford2020 (--set bsa.mode_overlap=0.85)" in capsys.readouterr().out
    assert cli.main(["fidelity", str(sim), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["simulated_labs"] == [
        "oxford2020 (--set bsa.mode_overlap=0.85)"
    ]
    md = tmp_path / "r.md"
    assert cli.main(["report", str(sim), "-o", str(md), "--format", "md"]) == 0
    capsys.readouterr()
    assert "- simulated lab: `oxford2020 (--set bsa.mode_overlap=0.85)`" in md.read_text()
    assert cli.main(["fidelity", str(real)]) == 0
    assert "simulated lab" not in capsys.readouterr().out
