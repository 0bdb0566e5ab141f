# SPDX-License-Identifier: LGPL-3.0-or-later
"""CPU costs with variance: per-operation distributions around a profile's means, drawn on request.

A :class:`~sim.rtio.costs.CostProfile` charges each kernel operation its mean cost, so a run's
timeline is deterministic. On hardware the cost of an operation varies (cache misses to SDRAM,
the DMA engine waiting for the memory bus, RPC round trips through the host's network stack and
scheduler), and over many operations the slack random-walks (m-labs/artiq#1988). A
:class:`CostSpread` gives each varying operation a distribution (:class:`drivers.timing_spread.
OpSpread`: a normal core plus rare exponential slow events, the mean kept at the profile's);
:class:`DrawnCosts` draws each operation's cost from it.

Drawn costs are **off** unless asked for (``ionlink-sim run --drawn-costs``, ``ionlink-sim slack``,
``Simulation(drawn_costs=True)``): a plain run keeps the deterministic timeline of mean costs, so
the same seed gives the same datasets as before, a run is comparable with the budget's closed
forms, and the fast-forward of identical entangler runs stays exact. With drawn costs, the draws
come from a stream of their own, seeded from the session's seed and the RTIO counter at the first
draw (each experiment of a session draws its own costs; the physics' stream is untouched), and the
entangler's fast-forward is off (no two passes are identical any more): every pass runs in detail.

Which operations vary (the others, ``delay``, ``rtio_init``, ``kernel_launch``, ``cache``,
``dma_record_event``, keep their mean): ``rtio_output``, ``rtio_input``, ``get_counter``, ``rpc``,
``rpc_async``, ``dma_playback_start``, ``dma_playback_event``. The defaults (:data:`SPREADS`) are
estimates [E] for the Kasli 2.0 (VexRiscv with 32 KiB L1 caches in front of DDR3: a miss costs
of order 100-200 ns) and the Kasli-SoC (Cortex-A9, RTIO over AXI: wider bus contention), to be
replaced by the lab's own: ``repository/timing_calibration.py`` measures each operation
``repeats`` times on its own and stores the fitted spread with the means
(``calib.timing.<name>_sd_mu``, ``_p_slow``, ``_slow_mu``; :meth:`CostSpread.from_dataset`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy

from drivers.timing_spread import SPREAD_FIELDS, OpSpread
from sim.rtio.costs import CostProfile
from sim.seed import generator_words

__all__ = ["CostSpread", "DrawnCosts", "SPREADS", "enable_drawn_costs", "OpSpread"]

#: second seed word of the drawn-cost stream ("cost")
_COST_STREAM = 0x63_6F_73_74
#: draws made at once per operation (one numpy call per this many operations)
_BATCH = 2048


@dataclass(frozen=True)
class CostSpread:
    """Distributions of the varying operations, by :class:`~sim.rtio.costs.CostProfile` field."""

    name: str
    ops: dict[str, OpSpread] = field(default_factory=dict)

    @classmethod
    def from_dataset(
        cls, data: Mapping[str, Any], base: "CostSpread | str" = "kasli2"
    ) -> CostSpread:
        """The spread stored by the timing calibration (``calib.timing.<name>_sd_mu``,
        ``_p_slow``, ``_slow_mu``; see :mod:`drivers.timing_spread`); operations without a
        stored spread keep ``base``'s."""
        base_s = SPREADS[base] if isinstance(base, str) else base
        ops = dict(base_s.ops)
        for cal_name, profile_field in CostProfile.CALIBRATION_KEYS.items():
            values = {}
            for suffix, attr in SPREAD_FIELDS.items():
                value = data.get("calib.timing." + cal_name + suffix)
                if value is not None:
                    values[attr] = float(value)
            if values:
                ops[profile_field] = dataclasses.replace(
                    ops.get(profile_field, OpSpread()), **values
                )
        return cls(base_s.name + "+calibrated", ops)


def _spread(sd: float, p: float, slow: float) -> OpSpread:
    return OpSpread(sd_mu=sd, p_slow=p, slow_mu=slow)


#: Kasli 2.0 (estimates [E], see the module docstring): an output or input syscall is a few
#: CSR accesses (a 2 % chance of a cache miss of 150 mu), an RPC round trip through the host has a
#: 10 % core spread and a 1 % chance of a 200 us hiccup (host scheduling), a DMA start a 5 %
#: chance of waiting 400 mu for the memory bus.
KASLI2_SPREAD = CostSpread(
    "kasli2",
    {
        "rtio_output": _spread(8, 0.02, 150),
        "rtio_input": _spread(8, 0.02, 150),
        "get_counter": _spread(4, 0.01, 100),
        "rpc": _spread(4_000, 0.01, 200_000),
        "rpc_async": _spread(200, 0.01, 5_000),
        "dma_playback_start": _spread(40, 0.05, 400),
        "dma_playback_event": _spread(4, 0.01, 80),
    },
)
#: Kasli-SoC (estimates [E]): RTIO over AXI, more bus contention, a faster host path.
KASLI_SOC_SPREAD = CostSpread(
    "kasli_soc",
    {
        "rtio_output": _spread(12, 0.03, 200),
        "rtio_input": _spread(12, 0.03, 200),
        "get_counter": _spread(6, 0.01, 120),
        "rpc": _spread(3_000, 0.01, 150_000),
        "rpc_async": _spread(100, 0.01, 3_000),
        "dma_playback_start": _spread(60, 0.05, 500),
        "dma_playback_event": _spread(6, 0.01, 100),
    },
)
SPREADS: dict[str, CostSpread] = {
    "kasli2": KASLI2_SPREAD,
    "kasli_soc": KASLI_SOC_SPREAD,
    "zero": CostSpread("zero"),
}


