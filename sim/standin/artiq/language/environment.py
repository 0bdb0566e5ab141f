# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.language.environment``: experiment environment and argument processors.

Written from ARTIQ 9's documented behaviour (``doc/manual``, docstrings): an experiment is built
with ``Exp(managers_or_parent, *args, **kwargs)`` where ``managers_or_parent`` is either the 4-tuple
``(device_mgr, dataset_mgr, argument_mgr, scheduler_defaults)`` or a parent ``HasEnvironment``.
``build`` runs inside the constructor; the lifecycle continues with ``prepare``, ``run``,
``analyze``.
"""

from __future__ import annotations

from contextlib import contextmanager
from inspect import isclass
from types import SimpleNamespace
from typing import Any, Iterator

from artiq.language import units
from artiq.language.core import rpc

__all__ = [
    "NoDefault",
    "DefaultMissing",
    "PYONValue",
    "BooleanValue",
    "EnumerationValue",
    "NumberValue",
    "StringValue",
    "HasEnvironment",
    "Experiment",
    "EnvExperiment",
    "CancelledArgsError",
]


class NoDefault:
    """Marks the absence of a default value."""


class DefaultMissing(Exception):
    """Raised by an argument processor's ``default()`` when it has no default value."""


class CancelledArgsError(Exception):
    """Raised by :meth:`HasEnvironment.interactive` when the request for arguments is cancelled."""


def _scale_for_unit(unit: str) -> float:
    if unit == "":
        return 1.0
    try:
        return getattr(units, unit)
    except AttributeError:
        raise KeyError(
            "Unit {} is unknown, you must specify the scale manually".format(unit)
        ) from None


class _SimpleArgProcessor:
    """Base of the argument processors: ``process`` converts a submitted value, ``default`` gives
    the processed default or raises :class:`DefaultMissing`."""

    def __init__(self, default: Any = NoDefault):
        if isinstance(default, list):
            raise NotImplementedError
        if default is not NoDefault:
            self.default_value = self.process(default)

    def default(self) -> Any:
        if not hasattr(self, "default_value"):
            raise DefaultMissing
        return self.default_value

    def process(self, x: Any) -> Any:
        return x

    def describe(self) -> dict:
        desc: dict[str, Any] = {"ty": type(self).__name__}
        if hasattr(self, "default_value"):
            desc["default"] = self.default_value
        return desc


class PYONValue(_SimpleArgProcessor):
    """Any PYON-serialisable value. Submitted values are PYON strings; the default is stored as
    is."""

    def __init__(self, default: Any = NoDefault):
        if default is not NoDefault:
            self.default_value = default

    def process(self, x: Any) -> Any:
        from comms import pyon

        return pyon.decode(x)

    def describe(self) -> dict:
        from comms import pyon

        desc: dict[str, Any] = {"ty": type(self).__name__}
        if hasattr(self, "default_value"):
            desc["default"] = pyon.encode(self.default_value)
        return desc


class BooleanValue(_SimpleArgProcessor):
    """A boolean argument; only ``True`` and ``False`` (of type ``bool``) are accepted."""

    def process(self, x: Any) -> bool:
        if type(x) is not bool:
            raise ValueError("Invalid BooleanValue value")
        return x


class EnumerationValue(_SimpleArgProcessor):
    """A string argument taking one of ``choices``.

    :param choices: the possible values.
    :param quickstyle: show the choices as buttons that submit the experiment.
    """

    def __init__(self, choices: list, default: Any = NoDefault, quickstyle: bool = False):
        self.choices = choices
        self.quickstyle = quickstyle
        super().__init__(default)

    def process(self, x: Any) -> Any:
        if x not in self.choices:
            raise ValueError("Invalid EnumerationValue value")
        return x

    def describe(self) -> dict:
        desc = super().describe()
        desc["choices"] = self.choices
        desc["quickstyle"] = self.quickstyle
        return desc


