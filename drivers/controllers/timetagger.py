# SPDX-License-Identifier: LGPL-3.0-or-later
"""Photon time tagger (the interface of the Swabian Time Tagger / PicoQuant class): numbered
inputs with a trigger level and a dead time, each tag a (time in ps, channel) record, streamed
over ZeroMQ PUB (:mod:`.tag_stream`) and optionally written to HDF5 (:mod:`.tag_file`).

Inputs are numbered from 1; a rising edge on input ``c`` is tagged ``c`` (a falling edge would be
``-c``, Swabian's convention; the simulated pulses give rising-edge tags only). Default wiring:
inputs 1–4 = the analyser's detectors ``bsa_det0``–``bsa_det3``, 5 and 6 = the PMTs
``node_a.pmt`` and ``node_b.pmt``, 7 = node A's excitation trigger ``node_a.excite`` (the sync of
arrival histograms; :data:`DEFAULT_INPUTS`; a feed may name its own).

With ``--simulation`` the tags come from a running simulation: the simulator
(``ionlink-sim run --tag-feed ADDRESS``) pushes every detector and PMT click of its physics world
to the controller's feed socket (PULL; same message format), and the controller treats them as
the electrical pulses at its inputs: an input tags a pulse if it is enabled and its trigger level
lies between the baseline (0 V) and the pulse height (:data:`SIM_PULSE_V`), and drops tags within
its dead time of the previous one. No hardware backend is written yet.
"""

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zmq

from .tag_file import TagFile
from .tag_stream import TagBatch, TagStreamError, decode, encode

__all__ = [
    "DEFAULT_INPUTS",
    "SIM_PULSE_V",
    "InputConfig",
    "TimeTagger",
    "TimeTaggerError",
    "apply_inputs",
    "endpoints",
]

logger = logging.getLogger(__name__)

DEFAULT_INPUTS = {
    1: "bsa_det0",
    2: "bsa_det1",
    3: "bsa_det2",
    4: "bsa_det3",
    5: "node_a.pmt",
    6: "node_b.pmt",
    7: "node_a.excite",
}
#: height of the simulated detector pulses at the tagger's inputs, V
SIM_PULSE_V = 2.0
#: allowed trigger levels, V (Swabian Time Tagger range)
LEVEL_RANGE_V = (-2.5, 2.5)
#: dead-time range, ps
DEAD_TIME_RANGE_PS = (0, 1_000_000_000)
DEFAULT_DEAD_TIME_PS = 2000
DEFAULT_LEVEL_V = 0.5


class TimeTaggerError(ValueError):
    """A request the tagger cannot carry out (unknown input, level out of range, ...)."""


@dataclass
class InputConfig:
    """One input: enabled, trigger level (V), dead time (ps), time of its last tag (ps)."""

    enabled: bool = True
    level_v: float = DEFAULT_LEVEL_V
    dead_time_ps: int = DEFAULT_DEAD_TIME_PS
    last_ps: int | None = None

    def triggers(self, pulse_v: float) -> bool:
        """Whether a pulse of height ``pulse_v`` crosses the level."""
        return self.enabled and 0.0 < self.level_v < pulse_v


def _dead_time_keep(times: np.ndarray, dead_ps: int, last: int | None) -> np.ndarray:
    """Mask of the tags of one input kept by its dead time (``last``: previous tag, ps)."""
    keep = np.ones(len(times), dtype=bool)
    if not len(times) or dead_ps <= 0:
        return keep
    first_ok = last is None or times[0] - last >= dead_ps
    if first_ok and np.all(np.diff(times) >= dead_ps):
        return keep
    prev = last
    for i, t in enumerate(times):
        if prev is not None and t - prev < dead_ps:
            keep[i] = False
        else:
            prev = int(t)
    return keep


