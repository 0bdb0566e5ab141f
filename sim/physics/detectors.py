# SPDX-License-Identifier: LGPL-3.0-or-later
"""Click generation on one input channel: dark counts, dead time, jitter'd arrivals, afterpulses.

Raw arrivals (photons, already including jitter, and dark counts generated lazily as a Poisson
process) are turned into clicks in time order: a click needs the detector live (dead time since
the previous click), makes a pulse (t, 1), (t + width, 0) and may cause one afterpulse.
"""

from __future__ import annotations

import heapq
import itertools
import math
import tempfile
from array import array
from dataclasses import dataclass
from typing import Iterator

import numpy as np

__all__ = ["ClickChannel", "ClickRecord", "SPILL_VALUES"]

#: suppressed-interval values (4 an entry) a channel holds in memory; older entries go to a file
SPILL_VALUES = 4 * 4096
_CHUNK_VALUES = 4 * 65536  # entries read back at a time


class _SpilledWindows:
    """Older suppressed intervals of one channel, flat int64 entries in an anonymous temporary
    file (a long loop's detectors may not draw their dark counts before the run's end)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="ionlink-dark-windows-")
        self.values = 0

    def append(self, values: array) -> None:
        self._file.seek(0, 2)
        values.tofile(self._file)
        self.values += len(values)

    def chunks(self) -> Iterator[np.ndarray]:
        """The entries in order, as (k, 4) int64 arrays of at most ``_CHUNK_VALUES // 4`` rows."""
        self._file.seek(0)
        left = self.values
        while left:
            n = min(left, _CHUNK_VALUES)
            yield np.frombuffer(self._file.read(8 * n), dtype=np.int64).reshape(-1, 4)
            left -= n

    def close(self) -> None:
        self._file.close()


@dataclass
class ClickRecord:
    """What a detector keeps between experiments: queued raw arrivals (mu), edges not yet
    delivered, time up to which dark counts are drawn, last click (mu), suppressed intervals:
    ``(from, to)``, or ``(first, period, count, length)`` for ``count`` periodic ones."""

    raw: list[int]
    pending: list[tuple[int, int]]
    dark_to_mu: int
    last_click_mu: int
    suppress: list[tuple[int, ...]]


