# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulated master's schedule: submitted experiments run one after the other, in order of
priority then submission, in one worker thread, each as :meth:`Simulation.run` (so the simulated
hardware carries over between them, as in a lab day).

The ``schedule`` RPC target offers what ARTIQ's does for scripts: ``submit(pipeline_name,
expid, priority=0, due_date=None, flush=False)`` returning the run id, ``delete(rid)``,
``request_termination(rid)``, ``get_status()``; plus ``get_outcome(rid)`` (ionlink's: the exit
code, results file and error of a finished run). ``due_date`` and ``flush`` are recorded but not
honoured (runs start as soon as the worker is free); there is one pipeline.

A run that never ran has an outcome too, exit code :data:`EXIT_NOT_RUN`: ``deleted`` (``delete``
or ``request_termination`` while it was pending) or ``not run`` (the master stopped first).
:meth:`Schedule.interrupt` stops the running experiment at once (a master's second signal).

The ``schedule`` notifier holds ``{rid: {"pipeline", "expid", "priority", "due_date", "flush",
"status"}}`` with status ``pending``, ``running`` or ``deleting``; a run leaves it when done.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from sim.termination import SignalInterrupt, ThreadInterrupt, exit_status, interrupt_thread

__all__ = ["Schedule", "RunOutcome", "Interruption", "resolve_experiment_file", "EXIT_NOT_RUN"]

logger = logging.getLogger(__name__)

#: Exit code of a run that never ran: deleted while pending, or the master stopped before it.
EXIT_NOT_RUN = 4


@dataclass
class RunOutcome:
    """What a finished run left (``get_outcome``)."""

    rid: int
    exit_code: int
    status: str  # ok, error, bad input, terminated; deleted, not run (never ran)
    results_file: str | None
    error: str
    #: a second signal to the master stopped it inside ``run()`` (its records may be incomplete)
    stopped_at_once: bool = False

    def as_dict(self) -> dict:
        """PYON-encodable form."""
        return {
            "rid": self.rid,
            "exit_code": self.exit_code,
            "status": self.status,
            "results_file": self.results_file,
            "error": self.error,
            "stopped_at_once": self.stopped_at_once,
        }


@dataclass(frozen=True)
class Interruption:
    """What :meth:`Schedule.interrupt` did to the running experiment ``rid``."""

    rid: int
    #: :attr:`~sim.termination.ThreadInterrupt.RAISED`: stopped at once;
    #: :attr:`~sim.termination.ThreadInterrupt.SAVING`: it had ended and was saving its results
    how: ThreadInterrupt


@dataclass(order=True)
class _Entry:
    sort_key: tuple[int, int]
    rid: int = field(compare=False)
    info: dict = field(compare=False)


def resolve_experiment_file(expid: dict, repository: pathlib.Path) -> pathlib.Path:
    """The experiment file an expid names: relative to the repository when the expid comes from
    it (ARTIQ marks those with ``repo_rev``) or when no such file exists from the working
    directory; absolute paths as they are.

    :raises FileNotFoundError: no such file.
    """
    name = expid.get("file")
    if not isinstance(name, str) or not name:
        raise ValueError("expid has no 'file'")
    path = pathlib.Path(name)
    candidates = [path] if path.is_absolute() else []
    if not path.is_absolute():
        candidates = [repository / path, path] if "repo_rev" in expid else [path, repository / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "experiment file '{}' not found (repository: {})".format(name, os.fspath(repository))
    )


class Schedule:
    """The queue, the worker thread and the ``schedule`` RPC methods.

    :param run: ``run(rid, file, expid) -> RunOutcome``, called in the worker thread.
    :param allocate_rid: returns the next run id (called under the schedule's lock).
    :param repository: where relative experiment files are looked up.
    :param post: ``post(fn, *args)`` runs ``fn(*args)`` in the event loop's thread (thread-safe);
        used to update the notifier.
    :param request_termination: asks the running experiment with this rid to stop.
    """

    def __init__(
        self,
        run: Callable[[int, pathlib.Path, dict], RunOutcome],
        allocate_rid: Callable[[], int],
        repository: pathlib.Path,
        post: Callable[..., None],
        request_termination: Callable[[int], None],
    ):
        self._run = run
        self._allocate_rid = allocate_rid
        self.repository = repository
        self._post = post
        self._terminate_running = request_termination
        self._cond = threading.Condition()
        self._queue: list[_Entry] = []
        self._order = 0
        self._running: int | None = None
        self._outcomes: dict[int, RunOutcome] = {}
        self._watched: set[int] = set()  # runs a client waits for (get_outcome said None)
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._signal_in_save: int | None = None  # a signal that came while the run saved
        #: the notifier's content is set by the owner (an empty dict's Notifier)
        self.notifier: Any = None

    # -- worker ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread."""
        self._thread = threading.Thread(target=self._work, name="ionlink-master-worker")
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the running experiment to terminate, drop the queue (each pending run's outcome:
        ``not run``) and join the worker."""
        with self._cond:
            self._stopping = True
            running = self._running
            dropped = sorted(e.rid for e in self._queue)
            self._queue.clear()
            for rid in dropped:
                self._outcomes[rid] = RunOutcome(
                    rid, EXIT_NOT_RUN, "not run", None, "the master stopped before it started"
                )
            self._cond.notify_all()
        if dropped:
            logger.warning(
                "not run, the master stopped before they started: RID %s",
                ", ".join(str(rid) for rid in dropped),
            )
        if running is not None:
            self._terminate_running(running)
        if self._thread is not None:
            self._thread.join(timeout)

    def interrupt(self, signum: int) -> Interruption | None:
        """Stop the running experiment at once, as a second signal stops ``ionlink-sim run``'s
        (:func:`~sim.termination.interrupt_thread`: its results file is written, marked
        ``ionlink.sim.stopped_at_once``); ``None``: nothing runs. One that is saving its results
        has ended: the save goes on and, as ``run`` gives a signal that waited for its save, a
        terminated run's exit code becomes 128 + ``signum``."""
        with self._cond:
            running = self._running
            if running is None or self._thread is None:
                return None
            how = interrupt_thread(self._thread, signum)
            if how is ThreadInterrupt.GONE:
                return None
            if how is ThreadInterrupt.SAVING:
                self._signal_in_save = signum
        return Interruption(running, how)

    def idle(self) -> bool:
        """True when nothing runs and nothing waits."""
        with self._cond:
            return self._running is None and not self._queue

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                self._queue.sort()
                entry = self._queue.pop(0)
                self._running = entry.rid
            self._set_status(entry.rid, "running")
            try:
                file = resolve_experiment_file(entry.info["expid"], self.repository)
                outcome = self._run(entry.rid, file, entry.info["expid"])
            except SignalInterrupt as exc:  # (:meth:`interrupt` after the run's own handling)
                outcome = RunOutcome(
                    entry.rid, 128 + exc.signum, "terminated", None, str(exc), stopped_at_once=True
                )
            except Exception as exc:
                logger.error("RID %d could not run: %s", entry.rid, exc)
                outcome = RunOutcome(entry.rid, 2, "bad input", None, str(exc))
            with self._cond:
                self._running = None
                signum, self._signal_in_save = self._signal_in_save, None
                if signum is not None and outcome.status == "terminated":
                    outcome = dataclasses.replace(outcome, exit_code=exit_status(signum))
                self._outcomes[entry.rid] = outcome
                self._cond.notify_all()
            self._post(self._forget, entry.rid)

    def wait_outcome(self, rid: int, timeout: float | None = None) -> RunOutcome | None:
        """Block until run ``rid`` finished (``None`` after ``timeout`` s)."""
        with self._cond:
            self._cond.wait_for(lambda: rid in self._outcomes or self._stopping, timeout)
            return self._outcomes.get(rid)

    # -- notifier (event loop thread) -----------------------------------------------------------
    def _publish(self, rid: int, info: dict) -> None:
        if self.notifier is not None:
            self.notifier[rid] = dict(info)

    def _set_status(self, rid: int, status: str) -> None:
        def update() -> None:
            if self.notifier is not None and rid in self.notifier.raw_view:
                self.notifier[rid]["status"] = status

        self._post(update)

    def _forget(self, rid: int) -> None:
        if self.notifier is not None and rid in self.notifier.raw_view:
            del self.notifier[rid]

    # -- RPC ------------------------------------------------------------------------------------
    def submit(
        self,
        pipeline_name: str = "main",
        expid: dict | None = None,
        priority: int = 0,
        due_date: float | None = None,
        flush: bool = False,
    ) -> int:
        """Queue an experiment; returns its run id.

        :raises FileNotFoundError: the expid's file does not exist.
        """
        if not isinstance(expid, dict):
            raise ValueError("expid must be a dict with 'file', 'class_name' and 'arguments'")
        resolve_experiment_file(expid, self.repository)
        info = {
            "pipeline": pipeline_name,
            "expid": expid,
            "priority": int(priority),
            "due_date": due_date,
            "flush": bool(flush),
            "status": "pending",
        }
        with self._cond:
            rid = self._allocate_rid()
            self._order += 1
            self._queue.append(_Entry((-int(priority), self._order), rid, info))
            self._cond.notify_all()
        self._post(self._publish, rid, info)
        logger.info("submitted RID %d: %s", rid, expid.get("file"))
        return rid

    def delete(self, rid: int) -> None:
        """Remove a pending run (its outcome: ``deleted``), or ask a running one to terminate."""
        with self._cond:
            before = len(self._queue)
            self._queue = [e for e in self._queue if e.rid != rid]
            removed = len(self._queue) != before
            running = self._running == rid
            if removed:
                self._outcomes[rid] = RunOutcome(
                    rid, EXIT_NOT_RUN, "deleted", None, "deleted before it ran"
                )
                self._cond.notify_all()
        if removed:
            logger.info("RID %d deleted before it ran", rid)
            self._post(self._forget, rid)
        elif running:
            self._set_status(rid, "deleting")
            self._terminate_running(rid)

    def request_termination(self, rid: int) -> None:
        """Ask run ``rid`` to stop at its next pause check (pending: removed)."""
        self.delete(rid)

    def get_status(self) -> dict:
        """``{rid: info}`` of the pending and running runs."""
        with self._cond:
            status = {e.rid: dict(e.info) for e in self._queue}
            running = self._running
        if running is not None and self.notifier is not None:
            info = self.notifier.raw_view.get(running)
            if info is not None:
                status[running] = dict(info, status="running")
        return status

    def get_outcome(self, rid: int) -> dict | None:
        """How run ``rid`` ended (``None`` while it is pending or running, or unknown)."""
        with self._cond:
            outcome = self._outcomes.get(rid)
            if outcome is None:
                self._watched.add(rid)
            else:
                self._watched.discard(rid)
                self._cond.notify_all()
        return None if outcome is None else outcome.as_dict()

    def wait_collected(self, timeout: float) -> None:
        """Block until every finished run a client was waiting for (``get_outcome``) has had
        its outcome fetched, at most ``timeout`` s: a stopping master lets ``submit --wait``
        learn how its run ended before the servers close."""
        with self._cond:
            self._cond.wait_for(lambda: not self._watched & self._outcomes.keys(), timeout)
