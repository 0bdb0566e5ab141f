# SPDX-License-Identifier: LGPL-3.0-or-later
"""The outcome of one simulated run (:class:`RunResult`): its exit code, as ``artiq_run`` and the
ARTIQ master would give it (0 ok, 1 the experiment raised, 2 bad input, 128 + the signal when
terminated), and one line saying what went wrong and where in the user's code."""

from __future__ import annotations

import pathlib
import sys
from dataclasses import dataclass, field

from drivers.arguments import ArgumentValueError
from sim.device_manager import DeviceDBError, DeviceError
from sim.experiment_file import InputError
from sim.termination import EXIT_TERMINATED

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_EXPERIMENT_ERROR",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "RunResult",
    "exit_code_for",
    "experiment_frame",
]

EXIT_OK = 0
EXIT_EXPERIMENT_ERROR = 1
EXIT_BAD_INPUT = 2


@dataclass
class RunResult:
    """Outcome of :meth:`Simulation.run`."""

    rid: int
    class_name: str
    exit_code: int
    results_file: pathlib.Path | None = None
    exception: BaseException | None = None
    datasets: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    #: one line per thing the run made that is not where asked (the results file written to a
    #: fallback folder or nowhere, the dataset store, the hardware state): a full disk
    not_saved: list[str] = field(default_factory=list)
    #: the results file could be written nowhere (its datasets are only in :attr:`datasets`)
    results_lost: bool = False
    #: a termination signal received while the run ran that the experiment never saw (it came
    #: after its last check): the run went on to its end (None: none such)
    unseen_signal: int | None = None

    @property
    def status(self) -> str:
        """``"ok"``, ``"error"``, ``"bad input"`` or ``"terminated"`` (exit codes ≥ 128)."""
        return {EXIT_OK: "ok", EXIT_EXPERIMENT_ERROR: "error", EXIT_BAD_INPUT: "bad input"}.get(
            self.exit_code, "terminated"
        )

    @property
    def error_message(self) -> str:
        """One line: the exception (:attr:`exception_message`) and what was not saved
        (:attr:`not_saved`); empty if neither."""
        return "; ".join(m for m in (self.exception_message, *self.not_saved) if m)

    @property
    def exception_message(self) -> str:
        """One-line description of the exception (empty if none)."""
        exc = self.exception
        if exc is None:
            return ""
        text = " ".join(str(exc).split())
        if isinstance(exc, (InputError, DeviceError, ArgumentValueError)):
            return text
        where = experiment_frame(exc)
        at = ""
        if where is not None and "{}:{}".format(*where) not in text:  # (RTIO errors say it)
            at = " (at {}:{} in {})".format(*where)
        return ("{}: {}".format(type(exc).__name__, text) if text else type(exc).__name__) + at


def experiment_frame(exc: BaseException) -> tuple[str, int, str] | None:
    """``(file, line, function)`` of the innermost frame of ``exc``'s traceback in the user's
    code (the experiment and its drivers: not the simulator, the stand-in or Python's own
    libraries), or None."""
    import traceback

    own = (str(pathlib.Path(__file__).resolve().parent), sys.prefix, sys.base_prefix)
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        path = str(pathlib.Path(frame.filename).resolve())
        if not path.startswith(own) and not frame.filename.startswith("<"):
            return frame.filename, frame.lineno or 0, frame.name
    return None


def exit_code_for(exc: BaseException) -> int:
    """The exit code of a run that ended with ``exc``."""
    from artiq.language.core import TerminationRequested

    if isinstance(exc, (TerminationRequested, KeyboardInterrupt)):
        return EXIT_TERMINATED
    if isinstance(exc, (InputError, DeviceError, DeviceDBError, ArgumentValueError)):
        return EXIT_BAD_INPUT
    if isinstance(exc, AttributeError) and "not queried in experiment" in str(exc):
        return EXIT_BAD_INPUT
    return EXIT_EXPERIMENT_ERROR
