# SPDX-License-Identifier: LGPL-3.0-or-later
"""Examining experiment files as ARTIQ's master does: each file imported and its public
experiment classes built, never run, in a process of its own.

:func:`describe_file` builds each class (:func:`sim.experiment_arguments.trace_build`) with inert
devices (using one in ``build`` fails: no kernel runs, nothing of the simulated lab is touched),
the master's datasets read-only and an argument manager that records (each value in ``build`` is
``None``). A file's description is ``{class_name: {"name", "arginfo", "argument_ui",
"scheduler_defaults"}}``: the name is the first line of the class's docstring without its final
full stop (else the class name), ``arginfo`` is ``{argument: (processor.describe(), group,
tooltip)}`` in the order ``build`` requested them.

:func:`examine_files` runs :func:`describe_file` in a child process (``python -m
sim.master.examine``), as ARTIQ's master runs its examinations in a worker process: the master's
own state (its running simulation, the ARTIQ stand-in's kernel hooks, ``sys.modules``) is out of
reach of the experiments' import and ``build``, a helper module edited since the last scan is read
anew, and a file whose import or ``build`` does not finish in :data:`EXAMINE_TIMEOUT_S` is skipped
(its process killed, the next files examined by a new one).
"""

from __future__ import annotations

import inspect
import os
import pathlib
import pickle
import queue
import subprocess
import sys
import threading
from typing import IO, Any, Iterator, Sequence

__all__ = ["EXAMINE_TIMEOUT_S", "ExamineError", "describe_file", "examine_files"]

#: How long one file's import and build may take (s, wall clock, ARTIQ's master's default).
EXAMINE_TIMEOUT_S = 20.0


class ExamineError(Exception):
    """An experiment file that cannot be examined (one line: the file and why)."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__("cannot examine '{}': {}".format(os.fspath(path), reason))
        self.reason = reason


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return type(exc).__name__ + (": " + text if text else "")


class _InertDevice:
    """What every device is while a file is examined: a placeholder ``build`` can store."""


class _ExamineDevices:
    """Device manager of an examination: the master's device database, inert devices."""

    def __init__(self, device_db: dict):
        self._device_db = device_db

    def get_device_db(self) -> dict:
        return self._device_db

    def get(self, name: str) -> _InertDevice:
        return _InertDevice()


