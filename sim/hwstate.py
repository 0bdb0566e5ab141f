# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulated lab's persistent state between experiments: named records, capture and restore.

In a lab the Kasli, the Urukuls, the TTLs, the entangler core and the ions keep their state from one
experiment to the next; only the host-side driver objects are built anew. :func:`capture` takes
that state from a :class:`~sim.session.SimSession` at the end of an experiment as a
:class:`HardwareState` (plain dataclasses, ints, lists and numpy arrays; never the session's logs,
which grow with every event), and :func:`restore` puts it into a freshly built session.

Before capturing, the session is *settled* at a horizon ``H`` after the latest output submitted, the
cursor and the counter (``SETTLE_MARGIN_MU`` later, so that gate and sample requests have taken
effect): the physics and every input channel are brought up to ``H``, as the hardware plays out its
pending outputs after a kernel returns. What the hardware keeps is then recorded:

- clocks (cursor, RTIO counter — not before ``H`` minus the gap between experiments, so that the
  next experiment never submits into time its predecessor's outputs already took), SED lane
  state, DMA traces, core cache, the session's cumulative diagnostics and the random generator's
  state;
- per TTL output: output value, output enable and level; per TTL input: sensitivity, level, input
  FIFO (with its sticky overflow) and the edges not yet turned into events; SPI masters'
  configuration; clock generators' frequency word;
- per Urukul: CPLD CFG and attenuator registers, every AD9910 register (CFR3 says whether it was
  initialised) and sysclk, whether the CPLD was configured since power-up, profiles written but
  not yet applied, each channel's output state and waveform RAM, and its serial port (a cycle in
  progress, out of step after a write cut short);
- the entangler core's registers;
- the ions (density matrix, temperatures, coherence origins), the beams as the physics saw them,
  staged excitations and each detector's pending clicks (:meth:`PhysicsWorld.save_state`).

