# SPDX-License-Identifier: LGPL-3.0-or-later
"""The live consumer of a time-tag stream (the I/O edge of :mod:`analysis.time_tags`): subscribes
to ``aqctl_ionlink_timetagger``'s ZeroMQ PUB stream and folds each batch into an arrival
histogram and a correlation (g², HOM dip) as it arrives.

Missed batches (a gap in ``seq``), tags the tagger reported lost and messages that are not tag
batches are counted, never fatal; a stream that goes quiet ends the run at ``duration_s`` (no
wait is unbounded). A PUB stream is silent both when the tagger has nothing to send and when it
is gone, so the connection is watched instead (a ZeroMQ socket monitor): the tagger closing it
(stopped, killed) or not answering ZeroMQ's heartbeat for :data:`HEARTBEAT_TIMEOUT_MS` (hung, its
host or network gone) ends the run at once, with what arrived until then, marked partial
(:attr:`ConsumerResult.stream_lost_at_s`). A tagger that comes back is a new stream and is not
waited for.

``ionlink-analyze tags ADDRESS`` is the command line: it prints the summary, and exits 1 with one
line on stderr when no tag arrived; a stream lost mid-capture is one line on stderr with the
capture time it ended at, the summary of what arrived (``partial: True``), exit 3 (results
printed, something missing, as for the other commands); a note on stderr says when almost no
click follows a start tag within the arrival range (the start input carries no sync).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from comms.common_args import checked_arg
from drivers.controllers.zmq_endpoint import endpoint_arg

from .time_tags import (
    ArrivalState,
    CorrelationState,
    arrival_state,
    arrival_update,
    correlation_state,
    correlation_update,
)

__all__ = [
    "ARRIVAL_NOTE_FRACTION",
    "EXIT_PARTIAL",
    "HEARTBEAT_IVL_MS",
    "HEARTBEAT_TIMEOUT_MS",
    "ConsumerResult",
    "TagConsumer",
    "add_arguments",
    "command",
    "summary",
]

logger = logging.getLogger(__name__)

#: below this fraction of click tags in the arrival histogram, ``tags`` notes it on stderr
ARRIVAL_NOTE_FRACTION = 0.1
#: the consumer pings the tagger's stream this often (ZeroMQ heartbeat, answered by its I/O thread)
HEARTBEAT_IVL_MS = 1000
#: a tagger that answers no ping for this long is taken as gone
HEARTBEAT_TIMEOUT_MS = 3000
#: exit status of ``ionlink-analyze tags`` when the stream was lost mid-capture (summary printed)
EXIT_PARTIAL = 3


@dataclass
class ConsumerResult:
    """What a run of the consumer saw: the folded states and the stream's health."""

    correlation: CorrelationState
    arrival: ArrivalState
    batches: int = 0
    tags: int = 0
    missed_batches: int = 0
    lost_tags: int = 0
    rejected: int = 0
    in_order: bool = True
    #: seconds into the capture at which the tagger's stream was lost; ``None``: it was not
    stream_lost_at_s: float | None = None

    @property
    def partial(self) -> bool:
        """True if the stream was lost before the capture ended."""
        return self.stream_lost_at_s is not None