class NumberValue(_SimpleArgProcessor):
    """A numerical argument.

    ``scale`` defaults to the unit's value in :mod:`artiq.language.units` (1.0 without unit; an
    unknown unit raises ``KeyError``); ``step`` defaults to ``scale/10``. With ``type="auto"`` the
    value is an ``int`` if ``precision == 0``, ``scale == 1`` and ``step`` is integral, else a
    ``float``; ``type="int"`` requires those settings (``ValueError`` otherwise). ``min``/``max``
    are
    hints for user interfaces and are not enforced.
    """

    valid_types = ["auto", "float", "int"]

    def __init__(
        self,
        default: Any = NoDefault,
        unit: str = "",
        *,
        scale: float | None = None,
        step: float | None = None,
        min: float | None = None,
        max: float | None = None,
        precision: int = 2,
        type: str = "auto",
        ndecimals: int | None = None,
    ):
        if ndecimals is not None:
            import warnings

            warnings.warn("'ndecimals' is deprecated, use 'precision'", DeprecationWarning)
            precision = ndecimals
        if scale is None:
            scale = _scale_for_unit(unit)
        if step is None:
            step = scale / 10.0
        self.unit = unit
        self.scale = scale
        self.step = step
        self.min = min
        self.max = max
        self.precision = precision
        self.type = type
        if type not in self.valid_types:
            raise TypeError("type must be 'float', 'int' or 'auto'")
        if type == "int" and not self._is_int_compatible():
            raise ValueError(
                "Value marked as integer but settings are not compatible. "
                "Please set precision = 0, scale = 1 and step to an integer"
            )
        super().__init__(default)

    def _is_int_compatible(self) -> bool:
        return self.precision == 0 and int(self.step) == self.step and self.scale == 1

    def _is_int(self) -> bool:
        return self.type == "int" or (self.type == "auto" and self._is_int_compatible())

    def process(self, x: Any) -> int | float:
        return int(x) if self._is_int() else float(x)

    def describe(self) -> dict:
        desc: dict[str, Any] = {"ty": type(self).__name__}
        if hasattr(self, "default_value"):
            desc["default"] = self.default_value
        desc.update(
            unit=self.unit,
            scale=self.scale,
            step=self.step,
            min=self.min,
            max=self.max,
            precision=self.precision,
            type=self.type,
        )
        return desc


class StringValue(_SimpleArgProcessor):
    """A string argument (submitted values are used unchanged)."""


class TraceArgumentManager:
    """Records requested arguments and returns ``None`` for each (repository scan)."""

    def __init__(self) -> None:
        self.requested_args: dict = {}

    def get(self, key: str, processor: Any, group: str | None, tooltip: str | None) -> None:
        self.requested_args[key] = processor, group, tooltip
        return None

    def get_interactive(self, interactive_arglist: list, title: str) -> dict:
        raise NotImplementedError


class ProcessArgumentManager:
    """Processes supplied (unprocessed) argument values; missing ones take the processor's
    default."""

    def __init__(self, unprocessed_arguments: dict):
        self.unprocessed_arguments = unprocessed_arguments
        self._processed_arguments: set = set()

    def get(self, key: str, processor: Any, group: str | None, tooltip: str | None) -> Any:
        if key in self.unprocessed_arguments:
            value = processor.process(self.unprocessed_arguments[key])
            self._processed_arguments.add(key)
            return value
        return processor.default()

    def check_unprocessed_arguments(self) -> None:
        """Raise ``AttributeError`` if a supplied argument was never requested."""
        unprocessed = set(self.unprocessed_arguments) - self._processed_arguments
        if unprocessed:
            raise AttributeError(
                "Supplied argument(s) not queried in experiment: " + ", ".join(unprocessed)
            )

    def get_interactive(self, interactive_arglist: list, title: str) -> dict:
        raise NotImplementedError


