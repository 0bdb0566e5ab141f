# SPDX-License-Identifier: LGPL-3.0-or-later
"""Simulated ``artiq.coredevice.core.Core`` (ARTIQ 9 constructor and kernel API).

Kernels run as host Python (``sim.kernel.host_function``) against the session's RTIO engine. Timing
rules follow ``artiq/coredevice/core.py``: ``reset()`` = ``rtio_init`` then ``at_mu(counter +
125000)``; ``break_realtime()`` moves the cursor to ``counter + 125000`` only if it is earlier
(never backwards); ``seconds_to_mu`` floors; ``wait_until_mu`` busy-waits on the counter. After the
outermost kernel, the async errors it produced are logged as
``artiq/coredevice/comm_kernel.py::_process_async_error`` does.
"""

from __future__ import annotations

import inspect
import logging
import pathlib
from typing import Any
from weakref import WeakKeyDictionary

import numpy
from artiq.language import core as _lcore
from artiq.language.environment import HasEnvironment as _HasEnvironment

from sim import collector, mgmt, syscalls
from sim import kernel as _simkernel
from sim.kernel_exceptions import host_exception
from sim.rtio.engine import BREAK_REALTIME_SLACK_MU

__all__ = ["Core"]

logger = logging.getLogger("artiq.coredevice.comm_kernel")


#: ``(method name, asynchronous)`` of the host calls :func:`_charge_host_calls` shadows, per class
#: (weakly: an experiment file's classes are made afresh for every run)
_HOST_CALLS: WeakKeyDictionary[type, tuple[tuple[str, bool], ...]] = WeakKeyDictionary()


def _host_calls(cls: type) -> tuple[tuple[str, bool], ...]:
    """The methods of ``cls`` a kernel calls as RPCs whose cost nothing else charges: explicit
    ``@rpc`` methods a real ARTIQ's decorator left as they are, and, on an experiment
    (``HasEnvironment``), every plain method its kernels name (ARTIQ compiles a kernel's call of
    a host method into a synchronous RPC; the others are left alone, so that a kernel's
    ``self.<device>`` reads stay on the interpreter's fast path). Not kernels, portable
    functions, syscalls, ``@host_only`` methods (a kernel cannot call those) or special
    methods."""
    known = _HOST_CALLS.get(cls)
    if known is not None:
        return known
    called = _names_kernels_use(cls) if issubclass(cls, _HasEnvironment) else frozenset()
    found = []
    for name in dir(cls):
        if name.startswith("__"):
            continue
        attr = inspect.getattr_static(cls, name, None)
        if not inspect.isfunction(attr):
            continue  # (static and class methods, properties, attributes)
        emb = getattr(attr, "artiq_embedded", None)
        if emb is None:
            if name in called:
                found.append((name, False))
            continue
        if (
            emb.function is not attr
            or emb.core_name is not None
            or emb.syscall is not None
            or emb.portable
            or emb.forbidden
        ):
            continue
        found.append((name, "async" in set(emb.flags)))
    known = _HOST_CALLS[cls] = tuple(found)
    return known


def _names_kernels_use(cls: type) -> frozenset[str]:
    """The attribute and global names the kernels and portable functions of ``cls`` use (their
    code's and nested code's ``co_names``): the host methods a kernel may call are among them."""
    names: set[str] = set()
    todo = []
    for name in dir(cls):
        emb = getattr(inspect.getattr_static(cls, name, None), "artiq_embedded", None)
        if emb is not None and (emb.core_name is not None or emb.portable):
            code = getattr(emb.function, "__code__", None)
            if code is not None:
                todo.append(code)
    while todo:
        code = todo.pop()
        names.update(code.co_names)
        todo.extend(c for c in code.co_consts if inspect.iscode(c))
    return frozenset(names)


