# SPDX-License-Identifier: LGPL-3.0-or-later
"""The waveplate controller over its port as ARTIQ uses it (pc_rpc client), and the faults an
experiment meets: a controller that is not running, one that stops mid-session, one that does
not answer, garbage on the wire. Each gives a clear error within its timeout; ARTIQ's
reconnecting client (BestEffortClient) reconnects once the controller is back."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import pytest

from comms import pc_rpc
from comms.server import wait_for_server

from .conftest import free_port, start_controller, stop


def test_answers_ping_on_both_loopback_addresses(waveplates_ctl):
    proc, port = waveplates_ctl
    for host in ("127.0.0.1", "::1"):
        c = pc_rpc.Client(host, port, timeout=5)
        assert c.get_rpc_id()[0] == ["waveplates"]
        assert c.ping() is True
        c.close_rpc()
    c = pc_rpc.Client("::1", port, timeout=5)
    assert c.move_to("a.hwp", 400.0) == pytest.approx(40.0 / 180.0)  # shorter way, 180 deg/s
    assert c.position("a.hwp") == pytest.approx(40.0)
    assert c.move_node("b", {"qwp1": 10.0, "qwp2": 350.0}) == pytest.approx(10.0 / 180.0)
    assert c.positions()["b.qwp2"] == pytest.approx(350.0)
    c.home("a.hwp")
    assert c.position("a.hwp") == 0.0 and c.is_homed("a.hwp")
    methods = c.get_rpc_method_list()["methods"]
    assert all(doc for _, doc in methods.values()), "every method is documented"
    with pytest.raises(Exception, match="no waveplate 'c.hwp'"):
        c.move_to("c.hwp", 1.0)
    with pytest.raises(Exception, match="not finite"):
        c.move_to("a.hwp", float("nan"))
    assert c.ping() is True  # a failed call leaves the connection usable
    c.terminate()
    assert proc.wait(timeout=10) == 0


def test_not_running_controller_gives_a_clear_error_fast():
    port = free_port()
    t0 = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        pc_rpc.Client("127.0.0.1", port, timeout=2)
    assert time.monotonic() - t0 < 2


def test_disconnect_then_reconnect(waveplates_ctl):
    """The controller dies under a client: the plain client raises at its next call; the
    best-effort client returns None and reconnects to the restarted controller by itself."""
    proc, port = waveplates_ctl
    plain = pc_rpc.Client("127.0.0.1", port, timeout=5)
    best = pc_rpc.BestEffortClient("127.0.0.1", port, "waveplates", retry=0.1)
    assert plain.ping() and best.ping()
    stop(proc)
    with pytest.raises((OSError, EOFError)):
        plain.ping()
    assert best.ping() is None  # the failure, without raising; reconnects in the background
    again = start_controller("aqctl_ionlink_waveplates", "--simulation", "-p", str(port))
    try:
        wait_for_server("127.0.0.1", port, 20)
        deadline = time.monotonic() + 10
        while best.ping() is not True:
            assert time.monotonic() < deadline, "best-effort client did not reconnect"
            time.sleep(0.05)
        best.close_rpc()
    finally:
        stop(again)


def _silent_server(reply: bytes | None) -> tuple[int, threading.Event]:
    """A TCP server that accepts one client, reads, and then sends ``reply`` (None: nothing)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    done = threading.Event()

    def serve() -> None:
        conn, _ = srv.accept()
        conn.recv(100)
        if reply is not None:
            conn.sendall(reply)
        done.wait(10)
        conn.close()
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1], done


def test_a_controller_that_does_not_answer_times_out():
    port, done = _silent_server(None)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        pc_rpc.Client("127.0.0.1", port, timeout=0.5)
    assert time.monotonic() - t0 < 2
    done.set()


def test_garbage_from_the_server_is_a_clear_error():
    port, done = _silent_server(b"\x00\xffnot pyon at all\n")
    with pytest.raises(Exception) as info:
        pc_rpc.Client("127.0.0.1", port, timeout=2)
    assert not isinstance(info.value, TimeoutError)
    done.set()


def test_garbage_to_the_controller_closes_only_that_connection(waveplates_ctl):
    proc, port = waveplates_ctl
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.sendall(b"ARTIQ pc_rpc\n")
    s.recv(4096)
    s.sendall(b"waveplates pyon_v2\n")
    s.recv(4096)
    s.sendall(b"}{ garbage\n")
    s.settimeout(5)
    assert s.recv(4096) == b""  # the controller closed this connection
    s.close()
    c = pc_rpc.Client("127.0.0.1", port, timeout=5)
    assert c.ping() is True


def test_without_simulation_it_refuses_to_start():
    proc = start_controller("aqctl_ionlink_waveplates", "-p", str(free_port()))
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert "use --simulation" in err and len(err.strip().splitlines()) == 1


def test_port_in_use_is_one_line():
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        proc = start_controller(
            "aqctl_ionlink_waveplates",
            "--simulation",
            "-p",
            str(port),
            "--no-localhost-bind",
            "--bind",
            "127.0.0.1",
        )
        out, err = proc.communicate(timeout=20)
    finally:
        blocker.close()
    assert proc.returncode == 2 and "cannot listen" in err
    assert isinstance(proc, subprocess.Popen)
