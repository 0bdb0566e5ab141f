# SPDX-License-Identifier: LGPL-3.0-or-later
"""CPU-cost profiles: how far the RTIO counter advances while the kernel CPU works.

The RTIO counter (``artiq/gateware/rtio/tsc.py``) runs at 125 MHz regardless of what the CPU does,
so every operation a kernel performs costs counter time. A profile is a small table of such costs in
machine units (1 mu = 1 ns on Kasli). The defaults are chosen to sit inside the bounds of ARTIQ's
hardware tests (``artiq/test/coredevice/test_rtio.py``, ``test_ad9910.py``,
``test_performance.py``):

=====================  =======================================================================
field                  bound it is chosen against
=====================  =======================================================================
``rtio_output``        PulseRate: minimal sustained ``pulse_mu(dt); delay_mu(dt)`` dt in
                       (100 ns, 480 ns) RISC-V, < 810 ns Zynq (``test_pulse_rate``).
``get_counter``        RTIOCounter: back-to-back ``get_rtio_counter_mu`` 50 ns .. 1 us.
``rpc``                RPCTiming: sync RPC mean 100 ns .. 3.5 ms.
``dma_playback_*``     ``test_dma_playback_time``: 40-event trace < 4.5 us (Kasli), < 6.2 us (Zynq),
                       20 000 back-to-back playbacks of a trace that advances the cursor 4 us
                       without underflow on Kasli (with 2 us more per playback on Zynq).
``dma_record_event``   ``test_dma_record_time``: < 11 us per event.
``kernel_launch``      ``test_performance.test_kernel_overhead``: 1 ms .. 0.5 s (incl. compile).
=====================  =======================================================================

A lab calibrates the table on its own hardware with an experiment in ``repository/`` that stores the
measured numbers as a dataset; :meth:`CostProfile.from_dataset` turns that dict into a profile.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["CostProfile", "PROFILES", "load_profile"]


@dataclass(frozen=True)
class CostProfile:
    """CPU time, in machine units (mu), charged to the RTIO counter per kernel operation."""

    name: str
    #: one ``rtio_output``/``rtio_output_wide`` submission (syscall + CSR writes + status poll)
    rtio_output: int
    #: one input read syscall (``rtio_input_timestamp``/``_data``), excluding blocking time
    rtio_input: int
    #: ``rtio_get_counter`` (CSR read of the counter)
    get_counter: int
    #: one ``delay``/``delay_mu``/``at_mu`` step (64-bit cursor arithmetic)
    delay: int
    #: synchronous RPC round trip
    rpc: int
    #: asynchronous RPC (queued, the CPU does not wait for the host)
    rpc_async: int
    #: ``dma_playback``: fixed start cost (lookup + DMA engine start)
    dma_playback_start: int
    #: ``dma_playback``: per replayed event
    dma_playback_event: int
    #: ``dma_record``: per recorded event
    dma_record_event: int
    #: ``rtio_init`` (``core.reset()``) firmware call
    rtio_init: int
    #: kernel load + start (host side, counted once per outermost kernel)
    kernel_launch: int
    #: ``cache_get``/``cache_put``
    cache: int

    def to_dict(self) -> dict[str, Any]:
        """The profile as a plain dict (PYON/JSON-serialisable)."""
        return dataclasses.asdict(self)

    #: names stored by ``repository/timing_calibration.py`` (``calib.timing.<name>``) → field
    CALIBRATION_KEYS = {
        "output_mu": "rtio_output",
        "input_read_mu": "rtio_input",
        "counter_read_mu": "get_counter",
        "delay_mu": "delay",
        "rpc_mu": "rpc",
        "dma_playback_start_mu": "dma_playback_start",
        "dma_playback_per_event_mu": "dma_playback_event",
    }

    @classmethod
    def from_dataset(
        cls, data: Mapping[str, Any], base: "CostProfile | str" = "kasli2"
    ) -> "CostProfile":
        """Build a profile from a calibration dataset.

        :param data: mapping of field names (optionally prefixed ``"cpu_cost."``), or of the
            ``calib.timing.<name>`` datasets the timing-calibration experiment stores, to costs in
            mu (ints or floats; floats are rounded to the nearest mu). Unknown keys are ignored.
        :param base: profile (or its name) that supplies the fields the dataset lacks.
        """
        base_p = PROFILES[base] if isinstance(base, str) else base
        fields = {f.name for f in dataclasses.fields(cls)} - {"name"}
        values: dict[str, Any] = {}
        for key, value in data.items():
            k = key[len("cpu_cost.") :] if key.startswith("cpu_cost.") else key
            if k.startswith("calib.timing."):
                k = cls.CALIBRATION_KEYS.get(k[len("calib.timing.") :], "")
            if k in fields:
                values[k] = int(round(float(value)))
            elif k == "name":
                values["name"] = str(value)
        values.setdefault("name", base_p.name + "+calibrated")
        return dataclasses.replace(base_p, **values)


#: Kasli 2.0, VexRiscv soft CPU (``rv32g``) synchronous with the 125 MHz RTIO clock.
#: PulseRate loop = 2 outputs + 2 delays = 2*200 + 2*24 = 448 mu per iteration ⇒ min dt ≈ 224 ns,
#: inside (100, 480) ns. get_counter 80 mu ∈ [50, 1000].
#: 40-event DMA: 560 + 40*80 = 3760 mu < 4.5 us, and with the loop's delay and lookups less than the
#: 4000 mu the test's trace advances, so that back-to-back playback keeps its slack, as on Kasli.
KASLI2 = CostProfile(
    name="kasli2",
    rtio_output=200,
    rtio_input=240,
    get_counter=80,
    delay=24,
    rpc=40_000,
    rpc_async=2_000,
    dma_playback_start=560,
    dma_playback_event=80,
    dma_record_event=2_000,
    rtio_init=2_000,
    kernel_launch=2_000_000,
    cache=1_000,
)

#: Kasli-SoC, Zynq-7000 ARM CPU (``cortexa9``): faster CPU, slower RTIO access over AXI.
#: PulseRate: 2*320 + 2*8 = 656 mu ⇒ min dt ≈ 328 ns < 810 ns.
#: 40-event DMA: 1200 + 40*110 = 5600 < 6.2 us.
KASLI_SOC = CostProfile(
    name="kasli_soc",
    rtio_output=320,
    rtio_input=360,
    get_counter=120,
    delay=8,
    rpc=30_000,
    rpc_async=1_000,
    dma_playback_start=1_200,
    dma_playback_event=110,
    dma_record_event=1_000,
    rtio_init=2_000,
    kernel_launch=1_500_000,
    cache=600,
)

#: Free of CPU cost (ideal CPU): useful to isolate timeline logic in tests.
ZERO = CostProfile(
    name="zero",
    rtio_output=0,
    rtio_input=0,
    get_counter=0,
    delay=0,
    rpc=0,
    rpc_async=0,
    dma_playback_start=0,
    dma_playback_event=0,
    dma_record_event=0,
    rtio_init=0,
    kernel_launch=0,
    cache=0,
)

PROFILES: dict[str, CostProfile] = {"kasli2": KASLI2, "kasli_soc": KASLI_SOC, "zero": ZERO}


def load_profile(name_or_path: "str | CostProfile | Mapping[str, Any]") -> CostProfile:
    """A profile by name (``"kasli2"``, ``"kasli_soc"``, ``"zero"``), a JSON/PYON file path holding
    a calibration dict, a dict, or a profile (returned as is)."""
    if isinstance(name_or_path, CostProfile):
        return name_or_path
    if isinstance(name_or_path, Mapping):
        return CostProfile.from_dataset(name_or_path)
    if name_or_path in PROFILES:
        return PROFILES[name_or_path]
    if os.path.exists(name_or_path):
        with open(name_or_path) as f:
            text = f.read()
        try:
            data = json.loads(text)
        except ValueError:
            from comms import pyon

            data = pyon.decode(text)
        base = data.get("base", "kasli2") if isinstance(data, dict) else "kasli2"
        return CostProfile.from_dataset({k: v for k, v in data.items() if k != "base"}, base=base)
    raise ValueError(
        "unknown CPU cost profile {!r} (known: {})".format(
            name_or_path, ", ".join(sorted(PROFILES))
        )
    )
