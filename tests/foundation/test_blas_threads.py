# SPDX-License-Identifier: LGPL-3.0-or-later
"""A simulated run holds BLAS to one thread (``sim.blas``: the physics' matrices are small, and
threaded OpenBLAS calls cost more than they give on a 2-core machine) and gives the process's
setting back after it, also when the experiment raises."""

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

THREADS = """
from threadpoolctl import threadpool_info

class Threads(EnvExperiment):
    def build(self):
        pass

    def run(self):
        n = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        self.set_dataset("blas_threads", n)
        if self.raise_after:
            raise RuntimeError("after the read")
"""


def _blas_threads():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_a_run_holds_blas_to_one_thread_and_restores_it(simulation, write_experiment):
    np.ones((2, 2)) @ np.ones((2, 2))  # numpy's BLAS is loaded
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        assert before and all(n == 2 for n in before)
        for raise_after in (False, True):
            source = THREADS.replace("self.raise_after", str(raise_after))
            result = simulation.run(write_experiment(source, "threads_{}".format(raise_after)))
            assert result.datasets["blas_threads"] == [1] * len(before)
            assert (result.exit_code != 0) == raise_after
            assert _blas_threads() == before
