# SPDX-License-Identifier: LGPL-3.0-or-later
"""A long run's memory does not grow with its length: the engine retires the history nothing reads
(no VCD), without changing a single simulated number; fast-forwarded runs' suppressed dark-count
intervals are kept as one periodic entry."""

import numpy as np
import pytest

import sim.rtio.retire as retire
from sim.physics.detectors import ClickChannel, _hidden
from tests.experiments.simhelpers import run, simulation


def _count_retired(monkeypatch, threshold, driver_module):
    """Retire above ``threshold`` submissions; the list every retiring of ``driver_module``'s
    loop appends the number it retired to."""
    monkeypatch.setattr(retire, "RETIRE_AFTER_EVENTS", threshold)
    retired = []
    original = retire.retire_history

    def counting(engine, **kw):
        retired.append(original(engine, **kw))
        return retired[-1]

    monkeypatch.setattr(driver_module + ".retire_history", counting)
    return retired


def _heralds(tmp_path, threshold, monkeypatch, unlogged=True):
    """Gateware heralds of a parity scan, retiring above ``threshold`` submissions; ``unlogged``
    False: every repeated pass is logged (``sim.rtio.unlogged`` off)."""
    retired = _count_retired(monkeypatch, threshold, "sim.devices.entangler")
    if not unlogged:
        monkeypatch.setattr("sim.rtio.capture.unlogged_channels", lambda *a: [])
    with simulation(tmp_path, seed=11) as s:
        # a parity scan of one herald per setting: the analysis phases (DDS writes, written
        # once per setting) change at every herald
        datasets = run(
            s, "remote_entanglement", mode="parity", parity_points=59, heralds_per_setting=1
        )
        engine = s.session.engine
        raw = {st.name: len(st.raw) for st in engine.channels.values()}
        n_outputs = engine.summary()["n_outputs"]
    herald = {k: np.asarray(v) for k, v in datasets.items() if k.startswith("herald.")}
    herald.pop("herald.t_wall")
    return herald, n_outputs, sum(retired), raw


def test_retiring_changes_no_number_and_bounds_the_logs(tmp_path, monkeypatch):
    kept, n_kept, retired_none, raw_kept = _heralds(
        tmp_path / "a", 10**12, monkeypatch, unlogged=False
    )
    monkeypatch.undo()
    trimmed, n_trimmed, retired, raw_trimmed = _heralds(tmp_path / "b", 2000, monkeypatch)
    # what the run does not hold was retired or, repeated where nothing reads it, never logged
    assert retired_none == 0 and retired > 0
    assert n_trimmed - sum(raw_trimmed.values()) > 0.8 * n_kept
    assert sum(raw_trimmed.values()) < 0.2 * sum(raw_kept.values())
    # every channel's log holds the last few heralds only, also those whose levels nothing reads
    # (a PMT's output side, the DDS IO_UPDATE: the DDS model takes it from a hook)
    busy = {name: n for name, n in raw_kept.items() if n >= 100}
    assert {"ttl_urukul0_io_update", "ttl20"} <= busy.keys()
    for name, n in busy.items():
        assert raw_trimmed[name] < 0.2 * n, (name, raw_trimmed[name], n)
    assert n_trimmed == n_kept  # retired submissions still count
    assert kept.keys() == trimmed.keys() and len(kept["herald.attempts"]) == 60
    for key in kept:
        assert np.array_equal(kept[key], trimmed[key]), key


def _cpu_heralds(tmp_path, threshold, monkeypatch, unlogged=True):
    """As :func:`_heralds` for CPU heralding (``remote_entanglement_cpu``, its attempts
    fast-forwarded by ``sim.devices.bsa``); ``unlogged`` False: every repeated pass is logged
    (``sim.rtio.unlogged`` off)."""
    retired = _count_retired(monkeypatch, threshold, "sim.devices.bsa")
    if not unlogged:
        monkeypatch.setattr("sim.rtio.capture.unlogged_channels", lambda *a: set())
        monkeypatch.setattr("sim.rtio.repeat_at.unlogged_channels", lambda *a: set())
    with simulation(tmp_path, seed=3) as s:
        datasets = run(s, "remote_entanglement_cpu", mode="z", heralds_per_setting=6)
        engine = s.session.engine
        raw = sum(len(st.raw) for st in engine.channels.values())
        n_outputs = engine.summary()["n_outputs"]
    herald = {k: np.asarray(v) for k, v in datasets.items() if k.startswith(("herald.", "totals."))}
    for key in ("herald.t_wall", "totals.wall_time_s", "totals.loop_time_s"):
        herald.pop(key, None)
    return herald, n_outputs, sum(retired), raw