class _ExamineDatasets:
    """Dataset manager of an examination: reads the master's datasets (``{key: (persist, value,
    metadata)}``), writes nothing (an experiment that writes datasets in ``build`` cannot be
    examined, as with ARTIQ)."""

    def __init__(self, datasets: dict):
        self._datasets = datasets

    def get(self, key: str, archive: bool = False) -> Any:
        return self._datasets[key][1]

    def get_metadata(self, key: str) -> Any:
        return self._datasets[key][2]

    def _writes(self, key: str, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(
            f"build() writes dataset {key!r}: an experiment is examined without writing "
            "datasets (write it in prepare() or run())"
        )

    set = append_to = _writes


def _display_name(class_name: str, cls: type) -> str:
    lines = (cls.__doc__ or "").strip().splitlines()
    if not lines:
        return class_name
    name = lines[0].strip()
    return name[:-1] if name.endswith(".") else name


def describe_file(path: str | os.PathLike, device_db: dict, datasets: dict) -> dict[str, dict]:
    """``{class_name: {"name", "arginfo", "argument_ui", "scheduler_defaults"}}`` of every
    public experiment class in ``path``, built in this process (``datasets``: ``{key: (persist,
    value, metadata)}``).

    :raises ExamineError: the file cannot be imported, a class cannot be built without devices,
        or its description is not PYON (it could not be sent to clients)."""
    from comms import pyon
    from sim.experiment_arguments import trace_build
    from sim.experiment_file import InputError, load_experiment_module

    try:
        module = load_experiment_module(path, prefix="ionlink_examine_")
    except InputError as exc:  # the import's own exception, else "not found"
        cause = exc.__cause__
        raise ExamineError(path, "not found" if cause is None else _one_line(cause)) from exc
    from artiq.language.environment import is_public_experiment  # importable once loaded

    devices, store = _ExamineDevices(device_db), _ExamineDatasets(datasets)
    description: dict[str, dict] = {}
    for class_name, cls in inspect.getmembers(module, is_public_experiment):
        try:
            trace = trace_build(cls, devices, store, defaults=False)
            arginfo = {
                key: (argument.processor.describe(), argument.group, argument.tooltip)
                for key, argument in trace.arguments.items()
            }
            entry = {
                "name": _display_name(class_name, cls),
                "arginfo": arginfo,
                "argument_ui": getattr(cls, "argument_ui", None),
                "scheduler_defaults": trace.scheduler_defaults,
            }
            pyon.encode(entry)
        except Exception as exc:
            raise ExamineError(path, "class {}: {}".format(class_name, _one_line(exc))) from exc
        description[class_name] = entry
    return description


def _examine_child(request: dict, out: IO[bytes]) -> None:
    """The child's loop: one pickled ``(path, description)`` or ``(path, reason)`` per file."""
    for path in request["files"]:
        try:
            result: Any = describe_file(path, request["device_db"], request["datasets"])
        except ExamineError as exc:
            result = exc.reason
        except BaseException as exc:  # SystemExit from an experiment's import, ...
            result = _one_line(exc)
        pickle.dump((path, result), out)
        out.flush()


def _start(files: Sequence[str], device_db: dict, datasets: dict) -> tuple[Any, queue.Queue]:
    """A child examining ``files``; its results arrive in the queue (``None``: it ended)."""
    root = str(pathlib.Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.master.examine"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    results: queue.Queue = queue.Queue()

    def read() -> None:
        try:
            while True:
                results.put(pickle.load(proc.stdout))  # type: ignore[arg-type]
        except (EOFError, pickle.UnpicklingError, OSError):
            results.put(None)

    threading.Thread(target=read, name="examine-reader", daemon=True).start()
    request = {"files": list(files), "device_db": device_db, "datasets": datasets}
    try:
        pickle.dump(request, proc.stdin)  # type: ignore[arg-type]
        proc.stdin.close()  # type: ignore[union-attr]
    except OSError:
        pass  # the child is gone: its reader says so
    return proc, results


def _stop(proc: Any) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def examine_files(
    files: Sequence[str | os.PathLike],
    device_db: dict,
    datasets: dict,
    timeout: float = EXAMINE_TIMEOUT_S,
) -> Iterator[tuple[str, dict[str, dict] | ExamineError]]:
    """``(path, description or ExamineError)`` of each file, in order, examined in child
    processes (``datasets``: ``{key: (persist, value, metadata)}``, a snapshot of the store)."""
    pending = [os.fspath(f) for f in files]
    while pending:
        proc, results = _start(pending, device_db, datasets)
        try:
            while pending:
                path = pending[0]
                try:
                    item = results.get(timeout=timeout)
                except queue.Empty:
                    reason = "its import or build did not finish in {:g} s".format(timeout)
                    item = (path, reason)
                    _stop(proc)
                if item is None:
                    _stop(proc)
                    item = (
                        path,
                        "the examining process ended (exit status {})".format(proc.poll()),
                    )
                pending.pop(0)
                _, result = item
                yield path, (ExamineError(path, result) if isinstance(result, str) else result)
                if proc.poll() is not None and pending:
                    break  # killed or ended: a new child takes the next files
        finally:
            _stop(proc)


def main() -> None:
    """The child process: a pickled request on stdin, results on the original stdout (what the
    experiments print goes to stderr)."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    _examine_child(pickle.load(sys.stdin.buffer), out)
    out.close()


if __name__ == "__main__":
    main()
