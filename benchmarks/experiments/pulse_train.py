# SPDX-License-Identifier: LGPL-3.0-or-later
"""A pulse train on one TTL output: ``pairs`` x (``ttl.pulse(1 us); delay(1 us)``), two output
events per pair. The experiment file of ``benchmarks/cli_throughput.py``."""

from artiq.experiment import EnvExperiment, NumberValue, delay, kernel, us


class PulseTrain(EnvExperiment):
    """Pulse train (output-event throughput benchmark)"""

    def build(self):
        self.setattr_device("core")
        self.setattr_device("aux_out0")
        self.setattr_argument("pairs", NumberValue(100000, precision=0, step=1, min=1, type="int"))

    @kernel
    def run(self):
        self.core.reset()
        for _ in range(self.pairs):
            self.aux_out0.pulse(1 * us)
            delay(1 * us)
