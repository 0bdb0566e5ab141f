# SPDX-License-Identifier: LGPL-3.0-or-later
"""The remote-entanglement experiments' totals on the host (a mixin of
:class:`drivers.link.LinkExperiment`): what each kernel invocation sends at its end
(:meth:`LinkTotals.add_totals`), where its loop started (:meth:`LinkTotals.loop_started`), and
the count up to its last record of a kernel that never sent them
(:meth:`LinkTotals.count_to_last_herald`); the records' columns they are counted from."""

import numpy as np
from artiq.language.core import rpc
from artiq.language.types import TInt32, TInt64


class LinkTotals:
    """Host-side totals of the heralding loop (``self.totals``, written by
    :meth:`drivers.link.LinkExperiment.write_results`)."""

    def prepare_totals(self):
        """The run's totals, none yet (:meth:`add_totals`, :meth:`count_to_last_herald`)."""
        self.totals = {"attempts": 0, "lab_mu": 0, "cycles_mu": 0, "underflows": 0, "discarded": 0}
        #: the running kernel's loop start (mu) and the records before it, until its totals
        #: arrive (:meth:`loop_started`, :meth:`add_totals`)
        self._open_loop: tuple[int, int] | None = None
        self.counted_to_last_herald = False

    @rpc(flags={"async"})
    def loop_started(self, t_lab0: TInt64):
        """The kernel's loop starts at ``t_lab0`` (mu; async, once per kernel, before its first
        herald): if the kernel ends without its totals (:meth:`add_totals`: an exception, a run
        stopped at once), :meth:`write_results` counts its attempts and lab time up to its last
        recorded herald (:meth:`count_to_last_herald`)."""
        self._open_loop = (int(t_lab0), self.recorded())

    def count_to_last_herald(self):
        """The totals of a kernel that ended without sending them (:meth:`loop_started`): its
        recorded heralds' attempts (each herald's count since the one before, the first's since
        the loop's start; the remote gate: each shot's), their cycles, and the lab time from its
        loop's start to its last record's ``t_lab_mu`` (the end of its last herald's attempts;
        the remote gate: of its last shot); what came after that record (attempts, underflows,
        herald handling, coolings) is not known and not counted. Sets
        :attr:`counted_to_last_herald` and writes ``totals.counted_to_last_herald``."""
        open_loop, self._open_loop = self._open_loop, None
        if open_loop is None:
            return
        t_lab0, first = open_loop
        attempts = self.record_column("attempts")[first:]
        t_lab = self.record_column("t_lab_mu")[first:]
        t = self.totals
        n = int(attempts.sum())
        t["attempts"] += n
        t["cycles_mu"] += n * int(self.cycle_mu)
        if len(t_lab):
            t["lab_mu"] += int(t_lab[-1]) - t_lab0
        self.counted_to_last_herald = True
        self.set_dataset("totals.counted_to_last_herald", True)

    @rpc(flags={"async"})
    def add_totals(
        self,
        attempts: TInt64,
        lab_mu: TInt64,
        cycles_mu: TInt64,
        underflows: TInt32,
        discarded: TInt32,
        herald_mu: TInt64,
        runs: TInt32,
    ):
        """Totals of one kernel invocation (async). ``herald_mu``: timeline spent between heralds
        and the next attempt (analysis pulses, readout, diagnostics); ``runs``: coolings."""
        self._open_loop = None
        t = self.totals
        t["runs"] = t.get("runs", 0) + runs
        t["herald_mu"] = t.get("herald_mu", 0) + herald_mu
        t["attempts"] += attempts
        t["lab_mu"] += lab_mu
        t["cycles_mu"] += cycles_mu
        t["underflows"] += underflows
        t["discarded"] += discarded

    def recorded(self) -> int:
        """Heralds recorded so far (where a resumed kernel continues). An experiment that keeps
        other records overrides it."""
        return len(self.records)

    def record_column(self, key: str) -> np.ndarray:
        """One column of the records (``attempts``, ``t_lab_mu``, …), one value per record. An
        experiment that keeps other records overrides it."""
        return self.records.column(key)