class HasEnvironment:
    """Access to the environment of an experiment: arguments, devices and datasets."""

    def __init__(self, managers_or_parent: Any, *args: Any, **kwargs: Any):
        self.children: list = []
        if isinstance(managers_or_parent, tuple):
            (
                self.__device_mgr,
                self.__dataset_mgr,
                self.__argument_mgr,
                self.__scheduler_defaults,
            ) = managers_or_parent
        else:
            parent = managers_or_parent
            self.__device_mgr = parent.__device_mgr
            self.__dataset_mgr = parent.__dataset_mgr
            self.__argument_mgr = parent.__argument_mgr
            self.__scheduler_defaults = {}
            parent.register_child(self)
        self.__in_build = True
        try:
            self.build(*args, **kwargs)
        finally:
            self.__in_build = False

    def register_child(self, child: "HasEnvironment") -> None:
        self.children.append(child)

    def call_child_method(self, method: str, *args: Any, **kwargs: Any) -> None:
        """Call ``method`` on every registered child that has it, in registration order."""
        for child in self.children:
            try:
                child_method = getattr(child, method)
            except AttributeError:
                continue
            child_method(*args, **kwargs)

    def build(self) -> None:
        """Request arguments and devices. Override in experiments; extra constructor arguments
        are passed on. Datasets are read-only here."""

    # arguments
    def get_argument(
        self, key: str, processor: Any, group: str | None = None, tooltip: str | None = None
    ) -> Any:
        """Return the value of argument ``key`` (only from :meth:`build`, else ``TypeError``)."""
        if not self.__in_build:
            raise TypeError("get_argument() should only be called from build()")
        return self.__argument_mgr.get(key, processor, group, tooltip)

    def setattr_argument(
        self, key: str, processor: Any = None, group: str | None = None, tooltip: str | None = None
    ) -> None:
        """Set the argument ``key`` as attribute and add ``key`` to ``kernel_invariants``."""
        setattr(self, key, self.get_argument(key, processor, group, tooltip))
        self.kernel_invariants = getattr(self, "kernel_invariants", set()) | {key}

    @contextmanager
    def interactive(self, title: str = "") -> Iterator[SimpleNamespace]:
        """Request arguments from the user while the experiment runs.

        Call ``setattr_argument`` on the yielded namespace; the values are there after the block.
        A cancelled request raises :class:`CancelledArgsError`.
        """
        arglist: list = []
        namespace = SimpleNamespace()

        def setattr_argument(
            key: str, processor: Any = None, group: str | None = None, tooltip: str | None = None
        ) -> None:
            arglist.append((key, processor, group, tooltip))

        namespace.setattr_argument = setattr_argument
        yield namespace
        del namespace.setattr_argument
        values = self.__argument_mgr.get_interactive(arglist, title)
        if values is None:
            raise CancelledArgsError
        for key, value in values.items():
            setattr(namespace, key, value)

    # devices
    def get_device_db(self) -> dict:
        """Return the full contents of the device database."""
        return self.__device_mgr.get_device_db()

    def get_device(self, key: str) -> Any:
        """Create (or reuse) and return the device ``key``."""
        return self.__device_mgr.get(key)

    def setattr_device(self, key: str) -> None:
        """Set the device ``key`` as attribute and add ``key`` to ``kernel_invariants``."""
        setattr(self, key, self.get_device(key))
        self.kernel_invariants = getattr(self, "kernel_invariants", set()) | {key}

    # datasets
    @rpc(flags={"async"})
    def set_dataset(
        self,
        key: str,
        value: Any,
        *,
        unit: str | None = None,
        scale: float | None = None,
        precision: int | None = None,
        broadcast: bool = False,
        persist: bool = False,
        archive: bool = True,
    ) -> None:
        """Set a dataset. ``persist`` implies ``broadcast``; ``archive`` stores it in the results
        file. ``unit``/``scale``/``precision`` are display metadata (only those given are
        stored)."""
        metadata: dict[str, Any] = {}
        if unit is not None:
            metadata["unit"] = unit
        if scale is not None:
            metadata["scale"] = scale
        if precision is not None:
            metadata["precision"] = precision
        self.__dataset_mgr.set(key, value, metadata, broadcast, persist, archive)

    @rpc(flags={"async"})
    def mutate_dataset(self, key: str, index: Any, value: Any) -> None:
        """Set ``dataset[index] = value``. A tuple index means ``slice(*index)``; a tuple of tuples
        a multi-dimensional slice."""
        self.__dataset_mgr.mutate(key, index, value)

    @rpc(flags={"async"})
    def append_to_dataset(self, key: str, value: Any) -> None:
        """Append ``value`` to a list dataset set earlier by this experiment."""
        self.__dataset_mgr.append_to(key, value)

    def get_dataset(self, key: str, default: Any = NoDefault, archive: bool = True) -> Any:
        """Return a dataset: this experiment's first, then the master's (archived in the results
        file if ``archive``). Missing: ``default`` or ``KeyError``."""
        try:
            return self.__dataset_mgr.get(key, archive)
        except KeyError:
            if default is NoDefault:
                raise
            return default

    def get_dataset_metadata(self, key: str, default: Any = NoDefault) -> Any:
        """Return the metadata dict (``unit``, ``scale``, ``precision``) of a dataset."""
        try:
            return self.__dataset_mgr.get_metadata(key)
        except KeyError:
            if default is NoDefault:
                raise
            return default

    def setattr_dataset(self, key: str, default: Any = NoDefault, archive: bool = True) -> None:
        """Set the dataset ``key`` as attribute of the same name."""
        setattr(self, key, self.get_dataset(key, default, archive))

    def set_default_scheduling(
        self,
        priority: int | None = None,
        pipeline_name: str | None = None,
        flush: bool | None = None,
    ) -> None:
        """Set default scheduling options (only from :meth:`build`, else ``TypeError``)."""
        if not self.__in_build:
            raise TypeError("set_default_scheduling() should only be called from build()")
        if priority is not None:
            self.__scheduler_defaults["priority"] = int(priority)
        if pipeline_name is not None:
            self.__scheduler_defaults["pipeline_name"] = pipeline_name
        if flush is not None:
            self.__scheduler_defaults["flush"] = flush


class Experiment:
    """Base class of top-level experiments (found automatically in experiment files)."""

    def prepare(self) -> None:
        """Precompute what ``run`` needs. Must not touch hardware."""

    def run(self) -> None:
        """The main entry point; may use hardware. Must be overridden."""
        raise NotImplementedError

    def analyze(self) -> None:
        """Analyse the results after ``run``. Must not touch hardware."""


class EnvExperiment(Experiment, HasEnvironment):
    """Base class of most experiments: :class:`Experiment` with :class:`HasEnvironment`."""

    def prepare(self) -> None:
        """Call ``prepare`` of every child, in registration order."""
        self.call_child_method("prepare")


def is_experiment(o: Any) -> bool:
    """True if ``o`` is a top-level experiment class."""
    return (
        isclass(o) and issubclass(o, Experiment) and o is not Experiment and o is not EnvExperiment
    )


def is_public_experiment(o: Any) -> bool:
    """True if ``o`` is a top-level experiment class whose name does not start with ``_``."""
    return is_experiment(o) and not o.__name__.startswith("_")
