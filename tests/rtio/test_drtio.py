# SPDX-License-Identifier: LGPL-3.0-or-later
"""Golden tests of DRTIO (sim/rtio/drtio.py): satellite outputs against the master's underflow
margin and the satellite's own, input round trips, link loss and recovery, the remote buffer
space stall, entangler slave timeout, and the device database / lab checks."""

from __future__ import annotations

import pytest
from artiq.coredevice.exceptions import RTIODestinationUnreachable, RTIOUnderflow

from sim.device_manager import DeviceDBError
from sim.physics.lab import LabError, lab_from_dict, load_lab
from sim.rtio.drtio import LinkSpec
from sim.rtio.phy.entangler_pair import SLAVE_END_DELAY_MU
from sim.rtio.phy.ttl import INPUT_ARRIVAL_MU
from sim.topology import topology_of

from .conftest import base_db
from .cycle_stub import StubLaw

SAT = 1 << 16


def drtio_db() -> dict:
    db = base_db()
    db["core"]["arguments"]["satellite_cpu_targets"] = {1: "rv32g"}
    for name, ch, cls in (("sat_out", 0, "TTLOut"), ("sat_in", 2, "TTLInOut")):
        db[name] = {
            "type": "local",
            "module": "artiq.coredevice.ttl",
            "class": cls,
            "arguments": {"channel": SAT | ch},
        }
    db["sat_loop"] = {
        "type": "local",
        "module": "artiq.coredevice.ttl",
        "class": "TTLOut",
        "arguments": {"channel": SAT | 1},
        "sim_loopback": {"to": "sat_in", "delay_mu": 120},
    }
    return db


@pytest.fixture
def denv(make_env):
    env = make_env(drtio_db(), cost_profile="zero")
    return env


def set_link(env, latency_mu: int, outages=()) -> None:
    dest = env.engine.drtio.destinations[1]
    dest.spec = LinkSpec(latency_mu=latency_mu, outages=tuple(outages))


def submit(env, slack_mu: int, channel: int = SAT) -> int:
    """One output on ``channel`` at counter + ``slack_mu``; returns its timestamp."""
    eng = env.engine
    eng.counter = 100_000
    eng.now = ts = eng.counter + slack_mu
    eng.rtio_output(channel << 8, 1)
    return ts


def test_output_slack_master_margin_and_satellite_underflow(denv):
    """Less than the master's 300 mu margin: RTIOUnderflow in the kernel, ARTIQ's message.
    Between that and the link latency + the satellite's 16 coarse cycles: accepted by the
    master, dropped by the satellite, only the core log says so. More: lands at its
    timestamp."""
    set_link(denv, 2000)
    with pytest.raises(RTIOUnderflow, match=r"RTIO underflow at channel 0x10000:sat_out"):
        submit(denv, 200)
    raw = denv.engine.channels[SAT].raw
    assert raw == []
    submit(denv, 1000)  # the master accepts: no exception
    assert raw == []
    assert any("write underflow" in m for m in denv.engine.core_log)
    ts = submit(denv, 2000 + 16 * 8 + 8)
    assert raw == [(ts, 0, 1)]


def test_local_channel_needs_no_link_slack(denv):
    """Destination 0 is untouched by the link: 200 mu of slack is plenty."""
    set_link(denv, 2000)
    ts = submit(denv, 200, channel=10)
    assert denv.engine.channels[10].raw[-1] == (ts, 0, 1)


def test_satellite_input_read_takes_the_round_trip(denv):
    """A read of a satellite input with nothing in its FIFO returns -1 one latency after its
    timeout (the request travels, the satellite waits, the answer travels)."""
    set_link(denv, 5000)
    eng = denv.engine
    eng.counter = 1_000
    timeout = 100_000
    assert eng.rtio_input_timestamp(timeout, SAT | 2) == -1
    assert eng.counter == timeout + 5000
    eng.counter = 200_000  # timeout long past: the round trip alone
    assert eng.rtio_input_timestamp(0, SAT | 2) == -1
    assert eng.counter == 200_000 + 2 * 5000


def test_link_down_raises_unreachable_and_recovers(make_env):
    """--link-down 1: outputs and inputs raise ARTIQ's RTIODestinationUnreachable and the status
    is down; back up, the same output lands. A scheduled outage acts by RTIO time."""
    env = make_env(drtio_db(), cost_profile="zero", link_down=[1])
    eng = env.engine
    assert env.core.get_rtio_destination_status(0)
    assert not env.core.get_rtio_destination_status(1)
    with pytest.raises(
        RTIODestinationUnreachable,
        match=r"RTIO destination unreachable, output, at channel 0x10000:sat_out, \d+ mu",
    ):
        submit(env, 10_000)
    with pytest.raises(
        RTIODestinationUnreachable,
        match=r"RTIO destination unreachable, input, on channel 0x10002:sat_in",
    ):
        eng.rtio_input_timestamp(0, SAT | 2)
    eng.drtio.set_link_down(1, False)
    assert env.core.get_rtio_destination_status(1)
    ts = submit(env, 10_000)
    assert eng.channels[SAT].raw == [(ts, 0, 1)]
    set_link(env, 290, outages=[(150_000, 250_000)])
    eng.counter = 160_000
    assert not env.core.get_rtio_destination_status(1)
    eng.counter = 250_000
    assert env.core.get_rtio_destination_status(1)


