# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulator's detector events for a time tagger: every click the physics world delivers to
the analyser's detectors and the PMTs (what the VCD file shows as their ``in`` signal), pushed to
``aqctl_ionlink_timetagger --simulation`` over ZeroMQ PUSH in the stream's format
(:mod:`drivers.controllers.tag_stream`), times in ps of lab (RTIO) time.

Inputs: 1–4 = ``bsa_det0``–``bsa_det3``, 5 = node A's PMT, 6 = node B's
(:data:`drivers.controllers.timetagger.DEFAULT_INPUTS`, in the lab's order). The world makes
clicks lazily, channel by channel, so the feed holds them and sends, in time order, those up to
the time every tapped channel has been generated to, whenever more than :data:`BLOCK` are held,
and everything at the end of each experiment (when the session has settled every input).

Entangler runs on the fast path draw only their heralding cycle click by click; the clicks of
their other cycles exist as the counts the entangler reports. For the tagger the feed turns on the
engine's waveform recorder (as ``--vcd`` does), which materialises every cycle's clicks from those
counts with its own generator (never the simulation's: the datasets are the same with or without
a feed), and sends them with the rest — so the tagger sees every cycle, as the VCD file does. Its
memory grows with the clicks while the feed is on.

Sending never blocks and never changes the simulation: if the controller is not there, ZeroMQ
queues up to its high-water mark and then the feed drops batches, counting the dropped tags in
the next batch's ``lost``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from drivers.controllers.tag_stream import TagBatch, encode

__all__ = ["BLOCK", "TagFeed"]

logger = logging.getLogger(__name__)

BLOCK = 100_000


class TagFeed:
    """A PUSH socket to a time tagger's feed, shared by the sessions of one simulation.

    :param address: ZeroMQ endpoint of the controller's feed, e.g. ``tcp://127.0.0.1:3276``.
    """

    def __init__(self, address: str) -> None:
        import zmq

        self._zmq = zmq
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.PUSH)
        self._sock.setsockopt(zmq.IPV6, 1)
        self._sock.setsockopt(zmq.LINGER, 2000)
        self._sock.setsockopt(zmq.SNDHWM, 1000)
        self._sock.connect(address)
        self.address = address
        self._seq = 0
        self._lost = 0
        self._times: list[np.ndarray] = []
        self._chans: list[np.ndarray] = []
        self._held = 0
        self._inputs: dict[int, int] = {}  # RTIO channel → tagger input
        self._names: dict[int, str] = {}
        self._engine: Any = None
        self._ent_inputs: dict[int, int] = {}  # entangler gate input → tagger input
        self._ent_seen: dict[int, int] = {}  # entangler channel → clicks already taken
        self._ps_per_mu = 1000

    def attach(self, session: Any) -> None:
        """Tap ``session``'s detector and PMT channels (its lab's physics world)."""
        world = session.world
        self.flush()
        self._engine = session.engine
        self._ps_per_mu = int(round(session.engine.ref_period * 1e12))
        self._inputs, self._names = {}, {}
        if world is None:
            return
        lab = world.lab
        names = [d.device for d in lab.bsa.detectors] + [n.readout.pmt for n in lab.nodes]
        for i, (ch, name) in enumerate(zip(world._det_ch + world._pmt_ch, names), start=1):
            self._inputs[ch] = i
            self._names[i] = name
        session.engine.tag_tap = self.edges
        session.engine.record_waveforms()  # every entangler cycle's clicks
        self._ent_inputs = {i: i + 1 for i in range(len(lab.entangler.inputs))}
        self._ent_seen = {}

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
        if self._held > BLOCK:
            self._send(self._watermark_ps())

    def _watermark_ps(self) -> int | None:
        eng = self._engine
        if eng is None:
            return None
        gens = [eng.inputs[ch].t_gen for ch in self._inputs if ch in eng.inputs]
        return min(gens) * self._ps_per_mu if gens else None

    def flush(self) -> None:
        """Send everything held (the session has settled: every channel is complete)."""
        self._send(None)

    def _take_entangler_clicks(self) -> None:
        """The clicks of the entangler runs recorded since the last call."""
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
        self._take_entangler_clicks()
        if not self._held:
            return
        t = np.concatenate(self._times)
        c = np.concatenate(self._chans)
        order = np.argsort(t, kind="stable")
        t, c = t[order], c[order]
        n = len(t) if upto_ps is None else int(np.searchsorted(t, upto_ps, side="left"))
        if n == 0:
            return
        self._times, self._chans = [t[n:]], [c[n:]]
        self._held = len(t) - n
        batch = TagBatch(self._seq, t[:n], c[:n], self._lost, self._names, "ionlink-sim")
        try:
            self._sock.send_multipart(encode(batch), flags=self._zmq.NOBLOCK)
            self._seq += 1
            self._lost = 0
        except self._zmq.Again:
            self._lost += n
            logger.warning(
                "time-tagger feed %s: controller not keeping up, %d tags dropped", self.address, n
            )

    def close(self) -> None:
        """Send what is held and close the socket."""
        self.flush()
        self._sock.close()
        self._ctx.term()
