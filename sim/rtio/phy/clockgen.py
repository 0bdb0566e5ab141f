# SPDX-License-Identifier: LGPL-3.0-or-later
"""Clock-generator PHY (``artiq/gateware/rtio/phy/ttl_simple.py::ClockGen``, driver
``artiq/coredevice/ttl.py::TTLClockGen``).

A phase accumulator of ``acc_width`` bits (24) advances by the frequency tuning word every coarse
cycle; the output is high during the first half of each accumulator turn. Writing an FTW resets the
phase so that the first rising edge is at the write's coarse cycle; an FTW of 0 stops the clock
(low). Edges fall on coarse-cycle boundaries, so a non-power-of-2 FTW has one coarse cycle of
jitter.
"""

from __future__ import annotations

from bisect import bisect_left

from sim.rtio.channels import ChannelState

__all__ = ["ClockGenPhy", "ClockGenLevels"]


class ClockGenPhy:
    """Marker PHY: the waveform is built lazily by :class:`ClockGenLevels` from the resolved
    writes."""

    def __init__(self, acc_width: int = 24) -> None:
        self.acc_width = acc_width


class ClockGenLevels:
    """Level transitions of a clock-generator channel, generated on demand for a time window."""

    def __init__(self, st: ChannelState) -> None:
        self.st = st
        phy = st.phy
        self.acc_width = getattr(phy, "acc_width", 24)

    def levels(self, t_from: int, t_to: int) -> list[tuple[int, int]]:
        res = [e for e in self.st.resolved() if e[1] == 0]
        starts = [e[0] for e in res]
        out: list[tuple[int, int]] = []
        full = 1 << self.acc_width
        i0 = max(bisect_left(starts, t_from) - 1, 0)
        level = 0
        for k in range(i0, len(res)):
            ts, _, ftw = res[k]
            if ts >= t_to:
                break
            c0 = ts >> 3
            seg_end = res[k + 1][0] if k + 1 < len(res) else t_to
            seg_end = min(seg_end, t_to)
            if ftw <= 0:
                if level and ts >= t_from:
                    out.append((c0 << 3, 0))
                level = 0
                continue
            # cycles from c0 whose index n satisfies t >= t_from
            n_first = max(0, ((t_from >> 3) - c0) * ftw // full - 1)
            n = n_first
            while True:
                k_rise = -(-n * full // ftw)
                k_fall = -(-(2 * n + 1) * full // (2 * ftw))
                t_rise = (c0 + k_rise) << 3
                t_fall = (c0 + k_fall) << 3
                if t_rise >= seg_end:
                    break
                if t_rise >= t_from and t_rise != t_fall:
                    if not level:
                        out.append((t_rise, 1))
                    level = 1
                if t_fall >= seg_end:
                    break
                if t_fall >= t_from:
                    out.append((t_fall, 0))
                    level = 0
                n += 1
        return [e for e in out if t_from <= e[0] < t_to]
