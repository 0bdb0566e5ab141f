# SPDX-License-Identifier: LGPL-3.0-or-later
"""AD9910 RAM mode in the Urukul decoder: the 1024 × 32-bit waveform RAM, its serial access and
its playback into the DDS state timeline.

From the AD9910 datasheet and ARTIQ's driver (``artiq/coredevice/ad9910.py``, read for the word
layouts): with CFR1 bit 31 (RAM enable) set, the profile registers hold RAM profiles instead of
single tones: start address bits 23:14, end address bits 39:30, address step rate bits 55:40 (in
SYNC_CLK cycles, 4 SYSCLK periods), mode bits 2:0 (0 direct switch, 1 ramp-up, 2 bidirectional
ramp, 3 continuous bidirectional, 4 continuous recirculate). CFR1 bits 30:29 choose what the RAM
drives: 0 frequency (the word is the FTW), 1 phase (POW in bits 31:16), 2 amplitude (ASF in bits
31:18), 3 phase and amplitude (POW 31:16, ASF 15:2); the other parameters come from the FTW (0x07),
POW (0x08) and ASF (0x09, ASF in bits 15:2) registers, full scale while ASF was never written.

Serial access through register 0x16 goes through the active profile's address range from its end
address downwards, one 32-bit word per transfer (ARTIQ's ``test_ad9910.py`` finds RAM reads
"aligned to the last address": a read of profile [s, e] returns the word written at e first).

Playback (at an IO_UPDATE with RAM enabled): direct switch holds the start address; ramp-up steps
from start to end, one address per ``step`` × 4 SYSCLK periods, and holds the end address. The
other modes are not modelled: playing one raises :class:`RamModeNotSimulated`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "RAM_DEPTH",
    "REG_RAM",
    "RamProfile",
    "RamModeNotSimulated",
    "ram_enabled",
    "ram_destination",
    "ram_access_address",
    "ram_playback",
    "ram_word_at",
]

RAM_DEPTH = 1024
REG_RAM = 0x16
_CFR1, _FTW, _POW, _ASF = 0x00, 0x07, 0x08, 0x09
_MODE_DIRECT_SWITCH, _MODE_RAMPUP = 0, 1
_DEST_FTW, _DEST_POW, _DEST_ASF, _DEST_POWASF = 0, 1, 2, 3


class RamModeNotSimulated(NotImplementedError):
    """A RAM playback mode the simulator does not model (bidirectional or continuous)."""


@dataclass(frozen=True)
class RamProfile:
    """A RAM profile register: address range (inclusive), step (SYNC_CLK cycles), mode."""

    start: int
    end: int
    step: int
    mode: int

    @classmethod
    def from_word(cls, word: int) -> "RamProfile":
        """Decode a 64-bit profile register holding a RAM profile."""
        return cls((word >> 14) & 0x3FF, (word >> 30) & 0x3FF, (word >> 40) & 0xFFFF, word & 0x7)


def ram_enabled(regs: dict[int, int]) -> bool:
    """CFR1's RAM enable bit."""
    return bool((regs.get(_CFR1, 0) >> 31) & 1)


def ram_destination(regs: dict[int, int]) -> int:
    """CFR1's RAM destination (0 FTW, 1 POW, 2 ASF, 3 POW and ASF)."""
    return (regs.get(_CFR1, 0) >> 29) & 3


def ram_access_address(profile: RamProfile, k: int) -> int:
    """RAM address of the ``k``-th word of a serial access through ``profile``."""
    span = (profile.end - profile.start) % RAM_DEPTH + 1
    return (profile.end - k % span) % RAM_DEPTH


def _parameters(regs: dict[int, int], word: int) -> tuple[int, int, int]:
    """``(ftw, pow, asf)`` the output has while the RAM plays ``word``."""
    ftw = regs.get(_FTW, 0) & 0xFFFFFFFF
    pow_ = regs.get(_POW, 0) & 0xFFFF
    asf = (regs[_ASF] >> 2) & 0x3FFF if _ASF in regs else 0x3FFF
    dest = ram_destination(regs)
    if dest == _DEST_FTW:
        ftw = word & 0xFFFFFFFF
    elif dest == _DEST_POW:
        pow_ = (word >> 16) & 0xFFFF
    elif dest == _DEST_ASF:
        asf = (word >> 18) & 0x3FFF
    else:
        pow_, asf = (word >> 16) & 0xFFFF, (word >> 2) & 0x3FFF
    return ftw, pow_, asf


def _dwell_mu(profile: RamProfile, sysclk: float, ref_period: float) -> float:
    return max(profile.step, 1) * 4 / sysclk / ref_period


def ram_playback(
    t_mu: int,
    regs: dict[int, int],
    ram: dict[int, int],
    profile: RamProfile,
    sysclk: float,
    ref_period: float = 1e-9,
) -> list[tuple[int, int, int, int]]:
    """The output steps ``(t_mu, ftw, pow, asf)`` of a playback started by an IO_UPDATE at
    ``t_mu``. :raises RamModeNotSimulated: a bidirectional or continuous mode."""
    if profile.mode == _MODE_DIRECT_SWITCH:
        addresses = [profile.start]
    elif profile.mode == _MODE_RAMPUP:
        addresses = list(range(profile.start, profile.end + 1)) or [profile.start]
    else:
        raise RamModeNotSimulated(
            f"AD9910 RAM mode {profile.mode} (bidirectional or continuous) is not simulated; "
            "direct switch (0) and ramp-up (1) are"
        )
    dwell = _dwell_mu(profile, sysclk, ref_period)
    return [
        (t_mu + int(round(i * dwell)),) + _parameters(regs, ram.get(a, 0))
        for i, a in enumerate(addresses)
    ]


def ram_word_at(
    t_mu: int,
    t_start: int,
    ram: dict[int, int],
    profile: RamProfile,
    sysclk: float,
    ref_period: float = 1e-9,
) -> int:
    """The RAM word a playback started at ``t_start`` outputs at ``t_mu``."""
    if profile.mode != _MODE_RAMPUP:
        return ram.get(profile.start, 0)
    i = int((t_mu - t_start) // _dwell_mu(profile, sysclk, ref_period)) if t_mu > t_start else 0
    return ram.get(min(profile.start + i, profile.end), 0)