class TagConsumer:
    """A SUB socket on ``address`` and the states it folds.

    :param group_a, group_b: inputs of the correlation (start, stop).
    :param start, click: inputs of the arrival histogram.
    """

    def __init__(
        self,
        address: str,
        *,
        group_a: tuple[int, ...] = (1, 2),
        group_b: tuple[int, ...] = (3, 4),
        start: tuple[int, ...] = (7,),
        click: tuple[int, ...] = (1, 2, 3, 4),
        bin_ps: int = 1000,
        window_ps: int = 2_000_000,
        arrival_range_ps: int = 2_000_000,
    ) -> None:
        import zmq

        self._zmq = zmq
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.SUB)
        self._sock.setsockopt(zmq.IPV6, 1)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.SUBSCRIBE, b"")
        self._sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
        self._sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
        self._monitor = self._sock.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
        )
        self._connected = False
        self._sock.connect(address)
        self.result = ConsumerResult(
            correlation_state(group_a, group_b, bin_ps, window_ps),
            arrival_state(start, click, bin_ps, arrival_range_ps),
        )
        self._next_seq: int | None = None
        self._last_t: int | None = None

    def fold(self, frames: list[bytes]) -> None:
        """Decode one message and fold it (bad messages and gaps are counted)."""
        from drivers.controllers.tag_stream import TagStreamError, decode

        r = self.result
        try:
            batch = decode(frames)
        except TagStreamError as exc:
            logger.warning("tag stream: message rejected: %s", exc)
            r.rejected += 1
            return
        if self._next_seq is not None and batch.seq != self._next_seq:
            r.missed_batches += max(batch.seq - self._next_seq, 0)
        self._next_seq = batch.seq + 1
        if len(batch) and self._last_t is not None and batch.times_ps[0] < self._last_t:
            r.in_order = False
        if len(batch):
            self._last_t = int(batch.times_ps[-1])
        r.batches += 1
        r.tags += len(batch)
        r.lost_tags += batch.lost
        r.correlation = correlation_update(r.correlation, batch.times_ps, batch.channels)
        r.arrival = arrival_update(r.arrival, batch.times_ps, batch.channels)

    def run(
        self,
        duration_s: float,
        *,
        max_tags: int | None = None,
        on_batch: Callable[[ConsumerResult], None] | None = None,
    ) -> ConsumerResult:
        """Fold what arrives for ``duration_s`` of wall time (or until ``max_tags``, or until
        the stream is lost: :attr:`ConsumerResult.stream_lost_at_s`)."""
        zmq = self._zmq
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        start = time.monotonic()
        deadline = start + duration_s
        while (left := deadline - time.monotonic()) > 0:
            ready = dict(poller.poll(int(min(left, 0.2) * 1000) + 1))
            if self._sock in ready and self._take(on_batch, max_tags):
                break
            if self._monitor in ready and self._stream_lost():
                while self._sock.poll(0) and not self._take(on_batch, max_tags):
                    pass  # what arrived before the connection ended
                self.result.stream_lost_at_s = time.monotonic() - start
                break
        return self.result

    def _take(
        self, on_batch: Callable[[ConsumerResult], None] | None, max_tags: int | None
    ) -> bool:
        """Fold one message; True when ``max_tags`` is reached."""
        self.fold(self._sock.recv_multipart())
        if on_batch is not None:
            on_batch(self.result)
        return max_tags is not None and self.result.tags >= max_tags

    def _stream_lost(self) -> bool:
        """Read one monitor event; True if it ends a connection that had been made."""
        from zmq.utils.monitor import recv_monitor_message

        event = recv_monitor_message(self._monitor)["event"]
        if event == self._zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self._connected = True
            return False
        return event == self._zmq.EVENT_DISCONNECTED and self._connected

    def close(self) -> None:
        """Close the sockets."""
        self._sock.disable_monitor()
        self._monitor.close(0)
        self._sock.close(0)
        self._ctx.term()


def _inputs(text: str) -> tuple[int, ...]:
    """``argparse`` type of the input-list options: ``1,2`` → ``(1, 2)``."""
    try:
        out = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"inputs {text!r}: expected numbers like 1,2") from None
    if not out:
        raise argparse.ArgumentTypeError("no inputs given")
    return out


_positive_ps = checked_arg(int, lambda v: v >= 1, "{text}: expected a positive whole number of ps")
_duration = checked_arg(
    float, lambda v: math.isfinite(v) and v > 0, "{text}: expected a positive number of seconds"
)


