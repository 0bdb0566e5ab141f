# SPDX-License-Identifier: LGPL-3.0-or-later
"""Host-side check of an experiment's arguments against their processors' declared limits.

ARTIQ's argument processors convert a submitted value but do not enforce what they declare:
``NumberValue.process`` ignores ``min``/``max`` and truncates ``2.5`` to ``2`` for integer
arguments; only the dashboard's widgets respect the limits. Submissions from ``artiq_client``,
``artiq_run`` or a scheduler therefore reach ``prepare()`` unchecked. :class:`CheckedArguments`
records, for every argument requested in ``build``, its processor and the value as submitted
(before conversion); :meth:`CheckedArguments.check_arguments`, called first thing in
``prepare()``, raises :class:`ArgumentValueError` naming the argument, the value and what is
allowed. Host code only: it runs with ARTIQ's own ``artiq.language`` and with the simulator's
stand-in alike, and reads processor attributes defensively (a processor without them is not
checked).
"""

import math
import numbers

__all__ = ["ArgumentValueError", "CheckedArguments", "argument_problem", "allowed_values"]

_DEFAULT = object()  # marker: the argument was not supplied, the processor's default was used


class ArgumentValueError(ValueError):
    """A supplied argument value is outside what its processor declares (one-line message)."""


class _Recorder:
    """Stands in for a processor during ``get_argument``: records the submitted value, then
    delegates everything to the processor."""

    def __init__(self, processor):
        self._processor = processor
        self.raw = _DEFAULT

    def process(self, x):
        self.raw = x
        return self._processor.process(x)

    def __getattr__(self, name):
        if name == "_processor":  # not set yet (copy, pickle)
            raise AttributeError(name)
        return getattr(self._processor, name)


class CheckedArguments:
    """Mixin for ``HasEnvironment`` subclasses (list it before ``EnvExperiment``): checks the
    arguments requested with ``setattr_argument``/``get_argument`` when
    :meth:`check_arguments` is called."""

    def get_argument(self, key, processor, group=None, tooltip=None):
        """ARTIQ's ``get_argument``, recording ``processor`` and the submitted value."""
        if processor is None or not hasattr(processor, "process"):
            return super().get_argument(key, processor, group, tooltip)
        recorder = _Recorder(processor)
        value = super().get_argument(key, recorder, group, tooltip)
        checked = self.__dict__.setdefault("_ionlink_checked_arguments", {})
        checked[key] = (processor, recorder.raw, value)
        return value

    def check_arguments(self):
        """Check every recorded argument (call first thing in ``prepare()``).

        :raises ArgumentValueError: for the first argument out of its declared range, not an
            integer where one is required, or not one of its choices.
        """
        for key, (processor, raw, value) in getattr(self, "_ionlink_checked_arguments", {}).items():
            supplied = raw is not _DEFAULT
            problem = argument_problem(processor, raw if supplied else value, not supplied)
            if problem is not None:
                raise ArgumentValueError(
                    "argument '{}' = {}{} {}".format(
                        key,
                        _show(processor, raw if supplied else value),
                        "" if supplied else " (its default)",
                        problem,
                    )
                )


def _kind(processor):
    name = type(_unwrapped(processor)).__name__
    if hasattr(processor, "choices"):
        return "enumeration"
    if name == "BooleanValue":
        return "boolean"
    if name == "PYONValue":
        return "pyon"
    if name == "NumberValue" or hasattr(processor, "min") and hasattr(processor, "max"):
        return "number"
    return None


def _unwrapped(processor):
    return processor._processor if isinstance(processor, _Recorder) else processor


def _is_integer_type(processor):
    kind = getattr(processor, "type", "auto")
    if kind == "int":
        return True
    if kind != "auto":
        return False
    try:
        step = getattr(processor, "step", 1.0)
        return (
            getattr(processor, "precision", 2) == 0
            and getattr(processor, "scale", 1.0) == 1
            and step is not None
            and int(step) == step
        )
    except (TypeError, ValueError):
        return False


def _in_unit(processor, value):
    """``value`` (SI) shown in the processor's display unit, e.g. ``-1 us``, or ``""``."""
    unit = getattr(processor, "unit", "") or ""
    scale = getattr(processor, "scale", 1.0) or 1.0
    if not unit:
        return ""
    try:
        return "{:g} {}".format(value / scale, unit)
    except (TypeError, ValueError):
        return ""


def _show(processor, value):
    text = repr(value.item()) if hasattr(value, "item") else repr(value)
    if (
        _kind(processor) == "number"
        and isinstance(value, numbers.Real)
        and not isinstance(value, bool)
    ):
        shown = _in_unit(processor, value)
        if shown and getattr(processor, "scale", 1.0) != 1.0:
            return "{} ({})".format(text, shown)
    return text


def allowed_values(processor):
    """What ``processor`` accepts, in words (e.g. ``one of 'z', 'parity'``), or ``""``."""
    kind = _kind(processor)
    if kind == "enumeration":
        return "one of " + ", ".join(repr(c) for c in processor.choices)
    if kind == "boolean":
        return "True or False"
    if kind == "number":
        what = "an integer" if _is_integer_type(processor) else "a number"
        limits = _range(processor)
        return what + (" " + limits if limits else "")
    return ""


def _range(processor):
    """``≥ 1``, ``≤ 5`` or ``in [0, 5]`` from the processor's ``min``/``max`` (``""``: none)."""
    low, high = getattr(processor, "min", None), getattr(processor, "max", None)
    if low is not None and high is not None:
        return "in [{}, {}]".format(_bound(processor, low), _bound(processor, high))
    if low is not None:
        return "≥ " + _bound(processor, low)
    if high is not None:
        return "≤ " + _bound(processor, high)
    return ""


def _bound(processor, bound):
    shown = _in_unit(processor, bound) if bound != 0 else ""
    return "{:g}".format(bound) + (
        " ({})".format(shown) if shown and getattr(processor, "scale", 1.0) != 1.0 else ""
    )


def argument_problem(processor, value, default=False):
    """Why ``value`` is not acceptable for ``processor`` (``"is out of range: must be ≥ 1"``),
    or ``None`` if it is (or the processor declares nothing this module checks); ``default``:
    ``value`` is the argument's default, as processed (a PYON argument's is decoded)."""
    kind = _kind(processor)
    if kind == "enumeration":
        try:
            ok = value in processor.choices
        except TypeError:
            ok = False
        return None if ok else "is not allowed: must be " + allowed_values(processor)
    if kind == "boolean":
        return (
            None
            if isinstance(value, bool) or type(value).__name__ == "bool_"
            else "is not allowed: must be True or False"
        )
    if kind == "pyon":
        # (ARTIQ's PYONValue decodes the text the dashboard or artiq_run's KEY=VALUE gives it)
        return (
            None
            if default or isinstance(value, str)
            else "is not allowed: a PYON argument takes PYON text, quoted once more on the "
            "command line: '\"{!r}\"'".format(value)
        )
    if kind != "number":
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return "is not a number: must be " + allowed_values(processor)
    if not math.isfinite(value):
        return "is not finite: must be " + allowed_values(processor)
    if _is_integer_type(processor) and value != int(value):
        return "is not an integer: must be " + allowed_values(processor)
    low, high = getattr(processor, "min", None), getattr(processor, "max", None)
    if (low is not None and value < low) or (high is not None and value > high):
        return "is out of range: must be " + _range(processor)
    return None