def test_remote_buffer_space_stall(denv):
    """A burst of events far ahead: once the satellite's lane is full the master's cached space
    runs out, it asks again (a round trip each) and the CPU waits until the first event has left
    the satellite's lane; from then on every write costs a round trip."""
    set_link(denv, 1000)
    eng = denv.engine
    eng.counter = 0
    t0 = 1_000_000
    for i in range(200):
        eng.now = t0 + 4000 * i
        eng.rtio_output(SAT << 8, i & 1)
    dest = eng.drtio.destinations[1]
    assert dest.space_requests >= 200 - 128
    # stalled until the first event left its lane, then a round trip per write
    assert eng.counter >= t0 + (200 - 129) * 2000
    assert len(eng.channels[SAT].raw) == 200
    assert eng.core_log == []


def test_entangler_slave_without_trigger_times_out(make_env):
    """A slave whose master never triggers ends its run at its own timeout, no cycle run."""
    db = drtio_db()
    for name, ch, master in (("ent_m", 30, True), ("ent_s", SAT | 30, False)):
        db[name] = {
            "type": "local",
            "module": "drivers.entangler",
            "class": "Entangler",
            "arguments": {"channel": ch, "is_master": master},
        }
    env = make_env(db, cost_profile="zero")
    slave = env.engine.channels[SAT | 30].phy
    master = env.engine.channels[30].phy
    assert master.partner is slave and slave.slave_role
    slave.on_output(1000, 0, 1)  # CONFIG: enable, not master
    slave.on_output(1008, 1, 125)  # RUN, 1000 mu
    deadline = 1008 + 125 * 8
    assert slave.input_events(1 << 40) == [(deadline + INPUT_ARRIVAL_MU, deadline, 0x3FFF)]
    assert slave.ncycles == 0
    master.on_output(5000, 0, 0b111)
    slave.on_output(5000, 1, 125)
    master.on_output(5008, 1, 125)  # triggers the armed slave: both end together (+2 clocks)
    ((_, t_slave, data),) = slave.input_events(1 << 40)
    t_master = master.herald_log[-1][0]
    assert t_slave == t_master + SLAVE_END_DELAY_MU and data == 0x3FFF


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda db: db["core"]["arguments"].update(satellite_cpu_targets={}), "no link"),
        (
            lambda db: db.update(
                e1={"type": "local", "class": "Entangler", "arguments": {"channel": 40}},
                e2={"type": "local", "class": "Entangler", "arguments": {"channel": 41}},
            ),
            "two entangler masters",
        ),
        (
            lambda db: db.update(
                e1={
                    "type": "local",
                    "class": "Entangler",
                    "arguments": {"channel": SAT | 40, "is_master": False},
                }
            ),
            "without a master",
        ),
    ],
)
def test_bad_device_db_one_clear_error(edit, message):
    db = drtio_db()
    edit(db)
    with pytest.raises(DeviceDBError, match=message):
        topology_of(db)


def test_negative_link_latency_is_bad_input():
    data = dict(_lab_dict())
    data["drtio"] = {"fibre_m": -3.0}
    with pytest.raises(LabError, match=r"drtio.fibre_m = -3.0: a link latency cannot be negative"):
        lab_from_dict(data)
    data["drtio"] = {"fibre_m": 20_000.0, "outages": [[1.0, 2.0]]}
    link = lab_from_dict(data).drtio
    assert link.latency_s == pytest.approx(100.28e-6)
    assert link.outages == ((1.0, 2.0),)


def _lab_dict() -> dict:
    import tomllib

    return tomllib.loads(open(load_lab("oxford2020").source).read())


class _Model(StubLaw):
    """A cycle law: pattern 0b1001 heralds with probability ``p`` when both excitation outputs
    (1: node A, 3: node B) are on."""

    def __init__(self, p: float) -> None:
        import numpy

        self.pattern_probs = numpy.zeros(16)
        self.pattern_probs[0b1001] = p
        self.pattern_probs[0] = 1 - p

    def sample(self, rng, herald_set):
        from types import SimpleNamespace

        return SimpleNamespace(pattern=0b1001, first_edge=[600, -1, -1, 600], clicks=[])


