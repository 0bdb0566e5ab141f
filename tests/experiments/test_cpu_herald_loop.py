# SPDX-License-Identifier: LGPL-3.0-or-later
"""``BellStateAnalyser.attempts_until_herald_mu``: the CPU experiment's attempts until a herald in
one driver call must be what its kernel did before, one ``attempts_until_click_mu`` call per
click with the slack re-established after each click that is not a herald: the same attempts,
patterns, timestamps and timeline, run for run with the same seed, both attempt by attempt
(``fast_forward=False``) and fast-forwarded.
"""

import functools

import numpy as np
import pytest
from artiq.experiment import TInt32, TInt64, TList, TTuple, kernel, rpc  # the stand-in
from numpy import int32, int64

from drivers.bsa import UNDERFLOW, psi_of_pattern
from tests.experiments.simhelpers import REPO, simulation
from tests.experiments.test_cpu_fast_forward import CpuCalls, RemoteEntanglementCPU, _lab


class PerClickKernel(RemoteEntanglementCPU):
    """The CPU experiment as its kernel was before ``attempts_until_herald_mu``: back from the
    driver after every click; after one that is not a herald, ``resync`` and the next call (the
    kernel's loop went round: no cooling, no pause check and no herald timeout inside a block)."""

    @kernel
    def attempt_block(
        self, attempt, since_cool: TInt32, attempts: TInt64, ts: TList(TInt64)
    ) -> TTuple([TInt32, TInt32, TInt64]):
        n = self.attempts_per_cool - since_cool
        if self.dead_attempts - attempts < int64(n):
            n = int32(self.dead_attempts - attempts)
        done = 0
        while True:
            k, pattern, t_att = self.bsa.attempts_until_click_mu(
                attempt, self.sens_end_mu, self.margin_mu, n - done, ts
            )
            done += k
            if pattern == UNDERFLOW or psi_of_pattern(pattern) != 0 or done >= n:
                return done, pattern, t_att
            self.resync()


#: datasets that depend on the host's clock
_WALL = {"herald.t_wall", "totals.wall_time_s"}


def _count_non_heralds(monkeypatch):
    """A list that receives every click pattern read that is not a herald."""
    from drivers.bsa import BellStateAnalyser

    seen = []
    orig = BellStateAnalyser.fetch_pattern

    @functools.wraps(orig)
    def counting(self, t_end_mu, timestamps):
        pattern = orig(self, t_end_mu, timestamps)
        if pattern != 0 and psi_of_pattern(pattern) == 0:
            seen.append(pattern)
        return pattern

    monkeypatch.setattr(BellStateAnalyser, "fetch_pattern", counting)
    return seen


def _run(tmp_path, lab, experiment, fast, seed):
    sim = simulation(tmp_path, lab=lab, seed=seed)
    sim.device_db["bsa"]["arguments"]["fast_forward"] = fast
    # (the clicks read one by one, as the per-click kernel's calls read them: no block in law)
    sim.device_db["bsa"]["arguments"]["law_block"] = False
    result = sim.run(experiment, None, {"mode": "z", "heralds_per_setting": 12})
    assert result.exit_code == 0, result.error_message
    eng = sim.session.engine
    world = eng.cycle_world
    out = (
        {k: v for k, v in result.datasets.items() if k not in _WALL},
        eng.now,
        eng.counter,
        world.processed_mu,
        eng.summary()["n_outputs"],
    )
    sim.close()
    return out


@pytest.mark.parametrize("fast", [False, True])
def test_attempts_until_herald_is_the_per_click_kernel(tmp_path, monkeypatch, fast):
    """A brighter oxford2020 with 3 kHz dark counts per detector (≈ 100 attempts and ≈ 20
    clicks that are not heralds per herald): the experiment with the driver's loop and with the
    former per-click kernel give the same datasets (attempts, patterns, timestamps, lab times,
    counts), cursor, RTIO counter, physics position and output count."""
    lab = _lab(
        tmp_path, "brighter", collection_efficiency=0.3, fibre_transmission=1.0, dark_rate_hz=3e3
    )
    non_heralds = _count_non_heralds(monkeypatch)
    new = _run(tmp_path / "new", lab, REPO / "remote_entanglement_cpu.py", fast, 11)
    assert len(non_heralds) > 12 * 10  # the driver went on after several clicks a herald
    old = _run(tmp_path / "old", lab, PerClickKernel, fast, 11)
    d_new, *ends_new = new
    d_old, *ends_old = old
    assert d_new.keys() == d_old.keys()
    for key in d_new:
        assert np.array_equal(np.asarray(d_new[key]), np.asarray(d_old[key])), key
    assert ends_new == ends_old
    assert len(d_new["herald.attempts"]) == 12


class QuietBlock(CpuCalls):
    """Four cooling blocks of attempts, each one call of ``attempts_until_herald_mu`` with the
    timestamps filled beforehand (the later calls start where the simulator knows what follows);
    the attempts made, the pattern and the timestamps each leaves are kept."""

    def run(self):
        self.out = []
        self.block()
        self.set_dataset("block.out", np.array(self.out))

    @rpc(flags={"async"})
    def keep(self, values: TList(TInt64)):
        self.out.extend(values)

    @kernel
    def block(self):
        cool, attempt = self.start_calls()
        ts = [int64(7)] * 4
        for _ in range(4):
            self.core_dma.playback_handle(cool)
            for k in range(4):
                ts[k] = int64(7)
            done, pattern, _t = self.bsa.attempts_until_herald_mu(
                attempt, self.sens_end_mu, self.margin_mu, self.attempts_per_cool, ts
            )
            self.keep([int64(done), int64(pattern), ts[0], ts[1], ts[2], ts[3]])
            self.resync()


@pytest.mark.parametrize("fast", [False, True])
def test_a_quiet_last_attempt_leaves_no_timestamps(tmp_path, fast):
    """Detectors that never click: after a block of attempts without a click the timestamps are
    -1, as the driver's reads of the last attempt leave them on hardware, also when the
    simulator followed that attempt without reading it."""
    lab = _lab(tmp_path, "silent", efficiency=0.0, dark_rate_hz=0.0)
    sim = simulation(tmp_path / str(fast), lab=lab, seed=3)
    sim.device_db["bsa"]["arguments"]["fast_forward"] = fast
    result = sim.run(QuietBlock, None, {"mode": "z"})
    assert result.exit_code == 0, result.error_message
    out = np.asarray(result.datasets["block.out"]).reshape(4, 6)
    sim.close()
    assert (out[:, 0] > 100).all() and (out[:, 1] == 0).all()
    assert (out[:, 2:] == -1).all(), out