def add_arguments(parser: Any) -> None:
    """The options of ``ionlink-analyze tags``."""
    parser.add_argument(
        "address", type=endpoint_arg, help="the tagger's stream, e.g. tcp://127.0.0.1:3275"
    )
    parser.add_argument("--duration", type=_duration, default=10.0, help="seconds to listen")
    inputs, ps = _inputs, _positive_ps
    parser.add_argument("--a", type=inputs, default="1,2", help="correlation start inputs (1,2)")
    parser.add_argument("--b", type=inputs, default="3,4", help="correlation stop inputs (3,4)")
    parser.add_argument(
        "--start",
        type=inputs,
        default="7",
        help="arrival histogram start inputs (7: node A's excitation trigger)",
    )
    parser.add_argument("--click", type=inputs, default="1,2,3,4", help="arrival click inputs")
    parser.add_argument("--bin-ps", type=ps, default=1000)
    parser.add_argument("--window-ps", type=ps, default=2_000_000, help="|tau| range, ps")
    parser.add_argument("--period-ps", type=ps, default=None, help="attempt period for HOM")
    parser.add_argument("--peak-ps", type=ps, default=20_000, help="HOM peak half-width, ps")
    parser.add_argument("--json", action="store_true", help="print a JSON summary")


def summary(result: ConsumerResult, period_ps: int | None, peak_ps: int) -> dict[str, Any]:
    """The figures ``ionlink-analyze tags`` prints."""
    from .time_tags import g2, hom_dip

    corr = result.correlation
    g = g2(corr)
    centre = np.abs(0.5 * (corr.edges_ps[:-1] + corr.edges_ps[1:])) <= peak_ps
    out: dict[str, Any] = {
        "partial": result.partial,
        "stream_lost_at_s": (
            None if result.stream_lost_at_s is None else round(result.stream_lost_at_s, 1)
        ),
        "tags": result.tags,
        "batches": result.batches,
        "missed_batches": result.missed_batches,
        "lost_tags": result.lost_tags,
        "rejected_messages": result.rejected,
        "in_order": result.in_order,
        "tags_a": corr.n_a,
        "tags_b": corr.n_b,
        "coincidences": int(corr.counts.sum()),
        "g2_zero": float(np.nanmean(g[centre])) if np.any(np.isfinite(g[centre])) else None,
        "arrival_counts": int(result.arrival.counts.sum()),
        "arrival_clicks": result.arrival.n_click,
    }
    if period_ps:
        try:
            v = hom_dip(corr, period_ps, peak_ps)
            out["hom_visibility"] = {"value": v.value, "ci_low": v.lo, "ci_high": v.hi}
        except ValueError as exc:
            out["hom_visibility"] = str(exc)
    return out


def command(args: Any) -> int:
    """``ionlink-analyze tags``: listen, fold, print the summary."""
    import json

    consumer = TagConsumer(
        args.address,
        group_a=args.a,
        group_b=args.b,
        start=args.start,
        click=args.click,
        bin_ps=args.bin_ps,
        window_ps=args.window_ps,
        arrival_range_ps=args.window_ps,
    )
    try:
        result = consumer.run(args.duration)
    finally:
        consumer.close()
    s = summary(result, args.period_ps, args.peak_ps)
    if args.json:
        print(json.dumps(s))
    else:
        for k, v in s.items():
            print(f"{k}: {v}")
    sys.stdout.flush()
    if result.stream_lost_at_s is not None:
        print(
            f"ionlink-analyze: tags: the stream from {args.address} was lost at t = "
            f"{result.stream_lost_at_s:.1f} s of the {args.duration:g} s capture (the tagger "
            "stopped, hung or its connection dropped): the summary is partial",
            file=sys.stderr,
        )
        if not result.tags:
            return 1
    elif not result.tags:
        print(
            f"ionlink-analyze: tags: no tags from {args.address} in {args.duration:g} s (is "
            "aqctl_ionlink_timetagger running, and a simulation feeding it with --tag-feed?)",
            file=sys.stderr,
        )
        return 1
    arrival = result.arrival
    if arrival.n_click and arrival.counts.sum() < ARRIVAL_NOTE_FRACTION * arrival.n_click:
        print(
            "ionlink-analyze: note: {} of {} click tags (inputs {}) follow a start tag (inputs "
            "{}) within {} ps: the arrival histogram is almost empty (--start: the input of "
            "an excitation or sync signal)".format(
                int(arrival.counts.sum()),
                arrival.n_click,
                ",".join(map(str, arrival.click)),
                ",".join(map(str, arrival.start)),
                int(arrival.edges_ps[-1]),
            ),
            file=sys.stderr,
        )
    return EXIT_PARTIAL if result.partial else 0
