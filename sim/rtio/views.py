# SPDX-License-Identifier: LGPL-3.0-or-later
"""What the engine shows of the resolved outputs: the :class:`~sim.physics.view.PhyView` that
physics worlds, the VCD writer and ``peek`` read (TTL level timelines, AD9910 state timelines,
device names). Reads only; they resolve replacement and collisions first."""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, Callable, Sequence

from sim.rtio.channels import ChannelState, Kind
from sim.rtio.phy.spi import SPIPhy
from sim.rtio.phy.ttl import LevelView
from sim.rtio.phy.urukul import UrukulDecoder
from sim.rtio.sed import NEG

__all__ = ["NEVER", "OutputWatch", "PhyViews"]

#: a time after every other (mu): "never"
NEVER = -NEG


class PhyViews:
    """Resolved output logs, TTL levels, DDS states and device names (mixed into the engine)."""

    channels: dict[int, ChannelState]
    _compact: Callable[[ChannelState], None]

    def _init_views(self) -> None:
        self.names: dict[str, tuple[Kind, int, dict]] = {}  # device name -> (kind, channel, extra)
        self.dds: dict[tuple[int, int], Any] = {}  # (spi channel, cs) -> DDS timeline
        self._dds_sw: dict[tuple[int, int], int] | None = None  # (spi, cs) -> switch TTL channel
        #: :meth:`ttl_levels_many`'s last channel list and its (index, channel state) pairs
        self._many: tuple[list[int], list[tuple[int, ChannelState]]] = ([], [])
        #: :meth:`dds_changes`' records, by SPI channel << 8 | chip select
        self._dds_marks: dict[int, _DDSMark] = {}

    def resolve_device(self, name: str) -> tuple[Kind, int, dict]:
        """``(kind, channel, extra)`` of a device name (``extra``: e.g. ``{"cs": 4}``, AD9910)."""
        try:
            return self.names[name]
        except KeyError:
            raise KeyError("device {!r} is not an RTIO device of this core".format(name)) from None

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
        view = self._level_view(channel)
        return [] if view is None else view.levels(t_from_mu, t_to_mu)

    def ttl_level_columns(
        self, channel: int, t_from_mu: int, t_to_mu: int
    ) -> tuple[list[int], list[int]]:
        """:meth:`ttl_levels` as two lists: the changes' times and their levels."""
        view = self._level_view(channel)
        return ([], []) if view is None else view.columns(t_from_mu, t_to_mu)

    def _level_view(self, channel: int) -> LevelView | None:
        """The level view of ``channel`` (made on first use; its log sorted first if it holds
        out-of-order submissions), or None for a channel nothing was submitted to."""
        st = self.channels.get(channel)
        if st is None:
            return None
        if st.flagged:
            self._compact(st)
        view = st.level_view
        if view is None:
            view = st.level_view = LevelView(st)
        return view

    def ttl_levels_many(
        self, channels: Sequence[int], t_from_mu: int, t_to_mu: int
    ) -> list[tuple[int, int, int]]:
        """:meth:`ttl_levels` of several channels: ``(t_mu, index in channels, level)``, grouped
        by channel. Channels with nothing new and no change in the window cost one check."""
        out: list[tuple[int, int, int]] = []
        known, pairs = self._many
        if known != channels:  # (a list compare: the same list asked again costs no lookups)
            pairs = self._many_pairs(channels)
        for i, st in pairs:
            view = st.level_view
            if view is None or st.flagged or view.gen is not None:
                levels = self.ttl_levels(channels[i], t_from_mu, t_to_mu)
            else:
                # LevelView.quiet_since, inline (one check per channel and world query; a
                # channel's outputs, so its levels, are at most 7 mu after its max_c)
                if view.idx >= len(st.log) and (
                    st.max_c + 8 <= t_from_mu or not view.t or view.t[-1] < t_from_mu
                ):
                    continue
                levels = view.levels(t_from_mu, t_to_mu)  # :meth:`ttl_levels`, inline
            if levels:
                out += [(t_mu, i, lvl) for t_mu, lvl in levels]
        return out

    def _many_pairs(self, channels: Sequence[int]) -> list[tuple[int, ChannelState]]:
        """``(index, channel state)`` of the ``channels`` that have one (kept for the next
        :meth:`ttl_levels_many` once all have: channel states are never replaced)."""
        chans = self.channels
        pairs = [(i, chans[ch]) for i, ch in enumerate(channels) if ch in chans]
        if len(pairs) == len(channels):
            self._many = (list(channels), pairs)
        return pairs

    def output_watch(self, channels: Sequence[int]) -> "OutputWatch":
        """A watch on the outputs submitted to ``channels`` (:class:`OutputWatch`)."""
        return OutputWatch(self.channels, channels)

    def dds_watch(self, keys: Sequence[tuple[int, int]]) -> "DDSWatch":
        """A watch on the changes of the AD9910s ``keys`` ((SPI channel, chip select) each:
        :class:`DDSWatch`)."""
        return DDSWatch(self, keys)

    def dds_timeline(self, spi_channel: int, cs: int) -> Any:
        """The (created on demand) AD9910 state timeline of ``cs`` on ``spi_channel``."""
        key = (spi_channel, cs)
        tl = self.dds.get(key)
        if tl is None:
            from sim.rtio.phy.dds_timeline import DDSTimeline  # it loads the physics' DDSState

            tl = self.dds[key] = DDSTimeline()
        return tl

    def dds_states(
        self, spi_channel: int, cs: int, t_from_mu: int = NEG, t_to_mu: int = 1 << 62
    ) -> list[Any]:
        """AD9910 states (``DDSState``) that took effect with ``t_from_mu <= t < t_to_mu``."""
        tl = self.dds.get((spi_channel, cs))
        return tl.states(t_from_mu, t_to_mu) if tl is not None else []

    def dds_state_at(self, spi_channel: int, cs: int, t_mu: int) -> Any:
        """The AD9910 state in effect at ``t_mu`` (None before the first IO_UPDATE)."""
        tl = self.dds.get((spi_channel, cs))
        return tl.state_at(t_mu) if tl is not None else None

    def urukul_cpld(self, spi_channel: int) -> UrukulDecoder | None:
        """The Urukul CPLD on the SPI bus ``spi_channel`` (its first such slave: its CFG RF
        switches and attenuators), or None."""
        st = self.channels.get(spi_channel)
        phy = st.phy if st is not None else None
        if isinstance(phy, SPIPhy):
            for slave in phy.slaves:
                if isinstance(slave, UrukulDecoder):
                    return slave
        return None

    def dds_attenuation(
        self, spi_channel: int, cs: int, t_from_mu: int, t_to_mu: int
    ) -> tuple[float | None, list[tuple[int, float]]]:
        """The Urukul attenuation (dB) of the AD9910 at ``cs`` on ``spi_channel`` in force at
        ``t_from_mu`` and its changes before ``t_to_mu`` (None: not written since power-up, or
        no Urukul CPLD on that bus)."""
        cpld = self.urukul_cpld(spi_channel)
        if cpld is None:
            return None, []
        return cpld.attenuation_db(cs, t_from_mu, t_to_mu)

    def dds_rf_switch(self, spi_channel: int, cs: int, t_mu: int) -> bool:
        """Whether the AD9910 at ``cs`` on ``spi_channel`` passes its Urukul's RF switch at
        ``t_mu``: the CPLD's RF_SW bit of the channel (CFG) or its switch TTL (the device's
        ``sw``), as the CPLD ORs them. False without a Urukul CPLD on that bus."""
        cpld = self.urukul_cpld(spi_channel)
        if cpld is None:
            return False
        if cpld.rf_switch(cs, t_mu):
            return True
        sw = self._dds_switches().get((spi_channel, cs))
        return sw is not None and bool(self.ttl_level_at(sw, t_mu))

    def dds_change_times(
        self, spi_channel: int, cs: int, t_from_mu: int, t_to_mu: int
    ) -> list[int]:
        """The times ``t_from_mu <= t < t_to_mu`` (mu), ascending, at which what
        :meth:`dds_state_at`, :meth:`dds_attenuation` or :meth:`dds_rf_switch` of the AD9910 at
        ``cs`` on ``spi_channel`` answer may change: an IO_UPDATE applying another state
        (:meth:`~sim.rtio.phy.dds_timeline.DDSTimeline.change_times`), a CFG write changing its
        RF_SW bit or an attenuator write changing its attenuation (the Urukul CPLD that
        :meth:`dds_rf_switch` reads), a level change of its switch TTL."""
        times: list[int] = []
        tl = self.dds.get((spi_channel, cs))
        if tl is not None:
            times += tl.change_times(t_from_mu, t_to_mu)
        cpld = self.urukul_cpld(spi_channel)
        if cpld is not None:
            times += cpld.change_times(cs, t_from_mu, t_to_mu)
        sw = self._dds_switches().get((spi_channel, cs))
        if sw is not None:
            times += [t for t, _ in self.ttl_levels(sw, t_from_mu, t_to_mu)]
        return sorted(set(times)) if len(times) > 1 else times

    def dds_changes(self, spi_channel: int, cs: int) -> tuple[int, int, int] | None:
        """A mark of what :meth:`dds_state_at`, :meth:`dds_attenuation` and
        :meth:`dds_rf_switch` of the AD9910 at ``cs`` on ``spi_channel`` read: ``(stamp of its
        state timeline, stamp of its Urukul CPLD's CFG and attenuator histories, the latest
        time of their entries)``. The stamps change with every change of either, so while the
        mark is the same their answers at any time at or after its latest are the same. None
        when that does not hold without the switch TTL (CFG does not close the RF switch after
        the latest time: the switch TTL decides, whose outputs have no stamp) or without a
        Urukul CPLD on the bus. The same object while neither stamp changes."""
        known = self._dds_marks.get(spi_channel << 8 | cs)
        if known is None or known.tl is None or len(known.slaves) != known.n_slaves:
            known = self._dds_mark(spi_channel, cs)
            if known is None:
                return None
        tl, cpld = known.tl, known.cpld
        if tl is not None and tl.stamp == known.tl_stamp and cpld.stamp == known.cpld_stamp:
            return known.mark
        latest = cpld.t_last
        if tl is None:
            stamp = 0
        else:
            stamp = tl.stamp
            if tl.t and tl.t[-1] > latest:
                latest = tl.t[-1]
        mark = (stamp, cpld.stamp, latest) if cpld.rf_switch(cs, latest) else None
        known.tl_stamp, known.cpld_stamp, known.mark = stamp, cpld.stamp, mark
        return mark

    def _dds_mark(self, spi_channel: int, cs: int) -> _DDSMark | None:
        """:meth:`dds_changes`' record of that AD9910 (made anew), with the Urukul CPLD that
        :meth:`dds_attenuation` and :meth:`dds_rf_switch` read (:meth:`urukul_cpld`); None
        without one. Kept while the bus has as many slaves (they are only added) and the DDS
        has a timeline (made once)."""
        cpld = self.urukul_cpld(spi_channel)
        if cpld is None:
            return None
        slaves = self.channels[spi_channel].phy.slaves
        known = self._dds_marks[spi_channel << 8 | cs] = _DDSMark(
            self.dds.get((spi_channel, cs)), cpld, slaves
        )
        return known

    def _dds_switches(self) -> dict[tuple[int, int], int]:
        """(SPI channel, chip select) → the RTIO channel of that AD9910's switch TTL (made on
        first use, once every device is known)."""
        known = self._dds_sw
        if known is None:
            known = self._dds_sw = {}
            for kind, ch, extra in self.names.values():
                sw = extra.get("sw") if kind == Kind.AD9910 else None
                if sw in self.names:
                    known[(ch, int(extra.get("cs", 0)))] = self.names[sw][1]
        return known

    def ttl_level_at(self, channel: int, t_mu: int) -> int:
        """Output level of a TTL-like channel at ``t_mu`` (its changes at ``t_mu`` made)."""
        view = self._level_view(channel)
        return 0 if view is None else view.level_at(t_mu)