Caches (cycle laws, superoperator plans, the fast-forward's learnt periods) are not state: a
restored session rebuilds them. The Python :class:`~sim.runner.Simulation` session goes through the
same capture/restore between its experiments, so one session with several ``run()`` calls and the
same sequence of ``ionlink-sim run`` processes give identical results.
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sim.rtio.channels import Kind

__all__ = [
    "SETTLE_MARGIN_MU",
    "STATE_VERSION",
    "EdgeCounterRecord",
    "EngineRecord",
    "EntanglerRecord",
    "HardwareState",
    "InputFIFORecord",
    "SPIRecord",
    "TTLInputRecord",
    "TTLOutputRecord",
    "UrukulRecord",
    "capture",
    "restore",
]

#: Version of the records below; a stored state of another version is discarded (cold start).
STATE_VERSION = 1
#: Settling margin after the last output, in mu: covers the TTL gate offset (88 mu) and the input
#: arrival latency (16 mu) with room to spare.
SETTLE_MARGIN_MU = 1024
_SINCE_EVER = -(1 << 61)


@dataclass
class EngineRecord:
    """RTIO core: clocks (mu), SED lanes (coarse timestamps in coarse cycles), DMA traces, core
    cache, cumulative diagnostics."""

    now_mu: int
    counter_mu: int
    lane: int
    last_c: int
    lane_last: list[int]
    lane_queues: list[list[int]]
    dma_traces: dict[str, tuple[int, list, int]]
    dma_ptr: int
    cache: dict[str, list[int]]
    async_errors: list[str]
    min_slack_mu: int
    min_slack_info: tuple[int, int, str] | None
    outputs_before: int


@dataclass
class TTLOutputRecord:
    """Output side of a TTL channel: output value, output enable, resulting level."""

    channel: int
    o: int
    oe: int
    level: int


@dataclass
class TTLInputRecord:
    """Input side of a TTLInOut: sensitivity (bit 0 rising, bit 1 falling), input level, coarse
    time of the last registered edge, edges from the worlds not yet turned into events."""

    channel: int
    sens: int
    level: int
    last_c: int
    edges: list[tuple[int, int]]


@dataclass
class EdgeCounterRecord:
    """Edge counter: gate configuration, count so far, input level, edges not yet counted."""

    channel: int
    config: int
    count: int
    level: int
    edges: list[tuple[int, int]]


@dataclass
class InputFIFORecord:
    """Input FIFO of one channel: buffered ``(ts, data)``, in-flight ``(arrival, ts, data)``,
    sticky overflow, time up to which its PHY produced events (mu)."""

    channel: int
    fifo: list[tuple[int, int]]
    pending: list[tuple[int, int, int]]
    overflow: bool
    t_gen: int


@dataclass
class SPIRecord:
    """SPI master: configuration register fields, busy-until (mu), pending read-backs."""

    channel: int
    flags: int
    length: int
    div: int
    cs: int
    busy_until: int
    reads: list[tuple[int, int, int]]


@dataclass
class UrukulRecord:
    """One Urukul: CPLD CFG/ATT registers, AD9910 register files and sysclk (Hz) by chip select,
    whether CFG was written since power-up, IO_UPDATE TTL channel, each channel's output state
    (``DDSState``) by chip select, and the chip selects with a profile written since the last
    IO_UPDATE, the non-empty waveform RAMs (address → word) by chip select, the AD9910 serial
    ports (``SerialPort``: a cycle in progress, out of step) by chip select, and the chip select
    held low (0: none)."""

    spi_channel: int
    proto_rev: int
    cfg: int
    att: int
    dds_regs: dict[int, dict[int, int]]
    sysclk: dict[int, float]
    cfg_written: bool
    io_update_channel: int | None
    outputs: dict[int, Any] = field(default_factory=dict)
    profile_written: list[int] = field(default_factory=list)
    dds_ram: dict[int, dict[int, int]] = field(default_factory=dict)
    dds_serial: dict[int, Any] = field(default_factory=dict)
    selected: int = 0
    #: the attenuators were written since power-up (state files before it: taken as written)
    att_written: bool = True


@dataclass
class EntanglerRecord:
    """The entangler core's registers (``drivers/entangler.py`` address map) and pending reads."""

    channel: int
    config: int
    tcycle: int
    herald: int
    timing: list[int]
    counter_patterns: list[int]
    status: int
    ncycles: int
    time_remaining: int
    timestamps: list[int]
    counters: list[int]
    events: list[tuple[int, int, int]]


@dataclass
class HardwareState:
    """Everything the simulated lab keeps between experiments (see the module docstring).

    :param seed: the seed of the power-up this state descends from, given or drawn from entropy
        (None: a power-up by an older simulator, which recorded none).
    :param rng_state: ``numpy.random.Generator.bit_generator.state`` of the session's generator.
    :param experiments: experiments run since power-up.
    """

    version: int
    seed: int | None
    rng_state: dict
    experiments: int
    engine: EngineRecord
    ttl_outputs: list[TTLOutputRecord]
    ttl_inputs: list[TTLInputRecord]
    edge_counters: list[EdgeCounterRecord]
    fifos: list[InputFIFORecord]
    spi: list[SPIRecord]
    urukuls: list[UrukulRecord]
    entanglers: list[EntanglerRecord]
    clock_words: dict[int, tuple[int, int, int]]
    loopback_done: dict[int, list[int]]
    world: Any = None


# ---------------------------------------------------------------------------------------------
# capture


def settle_horizon(engine: Any) -> int:
    """The time (mu) by which every output submitted so far has taken effect."""
    t = max(engine.now, engine.counter)
    for st in engine.channels.values():
        if st.log and st.max_c > -(1 << 61):
            t = max(t, st.max_c + 8)
    return t + SETTLE_MARGIN_MU


def capture(session: Any) -> HardwareState:
    """Settle ``session`` (see the module docstring) and return its persistent state."""
    from sim.rtio.phy.edge_counter import EdgeCounterPhy
    from sim.rtio.phy.entangler import EntanglerPhy
    from sim.rtio.phy.spi import SPIPhy
    from sim.rtio.phy.ttl import LevelView
    from sim.rtio.phy.ttl_input import TTLInputPhy
    from sim.rtio.phy.urukul import UrukulDecoder

    eng = session.engine
    horizon = settle_horizon(eng)
    if session.world is not None:
        session.world.advance(horizon)
    for inp in eng.inputs.values():
        inp.fill(horizon)
    eng.check_collisions()
    ttl_out, ttl_in, counters, spis, urukuls, ents = [], [], [], [], [], []
    clock_words: dict[int, tuple[int, int, int]] = {}
    for ch, st in eng.channels.items():
        phy = st.phy
        if st.kind in (Kind.TTL_OUT, Kind.TTL_INOUT):
            if st.level_view is None:
                st.level_view = LevelView(st)
            final = st.level_view.final_by_last()
            if final is None:
                res = eng.resolved(ch)  # (compacts a channel with out-of-order submissions)
                final = st.level_view.final(res)
            ttl_out.append(TTLOutputRecord(ch, *final))
        elif st.kind == Kind.CLKGEN:
            words = [e for e in eng.resolved(ch) if e[1] == 0]
            if words:
                clock_words[ch] = words[-1]
        if isinstance(phy, TTLInputPhy):
            ttl_in.append(
                TTLInputRecord(ch, phy.sens, phy.level, phy.last_c, list(phy.edges[phy.edge_idx :]))
            )
        elif isinstance(phy, EdgeCounterPhy):
            counters.append(
                EdgeCounterRecord(
                    ch, phy.config, phy.count, phy.level, list(phy.edges[phy.edge_idx :])
                )
            )
        elif isinstance(phy, SPIPhy):
            spis.append(
                SPIRecord(
                    ch, phy.flags, phy.length, phy.div, phy.cs, phy.busy_until, list(phy.reads)
                )
            )
            for dec in phy.slaves:
                if isinstance(dec, UrukulDecoder):
                    urukuls.append(_urukul_record(eng, dec, horizon))
        elif isinstance(phy, EntanglerPhy):
            phy.draw_stale_timestamps()
            ents.append(
                EntanglerRecord(
                    ch,
                    phy.config,
                    phy.tcycle,
                    phy.herald,
                    list(phy.timing),
                    list(phy.counter_patterns),
                    phy.status,
                    phy.ncycles,
                    phy.time_remaining,
                    list(phy.timestamps),
                    list(phy.counters),
                    list(phy.events),
                )
            )
    fifos = [
        InputFIFORecord(ch, list(inp.fifo), list(inp.pending), inp.overflow, inp.t_gen)
        for ch, inp in eng.inputs.items()
    ]
    gap_mu = round(session.inter_experiment_gap_s / eng.ref_period)
    lane, last_c, lane_last = eng.lane_state()
    engine = EngineRecord(
        now_mu=eng.now,
        counter_mu=max(eng.counter, horizon - gap_mu),
        lane=lane,
        last_c=last_c,
        lane_last=lane_last,
        lane_queues=eng.lane_queues(),
        dma_traces=dict(eng.dma_traces),
        dma_ptr=eng._dma_ptr,
        cache={k: list(v) for k, v in eng.cache.items()},
        async_errors=list(eng.async_errors),
        min_slack_mu=eng.min_slack,
        min_slack_info=eng.min_slack_info,
        outputs_before=getattr(eng, "outputs_before", 0)
        + sum(len(st.log) for st in eng.channels.values()),
    )
    loopback = {ch: [w[2] for w in ws] for ch, ws in session.loopback.wires.items()}
    world = session.world.save_state() if session.world is not None else None
    return HardwareState(
        STATE_VERSION,
        session.seed,
        session.rng.bit_generator.state,
        session._experiments,
        engine,
        ttl_out,
        ttl_in,
        counters,
        fifos,
        spis,
        urukuls,
        ents,
        clock_words,
        loopback,
        world,
    )


def _urukul_record(eng: Any, dec: Any, horizon: int) -> UrukulRecord:
    outputs = {}
    for cs in dec.dds:
        state = eng.dds_state_at(dec.spi_channel, cs, horizon)
        if state is not None:
            outputs[cs] = state
    return UrukulRecord(
        dec.spi_channel,
        dec.proto_rev,
        dec.cfg,
        dec.att,
        {cs: dict(r.regs) for cs, r in dec.dds.items()},
        {cs: r.sysclk for cs, r in dec.dds.items()},
        dec.cfg_written,
        dec.io_update_channel,
        outputs,
        [cs for cs, r in dec.dds.items() if r.profile_written],
        {cs: dict(r.ram) for cs, r in dec.dds.items() if r.ram},
        {cs: copy.deepcopy(r.port) for cs, r in dec.dds.items()},
        dec.selected_cs,
        dec.att_initial is not None or bool(dec.att_log),
    )


# ---------------------------------------------------------------------------------------------
# restore


def restore(session: Any, state: HardwareState) -> None:
    """Put ``state`` into ``session``, a session freshly built from the same device database and
    lab (its engine has logged nothing yet)."""
    eng = session.engine
    _restore_engine(eng, state.engine)
    _restore_ttl(eng, state)
    _restore_inputs(eng, state)
    _restore_urukuls(eng, state.urukuls)
    _restore_entanglers(eng, state.entanglers)
    for ch, done in state.loopback_done.items():
        for w, t_done in zip(session.loopback.wires.get(ch, []), done):
            w[2] = t_done
    if state.world is not None and session.world is not None:
        session.world.load_state(state.world)
    session.rng.bit_generator.state = state.rng_state
    session.seed = state.seed
    session._experiments = state.experiments


def _restore_engine(eng: Any, e: EngineRecord) -> None:
    """The engine's cursor, counter, SED lanes, DMA, cache, errors and slack record."""
    eng.now, eng.counter = e.now_mu, e.counter_mu
    eng.load_lane_state(e.lane, e.last_c, list(e.lane_last))
    eng.load_lane_queues(e.lane_queues)
    eng.dma_traces = dict(e.dma_traces)
    eng._dma_ptr = e.dma_ptr
    eng.cache = {k: list(v) for k, v in e.cache.items()}
    eng.restore_async_errors(e.async_errors)
    eng.min_slack, eng.min_slack_info = e.min_slack_mu, e.min_slack_info
    eng.outputs_before = e.outputs_before


def _restore_ttl(eng: Any, state: HardwareState) -> None:
    """TTL output levels and clock generator words."""
    from sim.rtio.phy.ttl import LevelView

    for rec in state.ttl_outputs:
        st = eng.channel(rec.channel)
        view = st.level_view = LevelView(st)
        view.o, view.oe, view.level = rec.o, rec.oe, rec.level
        if rec.level:  # the level since before the restored timeline (for level_at, VCD)
            view.t.append(_SINCE_EVER)
            view.lv.append(rec.level)
    for ch, event in state.clock_words.items():
        st = eng.channel(ch)
        st.raw = [tuple(event)]
        st.max_c = event[0] & -8


def _restore_inputs(eng: Any, state: HardwareState) -> None:
    """TTL inputs, edge counters, input FIFOs and SPI masters."""
    for rec in state.ttl_inputs:
        phy = eng.channel(rec.channel).phy
        phy.sens, phy.level, phy.last_c = rec.sens, rec.level, rec.last_c
        phy.edges, phy.edge_idx = list(rec.edges), 0
    for cnt in state.edge_counters:
        phy = eng.channel(cnt.channel).phy
        phy.config, phy.count, phy.level = cnt.config, cnt.count, cnt.level
        phy.edges, phy.edge_idx = list(cnt.edges), 0
    for fifo in state.fifos:
        inp = eng.inputs.get(fifo.channel)
        if inp is not None:
            inp.fifo, inp.pending = deque(fifo.fifo), deque(fifo.pending)
            inp.overflow, inp.t_gen = fifo.overflow, fifo.t_gen
    for spi in state.spi:
        master = eng.channel(spi.channel).phy
        master.flags, master.length, master.div, master.cs = spi.flags, spi.length, spi.div, spi.cs
        master.busy_until, master.reads = spi.busy_until, deque(spi.reads)


def _restore_urukuls(eng: Any, urukuls: list[UrukulRecord]) -> None:
    """Urukul decoders (CPLD and DDS registers) attached to their SPI masters."""
    from sim.rtio.phy.urukul import UrukulDecoder

    for rec in urukuls:
        spi = eng.channel(rec.spi_channel).phy
        dec = UrukulDecoder(eng, rec.spi_channel, rec.proto_rev)
        dec.cfg, dec.att, dec.cfg_written = rec.cfg, rec.att, rec.cfg_written
        dec.cfg_initial = rec.cfg
        dec.att_initial = rec.att if getattr(rec, "att_written", True) else None
        dec.changed()
        for cs, regs in rec.dds_regs.items():
            dec.dds[cs].regs = dict(regs)
            dec.dds[cs].sysclk = rec.sysclk[cs]
            dec.dds[cs].profile_written = cs in rec.profile_written
        for cs, ram in getattr(rec, "dds_ram", {}).items():  # absent in older state files
            dec.dds[cs].ram = dict(ram)
        for cs, port in getattr(rec, "dds_serial", {}).items():
            dec.dds[cs].port = copy.deepcopy(port)
        dec.selected_cs = getattr(rec, "selected", 0)
        spi.attach_slave(dec)
        if rec.io_update_channel is not None:
            dec.attach_io_update(rec.io_update_channel)
        for cs, out in rec.outputs.items():
            eng.dds_timeline(rec.spi_channel, cs).add(out)


def _restore_entanglers(eng: Any, entanglers: list[EntanglerRecord]) -> None:
    """Entangler gateware registers, timestamps and pending events."""
    for rec in entanglers:
        phy = eng.channel(rec.channel).phy
        for name in ("config", "tcycle", "herald", "status", "ncycles", "time_remaining"):
            setattr(phy, name, getattr(rec, name))
        phy.timing, phy.counter_patterns = list(rec.timing), list(rec.counter_patterns)
        phy.timestamps, phy.counters = list(rec.timestamps), list(rec.counters)
        phy.events = deque(rec.events)
