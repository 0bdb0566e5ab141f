# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulated master's log on the broadcast channel ``log``, in ARTIQ's shape ``(level, source,
timestamp, "logger:message")``: a running experiment's records as ``worker(RID,file)`` from its
run's ``log_level`` up and its printed lines, the master's own as ``master``, a controller's (sent
to the logging port) with its own source and level, a cancelled interactive-arguments request
reported as ARTIQ's worker and master report an experiment's exception. Received with ionlink's
receiver, and with sipyco's where it is importable."""

from __future__ import annotations

import asyncio
import logging
import pathlib
import threading
import time
from typing import Any, Awaitable, Callable

import pytest
from master_ports import free_ports

from comms import broadcast, pc_rpc
from sim.master.log_channel import LogForwarder, LogMessage, RunSources, SourceLevels
from sim.master.service import Master, MasterPorts
from sim.runner import Simulation

ROOT = pathlib.Path(__file__).resolve().parents[2]

LOGS = '''import logging

from artiq.experiment import *

logger = logging.getLogger(__name__)


class Logs(EnvExperiment):
    """Logs."""

    def run(self):
        logger.info("an info line")
        logger.warning("cooling %d ions\\nsecond line", 2)
        print("printed", end=" ")
        print("50 % done")
        print("unfinished", end="")
'''

ASK = '''from artiq.experiment import *


class Ask(EnvExperiment):
    """Ask."""

    def run(self):
        with self.interactive("How many?") as ns:
            ns.setattr_argument("n", NumberValue(3, precision=0, step=1, type="int"))
'''

ASK_CAUGHT = '''import logging

from artiq.experiment import *


class AskCaught(EnvExperiment):
    """Ask, and take a cancel as an answer."""

    def run(self):
        try:
            with self.interactive("How many?") as ns:
                ns.setattr_argument("n", NumberValue(3, precision=0, step=1, type="int"))
        except CancelledArgsError:
            logging.getLogger(__name__).warning("cancelled by the user")
'''

Steps = Callable[[Master, Any], Awaitable[None]]


