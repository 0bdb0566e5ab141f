# SPDX-License-Identifier: LGPL-3.0-or-later
"""Mapped reads of contiguous datasets (``analysis.mapped``) against HDF5's own reads."""

from __future__ import annotations

import threading

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import mapped
from analysis.io import load
from analysis.photons import IncrementalHistogram


def _write(path, data, **kw):
    with h5py.File(path, "w", **{k: v for k, v in kw.items() if k == "userblock_size"}) as f:
        f["artiq_version"] = "9.0"
        f["rid"] = 1
        f["start_time"] = 0.0
        f["run_time"] = 0.0
        f["expid"] = '{"class_name": "X", "arguments": {}}'
        f.create_group("archive")
        g = f.create_group("datasets")
        g["small"] = np.arange(5)  # something before, so the block is not at a round offset
        opts = {k: v for k, v in kw.items() if k in ("chunks", "compression")}
        g.create_dataset("photons.t_mu", data=data, **opts)
    return path


def _extent(path):
    with h5py.File(path, "r") as f:
        return mapped.contiguous_extent(f["datasets/photons.t_mu"])


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 5000),
    window=st.integers(1, 3000),
    dtype=st.sampled_from(["<i8", "<i4", "<f8", "<u2"]),
)
def test_windows_cover_the_dataset_in_order(tmp_path_factory, n, window, dtype):
    data = (np.random.default_rng(n).integers(-1000, 10**6, n)).astype(dtype)
    path = _write(tmp_path_factory.mktemp("m") / "a.h5", data)
    extent = _extent(path)
    assert extent is not None and extent.shape == (n,) and extent.dtype == np.dtype(dtype)
    parts = list(mapped.mapped_windows(path, extent, window_bytes=window))
    assert all(p.size * p.itemsize <= max(window, p.itemsize) for p in parts)
    assert np.array_equal(np.concatenate(parts), data)


@pytest.mark.parametrize(
    "kw",
    [{"chunks": (1000,)}, {"compression": "gzip"}, {"userblock_size": 512}],
    ids=["chunked", "gzip", "userblock"],
)
def test_other_storage_is_read_through_hdf5(tmp_path, kw):
    data = np.arange(10_000, dtype=np.int64) % 97
    path = _write(tmp_path / "a.h5", data, **kw)
    assert _extent(path) is None
    got = np.concatenate([s.copy() for s in load(path).iter_array("photons.t_mu", rows=333)])
    assert np.array_equal(got, data)


def test_big_endian_is_read_through_hdf5(tmp_path):
    data = np.arange(1000, dtype=">i8")
    path = _write(tmp_path / "a.h5", data)
    assert _extent(path) is None
    got = np.concatenate([s.copy() for s in load(path).iter_array("photons.t_mu", rows=100)])
    assert np.array_equal(got, data)


def test_a_truncated_file_has_no_extent(tmp_path):
    path = _write(tmp_path / "a.h5", np.arange(100_000, dtype=np.int64))
    extent = _extent(path)
    assert extent is not None
    with h5py.File(path, "r") as f:
        ds = f["datasets/photons.t_mu"]
        with open(path, "r+b") as fh:
            fh.truncate(extent.offset + extent.row_bytes * 50_000)
        assert mapped.contiguous_extent(ds) is None


def test_slices_written_by_the_caller_leave_the_file_as_it_was(tmp_path):
    data = np.arange(300_000, dtype=np.int64)
    path = _write(tmp_path / "a.h5", data)
    before = path.read_bytes()
    r = load(path)
    seen = 0
    for s in r.iter_array("photons.t_mu", rows=1 << 20):
        assert s.size <= 1 << 17  # mapped: slices small enough to stay in the cache
        assert np.array_equal(s, data[seen : seen + s.size])
        seen += s.size
        s -= 7  # what IncrementalHistogram.add(scratch=True) may do
    assert seen == data.size
    assert path.read_bytes() == before
    assert np.array_equal(r.read("photons.t_mu"), data)


def test_tag_histogram_is_the_same_mapped_or_read(tmp_path):
    rng = np.random.default_rng(5)
    tags = 10 + rng.exponential(7.9, 400_000).astype(np.int64)
    tags[::9973] = -3  # negative tags take the histogram's general path
    hists = []
    for name, kw in (("contiguous", {}), ("chunked", {"chunks": (4096,)})):
        path = _write(tmp_path / f"{name}.h5", tags, **kw)
        assert (_extent(path) is None) == (name == "chunked")
        h = IncrementalHistogram()
        for s in load(path).iter_array("photons.t_mu", rows=1 << 20):
            h.add(s, scratch=True)
        hists.append(h)
    a, b = hists
    assert (a.offset, a.total) == (b.offset, b.total) == (-3, tags.size)
    assert np.array_equal(a.counts, b.counts)
    assert np.array_equal(a.counts, np.bincount(tags + 3))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 3000), width=st.integers(1, 5), rows=st.integers(1, 700))
