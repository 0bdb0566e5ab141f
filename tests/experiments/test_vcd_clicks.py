# SPDX-License-Identifier: LGPL-3.0-or-later
"""With a VCD, every cycle of every entangler run shows its detector clicks on the Bell-state
analyser inputs, as many per input as the entangler's input counter reports for that run, and
recording them changes nothing the simulation decides (same datasets for the same seed)."""

import numpy
import pytest

from sim.rtio.phy.entangler import EntanglerPhy
from tests.experiments.simhelpers import run, simulation
from tests.rtio.vcdfile import read_vcd


def _session(vcd, monkeypatch, folder):
    """Datasets of Startup + a short remote-entanglement run at oxford2020 (seed 3), and the
    executed entangler runs as ``(start, end, cycle_mu, gates, input counters)``."""
    runs = []
    original = EntanglerPhy._run

    def spy(phy, ts, timeout, *answer):
        done = original(phy, ts, timeout, *answer)
        _, gates, cycle_mu = phy.windows()
        n = phy.ncycles
        runs.append((ts, ts + n * cycle_mu, cycle_mu, gates, list(phy.counters[:4])))
        return done

    monkeypatch.setattr(EntanglerPhy, "_run", spy)
    sim = simulation(folder, "oxford2020", seed=3, vcd=vcd)
    d = run(sim, "remote_entanglement", mode="z", heralds_per_setting=3)
    skipped = sum(
        getattr(p, "skipped", 0) for p in (st.phy for st in sim.session.engine.channels.values())
    )
    sim.close()
    monkeypatch.undo()
    return d, runs, skipped


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("vcd") / "run.vcd"
    with_vcd = _session(str(path), mp, tmp_path_factory.mktemp("lab"))
    without = _session(None, mp, tmp_path_factory.mktemp("lab"))
    return read_vcd(path), with_vcd, without


def test_clicks_of_every_cycle_match_the_input_counters(sessions):
    """Per executed run and input: the cycles with a rising edge inside the input's gate are as
    many as the counter the kernel would read (COUNTER_RESULT, input i) after that run."""
    v, (_, runs, _), _ = sessions
    rising = [numpy.array(v.rising(f"rtio.bsa.bsa_det{i}.in")) for i in range(4)]
    assert len(runs) > 5
    clicking = 0
    for t0, t1, cycle_mu, gates, counters in runs:
        for i in range(4):
            g0, g1 = gates[i]
            t = rising[i][(rising[i] >= t0) & (rising[i] < t1)] - t0
            cycles = {int(c) for c, r in zip(t // cycle_mu, t % cycle_mu) if g0 <= r < g1}
            assert len(cycles) == counters[i], (t0, i)
            clicking += counters[i]
    assert clicking > 2 * len(runs)  # far more clicks than the heralding cycles' own


def test_recording_changes_nothing(sessions):
    """The same seed gives the same datasets with and without the VCD (its draws are its own)."""
    _, (d1, runs1, skipped1), (d2, runs2, skipped2) = sessions
    assert skipped1 == skipped2
    assert [r[4] for r in runs1] == [r[4] for r in runs2]
    keys = sorted(k for k in d1 if "wall" not in k)  # host time differs between runs
    assert keys == sorted(k for k in d2 if "wall" not in k) and len(keys) > 20
    for k in keys:
        assert numpy.array_equal(numpy.asarray(d1[k]), numpy.asarray(d2[k])), k