class _World:
    """A :class:`~sim.fastforward.CycleWorld` that records the outputs of each run."""

    def __init__(self, p: float) -> None:
        self.p = p
        self.outputs: list[dict] = []

    def cycle_model(self, outputs, gates, cycle_mu, *, t_start_mu=None):
        self.outputs.append(dict(outputs))
        return _Model(self.p if 1 in outputs and 3 in outputs else 0.0)

    def commit_cycle(self, *args, **kwargs) -> None:
        pass

    def commit_timeout(self, *args, **kwargs) -> None:
        pass


def _configure(phy, outputs: range, config: int) -> None:
    phy.tcycle = 131  # 1048 mu
    phy.herald = 0b1001 | 1 << 16
    for i in outputs:  # pump 0/2, excitation 1/3 alike on both nodes; 8 ns steps, stored +1
        phy.timing[i] = ((10 + i % 2) << 16) | (2 + i % 2)
    for i in range(4, 8):
        phy.timing[i] = (700 << 16) | 590
    phy.config = config


@pytest.mark.parametrize("cable_ns", [5, 12])
def test_master_slave_heralds_as_the_single_core(make_env, cable_ns):
    """The pair draws its cycles as one core whose outputs 2, 3 are the slave's 0, 1 (shifted by
    whole clocks of cable delay): the herald count over 2000 runs equals the single core's within
    3σ, the slave ends two clocks after the master, and a master whose slave is not ready (not
    standalone) times out without a cycle."""
    db = drtio_db()
    for name, ch, master in (("ent", 30, True), ("ent_m", 31, True), ("ent_s", SAT | 31, False)):
        db[name] = {
            "type": "local",
            "module": "drivers.entangler",
            "class": "Entangler",
            "arguments": {"channel": ch, "is_master": master},
        }
    # one device database may have one master: the single core lives in its own session
    single_db = {k: v for k, v in db.items() if k not in ("ent_m", "ent_s")}
    single_env = make_env(single_db, cost_profile="zero", seed=3)
    env = make_env({k: v for k, v in db.items() if k != "ent"}, cost_profile="zero", seed=4)
    single = single_env.engine.channels[30].phy
    master = env.engine.channels[31].phy
    slave = env.engine.channels[SAT | 31].phy
    master.pair_with(slave, cable_ns)  # the session paired them with the default cable
    w1, w2 = _World(0.01), _World(0.01)
    single.bind_world(w1)
    master.bind_world(w2)
    _configure(single, range(4), 0b111)
    _configure(master, range(2), 0b111)
    _configure(slave, range(2), 0b001)
    n_runs, timeout = 2000, 100 * 131
    heralds = [0, 0]
    t = 10_000
    for _ in range(n_runs):
        single.on_output(t, 1, timeout)
        slave.on_output(t, 1, timeout)
        master.on_output(t + 8, 1, timeout)
        heralds[0] += single.herald_log[-1][1] != 0x3FFF
        heralds[1] += master.herald_log[-1][1] != 0x3FFF
        ((_, t_slave, _),) = slave.input_events(1 << 60)
        assert t_slave == master.herald_log[-1][0] + SLAVE_END_DELAY_MU
        t += 200_000
    shift = 8 * (cable_ns // 8)
    expected = {**w1.outputs[0]}
    expected[2] = (expected[2][0] + shift, expected[2][1] + shift)
    expected[3] = (expected[3][0] + shift, expected[3][1] + shift)
    assert w2.outputs[0] == expected
    q = 1 - 0.99**100
    sigma = (2 * n_runs * q * (1 - q)) ** 0.5
    assert abs(heralds[0] - heralds[1]) < 3 * sigma, heralds
    assert abs(heralds[1] - n_runs * q) < 3 * sigma / 2**0.5, heralds
    master.config = 0b011  # not standalone: waits for the slave, which is not armed
    master.on_output(t, 1, timeout)
    assert master.herald_log[-1] == (t + 8 * timeout, 0x3FFF) and master.ncycles == 0


def test_unreachable_destination_is_marked_in_the_vcd(make_env, tmp_path):
    """An output and an input on a down link: each an event on
    ``rtio.exceptions.destination_unreachable`` with its channel, as the slack predictor's
    waveform shows every RTIO exception."""
    from sim.rtio.exception_log import RTIOException

    from .vcdfile import read_vcd

    path = tmp_path / "down.vcd"
    env = make_env(drtio_db(), cost_profile="zero", link_down=[1], vcd=str(path))
    ts = 100_000 + 10_000
    with pytest.raises(RTIODestinationUnreachable):
        submit(env, 10_000)
    with pytest.raises(RTIODestinationUnreachable):
        env.engine.rtio_input_timestamp(0, SAT | 2)
    env.session.close()
    vcd = read_vcd(path)
    kind = "rtio.exceptions." + RTIOException.DESTINATION_UNREACHABLE.value
    events = [t for t, _ in vcd.of(kind)]
    # the input was refused at the counter (100 000 mu), the output at its timestamp
    assert events == [100_000, ts]
    assert [int(v) for t, v in vcd.of(kind + "_channel") if t] == [SAT | 2, SAT]