def _serve(tmp_path: pathlib.Path, receiver_cls: type, steps: Steps) -> list[LogMessage]:
    """Start a master on free ports, receive ``log`` while ``steps(master, schedule client)``
    run, and return what was received (each message checked to be ARTIQ's 4-tuple)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "logs.py").write_text(LOGS)
    (repo / "ask.py").write_text(ASK)
    (repo / "ask_caught.py").write_text(ASK_CAUGHT)
    sim = Simulation(
        ROOT / "device_db.py",
        seed=1,
        lab="oxford2020",
        results_dir=tmp_path / "results",
        dataset_db=tmp_path / "dataset_db.mdb",
    )
    ports = MasterPorts(*free_ports(4))
    master = Master(sim, repo, ports=ports)
    received: list[Any] = []

    async def main() -> None:
        await master.start()
        receiver = receiver_cls("log", received.append)
        schedule = pc_rpc.AsyncioClient()
        try:
            await receiver.connect("127.0.0.1", ports.broadcast)
            await schedule.connect_rpc("127.0.0.1", ports.control, "schedule")
            await asyncio.sleep(0.1)  # the broadcaster has registered the receiver
            await steps(master, schedule)
            await asyncio.sleep(0.3)  # the last messages are on their way
        finally:
            await schedule.close_rpc()
            await receiver.close()
            await master.stop()

    asyncio.run(main())
    assert all(type(m) is tuple and len(m) == 4 for m in received), received
    return [LogMessage.from_wire(m) for m in received]


async def _outcome(master: Master, rid: int) -> Any:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, master.schedule.wait_outcome, rid, 120)


def _receiver(name: str) -> type:
    if name == "sipyco":
        return pytest.importorskip("sipyco.broadcast").Receiver
    return broadcast.Receiver


@pytest.mark.parametrize("receiver", ["ionlink", "sipyco"])
def test_log_channel_carries_the_experiments_and_the_masters_records(
    receiver, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("IONLINK_COMMS", "ionlink")
    caplog.set_level(logging.INFO)  # records below WARNING are made, and left out by level
    rids: list[int] = []

    async def steps(master: Master, schedule: Any) -> None:
        expid = {"file": "logs.py", "arguments": {}, "log_level": logging.WARNING}
        rids.append(await schedule.submit("main", expid, 0, None))
        assert (await _outcome(master, rids[0])).exit_code == 0
        logging.getLogger("sim.master.probe").warning("the master's own")
        # a controller's records, sent to the logging port as sipyco's LogForwarder sends them
        _, writer = await asyncio.open_connection("127.0.0.1", master.ports.logging)
        writer.write(b"ARTIQ logging\nctl_x:DEBUG<2>:ctl.driver:polled\ntwice\n")
        await writer.drain()
        writer.close()

    t0 = time.time()
    got = _serve(tmp_path, _receiver(receiver), steps)
    t1 = time.time()
    worker = [m for m in got if m.source == "worker({},logs.py)".format(rids[0])]
    assert [(m.level, m.text.split(":", 1)[1]) for m in worker] == [
        (logging.WARNING, "cooling 2 ions\nsecond line"),
        (logging.INFO, "printed 50 % done"),  # printed lines: whatever the run's level
        (logging.INFO, "unfinished"),
    ]
    assert [m.text.split(":", 1)[0] for m in worker[1:]] == ["print", "print"]
    assert all(t0 <= m.timestamp <= t1 for m in got)
    own = [m for m in got if m.text == "sim.master.probe:the master's own"]
    assert [(m.level, m.source) for m in own] == [(logging.WARNING, "master")]
    controller = [m for m in got if m.source == "ctl_x"]
    assert [(m.level, m.text) for m in controller] == [(logging.DEBUG, "ctl.driver:polled\ntwice")]
    ours = [m for m in got if m.source != "ctl_x" and not m.text.startswith("print:")]
    assert min(m.level for m in ours) == logging.WARNING, "INFO records are below both levels"


def test_a_run_at_info_gets_its_info_records_the_master_stays_at_warning(tmp_path, monkeypatch):
    """The root logger at WARNING (the master's level): a run submitted with ``log_level`` INFO
    still has its INFO records made and sent; the master's INFO records are not sent, and the
    root logger is back at WARNING after the run."""
    monkeypatch.setenv("IONLINK_COMMS", "ionlink")
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", logging.WARNING)
    rids: list[int] = []

    async def steps(master: Master, schedule: Any) -> None:
        expid = {"file": "logs.py", "arguments": {}, "log_level": logging.INFO}
        rids.append(await schedule.submit("main", expid, 0, None))
        assert (await _outcome(master, rids[0])).exit_code == 0
        assert root.level == logging.WARNING

    got = _serve(tmp_path, broadcast.Receiver, steps)
    worker = [m for m in got if m.source == "worker({},logs.py)".format(rids[0])]
    assert (logging.INFO, "an info line") in [(m.level, m.text.split(":", 1)[1]) for m in worker]
    assert all(m.level >= logging.WARNING for m in got if m.source == "master"), got


def test_cancelled_interactive_arguments_are_reported_as_artiq_does(tmp_path, monkeypatch):
    """ARTIQ: the experiment gets CancelledArgsError; uncaught, its worker reports "Terminating
    with exception (CancelledArgsError)" with the traceback at ERROR and the master the failed
    run at ERROR; caught, the run is an ordinary one (nothing at ERROR)."""
    monkeypatch.setenv("IONLINK_COMMS", "ionlink")
    rids: list[int] = []

    async def steps(master: Master, schedule: Any) -> None:
        interactive = pc_rpc.AsyncioClient()
        await interactive.connect_rpc("127.0.0.1", master.ports.control, "interactive_arg_db")
        try:
            for file, status in (("ask.py", "error"), ("ask_caught.py", "ok")):
                rid = await schedule.submit("main", {"file": file, "arguments": {}}, 0, None)
                rids.append(rid)
                for _ in range(600):  # until the run asks
                    try:
                        await interactive.cancel(rid)
                        break
                    except ValueError:
                        await asyncio.sleep(0.05)
                assert (await _outcome(master, rid)).status == status
        finally:
            await interactive.close_rpc()

    got = _serve(tmp_path, broadcast.Receiver, steps)
    caught = [m for m in got if m.source == "worker({},ask_caught.py)".format(rids[1])]
    assert [(m.level, m.text.split(":", 1)[1]) for m in caught] == [
        (logging.WARNING, "cancelled by the user")
    ]
    errors = [m for m in got if m.level >= logging.ERROR]
    assert [m.source for m in errors] == ["worker({},ask.py)".format(rids[0]), "master"], got
    report = errors[0].text.splitlines()
    assert report[0] == "sim.runner:Terminating with exception (CancelledArgsError)"
    assert report[1] == "Traceback (most recent call last):"
    assert report[-1].endswith("CancelledArgsError")
    master_line = "sim.master.service:RID {}: CancelledArgsError".format(rids[0])
    assert errors[1].text.startswith(master_line)


def test_forwarder_attributes_records_to_their_source():
    """A run's thread: its source, from its level up; other threads: the master's; a record
    forwarded from elsewhere (``source`` set): as it came."""
    sent: list[LogMessage] = []
    runs = RunSources()
    forwarder = LogForwarder(sent.append, SourceLevels(runs, logging.WARNING))
    log = logging.getLogger("test.forwarder")
    log.addHandler(forwarder)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    try:
        ran = threading.Event()

        def run() -> None:
            with runs.running("worker(4,exp.py)", logging.INFO):
                log.debug("hidden")
                log.info("seen")
            log.info("after the run: the master's, below its level")
            ran.set()

        threading.Thread(target=run).start()
        assert ran.wait(10)
        log.info("master info, hidden")
        try:
            raise KeyError("k")
        except KeyError:
            log.error("failed", exc_info=True)
        log.debug("from a controller", extra={"source": "ctl"})
    finally:
        log.removeHandler(forwarder)
        log.propagate = True
    assert [(m.level, m.source, m.text.splitlines()[0]) for m in sent] == [
        (logging.INFO, "worker(4,exp.py)", "test.forwarder:seen"),
        (logging.ERROR, "master", "test.forwarder:failed"),
        (logging.DEBUG, "ctl", "test.forwarder:from a controller"),
    ]
    assert sent[1].text.splitlines()[-1] == "KeyError: 'k'"


def test_run_output_captures_only_the_run_thread(caplog):
    """Lines printed by the captured thread are ``print`` records of its source (the unfinished
    last one when the capture ends); other threads' text goes to the stream; a handler that
    writes to the stand-in while a record is handled writes to the stream."""
    import io

    from sim.master.run_output import RunOutput

    stream = io.StringIO()
    out = RunOutput(stream)
    caplog.set_level(logging.INFO)

    class Echo(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            out.write("echo " + record.getMessage() + "\n")

    echo = Echo()
    logging.getLogger().addHandler(echo)
    try:
        with out.captured("worker(1,x.py)"):
            out.write("a\r\nb")
            other = threading.Thread(target=out.write, args=("from elsewhere\n",))
            other.start()
            other.join()
            out.write("c\nd")
        out.write("after\n")
    finally:
        logging.getLogger().removeHandler(echo)
    printed = [r for r in caplog.records if r.name == "print"]
    assert [(r.levelno, r.source, r.getMessage()) for r in printed] == [  # type: ignore[attr-defined]
        (logging.INFO, "worker(1,x.py)", "a"),
        (logging.INFO, "worker(1,x.py)", "bc"),
        (logging.INFO, "worker(1,x.py)", "d"),
    ]
    assert stream.getvalue() == "echo a\nfrom elsewhere\necho bc\necho d\nafter\n"