class _DDSMark:
    """:meth:`PhyViews.dds_changes`' record of one AD9910: its state timeline (None: none yet),
    the CPLD read and its bus's slaves (and how many), and the last mark with the stamps it was
    made at."""

    __slots__ = ("tl", "cpld", "slaves", "n_slaves", "tl_stamp", "cpld_stamp", "mark")

    def __init__(self, tl: Any, cpld: Any, slaves: list[Any]) -> None:
        self.tl = tl
        self.cpld = cpld
        self.slaves = slaves
        self.n_slaves = len(slaves)
        self.tl_stamp = -1
        self.cpld_stamp = -1
        self.mark: tuple[int, int, int] | None = None


class DDSWatch:
    """The changes recorded so far of a fixed set of AD9910s: :meth:`latest` bounds their
    times. The state timelines' and CPLDs' part is found again only when a stamp was drawn since
    (:data:`sim.rtio.phy.dds_timeline.STAMPS`: every change of any timeline or CPLD draws one); the
    switch TTLs' part is their channels' latest coarse time."""

    __slots__ = ("_views", "_keys", "_sw", "_sw_states", "_seen", "_dds_latest", "_stamps")

    def __init__(self, views: PhyViews, keys: Sequence[tuple[int, int]]) -> None:
        from sim.rtio.phy.dds_timeline import STAMPS  # (it loads the physics' DDSState)

        self._views = views
        self._keys = list(keys)
        self._stamps = STAMPS
        self._seen = -1
        self._dds_latest = NEG
        self._sw: list[int] | None = None  # the switch TTLs' channels that count (_dds_part)
        self._sw_states: list[ChannelState] | None = None

    def latest(self) -> int:
        """A time (mu) at or after the latest change so far of what ``dds_state_at``,
        ``dds_attenuation`` and ``dds_rf_switch`` answer for these AD9910s (``NEG`` if none):
        no change lies after it."""
        if self._stamps.last != self._seen:
            self._seen = self._stamps.last
            self._dds_latest = self._dds_part()
        states = self._sw_states
        if states is None:
            states = self._switch_states()
        best = self._dds_latest
        for st in states:
            if st.raw and st.max_c + 7 > best:  # (its outputs are at most 7 mu after max_c)
                best = st.max_c + 7
        return best

    def _dds_part(self) -> int:
        """The latest change of the timelines (``t_changed``: not an IO_UPDATE applying the same
        state again) and the latest entry of their CPLDs' CFG and attenuator logs; the switch
        TTLs that can change an answer are noted (those of channels whose CFG RF_SW bit is not
        set for good: a stamped CPLD draws a stamp when it changes)."""
        views = self._views
        known = views._dds_switches()
        best = NEG
        sw = []
        for spi, cs in self._keys:
            tl = views.dds.get((spi, cs))
            if tl is not None and tl.t_changed > best:
                best = tl.t_changed
            cpld = views.urukul_cpld(spi)
            if cpld is not None and cpld.t_last > best:
                best = cpld.t_last
            closed = cpld is not None and cpld.rf_switch(cs, -NEG)
            if (spi, cs) in known and not closed:
                sw.append(known[(spi, cs)])
        self._sw, self._sw_states = sw, None
        return best

    def _switch_states(self) -> list[ChannelState]:
        """The noted switch TTLs' channel states (kept once all exist)."""
        sw = self._sw or []
        states = [st for st in map(self._views.channels.get, sw) if st is not None]
        if len(states) == len(sw):
            self._sw_states = states
        return states


