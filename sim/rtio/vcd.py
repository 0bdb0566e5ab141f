# SPDX-License-Identifier: LGPL-3.0-or-later
"""Waveform export (VCD, pyvcd, 1 ns timescale) for GTKWave, in the spirit of ``artiq_coreanalyzer -w``.

Per channel: TTL-like outputs as 1-bit wires (resolved levels), TTL input events as events plus the
event data, edge-counter gate events as integers, AD9910 frequency (Hz), amplitude (fraction) and phase
(turns) as reals, entangler herald events. Waveforms are built lazily from the engine's logs.
"""
from __future__ import annotations

from typing import Any

__all__ = ["write_vcd", "collect_signals"]

_NEG = -(1 << 62)


def _ident(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name) or "unnamed"


def collect_signals(engine: Any) -> dict[str, tuple[str, int, list[tuple[int, Any]]]]:
    """``{signal name: (kind, size, [(t_mu, value)])}``; kinds: ``wire``, ``event``, ``integer``,
    ``real``."""
    out: dict[str, tuple[str, int, list[tuple[int, Any]]]] = {}
    t_end = max(engine.counter, engine.now) + 1
    for ch, st in sorted(engine.channels.items()):
        name = _ident("{}_ch{}".format(st.name, ch) if st.name == "unknown" else st.name)
        inp = engine.inputs.get(ch)
        if inp is not None:
            inp.generate(engine.counter + 1)
        if st.kind in ("ttl_out", "ttl_inout", "clkgen", "unknown"):
            lv = engine.ttl_levels(ch, _NEG, t_end)
            if lv or st.raw:
                out[name] = ("wire", 1, [(0, 0)] + lv if not lv or lv[0][0] > 0 else lv)
        phy = st.phy
        log = getattr(phy, "log", None)
        if log:
            out[name + "_in"] = ("integer", 32, [(t, int(d)) for t, d in log])
        herald = getattr(phy, "herald_log", None)
        if herald:
            out[name + "_herald"] = ("integer", 32, list(herald))
        if st.kind == "edge_counter" and inp is not None:
            evs = [(t, d) for _, t, d in inp.pending] + [(t, d) for t, d in inp.fifo]
            if evs:
                out[name + "_count"] = ("integer", 32, sorted(evs))
    for (spi, cs), tl in sorted(engine.dds.items()):
        st = engine.channels.get(spi)
        base = _ident("{}_cs{}".format(st.name if st else spi, cs))
        for dev, (kind, c, extra) in engine.names.items():
            if kind == "ad9910" and c == spi and extra.get("cs") == cs:
                base = _ident(dev)
                break
        out[base + "_freq_hz"] = ("real", 64, [(s.t_mu, float(s.frequency_hz)) for s in tl.s])
        out[base + "_amplitude"] = ("real", 64, [(s.t_mu, float(s.amplitude)) for s in tl.s])
        out[base + "_phase_turns"] = ("real", 64, [(s.t_mu, float(s.phase_turns)) for s in tl.s])
    return out


def write_vcd(engine: Any, path: str) -> None:
    """Write every channel's waveform to ``path`` (timescale 1 ns; times in mu = ns on Kasli)."""
    from vcd import VCDWriter

    signals = collect_signals(engine)
    changes: list[tuple[int, int, Any]] = []
    with open(path, "w") as f:
        with VCDWriter(f, timescale="1 ns", date="today", version="ionlink sim") as w:
            vars_ = []
            for name, (kind, size, evs) in signals.items():
                if kind == "real":
                    var = w.register_var("rtio", name, "real", init=0.0)
                elif kind == "wire":
                    var = w.register_var("rtio", name, "wire", size=1, init=0)
                else:
                    var = w.register_var("rtio", name, "integer", size=size, init=0)
                vars_.append(var)
                k = len(vars_) - 1
                for t, v in evs:
                    changes.append((max(int(t), 0), k, v))
            changes.sort(key=lambda e: (e[0], e[1]))
            for t, k, v in changes:
                w.change(vars_[k], t, v)