def _charge_host_calls(obj: Any) -> list[str]:
    """Shadow the host methods of the kernel's object that a kernel calls as RPCs
    (:func:`_host_calls`) by wrappers that charge the RPC cost (as the stand-in's ``@rpc``
    does), for the duration of the kernel (:func:`_unshadow` removes them). Returns the names
    shadowed.

    The object's ``__dict__`` is never read: on Python 3.11 that turns its attributes into a
    dictionary that the interpreter no longer reads fast, and a kernel reads ``self.<device>``
    on every line."""
    cls = type(obj)
    if not getattr(cls, "__dictoffset__", 0) or cls.__module__ == "builtins":
        return []
    names = []
    for name, is_async in _host_calls(cls):
        bound = getattr(obj, name)
        if getattr(bound, "__self__", None) is not obj or getattr(
            bound, "__func__", None
        ) is not inspect.getattr_static(cls, name, None):
            continue  # an instance attribute of that name shadows the method already

        def charged(*args: Any, _f: Any = bound, _a: bool = is_async, **kwargs: Any) -> Any:
            return syscalls.call_rpc(_f, args, kwargs, _a)

        object.__setattr__(obj, name, charged)
        names.append(name)
    return names


def _unshadow(obj: Any, names: list[str]) -> None:
    """Remove the wrappers :func:`_charge_host_calls` put on ``obj``."""
    for name in names:
        try:
            object.__delattr__(obj, name)
        except AttributeError:
            pass


def _install_hooks(hooks: Any) -> Any:
    """Install the kernel hooks of the ARTIQ stand-in (``sim.kernel.STATE`` while a kernel runs;
    a real ARTIQ has none and charges RPCs through :func:`_charge_host_calls`); the previous."""
    setter = getattr(_lcore, "set_kernel_hooks", None)
    return setter(hooks) if setter is not None else None


_TARGET_CLASSES = {"rv32g": "RV32GTarget", "rv32ima": "RV32IMATarget", "cortexa9": "CortexA9Target"}
_fallback_targets: dict[str, type] = {}


def target_class(target: str) -> type:
    """The compiler target class of a core's ``target`` (``Core.target_cls``): ARTIQ's own from
    ``artiq.compiler.targets`` where it imports, else a placeholder class of the same name (the
    stand-in has no compiler). ``ValueError`` for an unknown target, as ARTIQ raises."""
    if target not in _TARGET_CLASSES:
        raise ValueError("Unsupported target")
    name = _TARGET_CLASSES[target]
    try:
        from artiq.compiler import targets  # type: ignore[import-not-found]

        return getattr(targets, name)
    except ImportError:
        return _fallback_targets.setdefault(name, type(name, (), {}))


_SIM_ARG_NAMES = (
    "seed",
    "lab",
    "vcd",
    "cost_profile",
    "inter_experiment_gap_s",
    "sim_loopback",
    "hardware_faithful",
    "sim_state",
    "sim_mgmt_port",
)
_SESSION_ARGS = (
    "seed",
    "lab",
    "vcd",
    "cost_profile",
    "inter_experiment_gap_s",
    "hardware_faithful",
)


