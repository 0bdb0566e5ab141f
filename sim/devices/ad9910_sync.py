# SPDX-License-Identifier: LGPL-3.0-or-later
"""AD9910 synchronisation calibration: SYNC_IN delay and window, SMP_ERR, and the alignment of
IO_UPDATE to SYNC_CLK (the part of ARTIQ's ``AD9910`` API that calibrates a Urukul; mixed into
:class:`sim.devices.ad9910.AD9910`).

Model: the simulated SYNC_IN never violates its sample-and-hold margins (SMP_ERR stays clear, so
``tune_sync_delay`` keeps the seed and widens the window to its maximum), and SYNC_CLK (SYSCLK/4)
has its edges half a period after the channel's ``io_update_delay``: the IO_UPDATE delay of the
device database is the calibrated one, which ``tune_io_update_delay`` finds again.
``measure_io_update_alignment(start, stop)`` is ARTIQ's measurement with the digital ramp generator
counting SYNC_CLK cycles between two IO_UPDATEs: it returns 0 when a SYNC_CLK edge lies in [start,
stop) after a coarse RTIO cycle and 1 otherwise. The SPI traffic and the cursor follow ARTIQ's
driver (the register writes, the two IO_UPDATE pulses, the blocking FTW read, 100 µs of slack).
"""

from __future__ import annotations

from typing import Any

from artiq.language.core import at_mu, delay, now_mu

__all__ = ["AD9910SyncMixin"]

_REG_CFR1, _REG_SYNC = 0x00, 0x0A
_REG_RAMP_LIMIT, _REG_RAMP_RATE, _REG_RAMP_STEP = 0x0B, 0x0D, 0x0C
_REG_FTW = 0x07
_WINDOW_MAX = 15


class AD9910SyncMixin:
    """SYNC_IN and IO_UPDATE alignment calibration (see module doc)."""

    cpld: Any
    io_update: Any
    io_update_delay: int
    sysclk_per_mu: int

    write32: Any
    write64: Any
    read32: Any
    set_cfr1: Any
    set_cfr2: Any

    def set_sync(self, in_delay: int, window: int, en_sync_gen: int = 0) -> None:
        """Write the multi-device sync register: SYNC_IN delay tap (0-31), validation window
        (0-15). Advances the cursor by one ``write32`` (704 mu)."""
        self.write32(_REG_SYNC, (window << 28) | (1 << 27) | (en_sync_gen << 26) | (in_delay << 3))

    def clear_smp_err(self) -> None:
        """Clear SMP_ERR and re-enable its monitoring (CFR2 twice, two 1 µs IO_UPDATEs)."""
        self.set_cfr2(sync_validation_disable=1)
        self.io_update.pulse(1e-6)
        delay(10e-6)
        self.set_cfr2(sync_validation_disable=0)
        self.io_update.pulse(1e-6)

    def tune_sync_delay(self, search_seed: int = 15, dds_channel_idx: int = 0) -> tuple[int, int]:
        """``(delay, window)`` of a stable SYNC_IN: the seed and the widest window less one tap of
        margin (the model's SMP_ERR never sets). ``ValueError`` if the CPLD does not drive SYNC."""
        if not self.cpld.sync_div:
            raise ValueError("parent cpld does not drive SYNC")
        window = _WINDOW_MAX - 2
        self.set_sync(search_seed, window)
        self.clear_smp_err()
        delay(100e-6)
        return search_seed, window

    def _sync_clk_period_mu(self) -> int:
        return self.sysclk_per_mu * 4

    def measure_io_update_alignment(self, delay_start: int, delay_stop: int) -> int:
        """Whether IO_UPDATEs ``delay_start`` and ``delay_stop`` mu after a coarse RTIO cycle
        fall into the same SYNC_CLK cycle parity (see module doc): 0 if a SYNC_CLK edge lies
        between them, else 1. Advances the cursor like ARTIQ's measurement (≈ 4.1 µs of pulses
        and register writes, a blocking read, then 100 µs)."""
        self.set_cfr1(drg_load_lrr=1, drg_autoclear=1)
        self.set_cfr2(drg_enable=1)
        self.write64(_REG_RAMP_LIMIT, -1, 0)
        self.write32(_REG_RAMP_RATE, 0x00010000)
        self.write64(_REG_RAMP_STEP, -1, 0)
        t = (now_mu() + 8) & ~7
        at_mu(t + int(delay_start))
        self.io_update.pulse_mu(16 - int(delay_start))
        self.set_cfr1()
        self.write64(_REG_RAMP_STEP, 0, 0)
        at_mu(t + 0x1000 + int(delay_stop))
        self.io_update.pulse_mu(16 - int(delay_stop))
        self.read32(_REG_FTW)  # the DRG is not modelled: the result comes from the model below
        delay(100e-6)
        self.set_cfr2(drg_enable=0)
        self.io_update.pulse_mu(8)
        period = self._sync_clk_period_mu()
        edge = (self.io_update_delay + period // 2) % period
        first_edge = int(delay_start) + (edge - int(delay_start)) % period
        return 0 if first_edge < int(delay_stop) else 1

    def tune_io_update_delay(self) -> int:
        """The IO_UPDATE delay (mu) half a SYNC_CLK period away from the SYNC_CLK edge, found by
        scanning :meth:`measure_io_update_alignment` as ARTIQ's calibration does.
        ``ValueError`` when no clear edge is found."""
        period = self._sync_clk_period_mu()
        repeat = 100
        for i in range(period):
            if sum(self.measure_io_update_alignment(i, i + 2) for _ in range(repeat)):
                continue
            left = sum(self.measure_io_update_alignment(i, i + 1) for _ in range(repeat))
            right = sum(self.measure_io_update_alignment(i + 1, i + 2) for _ in range(repeat))
            if left == right:
                raise ValueError("no clear IO_UPDATE-SYNC_CLK alignment edge found")
            return (i + 1 + period // 2) & (period - 1)
        raise ValueError("no IO_UPDATE-SYNC_CLK alignment edge found")