def test_cpu_heralding_retires_too_and_changes_no_number(tmp_path, monkeypatch):
    """The CPU attempt loop's repeated passes would log every submission as the entangler's do
    (≈ 2 kB an attempt at oxford2020, issue: a long run killed for memory); they are not logged
    (``sim.rtio.unlogged``), and what is logged is retired alike. Against a run that logs and
    keeps everything: the same numbers."""
    kept, n_kept, retired_none, raw_kept = _cpu_heralds(
        tmp_path / "a", 10**12, monkeypatch, unlogged=False
    )
    assert retired_none == 0 and raw_kept > 0.99 * n_kept  # (less the startup's outputs)
    trimmed, n_trimmed, retired, raw_trimmed = _cpu_heralds(tmp_path / "b", 2000, monkeypatch)
    assert retired > 0 and n_trimmed - raw_trimmed > 0.8 * n_kept
    assert raw_trimmed < 0.2 * raw_kept
    assert n_trimmed == n_kept
    assert kept.keys() == trimmed.keys() and len(kept["herald.attempts"]) == 6
    for key in kept:
        assert np.array_equal(kept[key], trimmed[key]), key


@pytest.mark.parametrize("seed", range(5))
def test_periodic_suppression_hides_exactly_the_windows(seed):
    rng = np.random.default_rng(seed)
    blocks = []
    t = 0
    for _ in range(20):
        t += int(rng.integers(0, 500))
        period, count = int(rng.integers(1, 50)), int(rng.integers(1, 6))
        length = int(rng.integers(0, period + 10))
        blocks.append((t, period, count, length))
        t += period * count
    times = rng.integers(0, t + 100, 4000)
    windows = [(a + j * p, a + j * p + n) for a, p, k, n in blocks for j in range(k)]
    brute = np.array([any(lo <= x < hi for lo, hi in windows) for x in times.tolist()])
    assert np.array_equal(_hidden(times, np.array(blocks, dtype=np.int64)), brute)


def test_click_record_keeps_periodic_blocks():
    ch = ClickChannel(np.random.default_rng(1), dark_rate_hz=1e5)
    ch.suppress(100, 200)
    ch.suppress_periodic(1000, 300, 1000, 200)
    rec = ch.save_state()
    assert rec.suppress == [(100, 200), (1000, 300, 1000, 200)]
    other = ClickChannel(np.random.default_rng(1), dark_rate_hz=1e5)
    other.load_state(rec)
    assert ch.drain(400_000) == other.drain(400_000)


def _loop_windows(rng):
    """Suppressed windows as an entangler loop makes them: runs of one length one period apart,
    detailed (one interval each) or fast-forwarded (a periodic block), broken by heralds."""
    calls, t = [], 0
    for _ in range(60):
        period, length = 300, 200
        if rng.random() < 0.3:
            period, length = int(rng.integers(1, 400)), int(rng.integers(0, 300))
        for _ in range(int(rng.integers(1, 6))):
            if rng.random() < 0.5:
                calls.append((t, t + length))
                t += period
            else:
                count = int(rng.integers(1, 40))
                step = period + int(rng.random() < 0.2)  # a block of another period
                calls.append((t, step, count, length))
                t += count * step
        t += int(rng.integers(0, 700))  # a herald, or a change of period
    return calls, t