class OutputWatch:
    """The outputs submitted so far to a fixed set of channels, asked for the next one at or
    after a time (a world's beams: nothing changes them before it). Holds their
    :class:`ChannelState` objects (made once per channel, never replaced) once all exist."""

    __slots__ = ("_channels", "_numbers", "_states")

    def __init__(self, channels: dict[int, ChannelState], numbers: Sequence[int]) -> None:
        self._channels = channels
        self._numbers = list(numbers)
        self._states: list[ChannelState] | None = None

    def next_from(self, t_from_mu: int) -> int:
        """The earliest timestamp ``>= t_from_mu`` (mu) of an output submitted so far to the
        channels, replaced or not (``NEVER`` if none)."""
        states = self._states
        if states is None:
            states = [st for st in map(self._channels.get, self._numbers) if st is not None]
            if len(states) == len(self._numbers):
                self._states = states
        best = NEVER
        for st in states:
            if st.max_c + 8 <= t_from_mu:
                continue  # its outputs are at most 7 mu after max_c, the latest coarse time logged
            raw = st.raw
            if not raw:
                continue
            if st.flagged:  # out of order: the whole log
                t = min((e[0] for e in raw if e[0] >= t_from_mu), default=NEVER)
            elif raw[-1][0] < t_from_mu:  # a log in time order ends with its latest output
                continue
            else:
                t = raw[bisect_left(raw, (t_from_mu,))][0]  # compares the times only
            if t < best:
                best = t
        return best
