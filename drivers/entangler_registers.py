# SPDX-License-Identifier: LGPL-3.0-or-later
"""Register map of the entangler core: the one definition, used by the kernel driver
(:mod:`drivers.entangler`) and by the simulator's PHY (:mod:`sim.rtio.phy.entangler`).

One RTIO channel with a 6-bit address; address bit 5 selects a read. Plain module-level ints, so
that ARTIQ's compiler embeds them as constants in the driver's kernels. Layout as in the
open-source Oxford entangler core (OxfordIonTrapGroup/entangler-core, ``entangler/phy.py``).
"""

__all__ = [
    "ADDR_CONFIG",
    "ADDR_COUNTER_PATTERNS",
    "ADDR_COUNTER_RESULT",
    "ADDR_HERALD",
    "ADDR_NCYCLES",
    "ADDR_NTRIGGERS",
    "ADDR_RUN",
    "ADDR_STATUS",
    "ADDR_TCYCLE",
    "ADDR_TIMEREMAINING",
    "ADDR_TIMESTAMP",
    "ADDR_TIMING",
    "CONFIG_ENABLE",
    "CONFIG_MASTER",
    "CONFIG_STANDALONE",
    "TIMEOUT",
]

# write addresses
ADDR_CONFIG = 0b000000
ADDR_RUN = 0b000001  # run timeout in coarse ticks (8 ns); starts a run
ADDR_TCYCLE = 0b000010  # cycle length in coarse ticks
ADDR_HERALD = 0b000011  # 4 x 4-bit patterns in bits 0-15, their enables in 16-19
ADDR_TIMING = 0b001000  # + i: i = 0..3 outputs, 4..7 gates; (stop << 16) | start
ADDR_COUNTER_PATTERNS = 0b010000  # + i: pattern counter i (0..3)
# read addresses (bit 5 set)
ADDR_STATUS = 0b100000
ADDR_NCYCLES = 0b100001
ADDR_TIMEREMAINING = 0b100010
ADDR_NTRIGGERS = 0b100011
ADDR_TIMESTAMP = 0b101000  # + i: gate input i (0..3), 4 = reference
ADDR_COUNTER_RESULT = 0b110000  # + i: input counters 0..3, pattern counters 4..7

# CONFIG bits
CONFIG_ENABLE = 1
CONFIG_MASTER = 2
CONFIG_STANDALONE = 4

#: data of a run's answer (and ``run_mu`` reason) on timeout
TIMEOUT = 0x3FFF