@pytest.mark.parametrize("seed", range(4))
def test_continued_windows_merge_into_one_entry_with_the_same_clicks(seed):
    calls, t_end = _loop_windows(np.random.default_rng(seed))
    merged = ClickChannel(np.random.default_rng(seed), dark_rate_hz=2e7)
    plain = ClickChannel(np.random.default_rng(seed), dark_rate_hz=2e7)
    for c in calls:
        (merged.suppress if len(c) == 2 else merged.suppress_periodic)(*c)
        a, b = c if len(c) == 2 else (c[0], None)
        plain._suppress.extend((a, max(b - a, 1), 1, b - a) if len(c) == 2 else c)
    assert len(merged._suppress) < 0.5 * len(plain._suppress)  # most runs continue the last
    restored = ClickChannel(np.random.default_rng(seed), dark_rate_hz=2e7)
    restored.load_state(merged.save_state())
    edges = [ch.drain(t_end // 2) + ch.drain(t_end + 100) for ch in (merged, plain, restored)]
    assert len(edges[1]) > 100 and edges[0] == edges[1] == edges[2]
    assert len(merged._suppress) <= 4  # what ended before the draws hides nothing any more


def _recomputed_fidelity(mode, settings, setting, pattern, counts_a, counts_b, thresholds):
    """The running fidelity estimate recomputed over every herald (what the live update did
    before it kept running sums)."""
    from drivers.analysis_settings import BASIS_Z
    from drivers.bsa import psi_of_pattern

    def mean_var(x):
        return (np.mean(x), np.var(x) / len(x)) if len(x) else (np.nan, np.nan)

    psi = np.array([psi_of_pattern(p) for p in pattern])
    ba, bb = np.array(settings["basis_a"])[setting], np.array(settings["basis_b"])[setting]
    parity = np.where((counts_a > thresholds[0]) == (counts_b > thresholds[1]), 1.0, -1.0)
    p_odd, var_p = mean_var((parity[(ba == BASIS_Z) & (bb == BASIS_Z)] < 0).astype(float))
    xy = (ba == bb) & (ba != BASIS_Z)
    if mode == "parity":
        phase = np.array(settings["phase"])[setting]
        c, var_c = mean_var((psi * parity * np.cos(4 * np.pi * phase))[xy] * 2)
    else:
        c, var_c = mean_var(psi[xy] * parity[xy])
        c = abs(c)
    if mode == "z":
        return p_odd, np.sqrt(var_p)
    return 0.5 * (p_odd + c), 0.5 * np.sqrt(var_p + var_c)


@pytest.mark.parametrize("mode", ["z", "parity", "tomography"])
def test_live_figures_from_running_sums_equal_the_recomputation(mode):
    """The compact herald records give back every value, and the live fidelity from their running
    sums equals the one recomputed over all heralds (to 1e-12), at every update."""
    from types import SimpleNamespace

    from drivers.analysis_settings import analysis_settings
    from drivers.herald_records import HeraldRecords
    from drivers.link import LinkExperiment

    rng = np.random.default_rng(3)
    settings = analysis_settings(mode, 4)
    n_settings, thresholds, n = len(settings["basis_a"]), (2, 3), 400
    records = HeraldRecords(thresholds, n_settings)
    exp = SimpleNamespace(settings=settings, records=records, mode=mode)
    cols = {
        "setting": rng.integers(0, n_settings, n),
        "pattern": rng.choice([0b0011, 0b1100, 0b1001, 0b0110, 0b0101], n),
        "counts_a": rng.integers(0, 8, n),
        "counts_b": rng.integers(0, 8, n),
        "attempts": rng.integers(1, 10**6, n),
        "t_lab_mu": np.cumsum(rng.integers(1, 10**7, n)),
    }
    t_det = rng.integers(-1, 2000, (n, 4))
    for i in range(n):
        c = {k: v[i] for k, v in cols.items()}
        records.append(
            c["setting"], c["pattern"], t_det[i], c["attempts"], c["t_lab_mu"], 0.5 * i,
            c["counts_a"], c["counts_b"],
        )  # fmt: skip
        if i % 37 == 5:
            want = _recomputed_fidelity(
                mode, settings, *(cols[k][: i + 1] for k in ("setting", "pattern")),
                cols["counts_a"][: i + 1], cols["counts_b"][: i + 1], thresholds,
            )  # fmt: skip
            got = LinkExperiment.fidelity_estimate(exp)
            assert np.allclose(got, want, rtol=1e-12, atol=1e-15, equal_nan=True), (i, got, want)
    for key, values in cols.items():
        assert records.column(key).dtype == np.int64 and np.array_equal(records.column(key), values)
    assert np.array_equal(records.column("t_det_mu"), t_det)
    assert records.t_det_rows(n - 2) == t_det[-2:].tolist()
    assert np.array_equal(records.column("t_wall"), 0.5 * np.arange(n))
    assert records.attempts_after_first == cols["attempts"][1:].sum()
    assert records.nbytes() == 11 * 8 * n
    # the columns are views of the records' memory (no copy at the end of a long run), read-only,
    # and the records take no more heralds while one is alive
    view = records.column("attempts")
    assert not view.flags.owndata and not view.flags.writeable
    with pytest.raises(RuntimeError, match="final"):
        records.append(0, 0b0011, [-1] * 4, 1, 1, 0.0, 0, 0)
    assert len(records) == n


@pytest.mark.parametrize("seed", range(4))
def test_spilled_windows_give_the_same_clicks_and_state(seed, monkeypatch):
    """Intervals moved to the file (after every 3rd entry here) hide the same dark counts, draw
    the same random numbers and leave the same state as intervals held in memory."""
    import sim.physics.detectors as detectors

    calls, t_end = _loop_windows(np.random.default_rng(seed))
    spilling = ClickChannel(np.random.default_rng(seed), 2e7, 5e-9, 2e-9, 0.3)
    held = ClickChannel(np.random.default_rng(seed), 2e7, 5e-9, 2e-9, 0.3)
    cuts = sorted(np.random.default_rng(seed + 10).integers(0, len(calls), 3).tolist())
    edges = {"spilling": [], "held": []}
    for name, ch, spill in (("spilling", spilling, 12), ("held", held, 10**9)):
        monkeypatch.setattr(detectors, "SPILL_VALUES", spill)
        for i, c in enumerate(calls):
            (ch.suppress if len(c) == 2 else ch.suppress_periodic)(*c)
            if i in cuts:  # a draw in the middle of the loop, up to the start of this window
                edges[name] += ch.drain(c[0])
            if name == "spilling" and i == len(calls) // 2:
                assert ch._spilled is not None and len(ch._suppress) <= 12
        assert ch.save_state().suppress  # windows not drawn over yet are kept (file or memory)
        rec = ch.save_state()
        edges[name] += ch.drain(t_end + 100)
        edges[name].append((rec, ch.save_state(), ch.rng.random()))
    assert len(edges["held"]) > 100 and edges["spilling"] == edges["held"]
    assert spilling._spilled is None  # the draw to the end read the file back and dropped it


def test_live_arrival_histogram_is_bounded_by_the_cycle_not_the_run():
    """The dashboard's arrival dataset is a histogram over the click bins (1 ns), so it does not
    grow with the number of heralds: after many updates it is the histogram of every click sent,
    set anew (not appended), as long as the latest click's bin + 1."""
    from drivers.live import ARRIVAL, ARRIVAL_BIN_NS, LiveFigures, LivePublisher

    class Exp:
        def __init__(self):
            self.data, self.sets = {}, []

        def set_dataset(self, key, value, broadcast=False, archive=True):
            assert broadcast and not archive
            self.data[key] = value
            self.sets.append(key)

        def append_to_dataset(self, key, value):
            self.data[key].append(value)

    rng = np.random.default_rng(3)
    exp = Exp()
    pub = LivePublisher(exp)
    pub.start((100, 160), 1e-9)
    clicks = []
    for u in range(200):
        rows = np.where(rng.random((50, 4)) < 0.4, rng.integers(100, 160, (50, 4)), -1)
        clicks += [t for t in rows.ravel() if t >= 0]
        fig = LiveFigures(float(u), *([0.0] * 8))
        pub.update(fig, 50 * (u + 1), rows.tolist(), 1e-9)
    hist = exp.data[ARRIVAL]
    expected = np.bincount(np.floor(np.asarray(clicks) / ARRIVAL_BIN_NS).astype(int))
    assert hist == expected.tolist() and len(hist) <= 160
    assert exp.sets.count(ARRIVAL) == 201  # start, then every update that added clicks
