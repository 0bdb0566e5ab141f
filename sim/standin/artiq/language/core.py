# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.language.core``: decorators, the time-manager hook and timing verbs.

Written from ARTIQ 9's documented behaviour: decorators attach ``artiq_embedded`` metadata,
``@kernel`` returns a wrapper that calls ``getattr(self, core_name).run(wrapper, (self,) + args,
kwargs)``, and the seven-method time-manager protocol is installed with :func:`set_time_manager`.

This module imports nothing from the simulator. A simulator that runs kernels as host Python
installs its :class:`KernelHooks` with :func:`set_kernel_hooks` while a kernel runs: a ``@kernel``
called from a running kernel then goes to ``hooks.nested`` (it is part of the same kernel) and an
``@rpc`` call to ``hooks.rpc`` (which charges the RPC's cost); without hooks the decorators behave
as ARTIQ's do on the host.
"""

from __future__ import annotations

from collections import namedtuple
from functools import wraps
from typing import Any, Callable, Mapping, Protocol

# ARTIQ's names; the stand-in's own :class:`KernelHooks` and :func:`set_kernel_hooks` are not
# exported (``from artiq.experiment import *`` gives exactly ARTIQ's)
__all__ = [
    "kernel",
    "portable",
    "rpc",
    "subkernel",
    "syscall",
    "host_only",
    "kernel_from_string",
    "set_time_manager",
    "set_watchdog_factory",
    "TerminationRequested",
    "sequential",
    "parallel",
    "interleave",
    "delay_mu",
    "now_mu",
    "at_mu",
    "delay",
    "watchdog",
]

_ARTIQEmbeddedInfo = namedtuple(
    "_ARTIQEmbeddedInfo",
    "core_name portable function syscall forbidden destination flags",
)


class KernelHooks(Protocol):
    """What a kernel simulator provides to the decorators (see the module docstring)."""

    #: nesting depth of the simulated kernels running on this thread (0: none)
    depth: int
    #: the host functions of ``@kernel`` wrappers that ran already (wrapper -> function taking
    #: the object first): a wrapper found here, called from a running kernel, calls its function
    #: directly instead of :meth:`nested`
    hosted: Mapping[Callable, Callable]

    def nested(self, wrapper: Callable, obj: Any, args: tuple, kwargs: dict) -> Any:
        """Run the ``@kernel`` ``wrapper`` of ``obj``, called from a running kernel."""

    def rpc(self, function: Callable, args: tuple, kwargs: dict, is_async: bool) -> Any:
        """Call the ``@rpc`` ``function`` (from a kernel or the host)."""


class _NoHooks:
    """No simulator: kernels go to their core, RPCs are plain calls."""

    depth = 0
    hosted: Mapping[Callable, Callable] = {}

    @staticmethod
    def nested(wrapper: Callable, obj: Any, args: tuple, kwargs: dict) -> Any:
        raise AssertionError("no simulated kernel is running")

    @staticmethod
    def rpc(function: Callable, args: tuple, kwargs: dict, is_async: bool) -> Any:
        return function(*args, **kwargs)


_NO_HOOKS = _NoHooks()
_hooks: KernelHooks = _NO_HOOKS


def set_kernel_hooks(hooks: KernelHooks | None) -> KernelHooks | None:
    """Install the simulator's ``hooks`` (``None``: none); returns the previous ones."""
    global _hooks
    prev = _hooks
    _hooks = _NO_HOOKS if hooks is None else hooks
    return None if prev is _NO_HOOKS else prev


def kernel(arg: Any = None, flags: Any = {}) -> Callable:
    """Decorate a method to run on the core device (here: in the simulator).

    ``@kernel``, ``@kernel("core_attr")`` and ``@kernel(flags={...})`` are accepted.
    """
    if isinstance(arg, str):
        core_name = arg

        def inner(function: Callable) -> Callable:
            return _make_kernel(function, core_name, flags)

        return inner
    if arg is None:

        def inner(function: Callable) -> Callable:
            return _make_kernel(function, "core", flags)

        return inner
    return _make_kernel(arg, "core", flags)


def _make_kernel(function: Callable, core_name: str, flags: Any) -> Callable:
    @wraps(function)
    def run_on_core(self, *k_args, **k_kwargs):
        hooks = _hooks
        if hooks.depth:
            fn = hooks.hosted.get(run_on_core)
            if fn is not None:
                return fn(self, *k_args, **k_kwargs)
            return hooks.nested(run_on_core, self, k_args, k_kwargs)
        return getattr(self, core_name).run(run_on_core, (self,) + k_args, k_kwargs)

    run_on_core.artiq_embedded = _ARTIQEmbeddedInfo(
        core_name=core_name,
        portable=False,
        function=function,
        syscall=None,
        forbidden=False,
        destination=None,
        flags=set(flags),
    )
    return run_on_core


def portable(arg: Any = None, flags: Any = {}) -> Callable:
    """Mark a function that runs on the host when called from the host and in the kernel
    otherwise."""

    def inner(function: Callable) -> Callable:
        function.artiq_embedded = _ARTIQEmbeddedInfo(
            core_name=None,
            portable=True,
            function=function,
            syscall=None,
            forbidden=False,
            destination=None,
            flags=set(flags),
        )
        return function

    if arg is None:
        return inner
    return inner(arg)


def rpc(arg: Any = None, flags: Any = {}) -> Callable:
    """Mark a host function called from kernels; ``flags={"async"}`` makes the call non-blocking.

    The call goes through the installed :class:`KernelHooks` (on the simulator, a call made
    while a kernel runs charges the RPC's CPU cost to the RTIO counter).
    """

    def inner(function: Callable) -> Callable:
        is_async = "async" in set(flags)

        @wraps(function)
        def rpc_call(*args, **kwargs):
            return _hooks.rpc(function, args, kwargs, is_async)

        rpc_call.artiq_embedded = _ARTIQEmbeddedInfo(
            core_name=None,
            portable=False,
            function=function,
            syscall=None,
            forbidden=False,
            destination=None,
            flags=set(flags),
        )
        return rpc_call

    if arg is None:
        return inner
    return inner(arg)


def subkernel(function: Any = None, destination: int = 0, flags: Any = {}) -> Callable:
    """Mark a DRTIO subkernel. Subkernels can only be called from kernels."""

    def inner(fn: Callable) -> Callable:
        @wraps(fn)
        def run_subkernel(self, *args, **kwargs):
            raise NotImplementedError("subkernels are not simulated")

        run_subkernel.artiq_embedded = _ARTIQEmbeddedInfo(
            core_name="core",
            portable=False,
            function=fn,
            syscall=None,
            forbidden=False,
            destination=destination,
            flags=set(flags),
        )
        return run_subkernel

    if function is None:
        return inner
    return inner(function)


def syscall(arg: Any = None, flags: Any = {}) -> Callable:
    """Mark a firmware function. The host body is normal Python."""
    if isinstance(arg, str):

        def inner(function: Callable) -> Callable:
            function.artiq_embedded = _ARTIQEmbeddedInfo(
                core_name=None,
                portable=False,
                function=None,
                syscall=arg,
                forbidden=False,
                destination=None,
                flags=set(flags),
            )
            return function

        return inner
    return syscall(arg.__name__)(arg)


def host_only(function: Callable) -> Callable:
    """Forbid calling this function from a kernel."""
    function.artiq_embedded = _ARTIQEmbeddedInfo(
        core_name=None,
        portable=False,
        function=None,
        syscall=None,
        forbidden=True,
        destination=None,
        flags={},
    )
    return function


def kernel_from_string(parameters: list, body_code: str, decorator: Callable = kernel) -> Callable:
    """Build a kernel from source text: ``parameters`` names the arguments, ``body_code`` the
    body."""
    lines = ["def fn(" + ", ".join(p if isinstance(p, str) else p[0] for p in parameters) + "):"]
    lines += ["    " + line for line in body_code.split("\n")]
    source = "\n".join(lines)
    namespace: dict = {}
    exec(source, {p[0]: p[1] for p in parameters if not isinstance(p, str)} | globals(), namespace)
    fn = decorator(namespace["fn"])
    fn.artiq_embedded = fn.artiq_embedded._replace(function=source)
    return fn


class _DummyTimeManager:
    def _not_implemented(self, *args, **kwargs):
        raise NotImplementedError("Attempted to interpret kernel without a time manager")

    enter_sequential = _not_implemented
    enter_parallel = _not_implemented
    exit = _not_implemented
    take_time_mu = _not_implemented
    get_time_mu = _not_implemented
    set_time_mu = _not_implemented
    take_time = _not_implemented


_time_manager: Any = _DummyTimeManager()


def set_time_manager(time_manager: Any) -> None:
    """Install the object that interprets timing verbs on the host."""
    global _time_manager
    _time_manager = time_manager


class _Sequential:
    """In a sequential block, statements execute one after another; time advances with each
    delay."""

    def __enter__(self):
        _time_manager.enter_sequential()

    def __exit__(self, type, value, traceback):
        _time_manager.exit()


sequential = _Sequential()


class _Parallel:
    """In a parallel block, every top-level statement starts at the block's start time."""

    def __enter__(self):
        _time_manager.enter_parallel()

    def __exit__(self, type, value, traceback):
        _time_manager.exit()


parallel = _Parallel()
interleave = _Parallel()


def delay_mu(duration: int) -> None:
    """Advance the timeline cursor by ``duration`` machine units (may be negative)."""
    _time_manager.take_time_mu(duration)


def now_mu() -> int:
    """Return the timeline cursor in machine units."""
    return _time_manager.get_time_mu()


def at_mu(time: int) -> None:
    """Set the timeline cursor to ``time`` machine units (backwards is allowed)."""
    _time_manager.set_time_mu(time)


def delay(duration: float) -> None:
    """Advance the timeline cursor by ``duration`` seconds, rounded half away from zero to mu."""
    _time_manager.take_time(duration)


class _DummyWatchdog:
    def __init__(self, timeout: float):
        pass

    def __enter__(self):
        pass

    def __exit__(self, type, value, traceback):
        pass


_watchdog_factory: Any = _DummyWatchdog


def set_watchdog_factory(factory: Any) -> None:
    """Install the context-manager factory behind :func:`watchdog`."""
    global _watchdog_factory
    _watchdog_factory = factory


def watchdog(timeout: float) -> Any:
    """Context manager that limits the time a block may take (a no-op unless a factory is set)."""
    return _watchdog_factory(timeout)


class TerminationRequested(Exception):
    """Raised by ``pause()`` when the user requested termination of the experiment."""
