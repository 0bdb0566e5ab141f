# SPDX-License-Identifier: LGPL-3.0-or-later
"""An experiment refused before it ran (arguments refused in build or prepare, as ``artiq_run``
refuses them) never reached the core device: the simulated lab, its random stream and its count
of experiments are left as they were; its run id stays used, as the ARTIQ master's."""

from __future__ import annotations

import numpy as np
import pytest
from artiq.experiment import EnvExperiment, kernel

from sim.cli import main

from .simhelpers import REPO, ROOT, run, simulation

#: refused runs: an argument out of range (prepare), one the experiment does not take (build),
#: a value outside its choices (prepare)
REFUSED = [
    ("remote_entanglement.py", {"heralds_per_setting": 0}),
    ("readout_calibration.py", {"nshots": 5}),
    ("remote_entanglement.py", {"mode": "zz"}),
]


def _seeded(datasets: dict) -> dict:
    """The datasets a seed determines (not the wall-clock ones)."""
    return {k: v for k, v in datasets.items() if "wall" not in k}


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(np.asarray(a[key]), np.asarray(b[key])), key


def _refuse(sim, experiment: str, arguments: dict) -> None:
    result = sim.run(REPO / experiment, None, arguments)
    assert result.exit_code == 2, result.error_message


@pytest.mark.parametrize("where", ["after startup", "at power-up"])
def test_a_refused_run_changes_nothing(tmp_path, where):
    """The same seeded chain with and without refused runs in it gives identical datasets, and
    the same hardware state after it (counter, experiments since power-up)."""
    chains = []
    for refused in (False, True):
        sim = simulation(tmp_path / str(refused), seed=7, startup=False)
        with sim:
            if refused and where == "at power-up":
                for experiment, arguments in REFUSED:
                    _refuse(sim, experiment, arguments)
            datasets = [run(sim, "startup")]
            if refused and where == "after startup":
                for experiment, arguments in REFUSED:
                    _refuse(sim, experiment, arguments)
            datasets.append(run(sim, "readout_calibration", shots=20))
            state = sim.session.capture_state()
            chains.append((datasets, state))
    (plain, plain_state), (with_refused, refused_state) = chains
    for a, b in zip(plain, with_refused):
        _assert_same(_seeded(a), _seeded(b))
    assert refused_state.experiments == plain_state.experiments == 2
    assert refused_state.engine.counter_mu == plain_state.engine.counter_mu


def test_a_refused_process_leaves_the_state_file_and_uses_a_rid(tmp_path, monkeypatch, capsys):
    """``ionlink-sim run`` refused in prepare: exit 2, the hardware-state file byte for byte as
    it was, and its run id used (the next run's is one later)."""
    monkeypatch.chdir(tmp_path)
    common = ["--device-db", str(ROOT / "device_db.py"), "--lab", "oxford2020", "--seed", "7", "-q"]
    assert main(["run", str(REPO / "startup.py"), *common]) == 0
    (state_file,) = (tmp_path / "sim_state").glob("*.state")
    before = state_file.read_bytes()
    capsys.readouterr()
    refused = ["run", str(REPO / "remote_entanglement.py"), *common, "heralds_per_setting=0"]
    assert main(refused) == 2
    assert "out of range" in capsys.readouterr().err
    assert state_file.read_bytes() == before
    assert (tmp_path / "last_rid.pyon").read_text() == "1\n"


class KernelThenRefused(EnvExperiment):
    """Runs a kernel in prepare, then refuses: it did reach the core device."""

    def build(self):
        self.setattr_device("core")

    def prepare(self):
        self.reset()
        raise ValueError("refused after a kernel")

    @kernel
    def reset(self):
        self.core.reset()


def test_a_run_that_reached_the_hardware_counts(tmp_path):
    """An experiment that ran a kernel before failing in prepare is no refused run: the lab
    keeps what it did (one more experiment since power-up)."""
    with simulation(tmp_path, seed=7) as sim:
        assert sim.run(KernelThenRefused).exit_code == 1
        run(sim, "startup")
        assert sim.session.capture_state().experiments == 3
