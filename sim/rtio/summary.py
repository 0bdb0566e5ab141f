# SPDX-License-Identifier: LGPL-3.0-or-later
"""RTIO error reporting and the engine's run summary.

Synchronous errors (underflow, input overflow) raise in the kernel and go to the core log only
when they leave it (:meth:`Diagnostics.uncaught`; one the kernel catches leaves no core-log error,
as on hardware); asynchronous ones (:class:`AsyncError`: collision, busy, sequence error) are logged
and reported to the host after the kernel, as ARTIQ's firmware and host do. The gateware latches a
sequence error in one sticky flag with the channel of the first, which the firmware reports and
clears: the sequence errors of one kernel give one core-log line (the first's channel), while all
are counted in the summary. The minimum slack of
accepted submissions is tracked with the kernel line that made it, per experiment
(:meth:`Diagnostics.start_experiment`) and over the session.
"""

from __future__ import annotations

import enum
import logging
import sys
from types import FrameType
from typing import Any

from sim.rtio.errors import RTIOOverflow, RTIOUnderflow
from sim.rtio.exception_log import ExceptionMark, RTIOException

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


_LOG_TEXT = {
    AsyncError.COLLISION: "RTIO collision",
    AsyncError.BUSY: "RTIO busy error",
    AsyncError.SEQUENCE: "RTIO sequence error",
}
_HOST_WORDS = {
    AsyncError.COLLISION: "collision(s)",
    AsyncError.BUSY: "busy error(s)",
    AsyncError.SEQUENCE: "sequence error(s)",
}
_MARK_KIND = {
    AsyncError.COLLISION: RTIOException.COLLISION,
    AsyncError.BUSY: RTIOException.BUSY,
    AsyncError.SEQUENCE: RTIOException.SEQUENCE_ERROR,
}
#: summary keys of the error counts
_SUMMARY_KEYS = {
    AsyncError.COLLISION: "collisions",
    AsyncError.BUSY: "busy_errors",
    AsyncError.SEQUENCE: "sequence_errors",
}

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
    recorder: Any
    min_slack: int
    _slack_floor: int
    #: a slack above which no event can underflow (:class:`~sim.rtio.sed.SEDOutputs`)
    UNDERFLOW_FREE_SLACK: int

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
        # minimum slack of the current experiment (restarted by start_experiment), and of the
        # experiments before it
        self._set_min_slack(1 << 62)
        self.min_slack_info: tuple[int, int, str] | None = None  # (channel, timestamp, source line)
        self._earlier_min_slack: tuple[int, tuple[int, int, str] | None] = (1 << 62, None)
        self.outputs_before = 0  # outputs logged by the sessions this one's state descends from

    def note_exception(self, kind: RTIOException, t_mu: int, channel: int) -> None:
        """Mark an RTIO exception of ``kind`` at ``t_mu`` on ``channel`` for the waveform file
        (:mod:`sim.rtio.exception_log`); nothing unless a VCD is requested. DRTIO models mark
        ``DESTINATION_UNREACHABLE`` here."""
        rec = self.recorder
        if rec is not None:
            rec.exceptions.append(ExceptionMark(kind, int(t_mu), int(channel)))

    def _underflow(self, target: int, ts: int, counter: int) -> RTIOUnderflow:
        ch = target >> 8
        if self.recorder is not None:
            self.note_exception(RTIOException.UNDERFLOW, ts, ch)
        counter8 = counter & ~7
        msg = "RTIO underflow at channel 0x{:04x}:{}, {} mu, slack {} mu (at {})".format(
            ch, self.channel_name(ch), ts, ts - counter8, source_line()
        )
        return RTIOUnderflow(msg)  # a core-log error only if the kernel does not catch it

    def uncaught(self, exc: BaseException) -> None:
        """``exc`` left the outermost kernel: an RTIO underflow or overflow the RTIO core
        raised becomes a core-log error (one the kernel catches leaves none, as on hardware;
        one the kernel's own code raises, whose message is not the core's ``RTIO …``, none)."""
        if isinstance(exc, (RTIOUnderflow, RTIOOverflow)) and str(exc).startswith("RTIO "):
            self._log_core(str(exc))

    def _async(self, kind: AsyncError, channel: int, t_mu: int | None = None) -> None:
        """Log an async error on ``channel``; ``t_mu``: where the waveform marks it (default:
        the RTIO counter)."""
        if self.recorder is not None:
            self.note_exception(_MARK_KIND[kind], self.counter if t_mu is None else t_mu, channel)
        self._async_counts[kind] += 1
        if kind == AsyncError.SEQUENCE and self._async_flags & kind:
            return  # the sticky flag is already up: no second report
        msg = "{} involving channel 0x{:04x}:{}".format(
            kind.log_text, channel & 0xFFFF, self.channel_name(channel)
        )
        if channel >> 16:  # reported by the master's link thread for a satellite
            msg = "[DEST#{}] {}".format(channel >> 16, msg)
        self._async_flags |= kind
        self.async_errors.append(msg)
        self.kernel_async.append(msg)
        self._log_core(msg)

    def busy_error(self, channel: int) -> None:
        """Log an RTIO busy error (a PHY received an event while busy)."""
        self._async(AsyncError.BUSY, channel)

    def _log_core(self, msg: str) -> None:
        self.core_log.append(msg)
        core_log_logger.error(msg)

    def restore_async_errors(self, messages: list[str]) -> None:
        """Continue from a session that logged ``messages`` (its async core-log lines)."""
        self.async_errors = list(messages)
        for kind in AsyncError:
            self._async_counts[kind] = sum(
                m.split("] ", 1)[-1].startswith(kind.log_text) for m in messages
            )

    def start_experiment(self) -> None:
        """A new experiment starts: its minimum slack is tracked afresh (the session's minimum,
        over all experiments, stays in :meth:`summary`)."""
        self._earlier_min_slack = self._session_min_slack()
        self._set_min_slack(1 << 62)
        self.min_slack_info = None

    def _session_min_slack(self) -> tuple[int, tuple[int, int, str] | None]:
        if self.min_slack_info is not None and self.min_slack < self._earlier_min_slack[0]:
            return self.min_slack, self.min_slack_info
        return self._earlier_min_slack

    def _set_min_slack(self, slack: int) -> None:
        """Set :attr:`min_slack` and with it :attr:`_slack_floor`, the least slack for which the
        hot path's one check rules out both a new least slack and an underflow."""
        self.min_slack = slack
        self._slack_floor = max(slack, self.UNDERFLOW_FREE_SLACK)

    def _note_slack(self, channel: int, ts: int, counter: int) -> None:
        self._set_min_slack(ts - counter)
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
        """Clocks, minimum slack (with channel, timestamp and kernel line), error counts, the
        CPU-cost profile's name (``kasli2``; ``+drawn`` when costs are drawn)."""
        out: dict[str, Any] = {
            "now_mu": self.now,
            "counter_mu": self.counter,
            **self._slack_items("min_slack", self.min_slack, self.min_slack_info),
            **self._slack_items("session_min_slack", *self._session_min_slack()),
        }
        for kind, key in _SUMMARY_KEYS.items():
            out[key] = self._async_counts[kind]
        out["async_errors"] = list(self.async_errors)
        out["n_outputs"] = self.outputs_before + sum(len(st.log) for st in self.channels.values())
        out["cost_profile"] = getattr(getattr(self, "costs", None), "name", "")
        return out

    def _slack_items(
        self, prefix: str, slack: int, info: tuple[int, int, str] | None
    ) -> dict[str, Any]:
        """``{prefix}_mu``, ``_channel``, ``_timestamp_mu``, ``_source`` (``None`` if no event)."""
        return {
            prefix + "_mu": None if info is None else slack,
            prefix + "_channel": None
            if info is None
            else "0x{:04x}:{}".format(info[0], self.channel_name(info[0])),
            prefix + "_timestamp_mu": None if info is None else info[1],
            prefix + "_source": None if info is None else info[2],
        }
