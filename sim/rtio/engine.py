# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulated RTIO core: two clocks, SED output lanes, underflow, input reads, DMA and core cache.

Two clocks (``doc/manual/rtio.rst``): the timeline cursor :attr:`RTIOEngine.now` (int64 mu, what
``now_mu()`` returns) and the RTIO counter :attr:`RTIOEngine.counter` (mu; the gateware counter
``artiq/gateware/rtio/tsc.py`` is coarse, so :meth:`get_rtio_counter_mu` returns it rounded down to a
multiple of 8). The counter advances by the CPU cost of every operation (:mod:`sim.rtio.costs`), by
blocking input reads, by ``wait_until_mu`` and by stalls on full output lanes. Slack = now - counter.

The engine also implements ARTIQ's seven-method time-manager protocol (``artiq/language/core.py``),
with compiled semantics: ``delay(t)`` rounds ``t/ref_period`` half away from zero (LLVM ``llvm.round``,
``artiq/compiler/transforms/artiq_ir_generator.py``), ``parallel`` rewinds each top-level statement to
the block start and continues at the latest end.
"""
from __future__ import annotations

import logging
import sys
from bisect import bisect_left
from collections import deque
from typing import Any, Callable, Iterable, Sequence

from sim import syscalls
from sim.rtio.channels import KIND_TTL_INOUT, KIND_UNKNOWN, ChannelState
from sim.rtio.costs import CostProfile, load_profile
from sim.rtio.errors import CacheError, DMAError, RTIOOverflow, RTIOUnderflow
from sim.rtio.inputs import InputChannel

__all__ = ["RTIOEngine", "Period",
           "UNDERFLOW_MARGIN_COARSE", "BREAK_REALTIME_SLACK_MU", "ASYNC_COLLISION",
           "ASYNC_BUSY", "ASYNC_SEQUENCE"]

logger = logging.getLogger("sim.rtio.engine")
core_log_logger = logging.getLogger("ionlink.core_log")

#: ``minimum_coarse_timestamp = coarse_ts + 12`` (``artiq/gateware/rtio/sed/lane_distributor.py``,
#: ``artiq/gateware/rtio/core.py``): an event is accepted iff its coarse timestamp exceeds this.
UNDERFLOW_MARGIN_COARSE = 12
#: ``core.reset()``/``break_realtime()`` put the cursor this far ahead of the counter (``core.py``).
BREAK_REALTIME_SLACK_MU = 125000

# async error flags, as the firmware reports them (``artiq/firmware/runtime/rtio_mgt.rs``) and the host
# prints them (``artiq/coredevice/comm_kernel.py::_process_async_error``)
ASYNC_COLLISION = 1
ASYNC_BUSY = 2
ASYNC_SEQUENCE = 4
_ASYNC_WORDS = ((ASYNC_COLLISION, "collision(s)"), (ASYNC_BUSY, "busy error(s)"),
                (ASYNC_SEQUENCE, "sequence error(s)"))
_ASYNC_LOG = {ASYNC_COLLISION: "RTIO collision", ASYNC_BUSY: "RTIO busy error",
              ASYNC_SEQUENCE: "RTIO sequence error"}

_NEG = -(1 << 62)
_SIM_DIR = __file__.rsplit("/", 2)[0] + "/"  # .../sim/
_STANDIN_DIR = _SIM_DIR + "standin/"


def source_line() -> str:
    """``file:line`` of the innermost frame outside the simulator (the kernel line being executed)."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not fn.startswith(_SIM_DIR) or fn.startswith(_SIM_DIR + "physics"):
            return "{}:{}".format(fn, f.f_lineno)
        f = f.f_back
    return "<unknown>"


class _Frame:
    __slots__ = ("parallel", "start", "end")

    def __init__(self, parallel: bool, start: int) -> None:
        self.parallel = parallel
        self.start = start
        self.end = start


