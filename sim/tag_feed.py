# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulator's detector events for a time tagger: every click the physics world delivers to
the analyser's detectors and the PMTs (what the VCD file shows as their ``in`` signal), pushed to
``aqctl_ionlink_timetagger --simulation`` over ZeroMQ PUSH in the stream's format
(:mod:`drivers.controllers.tag_stream`), times in ps of lab (RTIO) time.

Inputs (:data:`drivers.controllers.timetagger.DEFAULT_INPUTS`, in the lab's order): 1–4 =
``bsa_det0``–``bsa_det3``, 5 = node A's PMT, 6 = node B's, 7 = node A's excitation trigger
(:data:`SYNC_INPUT`: the rising edge of the entangler output that drives ``node_a.excite``, one
tag per cycle of every entangler run — the sync a lab wires to its tagger for arrival
histograms; excitation pulses a kernel plays itself, outside entangler runs, are not tagged).

Entangler runs on the fast path draw only their heralding cycle click by click; the clicks of
their other cycles exist as the counts the entangler reports. For the tagger the feed turns on the
engine's waveform recorder (as ``--vcd`` does), which materialises every cycle's clicks from those
counts with its own generator (never the simulation's: the datasets are the same with or without
a feed), and sends them with the rest — so the tagger sees every cycle, as the VCD file does. Its
memory grows with the clicks while the feed is on.

Live delivery: the feed holds the clicks and sends, in time order, those before the RTIO counter
(nothing the kernel submits from then on can change them) whenever it holds more than
:data:`BLOCK` or :data:`INTERVAL_S` of wall time has passed since its last batch (checked at each
input delivery and each recorded entangler run), and everything at the end of each experiment.
The world draws some clicks lazily, only when an input is read or the session settles: the dark
counts of a detector no kernel reads (between entangler runs, in a heralding loop). Drawing them
earlier would change the simulation's random stream, so such a click can come after later ones
were sent; it is not sent (the stream stays in time order), counted in the next batch's ``lost``
and in one log line at the end (``-v``): about 3 in 10 000 clicks of ``remote_entanglement.py``.

Sending never blocks and never changes the simulation: batches go only to a connected tagger
(ZeroMQ ``IMMEDIATE``); one that cannot be sent (no tagger listening, or one too slow) is counted
in the next batch's ``lost``, and :meth:`TagFeed.close` warns once with the number of tags not
delivered. Closing waits at most :data:`LINGER_MS` for the batches in flight.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from drivers.controllers.tag_stream import TagBatch, encode

__all__ = ["BLOCK", "INTERVAL_S", "LINGER_MS", "SYNC_INPUT", "TagFeed"]

logger = logging.getLogger(__name__)

#: tags held that make the feed send what is complete
BLOCK = 100_000
#: wall time (s) after which the feed sends what is complete, however few tags it holds
INTERVAL_S = 1.0
#: how long closing waits for batches in flight to reach the tagger, ms
LINGER_MS = 1000
#: tagger input of node A's excitation trigger (one tag per entangler cycle)
SYNC_INPUT = 7
#: how long the first batch waits for the connection to the tagger, ms
_CONNECT_MS = 500


class TagFeed:
    """A PUSH socket to a time tagger's feed, shared by the sessions of one simulation.

    :param address: ZeroMQ endpoint of the controller's feed, e.g. ``tcp://127.0.0.1:3276``.
    :param block: tags held that trigger a batch (default :data:`BLOCK`).
    :param interval_s: wall time that triggers a batch (default :data:`INTERVAL_S`).
    """

    def __init__(
        self, address: str, block: int | None = None, interval_s: float | None = None
    ) -> None:
        import zmq

        self._zmq = zmq
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.PUSH)
        self._sock.setsockopt(zmq.IPV6, 1)
        self._sock.setsockopt(zmq.LINGER, LINGER_MS)
        self._sock.setsockopt(zmq.SNDHWM, 100)  # batches queued for a slow tagger (~1 MB each)
        self._sock.setsockopt(zmq.IMMEDIATE, 1)  # queue only for a connected tagger
        self._sock.connect(address)
        self.address = address
        self.block = BLOCK if block is None else block
        self.interval_s = INTERVAL_S if interval_s is None else interval_s
        self._seq = 0
        self._lost = 0  # tags not sent since the last batch (the next header's ``lost``)
        #: tags sent, tags whose batch could not be sent, clicks that came too late to send
        self.sent = 0
        self.undelivered = 0
        self.late = 0
        self._waited = False  # the first batch's wait for the connection is done
        self._t_sent: int | None = None  # time of the last tag sent, ps
        self._last_send = time.monotonic()
        self._times: list[np.ndarray] = []
        self._chans: list[np.ndarray] = []
        self._held = 0
        self._ent_new = 0  # entangler clicks recorded, not yet taken
        self._inputs: dict[int, int] = {}  # RTIO channel → tagger input
        self._names: dict[int, str] = {}
        self._engine: Any = None
        self._ent_inputs: dict[int, int] = {}  # entangler gate input → tagger input
        self._ent_seen: dict[int, int] = {}  # entangler channel → clicks already taken
        self._sync: int | None = None  # the entangler output that drives the sync
        self._sync_runs: list[tuple[int, int, int]] = []  # (first edge, cycles, cycle), mu
        self._ps_per_mu = 1000

    def attach(self, session: Any) -> None:
        """Tap ``session``'s detector and PMT channels (its lab's physics world)."""
        world = session.world
        self.flush()
        self._engine = session.engine
        self._ps_per_mu = int(round(session.engine.ref_period * 1e12))
        if self._t_sent is not None and session.engine.counter * self._ps_per_mu < self._t_sent:
            self._t_sent = None  # a timeline that starts over: its tags are not late
        self._inputs, self._names = {}, {}
        self._sync = None
        if world is None:
            return
        lab = world.lab
        names = [d.device for d in lab.bsa.detectors] + [n.readout.pmt for n in lab.nodes]
        for i, (ch, name) in enumerate(zip(world._det_ch + world._pmt_ch, names), start=1):
            self._inputs[ch] = i
            self._names[i] = name
        session.engine.tag_tap = self.edges
        recorder = session.engine.record_waveforms()  # every entangler cycle's clicks
        recorder.on_run = self._entangler_run
        self._ent_inputs = {i: i + 1 for i in range(len(lab.entangler.inputs))}
        self._ent_seen = {}
        self._sync_runs = []
        excite = lab.nodes[0].excite.device
        if excite in lab.entangler.outputs:
            self._sync = list(lab.entangler.outputs).index(excite)
            self._names[SYNC_INPUT] = excite

    def edges(self, channel: int, edges: list[tuple[int, int]]) -> None:
        """The engine's tap: input transitions ``(t_mu, level)`` of ``channel``."""
        i = self._inputs.get(channel)
        if i is None:
            return
        rising = [t for t, level in edges if level]
        if not rising:
            return
        self._times.append(np.asarray(rising, dtype=np.int64) * self._ps_per_mu)
        self._chans.append(np.full(len(rising), i, dtype=np.int32))
        self._held += len(rising)
        self._maybe_send()

    def _entangler_run(self, channel: int, run: Any, clicks: int) -> None:
        """The recorder's hook: entangler ``run`` (:class:`~sim.rtio.recorder.EntanglerRun`)
        with ``clicks`` clicks was recorded on ``channel``; its cycles' excitation triggers
        are noted."""
        self._ent_new += clicks
        phy = self._engine.channels[channel].phy
        # (a DRTIO pair's runs are its master's, whose outputs 0 and 1 are node A's)
        if self._sync is not None and run.cycles > 0 and not getattr(phy, "slave_role", False):
            window = phy.windows()[0].get(self._sync)
            if window is not None:
                cycle = (run.t_end_mu - run.t_start_mu) // run.cycles
                self._sync_runs.append((run.t_start_mu + window[0], run.cycles, cycle))
                self._ent_new += run.cycles
        self._maybe_send()

    def _maybe_send(self) -> None:
        """Send what is complete if enough is held or enough wall time has passed."""
        held = self._held + self._ent_new
        if held > self.block or (held and time.monotonic() - self._last_send >= self.interval_s):
            eng = self._engine
            self._send(None if eng is None else int(eng.counter) * self._ps_per_mu)

    def flush(self) -> None:
        """Send everything held (the session has settled: every channel is complete)."""
        self._send(None)

    def _take_entangler_clicks(self) -> None:
        """The clicks and excitation triggers of the entangler runs recorded since the last
        call."""
        self._ent_new = 0
        if self._sync_runs:
            first, n, cycle = (np.asarray(v, dtype=np.int64) for v in zip(*self._sync_runs))
            self._sync_runs = []
            k = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
            sync = np.repeat(first, n) + k * np.repeat(cycle, n)
            self._times.append(sync * self._ps_per_mu)
            self._chans.append(np.full(len(sync), SYNC_INPUT, dtype=np.int32))
            self._held += len(sync)
        rec = getattr(self._engine, "recorder", None)
        if rec is None:
            return
        for ch, clicks in rec.entangler_clicks.items():
            start = self._ent_seen.get(ch, 0)
            new = [(self._ent_inputs[i], t) for i, t in clicks[start:] if i in self._ent_inputs]
            self._ent_seen[ch] = len(clicks)
            if new:
                inputs, times = zip(*new)
                self._times.append(np.asarray(times, dtype=np.int64) * self._ps_per_mu)
                self._chans.append(np.asarray(inputs, dtype=np.int32))
                self._held += len(new)

    def _send(self, upto_ps: int | None) -> None:
        """Send the held tags before ``upto_ps`` (None: all), in time order."""
        self._last_send = time.monotonic()
        self._take_entangler_clicks()
        if not self._held:
            return
        t = np.concatenate(self._times)
        c = np.concatenate(self._chans)
        if self._t_sent is not None:
            late = t < self._t_sent
            if late.any():  # drawn after later tags were sent: sending would break the order
                n_late = int(late.sum())
                self.late += n_late
                self._lost += n_late
                t, c = t[~late], c[~late]
        order = np.argsort(t, kind="stable")
        t, c = t[order], c[order]
        n = len(t) if upto_ps is None else int(np.searchsorted(t, upto_ps, side="left"))
        self._times, self._chans = [t[n:]], [c[n:]]
        self._held = len(t) - n
        if n == 0:
            return
        self._t_sent = int(t[n - 1])
        self._push(TagBatch(self._seq, t[:n], c[:n], self._lost, self._names, "ionlink-sim"))

    def _push(self, batch: TagBatch) -> None:
        """Send ``batch`` without blocking; count its tags as undelivered if it cannot go."""
        zmq = self._zmq
        frames = encode(batch)
        if not self._waited:  # the connection may still be on its way: wait for it, once
            self._waited = True
            self._sock.poll(_CONNECT_MS, zmq.POLLOUT)
        try:
            self._sock.send_multipart(frames, flags=zmq.NOBLOCK)
        except zmq.Again:
            if not self.undelivered:
                logger.info(
                    "time-tag feed: %s takes no tags (no tagger listening, or one too slow); "
                    "the run goes on, counting them",
                    self.address,
                )
            self.undelivered += len(batch)
            self._lost += len(batch)
            return
        self._seq += 1
        self._lost = 0
        self.sent += len(batch)

    def close(self) -> None:
        """Send what is held, close the socket (waiting at most :data:`LINGER_MS` for the batches
        in flight) and warn of the tags that were not delivered."""
        self.flush()
        self._sock.close()
        self._ctx.term()
        if self.undelivered:
            logger.warning(
                "time-tag feed: %d of %d tags not delivered to %s (no tagger listening?)",
                self.undelivered,
                self.undelivered + self.sent,
                self.address,
            )
        if self.late:
            logger.info(
                "time-tag feed: %d clicks drawn after later ones had been sent (detector dark "
                "counts no kernel read, drawn as the run settled) were left out to keep the "
                "stream in time order (counted as lost)",
                self.late,
            )
