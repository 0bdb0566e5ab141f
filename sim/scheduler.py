# SPDX-License-Identifier: LGPL-3.0-or-later
"""The virtual devices ``scheduler`` and ``ccb`` that the simulator hands to experiments.

They offer the API of ARTIQ's master-worker ``Scheduler``/``CCB`` (not the reduced ``artiq_run``
dummies): ``check_termination`` exists, and ``pause()`` raises ``TerminationRequested`` once
termination was requested (by Ctrl-C in ``ionlink-sim run`` or by
:meth:`Scheduler.request_termination`). Submitted experiments are logged and queued in
:attr:`Scheduler.submitted`; the simulator does not run them. Importing this module needs
``import artiq`` to work (:func:`sim.artiq_env.activate`, done by the runner).
"""

from __future__ import annotations

import logging
from typing import Any

from artiq.language.core import TerminationRequested, host_only
from artiq.language.types import TBool

from sim.syscalls import call_rpc

__all__ = ["Scheduler", "CCB"]

logger = logging.getLogger(__name__)


class Scheduler:
    """The ``scheduler`` virtual device of one simulated run.

    :param rid: run id of the current experiment.
    :param expid: expid dict of the current experiment.
    :param pipeline_name: pipeline name (``"main"``).
    :param priority: priority of the current experiment.
    """

    def __init__(
        self,
        rid: int = 0,
        expid: dict | None = None,
        pipeline_name: str = "main",
        priority: int = 0,
    ):
        self.rid = rid
        self.expid = expid
        self.pipeline_name = pipeline_name
        self.priority = priority
        self.submitted: list[dict] = []
        self._next_rid = rid + 1
        self._termination_requested: set[int] = set()
        self._termination_seen: set[int] = set()  # runs told of it (check_*/pause said so)
        self._pause_requested: set[int] = set()

    def set_run_info(self, rid: int, pipeline_name: str, expid: dict, priority: int) -> None:
        """Describe the experiment now running (called by the runner before ``build``)."""
        self.rid = rid
        self.pipeline_name = pipeline_name
        self.expid = expid
        self.priority = priority
        self._next_rid = max(self._next_rid, rid + 1)

    @host_only
    def pause(self) -> None:
        """Yield to higher-priority experiments (none in the simulator).

        :raises TerminationRequested: if termination of this run was requested.
        """
        self._pause_requested.discard(self.rid)
        if self._termination_told(self.rid):
            raise TerminationRequested

    # ARTIQ's compiler reads TBool for these RPCs' return type (a value, not a PEP 484 type)
    def check_pause(self, rid: int | None = None) -> TBool:  # type: ignore[valid-type]
        """True if the run should call :meth:`pause` (termination requested or pause forced).
        Called from a kernel it is a synchronous RPC, charged as one (as on ARTIQ, where the
        scheduler is a host object)."""
        return call_rpc(self._check_pause, (rid,), {}, False)

    def _check_pause(self, rid: int | None) -> bool:
        rid = self.rid if rid is None else rid
        return self._termination_told(rid) or rid in self._pause_requested

    def check_termination(self, rid: int | None = None) -> TBool:  # type: ignore[valid-type]
        """True if termination of the run ``rid`` (default: this run) was requested (a
        synchronous RPC from a kernel, as :meth:`check_pause`)."""
        return call_rpc(self._check_termination, (rid,), {}, False)

    def _check_termination(self, rid: int | None) -> bool:
        return self._termination_told(self.rid if rid is None else rid)

    def _termination_told(self, rid: int) -> bool:
        """Whether termination of ``rid`` was requested; a yes is remembered as seen by that
        run (:meth:`termination_seen`) when ``rid`` is this run."""
        if rid not in self._termination_requested:
            return False
        if rid == self.rid:
            self._termination_seen.add(rid)
        return True

    def submit(
        self,
        pipeline_name: str | None = None,
        expid: dict | None = None,
        priority: int | None = None,
        due_date: float | None = None,
        flush: bool = False,
    ) -> int:
        """Record a submission (logged, not run) and return its new rid."""
        rid = self._next_rid
        self._next_rid += 1
        entry = {
            "rid": rid,
            "pipeline_name": self.pipeline_name if pipeline_name is None else pipeline_name,
            "expid": self.expid if expid is None else expid,
            "priority": self.priority if priority is None else priority,
            "due_date": due_date,
            "flush": flush,
        }
        self.submitted.append(entry)
        logger.info("Submitting: %s, RID=%s (not run by the simulator)", entry["expid"], rid)
        return rid

    def delete(self, rid: int) -> None:
        """Delete a submitted run."""
        logger.info("Deleting RID %s", rid)
        self.submitted = [e for e in self.submitted if e["rid"] != rid]

    def request_termination(self, rid: int | None = None) -> None:
        """Request termination of run ``rid`` (default: this run)."""
        rid = self.rid if rid is None else rid
        logger.info("Requesting termination of RID %s", rid)
        self._termination_requested.add(rid)

    def termination_seen(self) -> bool:
        """True if the current run was told that its termination was requested (``pause()``
        raised, or ``check_pause()``/``check_termination()`` said so): the run may have stopped
        early because of it. A request the run never heard of (made after its last check, e.g.
        after ``run()`` returned) did not cut it (runner helper)."""
        return self.rid in self._termination_seen

    def get_status(self) -> dict:
        """Return ``{rid: info}`` of the current and submitted runs, as the master reports it."""
        status: dict[int, Any] = {
            self.rid: {
                "pipeline": self.pipeline_name,
                "expid": self.expid,
                "priority": self.priority,
                "due_date": None,
                "flush": False,
                "status": "running",
            }
        }
        for e in self.submitted:
            status[e["rid"]] = {
                "pipeline": e["pipeline_name"],
                "expid": e["expid"],
                "priority": e["priority"],
                "due_date": e["due_date"],
                "flush": e["flush"],
                "status": "pending",
            }
        return status


class CCB:
    """The ``ccb`` virtual device: client control broadcasts (applets). Logged and recorded."""

    def __init__(self) -> None:
        self.issued: list[dict] = []

    def issue(self, service: str, *args: Any, **kwargs: Any) -> None:
        """Broadcast a request to clients; in the simulator it is logged and kept in
        :attr:`issued`."""
        self.issued.append({"service": service, "args": args, "kwargs": kwargs})
        logger.info("CCB for service '%s' (args %s, kwargs %s)", service, args, kwargs)
