# SPDX-License-Identifier: LGPL-3.0-or-later
"""A Kasli hardware testbench (DIO EEM with the loop cable, one Urukul AD9910, LEDs), transformed
for the simulator: ``ARTIQ_ROOT`` for ARTIQ's own coredevice test suite (README, "ARTIQ's test
suite against the simulator").

The channel map is the one of a standard Kasli tester: eight DIO TTLs on channels 0-7 (0-3
inputs, each with an edge counter on 8-11), the Urukul's SPI, SYNC, IO_UPDATE and four RF
switches on 12-18, LEDs on 25-26. The testbench's loop cable (``loop_out`` = ttl4 into
``loop_in`` = ttl0 and its counter) is declared with the simulator's ``sim_loopback`` key; the
core's host is the loopback address, where this process serves the simulated core's management
port (:mod:`sim.mgmt`: the core log) once this file is read. The Urukul's EEPROM-held
SYNC/IO_UPDATE delays have no simulation model (I2C): they are left at their defaults.
"""

import os
import sys
from typing import Any

_repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _repo not in sys.path:
    sys.path.insert(0, _repo)

from sim import mgmt  # noqa: E402
from sim.device_manager import transform_device_db  # noqa: E402


def _dev(module: str, cls: str, **arguments) -> dict:
    return {"type": "local", "module": "artiq.coredevice." + module, "class": cls,
            "arguments": arguments}  # fmt: skip


_tb: dict[str, Any] = {
    "core": _dev("core", "Core", host="127.0.0.1", ref_period=1e-9, sim_state=True),
    "core_log": {
        "type": "controller",
        "host": "127.0.0.1",
        "port": 1068,
        "command": "aqctl_corelog -p {port} --bind {bind} 127.0.0.1",
    },  # fmt: skip
    "core_cache": _dev("cache", "CoreCache"),
    "core_dma": _dev("dma", "CoreDMA"),
    "spi_urukul0": _dev("spi2", "SPIMaster", channel=12),
    "ttl_urukul0_sync": _dev("ttl", "TTLClockGen", channel=13, acc_width=4),
    "ttl_urukul0_io_update": _dev("ttl", "TTLOut", channel=14),
    "urukul0_cpld": _dev(
        "urukul",
        "CPLD",
        spi_device="spi_urukul0",
        io_update_device="ttl_urukul0_io_update",
        sync_device="ttl_urukul0_sync",
        refclk=125e6,
        clk_sel=2,
    ),  # fmt: skip
    "led0": _dev("ttl", "TTLOut", channel=25),
    "led1": _dev("ttl", "TTLOut", channel=26),
}
for _i in range(8):
    _tb["ttl{}".format(_i)] = _dev("ttl", "TTLInOut" if _i < 4 else "TTLOut", channel=_i)
for _i in range(4):  # the inputs' edge counters
    _tb["ttl{}_counter".format(_i)] = _dev("edge_counter", "EdgeCounter", channel=8 + _i)
for _i in range(4):
    _tb["ttl_urukul0_sw{}".format(_i)] = _dev("ttl", "TTLOut", channel=15 + _i)
    _tb["urukul0_ch{}".format(_i)] = _dev("ad9910", "AD9910", pll_n=32, chip_select=4 + _i,
                                         cpld_device="urukul0_cpld",
                                         sw_device="ttl_urukul0_sw{}".format(_i))  # fmt: skip
# the loop cable: ttl4 drives ttl0 (and its edge counter) after ~100 ns of cable and PHYs
_tb["ttl4"]["sim_loopback"] = {"to": ["ttl0", "ttl0_counter"], "delay_mu": 120}
# a second cable, from a clock generator into a spare DIO input (channels after the LEDs)
_tb["ttl_clock"] = _dev("ttl", "TTLClockGen", channel=27)
_tb["ttl_clock_in"] = _dev("ttl", "TTLInOut", channel=28)
_tb["ttl_clock"]["sim_loopback"] = {"to": "ttl_clock_in", "delay_mu": 120}
_tb.update(
    led="led0",
    ttl_out="ttl4",
    ttl_out_serdes="ttl4",
    loop_out="ttl4",
    loop_in="ttl0",
    loop_in_counter="ttl0_counter",
    urukul_cpld="urukul0_cpld",
    urukul_ad9910="urukul0_ch0",
    urukul_ch0="urukul0_ch0",
    loop_clock_out="ttl_clock",
    loop_clock_in="ttl_clock_in",
)

device_db = transform_device_db(_tb)
# the core's management port (its log, for the tests that read it with CommMgmt), served from the
# moment the test harness reads this file, as a powered-up core serves it before any experiment
mgmt.serve("127.0.0.1", mgmt.DEFAULT_PORT)
