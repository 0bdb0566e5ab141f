# SPDX-License-Identifier: LGPL-3.0-or-later
"""RTIO error reporting and the engine's run summary.

Synchronous errors (underflow, input overflow) raise in the kernel and go to the core log;
asynchronous ones (:class:`AsyncError`: collision, busy, sequence error) are logged and reported
to the host after the kernel, as ARTIQ's firmware and host do. The minimum slack of accepted
submissions is tracked with the kernel line that made it.

Per-experiment minimum slack and which caught exceptions reach the core log belong here
(:meth:`Diagnostics._note_slack`, :meth:`Diagnostics._log_core`, :meth:`Diagnostics._underflow`).
"""
from __future__ import annotations

import enum
import logging
import sys
from types import FrameType
from typing import Any

from sim.rtio.errors import RTIOUnderflow

__all__ = ["AsyncError", "Diagnostics", "source_line"]

core_log_logger = logging.getLogger("ionlink.core_log")


class AsyncError(enum.IntFlag):
    """Asynchronous RTIO error kinds, with the flag values ARTIQ's firmware reports."""

    COLLISION = 1
    BUSY = 2
    SEQUENCE = 4

    @property
    def log_text(self) -> str:
        """Start of the core-log line (``RTIO collision involving channel …``)."""
        return _LOG_TEXT[self]

    @property
    def host_words(self) -> str:
        """The host's words for it in the after-kernel warning."""
        return _HOST_WORDS[self]


_LOG_TEXT = {AsyncError.COLLISION: "RTIO collision", AsyncError.BUSY: "RTIO busy error",
             AsyncError.SEQUENCE: "RTIO sequence error"}
_HOST_WORDS = {AsyncError.COLLISION: "collision(s)", AsyncError.BUSY: "busy error(s)",
               AsyncError.SEQUENCE: "sequence error(s)"}
#: summary keys of the error counts
_SUMMARY_KEYS = {AsyncError.COLLISION: "collisions", AsyncError.BUSY: "busy_errors",
                 AsyncError.SEQUENCE: "sequence_errors"}

_SIM_DIR = __file__.rsplit("/", 2)[0] + "/"  # .../sim/


def source_line() -> str:
    """``file:line`` of the innermost frame outside the simulator (the kernel line executed)."""
    f: FrameType | None = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not fn.startswith(_SIM_DIR) or fn.startswith(_SIM_DIR + "physics"):
            return "{}:{}".format(fn, f.f_lineno)
        f = f.f_back
    return "<unknown>"


class Diagnostics:
    """Core log, async errors, minimum slack and :meth:`summary` (mixed into the engine)."""

    now: int
    counter: int
    channels: dict[int, Any]

    def channel_name(self, channel: int) -> str:
        """Device name of RTIO channel ``channel`` (``unknown`` if none)."""
        st = self.channels.get(channel)
        return st.name if st is not None else "unknown"

    def _init_diagnostics(self) -> None:
        self.core_log: list[str] = []
        self.async_errors: list[str] = []
        self._async_counts = dict.fromkeys(AsyncError, 0)
        self._async_flags = 0
        self.kernel_async: list[str] = []
        self.min_slack = 1 << 62
        self.min_slack_info: tuple[int, int, str] | None = None  # (channel, timestamp, source line)

    def _underflow(self, target: int, ts: int, counter: int) -> RTIOUnderflow:
        ch = target >> 8
        counter8 = counter & ~7
        msg = "RTIO underflow at channel 0x{:04x}:{}, {} mu, slack {} mu (at {})".format(
            ch, self.channel_name(ch), ts, ts - counter8, source_line())
        self._log_core(msg)
        return RTIOUnderflow(msg)

    def _async(self, kind: AsyncError, channel: int) -> None:
        msg = "{} involving channel 0x{:04x}:{}".format(kind.log_text, channel,
                                                        self.channel_name(channel))
        self._async_flags |= kind
        self._async_counts[kind] += 1
        self.async_errors.append(msg)
        self.kernel_async.append(msg)
        self._log_core(msg)

    def busy_error(self, channel: int) -> None:
        """Log an RTIO busy error (a PHY received an event while busy)."""
        self._async(AsyncError.BUSY, channel)

    def _log_core(self, msg: str) -> None:
        self.core_log.append(msg)
        core_log_logger.error(msg)

    def _note_slack(self, channel: int, ts: int, counter: int) -> None:
        self.min_slack = ts - counter
        self.min_slack_info = (channel, ts, source_line())

    def _end_kernel_errors(self) -> str | None:
        """Collect a kernel's async errors; ARTIQ's host warning text or None."""
        flags = self._async_flags
        self._async_flags = 0
        self.kernel_async = []
        if not flags:
            return None
        words = [k.host_words for k in AsyncError if flags & k]
        return "{} reported during kernel execution".format(", ".join(words))

    def summary(self) -> dict[str, Any]:
        """Clocks, minimum slack (with channel, timestamp and kernel line), error counts."""
        info = self.min_slack_info
        out: dict[str, Any] = {
            "now_mu": self.now, "counter_mu": self.counter,
            "min_slack_mu": self.min_slack if info is not None else None,
            "min_slack_channel": None if info is None else "0x{:04x}:{}".format(
                info[0], self.channel_name(info[0])),
            "min_slack_timestamp_mu": None if info is None else info[1],
            "min_slack_source": None if info is None else info[2],
        }
        for kind, key in _SUMMARY_KEYS.items():
            out[key] = self._async_counts[kind]
        out["async_errors"] = list(self.async_errors)
        out["n_outputs"] = sum(len(st.raw) for st in self.channels.values())
        return out