def spread_for(profile: CostProfile) -> CostSpread:
    """The default spread of a profile (by its name; a calibrated profile takes its base's)."""
    return SPREADS.get(profile.name.split("+", 1)[0], KASLI2_SPREAD)


class DrawnCosts:
    """A cost profile whose varying operations draw a new cost at every use.

    Reads of a non-varying field return the base profile's value; reads of a varying one
    (``costs.rpc``) draw. :meth:`jitter` is the drawn cost less the mean (the engine's output
    path charges the mean itself). Draws come in batches from a generator seeded, at the first
    draw, from ``seed`` (or ``seed()``: the session's, once a stored state has set it) and
    ``stream_key()`` (the RTIO counter); without a seed, from the state of ``generator()`` (the
    simulation's generator, not drawn from: a stored state continued without a seed repeats)
    and the stream key, else fresh entropy.
    """

    drawn = True

    def __init__(
        self,
        base: CostProfile,
        spread: CostSpread,
        seed: "int | None | Callable[[], int | None]",
        stream_key: Callable[[], int] = lambda: 0,
        generator: Callable[[], Any] = lambda: None,
    ) -> None:
        self.base = base
        self.spread = spread
        self.name = base.name + "+drawn"
        self._seed = seed
        self._stream_key = stream_key
        self._generator = generator
        self._rng: Any = None
        self._buffers: dict[str, list[int]] = {}
        for f in dataclasses.fields(CostProfile):
            sp = spread.ops.get(f.name)
            if f.name != "name" and (sp is None or sp == OpSpread()):
                setattr(self, f.name, getattr(base, f.name))  # fixed: a plain attribute

    def __getattr__(self, name: str) -> int:  # only the varying fields get here
        if name.startswith("_") or name not in self.spread.ops:
            raise AttributeError(name)
        return self.draw(name)

    def to_dict(self) -> dict[str, Any]:
        """The base profile's means, its name marked as drawn."""
        return {**self.base.to_dict(), "name": self.name}

    def draw(self, name: str) -> int:
        """One drawn cost (mu, ≥ 0) of operation ``name``."""
        buf = self._buffers.get(name)
        if not buf:
            buf = self._buffers[name] = self._batch(name)
        return buf.pop()

    def jitter(self, name: str) -> int:
        """A drawn cost of ``name`` less its mean (mu; may be negative; 0 if it does not vary)."""
        if name not in self.spread.ops:
            return 0
        return self.draw(name) - int(getattr(self.base, name))

    def _batch(self, name: str) -> list[int]:
        rng = self._rng
        if rng is None:
            words = [_COST_STREAM, int(self._stream_key()) & 0xFFFF_FFFF_FFFF]
            seed = self._seed() if callable(self._seed) else self._seed
            gen = self._generator() if seed is None else None
            if seed is not None:
                rng = numpy.random.default_rng([int(seed), *words])
            elif gen is not None:
                rng = numpy.random.default_rng([*generator_words(gen), *words])
            else:
                rng = numpy.random.default_rng()
            self._rng = rng
        sp = self.spread.ops[name]
        mean = float(getattr(self.base, name))
        x = numpy.full(_BATCH, mean - sp.p_slow * sp.slow_mu)
        if sp.sd_mu > 0:
            x += rng.normal(0.0, sp.sd_mu, _BATCH)
        if sp.p_slow > 0 and sp.slow_mu > 0:
            x += (rng.random(_BATCH) < sp.p_slow) * rng.exponential(sp.slow_mu, _BATCH)
        out: list[int] = numpy.maximum(numpy.rint(x), 0).astype(numpy.int64).tolist()
        return out


def enable_drawn_costs(
    engine: Any, spread: CostSpread | None, seed: "int | None | Callable[[], int | None]"
) -> DrawnCosts:
    """Make ``engine`` draw its CPU costs (``spread``: None for its profile's default). Outputs
    get their jitter through the engine's output wrapper (:meth:`SEDOutputs.wrap_output`); the
    fast-forward of identical entangler runs is switched off. Returns the :class:`DrawnCosts`."""
    base = engine.costs.base if isinstance(engine.costs, DrawnCosts) else engine.costs
    costs = DrawnCosts(
        base,
        spread or spread_for(base),
        seed,
        stream_key=lambda: int(engine.counter),
        generator=lambda: engine.rng,
    )
    engine.costs = costs
    engine._c_out, engine._c_delay = base.rtio_output, base.delay
    engine.fast_forward_allowed = False
    out_mean = base.rtio_output
    jitter = costs.jitter

    def wrap(submit: Callable[[int, Any], None]) -> Callable[[int, Any], None]:
        def drawn_output(target: int, data: Any) -> None:
            # DMA playback charges its per-event cost in place of the output's
            engine.counter += jitter(
                "rtio_output" if engine._c_out == out_mean else "dma_playback_event"
            )
            submit(target, data)

        return drawn_output

    engine.wrap_output(wrap)
    return costs