def test_row_chunks_of_2d_datasets_are_those_hdf5_reads(tmp_path_factory, n, width, rows):
    rng = np.random.default_rng(n * 7 + width)
    t_det = rng.integers(-1, 10**5, (n, width)).astype(np.int64)
    bits = rng.integers(0, 2, n).astype(np.int8)
    path = tmp_path_factory.mktemp("c") / "a.h5"
    _write(path, np.arange(n, dtype=np.int64))
    with h5py.File(path, "a") as f:
        f["datasets/herald.t_det_mu"] = t_det
        f["datasets/herald.bit_a"] = bits
        assert mapped.contiguous_extent(f["datasets/herald.t_det_mu"]).shape == (n, width)
    keys = ["herald.t_det_mu", "herald.bit_a", "photons.t_mu"]
    chunks = list(load(path).iter_chunks(keys, rows=rows))
    assert all(c["herald.t_det_mu"].shape[1:] == (width,) for c in chunks)
    assert np.array_equal(np.concatenate([c["herald.t_det_mu"] for c in chunks]), t_det)
    assert np.array_equal(np.concatenate([c["herald.bit_a"] for c in chunks]), bits)
    assert np.array_equal(np.concatenate([c["photons.t_mu"] for c in chunks]), np.arange(n))


def _trimmed(h: IncrementalHistogram) -> tuple[int, list[int]]:
    """(lowest tag counted, counts from it to the highest): the histogram without empty ends."""
    nz = np.flatnonzero(h.counts)
    if not nz.size:
        return 0, []
    return int(h.offset or 0) + int(nz[0]), h.counts[nz[0] : nz[-1] + 1].tolist()


@settings(max_examples=60, deadline=None)
@given(
    tags=st.lists(st.integers(-50, 200), max_size=300),
    cuts=st.lists(st.integers(0, 300), max_size=4),
    bounded=st.booleans(),
    chunk=st.integers(1, 50),
)
def test_merged_histograms_count_what_one_histogram_counts(tags, cuts, bounded, chunk):
    _check_merge(tags, cuts, bounded, chunk)


def test_merged_histograms_with_tags_beyond_the_unshifted_range():
    """Tags at 2**24 and beyond are counted from the lowest (not from 0): a share that starts
    with them merges with one that starts low."""
    big = 1 << 24
    _check_merge([big + 5, big + 9, 3, 7, big + 5], [2], False, 2)
    _check_merge([3, 7, big + 5, big + 9, -4], [2, 4], False, 1)


def _check_merge(tags: list[int], cuts: list[int], bounded: bool, chunk: int) -> None:
    """Parts of the tags (split at ``cuts``, each added in chunks) counted apart and merged: the
    same counts, totals, underflow and overflow as all of them added to one histogram."""
    t = np.array(tags, np.int64)
    lo, hi = (-10, 150) if bounded else (None, None)
    one = IncrementalHistogram(lo, hi)
    for i in range(0, t.size, chunk):
        one.add(t[i : i + chunk].copy(), scratch=True)
    edges = sorted({0, t.size, *(c for c in cuts if c <= t.size)})
    parts = []
    for a, b in zip(edges, edges[1:]):
        h = IncrementalHistogram(lo, hi)
        for i in range(a, b, chunk):
            h.add(t[i : min(b, i + chunk)].copy(), scratch=True)
        parts.append(h)
    merged = parts[0] if parts else IncrementalHistogram(lo, hi)
    for h in parts[1:]:
        merged.merge(h)
    assert (merged.total, merged.underflow, merged.overflow) == (
        one.total,
        one.underflow,
        one.overflow,
    )
    assert _trimmed(merged) == _trimmed(one)


def test_a_runs_tags_counted_by_threads_equal_one_count(tmp_path, monkeypatch):
    """A run's tags split among threads (a small share here, so that several count) give the
    same arrival histogram as one thread, through the summary's reading of the run."""
    from analysis_synth import remote_datasets, write_artiq

    from analysis import remote_runs

    d = remote_datasets(np.random.default_rng(9), n=500, mode="z")
    rng = np.random.default_rng(1)
    d["photons.t_mu"] = 10 + rng.exponential(7.9, 200_001).astype(np.int64)
    d["photons.t_mu"][::1001] = -2
    path = write_artiq(tmp_path / "000000001-RemoteEntanglement.h5", d)
    hists = {}
    for share in (1 << 40, 40_000):
        monkeypatch.setattr(remote_runs, "TAG_SHARE_ROWS", share)
        hists[share] = remote_runs.read_remote_runs([path]).tables.tag_hist
    one, threads = hists.values()
    assert one.total == threads.total == 200_001
    assert _trimmed(one) == _trimmed(threads)


def test_a_failure_in_a_tag_thread_reaches_the_reader(tmp_path, monkeypatch):
    """An error while a share is counted in another thread is raised by the reading."""
    from analysis_synth import remote_datasets, write_artiq

    from analysis import remote_runs

    d = remote_datasets(np.random.default_rng(9), n=200, mode="z")
    d["photons.t_mu"] = np.arange(100_000, dtype=np.int64) % 50
    path = write_artiq(tmp_path / "000000001-RemoteEntanglement.h5", d)
    monkeypatch.setattr(remote_runs, "TAG_SHARE_ROWS", 30_000)
    add = IncrementalHistogram.add

    def failing(self, tags, **kw):
        if threading.current_thread() is not threading.main_thread():
            raise OSError("disk went away")
        return add(self, tags, **kw)

    monkeypatch.setattr(IncrementalHistogram, "add", failing)
    with pytest.raises(OSError, match="disk went away"):
        remote_runs.read_remote_runs([path])