def apply_inputs(
    times: np.ndarray, channels: np.ndarray, inputs: dict[int, InputConfig], pulse_v: float
) -> tuple[np.ndarray, np.ndarray]:
    """The tags the inputs register of pulses at ``(times, channels)`` (time-ordered): enabled
    inputs whose level the pulse crosses, dead time applied. Updates each input's ``last_ps``."""
    keep = np.zeros(len(times), dtype=bool)
    for c, cfg in inputs.items():
        sel = np.nonzero(channels == c)[0]
        if not len(sel) or not cfg.triggers(pulse_v):
            continue
        k = _dead_time_keep(times[sel], cfg.dead_time_ps, cfg.last_ps)
        keep[sel[k]] = True
        if k.any():
            cfg.last_ps = int(times[sel[k]][-1])
    return times[keep], channels[keep]


def endpoints(hosts: Sequence[str] | None, port: int) -> list[str]:
    """ZeroMQ TCP endpoints for ``hosts`` (None: every interface) and ``port``."""
    if hosts is None:
        return [f"tcp://*:{port}"]
    return [f"tcp://[{h}]:{port}" if ":" in h else f"tcp://{h}:{port}" for h in hosts]


class TimeTagger:
    """The controller's driver (see the module docstring).

    :param stream: endpoints the PUB stream binds. :param feed: endpoints the simulation feed
        (PULL) binds. :param inputs: input number → name.
    """

    def __init__(
        self,
        stream: Sequence[str],
        feed: Sequence[str],
        inputs: dict[int, str] | None = None,
    ) -> None:
        self._names = dict(inputs or DEFAULT_INPUTS)
        self._inputs = {c: InputConfig() for c in self._names}
        self._counts = dict.fromkeys(self._names, 0)
        self._lock = threading.Lock()
        self._ctx = zmq.Context()
        self._pub = self._ctx.socket(zmq.PUB)
        self._pull = self._ctx.socket(zmq.PULL)
        for sock, eps in ((self._pub, stream), (self._pull, feed)):
            sock.setsockopt(zmq.IPV6, 1)
            sock.setsockopt(zmq.LINGER, 0)
            for ep in eps:
                sock.bind(ep)
        self._stream = list(stream)
        self._seq = 0
        self._lost = 0  # feed messages that could not be read, as tags (unknown: counted 0)
        self._bad = 0
        self._file: TagFile | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="timetagger-feed", daemon=True)
        self._thread.start()

    # ---- RPC ---------------------------------------------------------------------------------
    def ping(self) -> bool:
        """True while the controller is up."""
        return not self._stop.is_set()

    def get_inputs(self) -> dict[int, str]:
        """Input number → the name of what is wired to it."""
        return dict(self._names)

    def _input(self, channel: int) -> InputConfig:
        cfg = self._inputs.get(int(channel)) if isinstance(channel, (int, float)) else None
        if cfg is None:
            raise TimeTaggerError(f"no input {channel!r} (have {sorted(self._inputs)})")
        return cfg

    def set_trigger_level(self, channel: int, level_v: float):
        """Trigger level of input ``channel``, in V (−2.5 … 2.5)."""
        lo, hi = LEVEL_RANGE_V
        if not isinstance(level_v, (int, float)) or not (lo <= level_v <= hi):
            raise TimeTaggerError(f"trigger level {level_v!r} V outside [{lo}, {hi}] V")
        with self._lock:
            self._input(channel).level_v = float(level_v)

    def get_trigger_level(self, channel: int) -> float:
        """Trigger level of input ``channel``, in V."""
        return self._input(channel).level_v

    def set_dead_time(self, channel: int, dead_time_ps: int) -> int:
        """Dead time of input ``channel``, in ps (0 … 10⁹); returns the value set."""
        lo, hi = DEAD_TIME_RANGE_PS
        if not isinstance(dead_time_ps, (int, float)) or not (
            math.isfinite(dead_time_ps) and lo <= dead_time_ps <= hi
        ):
            raise TimeTaggerError(f"dead time {dead_time_ps!r} ps outside [{lo}, {hi}] ps")
        with self._lock:
            self._input(channel).dead_time_ps = int(round(dead_time_ps))
            return self._input(channel).dead_time_ps

    def get_dead_time(self, channel: int) -> int:
        """Dead time of input ``channel``, in ps."""
        return self._input(channel).dead_time_ps

    def set_enabled(self, channel: int, enabled: bool):
        """Enable or disable input ``channel`` (a disabled input gives no tags)."""
        with self._lock:
            self._input(channel).enabled = bool(enabled)

    def get_enabled(self, channel: int) -> bool:
        """Whether input ``channel`` is enabled."""
        return self._input(channel).enabled

    def get_counts(self) -> dict[int, int]:
        """Tags per input since the controller started (or :meth:`reset_counts`)."""
        with self._lock:
            return dict(self._counts)

    def reset_counts(self):
        """Set the tag counters to 0."""
        with self._lock:
            self._counts = dict.fromkeys(self._names, 0)

    def get_stream(self) -> dict:
        """Where and how tags are published: ``{"endpoints": [...], "format": ..., "version":
        ...}`` (subscribe with ZeroMQ SUB to one endpoint, all topics)."""
        from .tag_stream import FORMAT, VERSION

        return {"endpoints": list(self._stream), "format": FORMAT, "version": VERSION}

    def get_status(self) -> dict:
        """Batches published, feed messages rejected, tags lost, file being written."""
        with self._lock:
            return {
                "batches": self._seq,
                "rejected_messages": self._bad,
                "lost": self._lost,
                "recording": None if self._file is None else str(self._file.path),
            }

    def start_recording(self, path: str) -> str:
        """Write every tag published from now on to the new HDF5 file ``path`` (on the
        controller's host; an existing file is never overwritten). Returns the absolute path."""
        with self._lock:
            if self._file is not None:
                raise TimeTaggerError(f"already recording to {self._file.path}")
            try:
                self._file = TagFile(Path(path))
            except (FileExistsError, OSError) as exc:
                raise TimeTaggerError(f"cannot record to {path}: {exc}") from None
            return str(self._file.path)

    def stop_recording(self) -> int:
        """Close the file being written; returns the number of tags in it (0 if none)."""
        with self._lock:
            f, self._file = self._file, None
        if f is None:
            return 0
        f.close()
        return f.count

    def close(self):
        """Stop the feed thread, close the sockets and any file (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=5)
        self.stop_recording()
        self._pub.close(0)
        self._pull.close(0)
        self._ctx.term()

    # ---- the feed ----------------------------------------------------------------------------
    def _pump(self) -> None:
        poller = zmq.Poller()
        poller.register(self._pull, zmq.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(100):
                continue
            frames = self._pull.recv_multipart()
            try:
                batch = decode(frames)
            except TagStreamError as exc:
                logger.warning("feed message rejected: %s", exc)
                with self._lock:
                    self._bad += 1
                continue
            self._publish(batch.times_ps, batch.channels, lost=batch.lost)

    def _publish(self, times_ps: np.ndarray, channels: np.ndarray, lost: int = 0) -> int:
        """Pulses at the inputs (time-ordered) → tags: filter, publish, record. Returns the
        number of tags published."""
        with self._lock:
            t, c = apply_inputs(
                np.asarray(times_ps, np.int64),
                np.asarray(channels, np.int32),
                self._inputs,
                SIM_PULSE_V,
            )
            self._lost += lost
            for ch, n in zip(*np.unique(c, return_counts=True)):
                self._counts[int(ch)] = self._counts.get(int(ch), 0) + int(n)
            batch = TagBatch(self._seq, t, c, lost, self._names, "simulation")
            self._seq += 1
            self._pub.send_multipart(encode(batch))
            if self._file is not None:
                self._file.write(batch)
        return len(t)
