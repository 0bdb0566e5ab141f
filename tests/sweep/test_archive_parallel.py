# SPDX-License-Identifier: LGPL-3.0-or-later
"""``ionlink-analyze fidelity/report`` read a folder's files in parallel (a process pool, or a Dask
cluster): the same output as in one process, and a bad file is still one line."""

import json

import numpy as np

from analysis.cli import main as analyze
from analysis.io import SchemaError
from analysis.parallel import InlineExecutor, ordered_map
from tests.analysis.analysis_synth import remote_datasets, write_artiq


def _archive(tmp_path, n=6):
    rng = np.random.default_rng(3)
    for rid in range(1, n + 1):
        d = remote_datasets(rng, n=300, p_success=0.01 * rid)
        write_artiq(
            tmp_path / "results/2026-01-01/12/{:09d}-RemoteEntanglement.h5".format(rid), d, rid=rid
        )
    return tmp_path / "results"


def test_parallel_reads_give_the_serial_summaries(tmp_path, capsys):
    root = _archive(tmp_path)
    outs = []
    for jobs in ("1", "2"):
        assert (
            analyze(["fidelity", str(root), "--per-run", "--json", "--no-progress", "--jobs", jobs])
            == 0
        )
        outs.append(json.loads(capsys.readouterr().out))
    assert len(outs[0]) == 6 and outs[0] == outs[1]
    assert [round(o["p_success"]["value"], 2) for o in outs[1]] == [0.01 * k for k in range(1, 7)]


def test_a_bad_file_read_by_a_worker_is_one_line(tmp_path, capsys):
    root = _archive(tmp_path, 3)
    bad = root / "2026-01-01/12/000000009-RemoteEntanglement.h5"
    bad.write_bytes(b"not hdf5")
    assert analyze(["fidelity", str(root), "--json", "--no-progress", "--jobs", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "000000009-RemoteEntanglement.h5" in err


def test_ordered_map_keeps_order_and_raises_in_place():
    out = list(ordered_map(InlineExecutor(), lambda x: x * x, range(10), window=3))
    assert out == [x * x for x in range(10)]
    it = ordered_map(InlineExecutor(), lambda x: 1 // (x - 2), range(5), window=2)
    assert next(it) == -1
    try:
        list(it)
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("expected the task's exception")
    e = SchemaError("a.h5", "broken")
    import pickle

    assert str(pickle.loads(pickle.dumps(e))) == "a.h5: broken"
