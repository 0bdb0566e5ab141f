# SPDX-License-Identifier: LGPL-3.0-or-later
"""A simulation session: one RTIO engine, rng and set of worlds shared by all experiments of a run.

The cursor and the RTIO counter persist across kernels and experiments (both start at 0, as at
core-device boot); between experiments the counter advances by ``inter_experiment_gap_s``
(``test_rtio.py::TimeKeepsRunning`` measures 1 ms .. 2.5 s on hardware).
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

import numpy

from sim.registry import DEVICE_CLASSES
from sim.rtio.channels import Kind
from sim.rtio.engine import RTIOEngine
from sim.rtio.loopback import DEFAULT_LOOP_DELAY_MU, LoopbackWorld
from sim.seed import fresh_seed
from sim.topology import install_drtio, topology_of

__all__ = ["SimSession"]

logger = logging.getLogger(__name__)


class SimSession:
    """Owns the engine, rng, worlds and VCD output of one simulation run.

    :param device_db: the (already loaded) device database dict.
    :param seed: seed of ``numpy.random.default_rng``; None draws one from the operating
        system's entropy (:func:`~sim.seed.fresh_seed`), kept in :attr:`seed` so that the session
        can be repeated (a restored state then sets the seed of its own power-up).
    :param lab: lab description (preset name, path or loaded object) for the physics world.
    :param vcd: path of a VCD file written by :meth:`close`.
    :param cost_profile: CPU-cost profile name, path or :class:`~sim.rtio.costs.CostProfile`.
    :param inter_experiment_gap_s: counter time between experiments, in seconds.
    :param hardware_faithful: pulses through an uninitialised Urukul do what the hardware does
        (nothing, with a warning) instead of stopping the experiment.
    :param link_down: DRTIO destinations whose link starts (and stays) down.
    :param drawn_costs: draw each operation's CPU cost from a distribution
        (:mod:`sim.rtio.cost_spread`): ``True`` for the profile's default spread, or a
        :class:`~sim.rtio.cost_spread.CostSpread`; falsy (default): the profile's mean costs.
    """

    def __init__(
        self,
        device_db: dict,
        seed: int | None = None,
        lab: Any = None,
        vcd: str | None = None,
        cost_profile: Any = "kasli2",
        inter_experiment_gap_s: float = 0.1,
        hardware_faithful: bool = False,
        link_down: Iterable[int] = (),
        drawn_costs: Any = None,
    ) -> None:
        self.device_db = dict(device_db or {})
        seed = fresh_seed() if seed is None else seed
        #: the seed of the power-up this session descends from (None: a restored state of a
        #: power-up that recorded none)
        self.seed: int | None = seed
        self.hardware_faithful = hardware_faithful
        self.rng = numpy.random.default_rng(seed)
        self.vcd = vcd
        self.inter_experiment_gap_s = inter_experiment_gap_s
        ref_period = 1e-9
        core_desc = self.device_db.get("core", {})
        if isinstance(core_desc, dict):
            ref_period = core_desc.get("arguments", {}).get("ref_period", ref_period)
        self.engine = RTIOEngine(ref_period=ref_period, costs=cost_profile, rng=self.rng)
        self.engine.device_db = self.device_db
        self.engine.hardware_faithful = hardware_faithful
        if vcd:
            self.engine.record_waveforms()
        if drawn_costs:
            from sim.rtio.cost_spread import enable_drawn_costs

            spread = None if drawn_costs is True else drawn_costs
            enable_drawn_costs(self.engine, spread, lambda: self.seed)
        self._experiments = 0
        self._closed = False
        #: engines of the sessions this one continues (:mod:`sim.hwstate`), for the VCD file
        self.previous_engines: list[Any] = []
        self.topology = topology_of(self.device_db)  # (checks the channels first)
        self._register_db()
        self.loopback = LoopbackWorld()
        self.engine.attach_world(self.loopback)
        self._wire_loopback_from_db()
        self.world: Any = None  # the lab's PhysicsWorld, once _attach_physics has run
        if lab is not None:
            self._attach_physics(lab, seed)
        if self.topology.satellites or tuple(link_down):
            install_drtio(self, link_down)

    # ------------------------------------------------------------------ device_db
    def _resolve_alias(self, name: str) -> str:
        seen = set()
        while isinstance(self.device_db.get(name), str) and name not in seen:
            seen.add(name)
            name = self.device_db[name]
        return name

    def _register_db(self) -> None:
        eng = self.engine
        for name, desc in self.device_db.items():
            if not isinstance(desc, dict) or desc.get("type") != "local":
                continue
            dc = DEVICE_CLASSES.get(desc.get("class", ""))
            args = desc.get("arguments", {})
            if dc is not None and dc.make_phy is not None and "channel" in args:
                # the PHY model of the channel, so that real ARTIQ drivers, which do not register
                # anything, find their PHYs
                ch = int(args["channel"])
                eng.register_channel(
                    ch, dc.kind, name, phy=dc.make_phy(eng, ch, args), input_depth=dc.input_depth
                )
                eng.names[name] = (dc.kind, ch, {})
        for name, desc in self.device_db.items():  # second pass: DDS needs the SPI channels
            if isinstance(desc, dict) and desc.get("class") == "AD9910":
                args = desc.get("arguments", {})
                cpld = self.device_db.get(self._resolve_alias(args.get("cpld_device", "")), {})
                spi = (
                    self._resolve_alias(cpld.get("arguments", {}).get("spi_device", ""))
                    if isinstance(cpld, dict)
                    else ""
                )
                if spi in eng.names:
                    extra = {"cs": int(args.get("chip_select", 4))}
                    if args.get("sw_device"):
                        extra["sw"] = args["sw_device"]
                    eng.names[name] = (Kind.AD9910, eng.names[spi][1], extra)
        for name, target in self.device_db.items():  # aliases
            if isinstance(target, str):
                real = self._resolve_alias(name)
                if real in eng.names:
                    eng.names[name] = eng.names[real]

    def _wire_loopback_from_db(self) -> None:
        for name, desc in self.device_db.items():
            if isinstance(desc, dict) and "sim_loopback" in desc:
                spec = desc["sim_loopback"]
                self.add_loopback({name: spec})
        core = self.device_db.get("core")
        if isinstance(core, dict):
            spec = core.get("arguments", {}).get("sim_loopback") or core.get("sim_args", {}).get(
                "sim_loopback"
            )
            if spec:
                self.add_loopback(spec)

    def add_loopback(self, spec: Any) -> None:
        """Wire outputs to inputs. ``spec``: ``{out_name: {"to": in_name | [names], "delay_mu":
        d}}`` or a list of ``(out_name, in_name, delay_mu)``; names or channel numbers."""
        items: Iterable
        if isinstance(spec, dict):
            items = []
            for out, v in spec.items():
                targets = v.get("to")
                for t in targets if isinstance(targets, (list, tuple)) else [targets]:
                    items.append((out, t, v.get("delay_mu", DEFAULT_LOOP_DELAY_MU)))
        else:
            items = spec
        for out, inp, delay in items:
            self.loopback.wire(self._channel_of(out), self._channel_of(inp), int(delay))

    def _channel_of(self, name: Any) -> int:
        if isinstance(name, int):
            return name
        real = self._resolve_alias(name)
        if real in self.engine.names:
            return self.engine.names[real][1]
        desc = self.device_db.get(real)
        if isinstance(desc, dict) and "channel" in desc.get("arguments", {}):
            return int(desc["arguments"]["channel"])
        raise KeyError("loopback: unknown RTIO device {!r}".format(name))

    def _attach_physics(self, lab: Any, drift_seed: int) -> None:
        from sim.physics.lab import load_lab
        from sim.physics.world import PhysicsWorld

        if isinstance(lab, str):
            lab = load_lab(lab)
        self.world = PhysicsWorld(lab, self.rng, drift_seed=drift_seed)
        self.engine.attach_world(self.world)

    # ------------------------------------------------------------------ lifecycle
    def begin_experiment(self) -> None:
        """Called when a new experiment builds its core: the counter advances by the gap."""
        if self._experiments:
            self.engine.advance_counter(
                int(round(self.inter_experiment_gap_s / self.engine.ref_period))
            )
        self._experiments += 1

    def capture_state(self) -> Any:
        """Settle and return what the hardware keeps (:func:`sim.hwstate.capture`)."""
        from sim.hwstate import capture

        return capture(self)

    def restore_state(self, state: Any, seed: int | None = None) -> None:
        """Continue from a captured state; this session must be fresh (:func:`sim.hwstate.restore`).

        The random stream continues the state's when ``seed`` is None or the seed the state was
        powered up with; another ``seed`` re-seeds it (with a warning)."""
        from sim.hwstate import restore

        restore(self, state)
        if seed is not None and seed != state.seed:
            logger.warning(
                "seed %s differs from the seed the stored hardware state was powered up "
                "with (%s): its random stream is re-seeded with %s (the same seed, or "
                "none, continues it)",
                seed,
                "none" if state.seed is None else state.seed,
                seed,
            )
            self.rng.bit_generator.state = numpy.random.default_rng(seed).bit_generator.state
            self.seed = seed
        if self.engine.recorder is not None:  # the waveform's own draws follow the stream too
            self.engine.recorder.follow(self.rng)

    @property
    def async_errors(self) -> list[str]:
        """Core-log lines of async errors (collisions, busy errors, sequence errors) so far."""
        return self.engine.async_errors

    def summary(self) -> dict:
        """Min slack and where it occurred, counts of async errors, final clocks."""
        return self.engine.summary()

    def peek(self) -> Any:
        """A :class:`sim.rtio.peek.Peek` on this session's waveforms."""
        from sim.rtio.peek import Peek

        return Peek(self.engine)

    def write_vcd(self, path: str) -> None:
        """Write the timeline as a VCD file (:mod:`sim.rtio.vcd`). Input edges, resets and
        entangler runs are in it only if the session was made with ``vcd``."""
        from sim.rtio.vcd import write_vcd

        lab = getattr(self.world, "lab", None)
        write_vcd(
            self.engine,
            path,
            device_db=self.device_db,
            lab=lab,
            seed=self.seed,
            earlier=self.previous_engines,
        )

    def close(self) -> None:
        """Write the VCD file if one was requested (once)."""
        if self._closed:
            return
        self._closed = True
        if self.vcd:
            self.write_vcd(self.vcd)
