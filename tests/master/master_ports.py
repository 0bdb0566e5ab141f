# SPDX-License-Identifier: LGPL-3.0-or-later
"""Free loopback ports for a simulated master in the tests."""

from __future__ import annotations

import socket


def free_ports(n: int) -> list[int]:
    """``n`` TCP ports on 127.0.0.1 free at the time of the call."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports
