# SPDX-License-Identifier: LGPL-3.0-or-later
"""Retiring the engine's history in long runs, so that a run's memory does not grow with its length.

The engine logs every output submission, and the views built on them (TTL level timelines, AD9910
state timelines, input-event logs) grow with them: ≈ 40 kB per herald of a remote-entanglement
run. Only the waveform file needs all of it; the simulation itself reads the past only from where
its worlds have turned outputs into physics (:attr:`~sim.physics.world.PhysicsWorld.processed_mu`)
and, for the input PHYs, from the first control event they have not consumed. So when no waveform
file is recorded and the logs have grown past :data:`RETIRE_AFTER_EVENTS` submissions,
:func:`retire_history` drops what lies more than :data:`KEEP_MU` before both the RTIO counter and
every world's position (keeping each timeline's last state before that point, so levels and DDS
states *at* any later time are unchanged). Retired submissions still count in ``n_outputs``. The
threshold counts what was logged since the last retiring kept (the engine's ``retire_base``): what
lies within :data:`KEEP_MU` stays, and a loop whose ``KEEP_MU`` holds more than the threshold would
otherwise retire a handful of submissions at every check, each time walking every channel.

What is never retired: a channel whose log holds out-of-order submissions not yet resolved
(``flagged``), clock generators (their waveform is computed from all their words), and outputs
wired to a loopback input. Nothing here changes the timeline: the same seed gives the same
results with or without retiring (tested).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from sim.rtio.channels import ChannelState, Kind
from sim.rtio.phy.entangler_pair import EntanglerPairing
from sim.rtio.phy.ttl_input import TTLInputPhy

__all__ = ["KEEP_MU", "RETIRE_AFTER_EVENTS", "RETIRE_EVERY", "retire_history"]

#: history kept before the oldest point still read, in mu (10 ms: about two heralds)
KEEP_MU = 10_000_000
#: logged submissions (all channels) above which :func:`retire_history` acts: a few heralds'
#: worth (≈ 250 a herald at ``oxford2020``), so that what is retired is freed while its memory
#: is still warm and reused by the next submissions (100 000 cost ≈ 50 k more instructions a
#: herald in the allocator and freeing, docs/performance.md, tenth round)
RETIRE_AFTER_EVENTS = 2_000
#: calls of a fast-forwarded driver loop (the entangler's, the CPU attempts') per check of the
#: engine's history (retiring needs the logs' size: a sum over all channels, not worth per call)
RETIRE_EVERY = 8


def retire_history(engine: Any, *, threshold: int | None = None) -> int:
    """Drop the engine's history that nothing reads any more (see the module docstring) once more
    than ``threshold`` (default :data:`RETIRE_AFTER_EVENTS`) submissions are logged beyond what the
    last retiring kept; no-op while a waveform file is recorded. Returns the number of
    submissions retired."""
    if engine.recorder is not None:
        return 0
    channels: dict[int, ChannelState] = engine.channels
    limit = RETIRE_AFTER_EVENTS if threshold is None else threshold
    logged = sum([len(st.log) for st in channels.values()])
    if logged <= limit + engine.retire_base:
        return 0
    horizon = engine.counter
    loop_sources: set[int] = set()
    for world in engine.worlds:
        horizon = min(horizon, int(world.processed_mu))
        for wires in world.wires.values():
            loop_sources.update(w[0] for w in wires)
    horizon -= KEEP_MU
    retired = 0
    for ch, st in channels.items():
        if ch not in loop_sources:
            retired += _retire_channel(st, horizon)
    for timeline in engine.dds.values():
        _keep_from(timeline.t, horizon, timeline.s)
    engine.outputs_before += retired  # n_outputs still counts them
    engine.retire_base = logged - retired
    return retired


def _retire_channel(st: ChannelState, horizon: int) -> int:
    """Drop ``st``'s submissions before ``horizon`` that its consumers have passed."""
    phy = st.phy
    ttl_in = phy if isinstance(phy, TTLInputPhy) else None
    if ttl_in is not None and ttl_in.log:  # input events (ts, data): read by peek only
        del ttl_in.log[: bisect_left(ttl_in.log, (horizon,))]
    if isinstance(phy, EntanglerPairing) and phy.herald_log:
        del phy.herald_log[: bisect_left(phy.herald_log, (horizon,))]
    raw = st.raw
    if st.flagged or st.kind == Kind.CLKGEN or not raw:
        return 0
    k = bisect_left(raw, (horizon,))
    if ttl_in is not None:  # its gate controls not yet taken (``ctrl_idx``)
        k = min(k, ttl_in.ctrl_idx)
    view = st.level_view
    if view is not None:
        if view.idx < k:
            view.catch_up(horizon)  # a view nobody reads (a PMT's output side, IO_UPDATE)
        k = min(k, view.idx)
    if k <= 0:
        return 0
    del raw[:k]
    st.checked = max(st.checked - k, 0)
    st._res_len = -1
    if ttl_in is not None:
        ttl_in.ctrl_idx -= k
    if view is not None:
        view.idx -= k
        _keep_from(view.t, horizon, view.lv)
    return k


def _keep_from(times: list[int], horizon: int, values: list[Any]) -> None:
    """Drop the entries of the parallel lists ``times``/``values`` before ``horizon`` but the
    last of them (the state in effect at ``horizon``)."""
    i = bisect_right(times, horizon) - 1
    if i > 0:
        del times[:i]
        del values[:i]
