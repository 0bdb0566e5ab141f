# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulated RTIO core: :class:`RTIOEngine`, the one object the rest of the simulator uses.

Two clocks, as in ARTIQ's RTIO manual: the timeline cursor :attr:`RTIOEngine.now` (int64 mu,
what ``now_mu()`` returns) and the RTIO counter :attr:`RTIOEngine.counter` (mu). The engine is
composed of one mixin per concern, each in its own module:

==========================  ==========================================================
:mod:`sim.rtio.timeline`    cursor, sequential/parallel frames, seconds→mu rounding
:mod:`sim.rtio.counter`     RTIO counter, CPU-cost profile, ``wait_until_mu``
:mod:`sim.rtio.sed`         SED lanes and the ``rtio_output`` hot path, collisions
:mod:`sim.rtio.inputs`      input FIFOs, input syscalls, world edges
:mod:`sim.rtio.views`       resolved logs, TTL levels, DDS states (the physics' view)
:mod:`sim.rtio.dma`         DMA recording and playback, core cache
:mod:`sim.rtio.capture`     period capture and repeat (the fast-forward's engine part)
:mod:`sim.rtio.summary`     core log, async errors (:class:`~sim.rtio.summary.AsyncError`),
                            minimum slack, :meth:`~RTIOEngine.summary`
==========================  ==========================================================

This module wires them together: channel registration, attached worlds, ``rtio_init`` and the
end of a kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from sim.fastforward import CyclePhy, CycleWorld
from sim.rtio.capture import Period, PeriodCapture
from sim.rtio.channels import ChannelState, Kind
from sim.rtio.costs import CostProfile
from sim.rtio.counter import Counter
from sim.rtio.dma import DMACache
from sim.rtio.inputs import DEFAULT_FIFO_DEPTH, InputChannel, InputReads
from sim.rtio.phy.interface import InputSource, OutputObserver, Resettable, implements
from sim.rtio.sed import UNDERFLOW_MARGIN_COARSE, SEDOutputs
from sim.rtio.summary import AsyncError, Diagnostics
from sim.rtio.timeline import Timeline
from sim.rtio.views import PhyViews

if TYPE_CHECKING:
    from sim.physics.view import World

__all__ = [
    "RTIOEngine",
    "Period",
    "AsyncError",
    "UNDERFLOW_MARGIN_COARSE",
    "BREAK_REALTIME_SLACK_MU",
    "ASYNC_COLLISION",
    "ASYNC_BUSY",
    "ASYNC_SEQUENCE",
]

#: ``core.reset()``/``break_realtime()`` put the cursor this far ahead of the counter.
BREAK_REALTIME_SLACK_MU = 125000
# async error flags, as ARTIQ's firmware reports them
ASYNC_COLLISION = AsyncError.COLLISION
ASYNC_BUSY = AsyncError.BUSY
ASYNC_SEQUENCE = AsyncError.SEQUENCE


class RTIOEngine(
    Timeline, Counter, SEDOutputs, InputReads, PhyViews, DMACache, PeriodCapture, Diagnostics
):
    """One core device's RTIO core, seen from its CPU.

    :param ref_period: machine unit in seconds (1 ns on Kasli).
    :param ref_multiplier: fine timestamps per coarse cycle (8 on Kasli; only 8 is supported).
    :param costs: CPU-cost profile, or its name/path (see :func:`sim.rtio.costs.load_profile`).
    :param lane_count: SED lanes (8 on Kasli); :param lane_depth: events per lane (128).
    :param rng: the simulation's random generator (PHYs and worlds draw from it).
    """

    # the per-event state as slots (cheaper to read and write than the instance dictionary, which
    # holds the rest)
    __slots__ = (
        "now",
        "counter",
        "min_slack",
        "channels",
        "_lane",
        "_last_c",
        "_lane_q",
        "_lane_last",
        "_lane_mask",
        "_c_out",
        "_c_gap",
        "_c_delay",
        "_mu_of",
        "_delay_s",
        "_delay_mu",
        "_pulse_s",
        "_pulse_mu",
        "_par_top",
        "_slack_floor",
        "_routed",
        "_diverted",
    )

    def __init__(
        self,
        ref_period: float = 1e-9,
        ref_multiplier: int = 8,
        costs: "CostProfile | str" = "kasli2",
        lane_count: int = 8,
        lane_depth: int = 128,
        rng: Any = None,
    ) -> None:
        if ref_multiplier != 8:
            raise ValueError("only ref_multiplier=8 (3 fine timestamp bits) is modelled")
        self.ref_period = ref_period
        self.ref_multiplier = ref_multiplier
        self.rng = rng
        self.channels: dict[int, ChannelState] = {}
        self.cycle_world: CycleWorld | None = None
        #: :class:`~sim.rtio.recorder.WaveRecorder` while a waveform file is requested, else None
        self.recorder: Any = None
        #: the lab's device database (for messages naming devices), set by the session
        self.device_db: dict = {}
        #: uninitialised hardware plays on silently instead of raising (set by the session)
        self.hardware_faithful = False
        #: :class:`~sim.rtio.drtio.Drtio` when the system has satellites, else None
        self.drtio: Any = None
        #: kernels that have ended on this engine (:meth:`end_kernel`): an experiment refused in
        #: build or prepare that ran none never reached the core device
        self.kernels_ended = 0
        #: the PHYs that ``rtio_init`` resets, by channel (declared as they are added)
        self._resettable: dict[int, Resettable] = {}
        #: submissions logged after the last retiring (what it kept, :mod:`sim.rtio.retire`)
        self.retire_base = 0
        self._init_timeline()
        self._init_counter(costs)
        self._init_sed(lane_count, lane_depth)
        self._init_inputs()
        self._init_views()
        self._init_dma()
        self._init_capture()
        self._init_diagnostics()

    def record_waveforms(self) -> Any:
        """Start recording what a VCD needs beyond the engine's logs (input edges, resets,
        entangler runs; :mod:`sim.rtio.recorder`), its own draws following the state of the
        engine's generator (:meth:`~sim.rtio.recorder.WaveRecorder.follow`); returns the
        recorder. Off by default."""
        if self.recorder is None:
            from sim.rtio.recorder import WaveRecorder

            self.recorder = WaveRecorder()
            if self.rng is not None:
                self.recorder.follow(self.rng)
            for inp in self.inputs.values():
                inp.marks = self.recorder.exceptions
        return self.recorder

    # ------------------------------------------------------------------ channels and worlds
    def channel(self, channel: int) -> ChannelState:
        """The (created on demand) state of RTIO channel ``channel``."""
        st = self.channels.get(channel)
        if st is None:
            st = self.channels[channel] = ChannelState(channel)
        return st

    def register_channel(
        self,
        channel: int,
        kind: Kind,
        name: str | None = None,
        phy: Any = None,
        input_depth: int | None = None,
    ) -> ChannelState:
        """Declare a channel's PHY kind and device name (idempotent).

        :param phy: PHY model; what it takes part in is declared by the protocols of
            :mod:`sim.rtio.phy.interface`: an :class:`~sim.rtio.phy.interface.OutputObserver`
            sees every accepted submission immediately; an
            :class:`~sim.rtio.phy.interface.InputSource` feeds an input FIFO of ``input_depth``
            events; a :class:`~sim.fastforward.CyclePhy` is handed the attached
            :class:`~sim.fastforward.CycleWorld`.
        """
        st = self.channel(channel)
        if kind != Kind.UNKNOWN and (st.kind == Kind.UNKNOWN or phy is not None):
            st.set_kind(kind)
        if name is not None and (st.name == "unknown" or phy is not None):
            st.name = name
        if phy is not None and st.phy is None:
            st.phy = phy
            if implements(phy, OutputObserver):
                self.add_output_hook(channel, phy.on_output)
            if implements(phy, Resettable):
                self._resettable[channel] = phy
            if implements(phy, InputSource):
                inp = InputChannel(channel, phy, input_depth or DEFAULT_FIFO_DEPTH)
                if self.recorder is not None:
                    inp.marks = self.recorder.exceptions
                self.inputs[channel] = inp
            if self.cycle_world is not None and isinstance(phy, CyclePhy):
                phy.bind_world(self.cycle_world)
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

    def attach_world(self, world: World) -> None:
        """Attach an input source (loopback wiring, physics); it is asked for edges lazily. The
        first :class:`~sim.fastforward.CycleWorld` is handed to the PHYs that execute runs."""
        self.worlds.append(world)
        world.attach(self)
        if self.cycle_world is None and isinstance(world, CycleWorld):
            self.cycle_world = world
            for st in self.channels.values():
                if isinstance(st.phy, CyclePhy):
                    st.phy.bind_world(world)

    # ------------------------------------------------------------------ resets and kernel ends
    def rtio_init(self) -> None:
        """Syscall ``rtio_init``: reset the ``rio`` domain (lanes, pending outputs, input FIFOs and
        gate sensitivities); the ``rio_phy`` domain (TTL levels, OE, DDS state) is kept."""
        self.counter += self.costs.rtio_init
        if self.recorder is not None:
            self.recorder.resets.append(self.counter)
        cc = self.counter >> 3
        self._reset_lanes()
        for inp in self.inputs.values():
            inp.fill(self.counter)
        resettable = self._resettable
        for ch, st in self.channels.items():
            st.drop_after(cc)  # events still waiting in the lanes are flushed
            if ch in resettable:
                resettable[ch].rtio_reset(self.counter)
        for inp in self.inputs.values():
            inp.reset()
        if self.drtio is not None:
            self.drtio.rtio_init()

    def rtio_get_destination_status(self, destination: int) -> bool:
        """Syscall ``rtio_get_destination_status`` (a request to the comms CPU, charged as a
        counter read): destination 0 is up; a satellite as its link (:mod:`sim.rtio.drtio`)."""
        self.counter += self.costs.get_counter
        if self.drtio is not None:
            return bool(self.drtio.status(int(destination)))
        return int(destination) == 0

    def end_kernel(self) -> str | None:
        """Collect a kernel's async errors; returns ARTIQ's host warning text or None."""
        self.kernels_ended += 1
        self.check_collisions()
        self._cache_taken.clear()
        return self._end_kernel_errors()