class RTIOEngine:
    """One core device's RTIO core, seen from its CPU.

    :param ref_period: machine unit in seconds (1 ns on Kasli).
    :param ref_multiplier: fine timestamps per coarse cycle (8 on Kasli; only 8 is supported).
    :param costs: CPU-cost profile, or its name/path (see :func:`sim.rtio.costs.load_profile`).
    :param lane_count: SED lanes (8, ``targets/kasli.py``); :param lane_depth: events per lane (128).
    """

    def __init__(self, ref_period: float = 1e-9, ref_multiplier: int = 8,
                 costs: "CostProfile | str" = "kasli2", lane_count: int = 8,
                 lane_depth: int = 128, rng: Any = None) -> None:
        if ref_multiplier != 8:
            raise ValueError("only ref_multiplier=8 (3 fine timestamp bits) is modelled")
        self.ref_period = ref_period
        self.ref_multiplier = ref_multiplier
        self.costs = load_profile(costs)
        self.rng = rng
        self.now = 0
        self.counter = 0
        self._frames: list[_Frame] = []
        self._par_top = False
        # SED lanes (artiq/gateware/rtio/sed/lane_distributor.py)
        self.lane_count = lane_count
        self.lane_depth = lane_depth
        self._lane = 0
        self._last_c = _NEG
        self._lane_last = [_NEG] * lane_count
        # coarse timestamps of the events in each lane (those already gone are dropped lazily)
        self._lane_q: list[deque[int]] = [deque() for _ in range(lane_count)]
        if lane_count & (lane_count - 1):
            raise ValueError("lane_count must be a power of 2")
        self._lane_mask = lane_count - 1
        self._lane_log: list[tuple[int, int]] | None = None
        self._cap: list[tuple[int, int, int, int, Any]] | None = None  # period capture
        # channels
        self.channels: dict[int, ChannelState] = {}
        self.names: dict[str, tuple[str, int, dict]] = {}  # device name -> (kind, channel, extra)
        self.worlds: list[Any] = []
        self.inputs: dict[int, InputChannel] = {}
        # errors and diagnostics
        self.core_log: list[str] = []
        self.async_errors: list[str] = []
        self._async_flags = 0
        self.kernel_async: list[str] = []
        # minimum slack of the current experiment (restarted by start_experiment), and of the
        # experiments before it
        self.min_slack = 1 << 62
        self.min_slack_info: tuple[int, int, str] | None = None  # (channel, timestamp, source line)
        self._earlier_min_slack: tuple[int, tuple[int, int, str] | None] = (1 << 62, None)
        self.n_outputs = 0
        self.outputs_before = 0  # outputs logged by the sessions this one's state descends from
        # DMA and cache
        self._rec: tuple[str, list] | None = None
        self.dma_traces: dict[str, tuple[int, list, int]] = {}
        self._dma_ptr = 0
        self.cache: dict[str, list[int]] = {}
        self._cache_taken: set[str] = set()
        self.dds: dict[tuple[int, int], Any] = {}  # (spi channel, cs) -> DDS state timeline
        self._c_out = self.costs.rtio_output
        self._c_delay = self.costs.delay
        self._mu_of: dict[float, int] = {}
        #: :class:`~sim.rtio.recorder.WaveRecorder` while a waveform file is requested, else None
        self.recorder: Any = None

    # ------------------------------------------------------------------ configuration
    def set_costs(self, costs: "CostProfile | str") -> None:
        """Swap the CPU-cost profile."""
        self.costs = load_profile(costs)
        self._c_out = self.costs.rtio_output
        self._c_delay = self.costs.delay

    def record_waveforms(self) -> Any:
        """Start recording what a VCD needs beyond the engine's logs (input edges, resets,
        entangler runs; :mod:`sim.rtio.recorder`); returns the recorder. Off by default."""
        if self.recorder is None:
            from sim.rtio.recorder import WaveRecorder
            self.recorder = WaveRecorder()
        return self.recorder

    def channel(self, channel: int) -> ChannelState:
        """The (created on demand) state of RTIO channel ``channel``."""
        st = self.channels.get(channel)
        if st is None:
            st = self.channels[channel] = ChannelState(channel)
        return st

    def register_channel(self, channel: int, kind: str, name: str | None = None,
                         phy: Any = None, input_depth: int | None = None) -> ChannelState:
        """Declare a channel's PHY kind and device name (idempotent).

        :param phy: PHY model; if it has ``on_output(ts, addr, data)`` it sees every accepted
            submission immediately; if it has ``input_events(t_end)`` it feeds an input FIFO of
            ``input_depth`` events.
        """
        st = self.channel(channel)
        if kind != KIND_UNKNOWN and (st.kind == KIND_UNKNOWN or phy is not None):
            st.set_kind(kind)
        if name is not None and (st.name == "unknown" or phy is not None):
            st.name = name
        if phy is not None and st.phy is None:
            st.phy = phy
            hook = getattr(phy, "on_output", None)
            if hook is not None:
                self.add_output_hook(channel, hook)
            if hasattr(phy, "input_events"):
                from sim.rtio.inputs import DEFAULT_FIFO_DEPTH
                self.inputs[channel] = InputChannel(channel, phy, input_depth or DEFAULT_FIFO_DEPTH)
        if name is not None:
            self.names.setdefault(name, (st.kind, channel, {}))
        return st

    def add_output_hook(self, channel: int, hook: Callable[[int, int, int], None]) -> None:
        """Call ``hook(ts, addr, data)`` for every accepted submission on ``channel``."""
        st = self.channel(channel)
        if st.hook is None:
            st.hook = hook
        else:
            first = st.hook

            def both(ts: int, addr: int, data: int, _a=first, _b=hook) -> None:
                _a(ts, addr, data)
                _b(ts, addr, data)
            st.hook = both

    def attach_world(self, world: Any) -> None:
        """Attach an input source (loopback wiring, physics); it is asked for edges lazily."""
        self.worlds.append(world)
        attach = getattr(world, "attach", None)
        if attach is not None:
            attach(self)

    def channel_name(self, channel: int) -> str:
        st = self.channels.get(channel)
        return st.name if st is not None else "unknown"

    # ------------------------------------------------------------------ time manager protocol
    def enter_sequential(self) -> None:
        frames = self._frames
        if frames and frames[-1].parallel:
            self.now = frames[-1].start
        frames.append(_Frame(False, self.now))
        self._par_top = False

    def enter_parallel(self) -> None:
        frames = self._frames
        if frames and frames[-1].parallel:
            self.now = frames[-1].start
        frames.append(_Frame(True, self.now))
        self._par_top = True

    def exit(self) -> None:
        frames = self._frames
        f = frames.pop()
        if f.parallel:
            self.now = f.end  # compiled: at_mu(max over statement ends, start)
        if frames:
            parent = frames[-1]
            if parent.parallel:
                if self.now > parent.end:
                    parent.end = self.now
                self.now = parent.start  # the next statement starts at the block start again
            self._par_top = parent.parallel
        else:
            self._par_top = False

    def take_time_mu(self, duration: int) -> None:
        """``delay_mu``: advance the cursor (negative allowed)."""
        self.counter += self._c_delay
        if self._par_top:  # a bare statement in a parallel block (not rewritten): it ends the block later
            f = self._frames[-1]
            end = f.start + int(duration)
            if end > f.end:
                f.end = end
            return
        self.now += duration

    def take_time(self, duration: float) -> None:
        """``delay``: seconds → mu, rounded half away from zero (``llvm.round``)."""
        mu = self._mu_of.get(duration)
        if mu is None:
            mu = self._seconds_to_mu(duration)
        if self._par_top:
            self.take_time_mu(mu)
            return
        self.counter += self._c_delay
        self.now += mu

    def _seconds_to_mu(self, duration: float) -> int:
        x = duration / self.ref_period
        mu = int(x + 0.5) if x >= 0 else -int(0.5 - x)
        if len(self._mu_of) < 4096:  # kernels use few distinct durations: memoise them
            self._mu_of[duration] = mu
        return mu

    def get_time_mu(self) -> int:
        return self.now

    def set_time_mu(self, time: int) -> None:
        """``at_mu``: any value, backwards allowed."""
        self.counter += self._c_delay
        self.now = int(time)

    def reset_frames(self) -> None:
        """Drop any open sequential/parallel frames (after a kernel raised)."""
        self._frames.clear()
        self._par_top = False

    # ------------------------------------------------------------------ counter
    def get_rtio_counter_mu(self) -> int:
        """The coarse RTIO counter (multiple of 8), without charging CPU time."""
        return self.counter & ~7

    def rtio_get_counter(self) -> int:
        """Syscall ``rtio_get_counter``: charge the CSR read, return the counter (multiple of 8)."""
        self.counter += self.costs.get_counter
        return self.counter & ~7

    def advance_counter(self, mu: int) -> None:
        """Let ``mu`` of counter time pass (host work between kernels, RPCs, launch)."""
        if mu > 0:
            self.counter += int(mu)

    def wait_until_mu(self, t: int) -> None:
        """Busy-wait until the coarse counter reaches ``t`` (``core.wait_until_mu``)."""
        self.counter += self.costs.get_counter
        t = (int(t) + 7) & ~7
        if self.counter < t:
            self.counter = t

    def slack(self) -> int:
        return self.now - self.counter

    def rtio_init(self) -> None:
        """Syscall ``rtio_init``: reset the ``rio`` domain (lanes, pending outputs, input FIFOs and
        gate sensitivities); the ``rio_phy`` domain (TTL levels, OE, DDS state) is kept
        (``artiq/gateware/rtio/core.py``)."""
        self.counter += self.costs.rtio_init
        if self.recorder is not None:
            self.recorder.resets.append(self.counter)
        cc = self.counter >> 3
        self._lane = 0
        self._last_c = _NEG
        self._lane_last = [_NEG] * self.lane_count
        self._lane_q = [deque() for _ in range(self.lane_count)]
        for inp in self.inputs.values():
            inp.fill(self.counter)
        for st in self.channels.values():
            raw = st.raw
            if raw and ((raw[-1][0] >> 3) > cc or st.flagged):
                # events still waiting in the lanes are flushed
                kept = [e for e in raw if (e[0] >> 3) <= cc]
                if len(kept) != len(raw):
                    st.raw = kept
                    st._res_len = -1
                    st.checked = min(st.checked, len(kept))
                    if not st.flagged:
                        st.max_c = kept[-1][0] >> 3 if kept else _NEG
            phy = st.phy
            if phy is not None and hasattr(phy, "rtio_reset"):
                phy.rtio_reset(self.counter)
        for inp in self.inputs.values():
            inp.reset()

    # ------------------------------------------------------------------ outputs
    def rtio_output(self, target: int, data: int) -> None:
        """Syscall ``rtio_output(target, data)``: submit an event at ``now`` (hot path).

        Order of checks as in ``sed/lane_distributor.py``: candidate lane, full-lane stall, underflow
        (synchronous ``RTIOUnderflow``, event discarded, lane state unchanged), sequence check (async:
        event dropped and logged), write.
        """
        counter = self.counter + self._c_out
        ts = self.now
        c = ts >> 3
        lane = self._lane
        if c <= self._last_c:
            lane = (lane + 1) & self._lane_mask
        q = self._lane_q[lane]
        if len(q) >= self.lane_depth:
            # full lane (or events already gone): the CPU spins until the head event leaves, when
            # the coarse counter reaches its coarse timestamp (``sed/gates.py``, ``rtio.rst``)
            cc = counter >> 3
            while q and q[0] <= cc:
                q.popleft()
            if len(q) >= self.lane_depth:
                counter = q.popleft() << 3
        if c <= (counter >> 3) + 12:
            self.counter = counter
            raise self._underflow(target, ts, counter)
        lane_last = self._lane_last
        if c <= lane_last[lane]:
            self.counter = counter
            self._sequence_error(target >> 8)
            return
        q.append(c)
        lane_last[lane] = self._last_c = c
        self._lane = lane
        self.counter = counter
        ch = target >> 8
        if ts - counter < self.min_slack:
            self._note_slack(ch, ts, counter)
        st = self.channels.get(ch)
        if st is None:
            st = self.channel(ch)
        if c > st.max_c:
            st.max_c = c
        else:
            st.flagged = True
            st.flag_c = st.max_c
        st.raw.append((ts, target & 0xff, data))
        if st.hook is not None:
            st.hook(ts, target & 0xff, data)

    @property
    def lane_log(self) -> list[tuple[int, int]] | None:
        """``(channel, lane)`` of every accepted event, while enabled (set to a list to enable)."""
        return self._lane_log

    @lane_log.setter
    def lane_log(self, value: list[tuple[int, int]] | None) -> None:
        self._lane_log = value
        self._swap_output()

    def _swap_output(self) -> None:
        """Route ``rtio_output`` to the DMA recorder or the lane logger while they are active (the
        hot path checks neither)."""
        if self._rec is not None:
            self.__dict__["rtio_output"] = self._record
        elif self._cap is not None:
            self.__dict__["rtio_output"] = self._captured_output
        elif self._lane_log is not None:
            self.__dict__["rtio_output"] = self._logged_output
        else:
            self.__dict__.pop("rtio_output", None)
        syscalls.refresh_hot(self)

    def _logged_output(self, target: int, data: int) -> None:
        st = self.channel(target >> 8)
        raw = st.raw
        n = len(raw)
        RTIOEngine.rtio_output(self, target, data)
        if len(raw) > n and self._lane_log is not None:
            self._lane_log.append((target >> 8, self._lane))

    def rtio_output_wide(self, target: int, data: Iterable[int]) -> None:
        """Syscall ``rtio_output_wide(target, [words])``: one event carrying several data words."""
        self.rtio_output(target, tuple(int(d) for d in data))

    def _underflow(self, target: int, ts: int, counter: int) -> RTIOUnderflow:
        ch = target >> 8
        counter8 = counter & ~7
        msg = "RTIO underflow at channel 0x{:04x}:{}, {} mu, slack {} mu (at {})".format(
            ch, self.channel_name(ch), ts, ts - counter8, source_line())
        return RTIOUnderflow(msg)  # a core-log error only if the kernel does not catch it

    def _sequence_error(self, channel: int) -> None:
        self._async(ASYNC_SEQUENCE, channel)

    def _async(self, flag: int, channel: int) -> None:
        msg = "{} involving channel 0x{:04x}:{}".format(_ASYNC_LOG[flag], channel,
                                                        self.channel_name(channel))
        self._async_flags |= flag
        self.async_errors.append(msg)
        self.kernel_async.append(msg)
        self._log_core(msg)

    def busy_error(self, channel: int) -> None:
        """Log an RTIO busy error (a PHY received an event while busy)."""
        self._async(ASYNC_BUSY, channel)

    def uncaught(self, exc: BaseException) -> None:
        """``exc`` left the outermost kernel: an RTIO underflow or overflow becomes a core-log
        error (one the kernel catches leaves none, as on hardware)."""
        if isinstance(exc, (RTIOUnderflow, RTIOOverflow)):
            self._log_core(str(exc))

    def _log_core(self, msg: str) -> None:
        self.core_log.append(msg)
        core_log_logger.error(msg)

    def start_experiment(self) -> None:
        """A new experiment starts: its minimum slack is tracked afresh (the session's minimum,
        over all experiments, stays in :meth:`summary`)."""
        self._earlier_min_slack = self._session_min_slack()
        self.min_slack = 1 << 62
        self.min_slack_info = None

    def _session_min_slack(self) -> tuple[int, tuple[int, int, str] | None]:
        if self.min_slack_info is not None and self.min_slack < self._earlier_min_slack[0]:
            return self.min_slack, self.min_slack_info
        return self._earlier_min_slack

    def _note_slack(self, channel: int, ts: int, counter: int) -> None:
        self.min_slack = ts - counter
        self.min_slack_info = (channel, ts, source_line())

    def check_collisions(self) -> None:
        """Resolve channels that received out-of-order events and log new collisions."""
        for st in self.channels.values():
            if st.flagged and len(st.raw) > st.checked:
                found: list[int] = []
                st.resolved(found)
                for _ in found:
                    self._async(ASYNC_COLLISION, st.channel)
                st.checked = len(st.raw)

    def end_kernel(self) -> str | None:
        """Collect a kernel's async errors; returns ARTIQ's host warning text or None."""
        self.check_collisions()
        self._cache_taken.clear()
        flags = self._async_flags
        self._async_flags = 0
        self.kernel_async = []
        if not flags:
            return None
        words = [w for f, w in _ASYNC_WORDS if flags & f]
        return "{} reported during kernel execution".format(", ".join(words))

    # ------------------------------------------------------------------ inputs
    def _input(self, channel: int) -> InputChannel:
        inp = self.inputs.get(channel)
        if inp is None:
            raise ValueError("RTIO channel {} ({}) has no input".format(
                channel, self.channel_name(channel)))
        return inp

    def _overflow(self, channel: int) -> RTIOOverflow:
        msg = "RTIO input overflow on channel 0x{:04x}:{}".format(channel, self.channel_name(channel))
        return RTIOOverflow(msg)  # a core-log error only if the kernel does not catch it

    def _read(self, channel: int, timeout: int | None) -> tuple[int, int]:
        """A read command: wait until counter >= timeout, or the FIFO has data, or overflow
        (``input_collector.py``, ``ksupport/rtio.rs``). Returns (ts, data) or (-1, 0) on timeout."""
        self.counter += self.costs.rtio_input
        inp = self._input(channel)
        if timeout is not None and timeout < 0:
            timeout = None  # the 64-bit unsigned timeout register: -1 waits forever
        counter = self.counter
        inp.fill(counter)
        if not inp.fifo and not inp.overflow:
            if timeout is None:
                t = self._wait_forever(inp)
            else:
                t = inp.next_arrival(timeout + 1)
            if t is None:
                counter = max(counter, (int(timeout) + 7) & ~7)  # type: ignore[arg-type]
                self.counter = counter
                inp.fill(counter)
                if not inp.fifo and not inp.overflow:
                    return -1, 0
            else:
                counter = max(counter, t)
                self.counter = counter
                inp.fill(counter)
        if inp.overflow:
            inp.overflow = False
            raise self._overflow(channel)
        return inp.fifo.popleft()

    def _wait_forever(self, inp: InputChannel) -> int:
        """Block without timeout. A PHY that knows its next self-generated event (a sample, a gate
        event, an SPI transfer) bounds the look-ahead exactly; otherwise the engine looks ahead in
        growing chunks (worlds then see outputs submitted later within the last chunk as missing)."""
        hint = getattr(inp.phy, "next_self_event", None)
        if hint is not None:
            t_self = hint()
            if t_self is not None:
                t = inp.next_arrival(max(t_self, self.counter) + 1)
                if t is not None:
                    return t
        step = 112
        t0 = self.counter
        limit = t0 + int(100.0 / self.ref_period)
        t_end = t0 + step
        while True:
            t = inp.next_arrival(t_end)
            if t is not None:
                return t
            if t_end > limit:
                raise RuntimeError("input read on RTIO channel 0x{:04x}:{} blocks forever (no event "
                                   "within 100 s of simulated time)".format(
                                       inp.channel, self.channel_name(inp.channel)))
            step = min(step * 2, 10_000_000)
            t_end += step

    def rtio_input_timestamp(self, timeout_mu: int, channel: int) -> int:
        """Syscall: timestamp of the next input event, or -1 if none arrives before ``timeout_mu``."""
        return self._read(channel, timeout_mu)[0]

    def rtio_input_count(self, timeout_mu: int, channel: int) -> int:
        """``rtio_input_timestamp(timeout_mu, channel)`` repeated until it returns -1 (the loop of
        ``TTLInOut.count``, each read charged as one); the number of events read."""
        n = 0
        cost = self.costs.rtio_input
        inp = self._input(channel)
        while self._read(channel, timeout_mu)[0] >= 0:
            n += 1
            # the buffered events are read back to back, one read cost each, no wait; what
            # arrives meanwhile queues behind them (if it cannot fill the FIFO: no overflow)
            m = len(inp.fifo)
            if m and not inp.overflow:
                end = self.counter + m * cost
                inp.generate(end + 1)
                if m + len(inp.pending) < inp.depth:
                    self.counter = end
                    inp.fifo.clear()
                    n += m
                    inp.fill(end)
        return n

    def rtio_input_data(self, channel: int) -> int:
        """Syscall: data of the next input event (blocks without timeout)."""
        return self._read(channel, None)[1]

    def rtio_input_timestamped_data(self, timeout_mu: int, channel: int) -> tuple[int, int]:
        """Syscall: ``(timestamp, data)`` of the next input event, or ``(-1, 0)`` on timeout."""
        return self._read(channel, timeout_mu)

    def world_edges(self, channel: int, t_end: int) -> list[tuple[int, int]]:
        """Input transitions on ``channel`` before ``t_end`` from all attached worlds, in time order."""
        out: list[tuple[int, int]] = []
        for w in self.worlds:
            e = w.input_edges(channel, t_end)
            if e:
                out.extend(e)
        if len(self.worlds) > 1:
            out.sort(key=lambda x: x[0])
        if out and self.recorder is not None:
            self.recorder.add_edges(channel, out)
        return out

    # ------------------------------------------------------------------ views for worlds/tests
    def _compact(self, st: ChannelState) -> None:
        """Fold a flagged channel's final events (coarse time ≤ counter + 12 can take no more
        events) into its resolution; log collisions found on the way."""
        for _ in st.compact((self.counter >> 3) + 13):
            self._async(ASYNC_COLLISION, st.channel)

    def resolved(self, channel: int) -> list[tuple[int, int, int]]:
        """Resolved output events of ``channel`` (after replacement/collisions), in time order."""
        st = self.channels.get(channel)
        if st is None:
            return []
        if st.flagged:
            self._compact(st)
        return st.resolved()

    def ttl_levels(self, channel: int, t_from_mu: int, t_to_mu: int) -> list[tuple[int, int]]:
        """Resolved output level changes ``(t_mu, level)`` of a TTL-like channel with
        ``t_from_mu <= t < t_to_mu`` (TTLInOut: drives only while OE is on)."""
        st = self.channels.get(channel)
        if st is None:
            return []
        if st.flagged:
            self._compact(st)
        view = st.level_view
        if view is None:
            from sim.rtio.phy.ttl import LevelView
            view = st.level_view = LevelView(st)
        return view.levels(t_from_mu, t_to_mu)

    def ttl_levels_many(self, channels: Sequence[int], t_from_mu: int,
                        t_to_mu: int) -> list[tuple[int, int, int]]:
        """:meth:`ttl_levels` of several channels: ``(t_mu, index in channels, level)``, grouped
        by channel. Channels with nothing new and no change in the window cost one check."""
        out: list[tuple[int, int, int]] = []
        chans = self.channels
        for i, ch in enumerate(channels):
            st = chans.get(ch)
            if st is None:
                continue
            view = st.level_view
            if view is not None and view.quiet_since(t_from_mu):
                continue
            for t, lvl in self.ttl_levels(ch, t_from_mu, t_to_mu):
                out.append((t, i, lvl))
        return out

    def ttl_level_at(self, channel: int, t_mu: int) -> int:
        """Output level of a TTL-like channel at ``t_mu``."""
        ch = self.ttl_levels(channel, _NEG, t_mu + 1)
        return ch[-1][1] if ch else 0

    def resolve_device(self, name: str) -> tuple[str, int, dict]:
        """``(kind, channel, extra)`` of a device name (``extra``: e.g. ``{"cs": 4}`` for an AD9910)."""
        try:
            return self.names[name]
        except KeyError:
            raise KeyError("device {!r} is not an RTIO device of this core".format(name)) from None

    def dds_timeline(self, spi_channel: int, cs: int) -> Any:
        from sim.rtio.phy.urukul import DDSTimeline
        key = (spi_channel, cs)
        tl = self.dds.get(key)
        if tl is None:
            tl = self.dds[key] = DDSTimeline()
        return tl

    def dds_states(self, spi_channel: int, cs: int, t_from_mu: int = _NEG,
                   t_to_mu: int = 1 << 62) -> list:
        """AD9910 states (``DDSState``) that took effect with ``t_from_mu <= t < t_to_mu``."""
        tl = self.dds.get((spi_channel, cs))
        return tl.states(t_from_mu, t_to_mu) if tl is not None else []

    def dds_state_at(self, spi_channel: int, cs: int, t_mu: int) -> Any:
        """The AD9910 state in effect at ``t_mu`` (None before the first IO_UPDATE)."""
        tl = self.dds.get((spi_channel, cs))
        return tl.state_at(t_mu) if tl is not None else None

    # ------------------------------------------------------------------ DMA
    def _record(self, target: int, data: int) -> None:
        self.counter += self.costs.dma_record_event
        self._rec[1].append((self.now, target, data))  # type: ignore[index]

    def dma_record_start(self, name: str) -> None:
        """Syscall: redirect outputs into a trace (``ksupport/lib.rs``)."""
        if self._rec is not None:
            raise DMAError("DMA is already recording")
        self._rec = (name, [])
        self._swap_output()

    def dma_record_stop(self, duration: int, enable_ddma: bool = False) -> None:
        """Syscall: store the recorded trace with its duration (the cursor at ``__exit__``)."""
        if self._rec is None:
            raise DMAError("DMA is not recording")
        name, events = self._rec
        self._rec = None
        self._swap_output()
        self._dma_ptr += 1
        self.dma_traces[name] = (int(duration), events, self._dma_ptr)

    def dma_erase(self, name: str) -> None:
        self.dma_traces.pop(name, None)

    def dma_retrieve(self, name: str) -> tuple[int, int, bool]:
        """Syscall: ``(duration, ptr, uses_ddma)``; missing name → ``DMAError("DMA trace not found")``."""
        try:
            duration, _, ptr = self.dma_traces[name]
        except KeyError:
            raise DMAError("DMA trace not found") from None
        return duration, ptr, False

    def dma_playback(self, timestamp: int, ptr: int, enable_ddma: bool = False) -> None:
        """Syscall: replay a trace at ``timestamp`` through the SED. The CPU blocks until every event
        is submitted; at the first underflow the DMA engine discards the rest and the kernel gets
        ``RTIOUnderflow`` after playback (``gateware/rtio/dma.py``, ``ksupport/lib.rs``)."""
        for _, events, p in self.dma_traces.values():
            if p == ptr:
                break
        else:
            raise DMAError("Invalid DMA trace pointer")
        self.counter += self.costs.dma_playback_start
        per_event = self.costs.dma_playback_event
        saved_now, saved_cost = self.now, self._c_out
        self._c_out = per_event
        error = None
        try:
            for rel, target, data in events:
                self.now = timestamp + rel
                try:
                    self.rtio_output(target, data)
                except RTIOUnderflow:
                    error = "RTIO underflow at channel 0x{:04x}:{}, {} mu".format(
                        target >> 8, self.channel_name(target >> 8), self.now)
                    break
        finally:
            self.now, self._c_out = saved_now, saved_cost
        if error is not None:
            raise RTIOUnderflow(error)

    # ------------------------------------------------------------------ periods
    def capture_start(self) -> bool:
        """Start recording every accepted submission with the clocks at its time (for
        :meth:`repeat_period`). False (nothing recorded) while DMA records or the lane log is on."""
        if self._rec is not None or self._lane_log is not None or self._cap is not None:
            return False
        self._cap = [(self.now, self.counter, 0, -1, len(self.kernel_async))]
        self._swap_output()
        return True

    def capture_stop(self) -> "Period | None":
        """Stop recording; the submissions since :meth:`capture_start` as a :class:`Period`, or
        None when one failed (underflow, sequence error) or nothing was recorded."""
        cap = self._cap
        self._cap = None
        self._swap_output()
        if cap is None or len(cap) < 2:
            return None
        now0, counter0, _, _, n_async = cap[0]
        if len(self.kernel_async) != n_async or len(cap) - 1 >= self.lane_depth:
            return None
        return Period(now0, counter0, self.now, self.counter, cap[1:])

    def _captured_output(self, target: int, data: Any) -> None:
        cap = self._cap
        entry = (self.now, self.counter, self._c_out, target, data)
        RTIOEngine.rtio_output(self, target, data)  # an underflow propagates: no period then
        cap.append(entry)  # type: ignore[union-attr]

    def repeat_period(self, period: "Period", max_repeats: int, phy_channel: int,
                      ref: Any = None) -> int:
        """Fast-forward passes of a kernel loop around a run of the PHY on ``phy_channel``.

        The caller has checked that the loop is now where ``period`` (a pass recorded earlier)
        began, relative to the cursor, so that the next pass makes ``period``'s submissions
        again, shifted to start at the cursor; for more than one pass, ``period`` must also end
        where it began (passes then follow every T = ``period.length``). The PHY's
        ``skip_runs(max_repeats, T, ref, writes)`` (``writes``: its submissions in the first
        pass) says how many of them end the same way, and advances itself and the physics over
        them. Their submissions are then logged, without re-triggering that PHY, and the cursor,
        counter and SED lanes move on as the per-event path would move them: every submission
        lies inside its pass and has the same slack as in ``period``, and no earlier event is
        still waiting in a lane, so none underflows, stalls a lane or reaches a channel out of
        order. Returns the number of passes done.
        """
        t = period.length
        periodic = period.counter1 - period.now1 == period.counter0 - period.now0
        if (t <= 0 or (max_repeats > 1 and not periodic)
                or self.now - self.counter != period.now0 - period.counter0
                or not period.regular):
            return 0
        st = self.channels.get(phy_channel)
        if st is None or st.phy is None or not hasattr(st.phy, "skip_runs"):
            return 0
        s0 = self.now - period.now0     # shift of the first pass
        by_ch = period.by_channel
        for ch, evs in by_ch.items():
            other = self.channels[ch]
            if (other.flagged or (ch != phy_channel and other.hook is not None)
                    or other.max_c >= (evs[0][0] + s0) >> 3):
                return 0
        # events still waiting in a lane would see the passes' submissions queue behind them
        cc = self.counter >> 3
        for q in self._lane_q:
            while q and q[0] <= cc:
                q.popleft()
            if q:
                return 0
        writes = [(ts + s0, a, d) for ts, a, d in by_ch.get(phy_channel, ())]
        k_done = st.phy.skip_runs(max_repeats, t, ref, writes)
        if k_done <= 0:
            return 0
        shifts = range(s0, s0 + k_done * t, t)
        for ch, evs in by_ch.items():
            other = self.channels[ch]
            n_before = len(other.raw)
            other.raw.extend([(ts + s, a, d) for s in shifts for ts, a, d in evs])
            other.max_c = (evs[-1][0] + shifts[-1]) >> 3
            if other.level_view is not None:
                other.level_view.repeat(evs, shifts, n_before)
        self._replay_lanes(period, shifts)
        self.now = period.now1 + shifts[-1]
        self.counter = period.counter1 + shifts[-1]
        return k_done

    def _replay_lanes(self, period: "Period", shifts: range) -> None:
        """SED lane state after ``period``'s submissions at each of ``shifts``: the first pass
        and the last eight are made event by event (the lanes they touch hold the latest coarse
        timestamps); the passes between only rotate the lane by the period's switches."""
        lane, last_c, mask = self._lane, self._last_c, self._lane_mask
        lane_last = self._lane_last
        events = period.events
        n = len(shifts)
        tail = min(n - 1, self.lane_count)
        for i, s in enumerate(shifts):
            if 0 < i < n - tail:
                if i == n - tail - 1:   # skip the middle passes at once
                    lane = (lane + (n - tail - 1) * period.switches) & mask
                    last_c = (events[-1][0] + s) >> 3
                continue
            for e in events:
                c = (e[0] + s) >> 3
                if c <= last_c:
                    lane = (lane + 1) & mask
                lane_last[lane] = last_c = c
        self._lane, self._last_c = lane, last_c  # the lanes themselves stay empty: all past

    # ------------------------------------------------------------------ cache
    def cache_get(self, key: str) -> list[int]:
        """Syscall: the stored list (empty if absent); marks the key as extracted in this kernel."""
        self.counter += self.costs.cache
        self._cache_taken.add(key)
        return list(self.cache.get(key, []))

    def cache_put(self, key: str, value: list[int]) -> None:
        """Syscall: store a list; replacing a value extracted in this kernel → ``CacheError``."""
        self.counter += self.costs.cache
        if key in self._cache_taken and key in self.cache:
            raise CacheError("cannot put into a busy cache row")
        self.cache[key] = [int(v) for v in value]

    # ------------------------------------------------------------------ summary
    def summary(self) -> dict[str, Any]:
        kinds = {"collision": 0, "busy": 0, "sequence": 0}
        for m in self.async_errors:
            if m.startswith("RTIO collision"):
                kinds["collision"] += 1
            elif m.startswith("RTIO busy"):
                kinds["busy"] += 1
            elif m.startswith("RTIO sequence"):
                kinds["sequence"] += 1
        return {
            "now_mu": self.now, "counter_mu": self.counter,
            **self._slack_items("min_slack", self.min_slack, self.min_slack_info),
            **self._slack_items("session_min_slack", *self._session_min_slack()),
            "collisions": kinds["collision"], "busy_errors": kinds["busy"],
            "sequence_errors": kinds["sequence"], "async_errors": list(self.async_errors),
            "n_outputs": self.outputs_before + sum(len(st.raw) for st in self.channels.values()),
        }


    def _slack_items(self, prefix: str, slack: int, info: tuple[int, int, str] | None
                     ) -> dict[str, Any]:
        """``{prefix}_mu``, ``_channel``, ``_timestamp_mu``, ``_source`` (``None`` if no event)."""
        return {prefix + "_mu": None if info is None else slack,
                prefix + "_channel": None if info is None else "0x{:04x}:{}".format(
                    info[0], self.channel_name(info[0])),
                prefix + "_timestamp_mu": None if info is None else info[1],
                prefix + "_source": None if info is None else info[2]}


