# SPDX-License-Identifier: LGPL-3.0-or-later
"""Running a sweep (:class:`~sim.sweep.SweepDefinition`) on Dask distributed: its points not
finished yet, on a :class:`distributed.LocalCluster` (one single-threaded process per core by
default), in this process (``workers=0``) or on the cluster at a scheduler's address; each
finished point's record saved in its folder and the sweep file rewritten
(:mod:`sim.sweep_file`). A sweep stopped by a signal keeps its finished points: the local
cluster's workers are killed, a remote cluster's unfinished points cancelled."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from sim.experiment_file import InputError
from sim.sweep import SweepDefinition
from sim.sweep_point import PointRecord, run_point

__all__ = ["run_sweep"]

logger = logging.getLogger(__name__)


def _client(scheduler: str | None, workers: int | None) -> tuple[Any, Any]:
    """A Dask client of the cluster at ``scheduler``, or of a new local cluster (one process per
    core, one thread each); returns ``(client, cluster or None)``."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - a dependency of ionlink
        raise InputError(
            "ionlink-sim sweep needs dask[distributed] (pip install 'dask[distributed]')"
        ) from exc
    if scheduler:
        try:
            return Client(scheduler, timeout=10), None
        except (OSError, TimeoutError) as exc:
            raise InputError(
                "cannot reach the Dask scheduler at {}: {}".format(scheduler, exc)
            ) from exc
    n = workers or os.cpu_count() or 1
    if not logger.isEnabledFor(logging.INFO):  # Dask's own start-up chatter
        for name in ("distributed", "dask"):
            logging.getLogger(name).setLevel(logging.WARNING)
    cluster = LocalCluster(
        n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0", host="127.0.0.1"
    )
    return Client(cluster), cluster


def _kill_workers(cluster: Any) -> None:
    """Kill the worker processes of our local ``cluster`` (Ctrl-C, SIGTERM): a point runs in a
    worker's thread, which nothing interrupts, and a graceful close waits 4 s for it before
    killing (with a warning per worker). Their nannies are told first not to restart them."""
    import signal

    for nanny in list(cluster.workers.values()):
        pid = nanny.pid
        nanny.close_gracefully(reason="ionlink-sim sweep interrupted")
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))  # (Windows: none)


def _address(client: Any) -> str:
    """The address of ``client``'s scheduler."""
    return str(client.scheduler.address)


def _cancel_unfinished(client: Any, futures: list[Any], stop: BaseException) -> None:
    """Cancel this sweep's points not finished yet on the scheduler of ``client`` (a sweep
    stopped by a signal), before the client closes: the pending ones never start, and the
    running ones are released (their results dropped). The stop line (``stop``'s note) says how
    many."""
    unfinished = [f for f in futures if not f.done()]
    if not unfinished:
        return
    points = "{} unfinished point{}".format(len(unfinished), "" if len(unfinished) == 1 else "s")
    try:
        client.cancel(unfinished)
    except Exception as exc:  # the scheduler gone: closing the client is all there is to do
        stop.add_note("{} not cancelled: {}: {}".format(points, type(exc).__name__, exc))
        return
    stop.add_note("{} cancelled on the Dask scheduler at {}".format(points, _address(client)))


def point_keys(fingerprint: str, folder: Path, points: list[Any]) -> list[str]:
    """The Dask keys of ``points`` of the sweep ``fingerprint`` kept in ``folder``: a scheduler
    runs a key once for every client that asks for it, so two identical sweeps kept in two
    folders need their own keys (else the second is handed the first's records, whose files
    lie in the first's folder); the same sweep resumed in its folder keeps them."""
    where = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]
    return ["point-{}-{}-{}".format(fingerprint, where, p.index) for p in points]


def _load_done(folder: Path, fingerprint: str) -> dict[int, PointRecord]:
    """Records of finished points in ``folder`` (failed ones are run again)."""
    marker = folder / "sweep.json"
    if marker.exists():
        stored = json.loads(marker.read_text()).get("fingerprint")
        if stored != fingerprint:
            raise InputError(
                "{} holds another sweep (other parameters, seeds or lab): choose another -o "
                "or --points".format(folder)
            )
    done = {}
    for path in sorted(folder.glob("point_*/point.json")):
        try:
            record = PointRecord.from_dict(json.loads(path.read_text()))
        except (ValueError, TypeError, KeyError):
            continue  # an unreadable record: the point runs again
        if record.error is None:
            done[record.index] = record
    return done


def _save_record(folder: Path, record: PointRecord) -> None:
    target = folder / "point_{:05d}".format(record.index) / "point.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(record.to_dict(), indent=1))
    os.replace(tmp, target)


def run_sweep(
    definition: SweepDefinition,
    output: Path,
    folder: Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> dict[int, PointRecord]:
    """Run the points of ``definition`` not finished yet (in ``folder``) on Dask, writing the
    sweep file ``output`` after each; returns every point's record by index.

    A termination signal (a ``KeyboardInterrupt``, re-raised) kills the workers of the local
    cluster; on the cluster at ``scheduler`` it cancels this sweep's unfinished points (the
    exception's note says how many), whose running ones then stop on their workers
    (:mod:`sim.sweep_point`)."""
    from tqdm import tqdm

    from sim.sweep_file import write_sweep_file
    from sim.termination import signals_held

    folder.mkdir(parents=True, exist_ok=True)
    fingerprint = definition.fingerprint()
    records = _load_done(folder, fingerprint)
    (folder / "sweep.json").write_text(
        json.dumps({"fingerprint": fingerprint, "definition": definition.to_json()}, indent=1)
    )
    points = definition.points(folder.resolve())  # (a remote worker has another cwd)
    table = [
        {"index": p.index, "seed_index": p.seed_index, "seed": p.seed, "parameters": p.parameters}
        for p in points
    ]
    todo = [p for p in points if p.index not in records]
    start = time.time()

    def write() -> None:
        write_sweep_file(output, definition.to_json(), table, records, start_time=start)

    write()
    if records:
        logger.warning("resuming: %d of %d points already done", len(records), len(points))
    if not todo:
        return records
    bar = tqdm(total=len(points), initial=len(records), disable=not progress, unit="point")

    def finished(record: PointRecord) -> None:
        records[record.index] = record
        with signals_held():  # a signal now waits: the sweep file holds every record saved
            _save_record(folder, record)
            write()
        bar.update(1)
        if record.error is not None:
            bar.write("point {} failed: {}".format(record.index, record.error))

    if workers == 0 and not scheduler:  # in this process, one point after the other
        for spec in todo:
            finished(run_point(spec))
        bar.close()
        return records
    client, cluster = _client(scheduler, workers)
    futures: list[Any] = []
    try:
        from distributed import as_completed

        futures = client.map(run_point, todo, pure=False, key=point_keys(fingerprint, folder, todo))
        logger.info("%d points sent to the Dask scheduler at %s", len(futures), _address(client))
        for future in as_completed(futures):
            try:
                record = future.result()
            except Exception as exc:  # the worker died: recorded like a failed point
                spec = todo[futures.index(future)]
                record = PointRecord(spec.index, dict(spec.parameters), spec.seed_index, spec.seed)
                record.error = "{}: {}".format(type(exc).__name__, exc)
            finished(record)
        bar.close()
    except KeyboardInterrupt as exc:
        if cluster is not None:  # a point in a worker cannot be interrupted: our workers go
            _kill_workers(cluster)
        else:  # another's workers: the scheduler drops this sweep's points
            _cancel_unfinished(client, futures, exc)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return records