class ClickChannel:
    """Lazy click generator of one TTLInOut input.

    :param dark_rate_hz: dark-count rate, s⁻¹ (0 for a PMT: its counts come from the world).
    :param dead_time_s: in s. :param width_s: output pulse width, in s.
    :param afterpulse_prob: probability per click of one afterpulse at exponential delay
        ``afterpulse_delay_s`` (s). :param mu_s: one machine unit in s.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        dark_rate_hz: float = 0.0,
        dead_time_s: float = 0.0,
        width_s: float = 10e-9,
        afterpulse_prob: float = 0.0,
        afterpulse_delay_s: float = 100e-9,
        mu_s: float = 1e-9,
    ) -> None:
        self.rng = rng
        self.dark_rate_hz = dark_rate_hz
        self.mu_s = mu_s
        self.width_mu = max(round(width_s / mu_s), 1)
        self.dead_mu = max(math.ceil(dead_time_s / mu_s), self.width_mu + 1)
        self.afterpulse_prob = afterpulse_prob
        self.afterpulse_delay_s = afterpulse_delay_s
        self._raw: list[int] = []  # heap of arrival times, mu
        self._pending: list[tuple[int, int]] = []
        #: dark counts are drawn up to this time (mu); moving it on leaves the interval dark
        #: (plain attributes, not properties: the CPU attempts' fast-forward reads and moves
        #: them a few dozen times per click)
        self.dark_to_mu = 0
        #: time of the last click (mu)
        self.last_click_mu = -(1 << 62)
        # suppressed intervals, flat (first, period, count, length): a fast-forward's thousands
        # of periodic runs are one entry; beyond SPILL_VALUES the older ones are in a file, so a
        # long run's memory does not grow with them
        self._suppress = array("q")
        self._spilled: _SpilledWindows | None = None

    def save_state(self) -> ClickRecord:
        """The channel's state as a :class:`ClickRecord` (copies)."""
        return ClickRecord(
            list(self._raw),
            list(self._pending),
            self.dark_to_mu,
            self.last_click_mu,
            [
                (a, a + n) if k == 1 else (a, p, k, n)
                for a, p, k, n in zip(*[iter(self._windows())] * 4)
            ],
        )

    def load_state(self, rec: ClickRecord) -> None:
        """Continue from a :class:`ClickRecord` made by :meth:`save_state`."""
        self._raw = list(rec.raw)
        heapq.heapify(self._raw)
        self._pending = list(rec.pending)
        self.dark_to_mu, self.last_click_mu = rec.dark_to_mu, rec.last_click_mu
        self._suppress = array("q")
        self._drop_spilled()
        for w in rec.suppress:
            if len(w) == 2:
                self.suppress(*w)
            else:
                self.suppress_periodic(*w)

    @property
    def busy(self) -> bool:
        """An arrival or an edge is queued (not yet delivered)."""
        return bool(self._raw or self._pending)

    def quiet_until(self) -> int:
        """A time (mu) before which :meth:`drain` finds no edge and draws nothing: the first
        queued arrival or edge, and for a detector with dark counts the time they are drawn
        to (``1 << 62`` for none)."""
        h = 1 << 62
        if self._has_dark_work():
            h = self.dark_to_mu
        if self._raw and self._raw[0] < h:
            h = self._raw[0]
        if self._pending and self._pending[0][0] < h:
            h = self._pending[0][0]
        return h

    def add_arrivals(self, t_mu: list[int] | np.ndarray) -> None:
        """Queue raw arrivals (photons, PMT counts) at integer mu times."""
        raw = self._raw
        for t in t_mu.tolist() if isinstance(t_mu, np.ndarray) else t_mu:
            heapq.heappush(raw, int(t))

    def add_sorted_arrivals(self, t_mu: list[int]) -> None:
        """:meth:`add_arrivals` of ints in ascending order (a readout's clicks): none earlier
        than those queued (the common case) are appended, which is the heap pushing them one
        by one would build, the same list."""
        raw = self._raw
        if not raw or (t_mu and t_mu[0] >= max(raw)):
            raw.extend(t_mu)
        else:
            for t in t_mu:
                heapq.heappush(raw, t)

    def suppress(self, t_from_mu: int, t_to_mu: int) -> None:
        """No dark counts in [from, to) (the entangler fast path owns this interval)."""
        length = t_to_mu - t_from_mu
        self.suppress_periodic(t_from_mu, max(length, 1), 1, length)

    def suppress_periodic(self, first_mu: int, period_mu: int, count: int, length_mu: int) -> None:
        """:meth:`suppress` for ``count`` intervals ``[first + j·period, … + length)``.

        An entry that continues the last one's intervals (same length, one period after its last
        interval) extends it: a long loop's runs, detailed or fast-forwarded, take one entry per
        change of period, not one per run (the same intervals, so the same dark counts)."""
        sup = self._suppress
        if len(sup) >= 4 and sup[-1] == length_mu > 0:
            first, period, count0 = sup[-4], sup[-3], sup[-2]
            step = first_mu - (first + (count0 - 1) * period)
            if count0 == 1 and step >= length_mu and (count == 1 or step == period_mu):
                sup[-3], sup[-2] = step, 1 + count  # a lone interval starts the period
                return
            if step == period and (count == 1 or period_mu == period):
                sup[-2] = count0 + count
                return
        sup.extend((first_mu, period_mu, count, length_mu))
        if len(sup) > SPILL_VALUES:
            self._spill()

    def _spill(self) -> None:
        """Move all entries but the last (which the next may continue) to the file."""
        if self._spilled is None:
            self._spilled = _SpilledWindows()
        self._spilled.append(self._suppress[:-4])
        self._suppress = self._suppress[-4:]

    def _drop_spilled(self) -> None:
        if self._spilled is not None:
            self._spilled.close()
            self._spilled = None

    def _windows(self) -> list[int]:
        """Every suppressed-interval value, flat, oldest first (the file's, then memory's)."""
        out: list[int] = []
        if self._spilled is not None:
            for chunk in self._spilled.chunks():
                out.extend(chunk.ravel().tolist())
        return out + self._suppress.tolist()

    def _has_dark_work(self) -> bool:
        """Whether :meth:`_darks` has anything to do over a new window: dark counts to draw, or
        suppressed intervals (kept or spilled) to account for."""
        return self.dark_rate_hz > 0 or bool(self._suppress) or self._spilled is not None

    def _darks(self, t_end_mu: int) -> None:
        if t_end_mu <= self.dark_to_mu:
            return
        t0 = self.dark_to_mu
        self.dark_to_mu = t_end_mu
        if self._spilled is not None:
            self._darks_spilled(t0, t_end_mu)
            return
        # dark counts are drawn in time order: intervals that end before t0 can hide none again
        # (a handful of blocks: plain Python is cheaper here than a numpy round trip); what ends
        # before t_end can hide none of the later draws either, so only the rest is kept
        sup = self._suppress
        if not sup:  # (nothing hidden: the common case of a detector outside entangler runs)
            times = self._draw(t0, t_end_mu)
            if times is not None:
                for t in times:
                    heapq.heappush(self._raw, int(t))
            return
        live = array("q")  # the blocks that may hide a draw in [t0, t_end)
        keep = array("q")
        for i in range(0, len(sup), 4):
            first, period, count, length = sup[i : i + 4]
            end = first + (count - 1) * period + length
            if end > t0:
                live.extend(sup[i : i + 4])
                if end > t_end_mu:
                    keep.extend(sup[i : i + 4])
        self._suppress = keep
        times = self._draw(t0, t_end_mu)
        if times is None:
            return
        if live:
            times = times[~_hidden(times, np.frombuffer(live, dtype=np.int64).reshape(-1, 4))]
        for t in times:
            heapq.heappush(self._raw, int(t))

    def _draw(self, t0: int, t_end_mu: int) -> np.ndarray | None:
        """Dark-count times (mu, int64, unsorted) in [t0, t_end), or None for none (drawing no
        times draws nothing from the generator either)."""
        if self.dark_rate_hz <= 0:
            return None
        n = self.rng.poisson(self.dark_rate_hz * (t_end_mu - t0) * self.mu_s)
        if not n:
            return None
        return t0 + np.floor(self.rng.random(n) * (t_end_mu - t0)).astype(np.int64)

    def _darks_spilled(self, t0: int, t_end_mu: int) -> None:
        """:meth:`_darks` with older intervals in the file: the same draws (drawn first: nothing
        else draws in between), hidden and kept by the same rule, a chunk of intervals at a
        time."""
        times = self._draw(t0, t_end_mu)
        hidden = None if times is None else np.zeros(len(times), dtype=bool)
        spilled = self._spilled
        assert spilled is not None
        memory = np.array(self._suppress, dtype=np.int64).reshape(-1, 4)
        keep = array("q")
        for blocks in itertools.chain(spilled.chunks(), [memory]):
            first, period, count, length = blocks.T
            end = first + (count - 1) * period + length
            keep.extend(blocks[end > t_end_mu].ravel().tolist())
            live = blocks[end > t0]
            if times is not None and hidden is not None and len(live):
                hidden |= _hidden(times, live)
        self._drop_spilled()
        self._suppress = keep
        if len(keep) > SPILL_VALUES:
            self._spill()
        if times is not None and hidden is not None:
            for t in times[~hidden]:
                heapq.heappush(self._raw, int(t))

    def _clicks_of(self, raw: list[int], t_end_mu: int, pending: list[tuple[int, int]]) -> None:
        """:meth:`drain`'s clicks without afterpulses (nothing is queued while draining): the
        arrivals before ``t_end_mu`` in time order (all of them at once when none is later, the
        heap then left empty as popping them all would), each a pulse if the detector is live."""
        if max(raw) < t_end_mu:
            arrivals = sorted(raw)
            raw.clear()
        else:
            arrivals = []
            while raw and raw[0] < t_end_mu:
                arrivals.append(heapq.heappop(raw))
        last, dead, width = self.last_click_mu, self.dead_mu, self.width_mu
        append = pending.append
        for t in arrivals:
            if t - last >= dead:
                last = t
                append((t, 1))
                append((t + width, 0))
        self.last_click_mu = last

    def _clicks_afterpulsing(
        self, raw: list[int], t_end_mu: int, pending: list[tuple[int, int]]
    ) -> None:
        """:meth:`_clicks_of` for a detector with afterpulses: each click may queue one, which
        may itself come before ``t_end_mu``, so the arrivals are taken one by one."""
        last, dead, width = self.last_click_mu, self.dead_mu, self.width_mu
        p_after = self.afterpulse_prob
        while raw and raw[0] < t_end_mu:
            t = heapq.heappop(raw)
            if t - last < dead:
                continue
            last = self.last_click_mu = t
            pending.append((t, 1))
            pending.append((t + width, 0))
            if self.rng.random() < p_after:
                d = self.rng.exponential(self.afterpulse_delay_s) / self.mu_s
                heapq.heappush(raw, t + max(int(d), 1))

    def drain(self, t_end_mu: int) -> list[tuple[int, int]]:
        """Edges (t_mu, level) with t < t_end, each returned once, time-ordered."""
        if t_end_mu > self.dark_to_mu:
            if not self._has_dark_work():
                self.dark_to_mu = t_end_mu  # what _darks does then: no draw, nothing to drop
            else:
                self._darks(t_end_mu)
        raw = self._raw
        pending = self._pending
        if raw and raw[0] < t_end_mu:
            if self.afterpulse_prob > 0:
                self._clicks_afterpulsing(raw, t_end_mu, pending)
            else:
                self._clicks_of(raw, t_end_mu, pending)
        if not pending:
            return []
        # the edges are queued in time order (a click comes at least dead_mu > width_mu after
        # the last one, whose falling edge is the last queued), so the last one tells
        if pending[-1][0] < t_end_mu:  # all of them (the common case)
            self._pending = []
            return pending
        out = [e for e in pending if e[0] < t_end_mu]
        self._pending = [e for e in pending if e[0] >= t_end_mu]
        return out


def _hidden(times: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Which of ``times`` (mu) fall in a suppressed interval of ``blocks`` (rows ``first,
    period, count, length``: intervals ``[first + j·period, first + j·period + length)``)."""
    order = np.argsort(times, kind="stable")
    st = times[order]
    hidden = np.zeros(len(st), dtype=bool)
    first, period, count, length = blocks.T
    los = np.searchsorted(st, first)
    his = np.searchsorted(st, first + (count - 1) * period + length)
    for i in np.flatnonzero(los < his).tolist():  # only the blocks some time falls in
        lo, hi = int(los[i]), int(his[i])
        hidden[lo:hi] |= (st[lo:hi] - int(first[i])) % int(period[i]) < int(length[i])
    out = np.empty_like(hidden)
    out[order] = hidden
    return out