class Period:
    """What one pass of a kernel loop submitted: clocks at its start and end, and every accepted
    submission ``(now, counter, CPU cost, target, data)`` in order
    (:meth:`RTIOEngine.capture_stop`).
    :attr:`key` compares periods independently of where they lie on the timeline."""

    __slots__ = ("now0", "counter0", "now1", "counter1", "events", "_key", "_by_ch", "_regular",
                 "_switches")

    def __init__(self, now0: int, counter0: int, now1: int, counter1: int,
                 events: list[tuple[int, int, int, int, Any]]) -> None:
        self.now0, self.counter0, self.now1, self.counter1 = now0, counter0, now1, counter1
        self.events = events
        self._key: tuple | None = None
        self._by_ch: dict[int, list[tuple[int, int, Any]]] | None = None
        self._regular: bool | None = None
        self._switches: int | None = None

    @property
    def length(self) -> int:
        """Cursor advance over the period, in mu."""
        return self.now1 - self.now0

    @property
    def by_channel(self) -> dict[int, list[tuple[int, int, Any]]]:
        """The submissions per channel as logged: ``(timestamp, address, data)``."""
        if self._by_ch is None:
            out: dict[int, list[tuple[int, int, Any]]] = {}
            for ts, _, _, target, data in self.events:
                out.setdefault(target >> 8, []).append((ts, target & 0xff, data))
            self._by_ch = out
        return self._by_ch

    @property
    def regular(self) -> bool:
        """Every submission lies in the period, before the counter at its end, and each channel's
        coarse timestamps strictly increase: shifted copies cannot meet or wait in a lane."""
        if self._regular is None:
            self._regular = True
            for evs in self.by_channel.values():
                prev = -(1 << 62)
                for ts, _, _ in evs:
                    c = ts >> 3
                    if c <= prev or ts < self.now0 or ts >= self.now1 or ts >= self.counter1:
                        self._regular = False
                    prev = c
        return self._regular

    @property
    def switches(self) -> int:
        """SED lane switches per period (a coarse timestamp not after the previous one)."""
        if self._switches is None:
            n = 0
            prev = (self.events[-1][0] - self.length) >> 3
            for e in self.events:
                c = e[0] >> 3
                if c <= prev:
                    n += 1
                prev = c
            self._switches = n
        return self._switches

    @property
    def key(self) -> tuple:
        if self._key is None:
            n0 = self.now0
            self._key = (self.now1 - n0, self.counter0 - n0, self.counter1 - n0,
                         tuple((a - n0, b - n0, c, d, e) for a, b, c, d, e in self.events))
        return self._key


def _unused() -> None:  # keep imports used by type checkers only
    _ = (bisect_left, KIND_TTL_INOUT)