class Core:
    """Core device: runs kernels, owns the RTIO engine of its session.

    :param ref_period: machine unit in seconds (1 ns).
    :param ref_multiplier: fine timestamps per coarse RTIO cycle (8).
    Sim-only keyword arguments (from the device_db ``sim_args``): ``seed``, ``lab``, ``vcd``,
    ``cost_profile``, ``inter_experiment_gap_s``, ``sim_loopback``, ``hardware_faithful``,
    ``sim_mgmt_port`` (serve the core log on ``host`` at this port, :mod:`sim.mgmt`),
    ``sim_state`` (used when the device manager provides no ``ionlink_session``, as under
    ``artiq_run``/``artiq_master`` with ``device_db_sim.py``). With ``sim_state`` the private
    session continues the hardware state in ``sim_state/`` of the working directory (``True``)
    or of the directory it names (``device_db_sim.py`` names the directory the device database
    is read in, the master's, since its workers run in the results folders;
    :mod:`sim.state_file`) and stores it at :meth:`close`.
    """

    kernel_invariants = {"core", "ref_period", "coarse_ref_period", "ref_multiplier"}

    def __init__(
        self,
        dmgr: Any,
        host: Any = None,
        ref_period: float = 1e-9,
        analyzer_proxy: Any = None,
        analyze_at_run_end: bool = False,
        ref_multiplier: int = 8,
        target: str = "rv32g",
        satellite_cpu_targets: Any = None,
        report_invariants: bool = False,
        **kwargs: Any,
    ) -> None:
        self.ref_period = ref_period
        self.ref_multiplier = ref_multiplier
        self.coarse_ref_period = ref_period * ref_multiplier
        self.core = self
        self.dmgr = dmgr
        self.host = host
        self.target = target
        self.target_cls = target_class(target)
        self.satellite_cpu_targets = dict(satellite_cpu_targets or {})
        self.analyzer_proxy_name = analyzer_proxy
        self.analyze_at_run_end = analyze_at_run_end
        self._bound_globals: dict[int, dict] = {}  # held, so that no id is reused
        session = getattr(dmgr, "ionlink_session", None)
        self._store = None
        if session is None:
            session, self._store = self._private_session(dmgr, kwargs)
            self._own_session = True
        else:
            self._own_session = False
        self.session = session
        self.engine = session.engine
        session.begin_experiment()
        mgmt.register_engine(self.engine)  # its core log on a served management port
        if kwargs.get("sim_mgmt_port"):
            mgmt.serve(host or "127.0.0.1", int(kwargs["sim_mgmt_port"]))

    @staticmethod
    def _private_session(dmgr: Any, kwargs: dict) -> tuple[Any, Any]:
        """A session of its own, and the state store it continues (None without ``sim_state``)."""
        from sim.session import SimSession

        db: dict = {}
        get_db = getattr(dmgr, "get_device_db", None)
        if get_db is not None:
            try:
                db = dict(get_db())
            except Exception:
                db = {}
        elif isinstance(dmgr, dict):
            db = {k: v for k, v in dmgr.items() if isinstance(v, dict)}
        sim_args = {k: kwargs[k] for k in _SIM_ARG_NAMES if k in kwargs}
        loopback = sim_args.pop("sim_loopback", None)
        session = SimSession(db, **{k: v for k, v in sim_args.items() if k in _SESSION_ARGS})
        if loopback:
            session.add_loopback(loopback)
        store = None
        if sim_args.get("sim_state"):
            from sim.state_file import StateFileError, store_for

            lab = session.world.lab if session.world is not None else None
            where = sim_args["sim_state"]  # True: the working directory, or a directory
            directory = pathlib.Path.cwd() if where is True else pathlib.Path(where)
            store = store_for(True, directory, None, sim_args.get("lab"), db, lab)
            store.claim()  # one process at a time on a simulated lab (LabInUse otherwise)
            try:
                state = store.load()
            except StateFileError as exc:
                store.release()
                raise StateFileError(f"{exc}: delete it to start from a cold machine") from exc
            if state is not None:
                session.restore_state(state, sim_args.get("seed"))
        return session, store

    # ------------------------------------------------------------------ host API
    def run(self, k_function: Any, k_args: tuple, k_kwargs: dict) -> Any:
        """Run a kernel: on the outermost call charge the launch cost, route syscalls to this core's
        engine, execute the time-correct host function and report async errors afterwards."""
        state = _simkernel.STATE
        fn = _simkernel.host_function(k_function)
        engine = self.engine
        g: dict[str, Any] = getattr(fn, "__globals__", {})
        if g and id(g) not in self._bound_globals:
            self._bind_kernel_globals(g)
        if state.depth:
            state.depth += 1
            try:
                return fn(*k_args, **k_kwargs)
            finally:
                state.depth -= 1
        engine.advance_counter(engine.costs.kernel_launch)
        for _desc, dev in getattr(self.dmgr, "active_devices", ()):
            syscalls.bind_class(type(dev))
        hot = syscalls.hot_names(g) if g else {}
        prev_tm = _lcore._time_manager
        _lcore.set_time_manager(engine)  # as ionlink's runner does for the whole run()
        prev_hooks = _install_hooks(state)
        prev = syscalls.activate(engine)
        if hot:  # the kernel's own syscalls and delays go straight to the engine while it runs
            syscalls.rebind(g, hot, engine)
        charged = _charge_host_calls(k_args[0]) if k_args else []
        state.depth += 1
        try:
            with collector.kernel_running():
                return fn(*k_args, **k_kwargs)
        except Exception as exc:
            engine.uncaught(exc)
            first = host_exception(exc)  # as ARTIQ's host receives it: the chain's first
            if first is exc:
                raise
            raise first from None
        finally:
            state.depth -= 1
            _install_hooks(prev_hooks)
            _lcore.set_time_manager(prev_tm)
            syscalls.activate(prev)
            if hot:
                syscalls.rebind(g, hot, prev)
            if charged:
                _unshadow(k_args[0], charged)
            engine.reset_frames()
            warning = engine.end_kernel()
            if warning is not None:
                logger.warning(warning)

    def _bind_kernel_globals(self, g: dict) -> None:
        """A real ARTIQ's syscall stubs in a kernel's module → the simulator (under ARTIQ's own
        device manager nothing else binds them)."""
        self._bound_globals[id(g)] = g
        syscalls.bind_globals(g)

    def compile(
        self,
        function: Any,
        args: tuple,
        kwargs: dict,
        set_result: Any = None,
        attribute_writeback: bool = True,
        print_as_rpc: bool = True,
        **_: Any,
    ) -> Any:
        """Nothing to compile: returns the host function (for API compatibility)."""
        return _simkernel.host_function(function)

    def precompile(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """A zero-argument callable running ``function(*args, **kwargs)`` as a kernel."""

        def run_precompiled() -> Any:
            return self.run(function, args, kwargs)

        return run_precompiled

    def close(self) -> None:
        """Close the private session (if this core created one), storing its hardware state."""
        if self._own_session:
            if self._store is not None:
                try:
                    self._store.save(self.session.capture_state())
                except Exception as exc:
                    logger.warning(
                        "cannot store the simulated hardware state: %s: %s", type(exc).__name__, exc
                    )
            self.session.close()
            if self._store is not None:
                self._store.release()

    def notify_run_end(self) -> None:
        """End of ``run()``: no analyzer proxy in the simulator."""

    def trigger_analyzer_proxy(self) -> None:
        """No analyzer proxy in the simulator."""

    def get_rtio_destination_status(self, destination: int) -> bool:
        """Whether DRTIO ``destination`` can be reached (0, the local RTIO core, always)."""
        return self._eng().rtio_get_destination_status(destination)

    # ------------------------------------------------------------------ portable helpers
    def seconds_to_mu(self, seconds: float) -> numpy.int64:
        """Seconds → mu, rounded **down** (``numpy.int64(s // ref_period)``, ``core.py``)."""
        return numpy.int64(seconds // self.ref_period)

    def mu_to_seconds(self, mu: int) -> float:
        return mu * self.ref_period

    # ------------------------------------------------------------------ kernel API
    def get_rtio_counter_mu(self) -> numpy.int64:
        """Syscall ``rtio_get_counter``: the counter, a lower bound. Does not modify the cursor."""
        return numpy.int64(self.engine.rtio_get_counter())  # (_eng, inline: once per resync)

    def wait_until_mu(self, cursor_mu: int) -> None:
        """Blocks until the counter reaches ``cursor_mu``; does not move the cursor."""
        self._eng().wait_until_mu(cursor_mu)

    def get_rtiocounter_mu(self) -> numpy.int64:  # old spelling, kept by some drivers
        return self.get_rtio_counter_mu()

    def reset(self) -> None:
        """Clear RTIO FIFOs and lanes, then set the cursor 125000 mu after the counter."""
        eng = self._eng()
        eng.rtio_init()
        eng.set_time_mu(eng.rtio_get_counter() + BREAK_REALTIME_SLACK_MU)

    def break_realtime(self) -> None:
        """Set the cursor to counter + 125000 mu unless it is already later (never backwards)."""
        eng = self._eng()
        min_now = eng.rtio_get_counter() + BREAK_REALTIME_SLACK_MU
        if eng.get_time_mu() < min_now:
            eng.set_time_mu(min_now)

    def _eng(self) -> Any:
        """The engine; host calls outside a kernel act as a one-statement kernel."""
        return self.engine
