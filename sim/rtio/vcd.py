# SPDX-License-Identifier: LGPL-3.0-or-later
"""Waveform export (VCD, pyvcd) for GTKWave, in the spirit of ``artiq_coreanalyzer -w``.

Time is in machine units: the VCD timescale is the core's ``ref_period`` (1 ns on Kasli), so a VCD
time is an RTIO timestamp in mu. ``$date`` is the wall-clock time the file was written (the header
only; nothing on the timeline depends on it); ``$comment`` names the seed and the lab.

Names. Every signal is named after the device_db name the experiments use: an RTIO device's
*canonical name* is the first alias in device_db order that resolves to it (``node_a.cool_sw``
for ``ttl0``, ``bsa_det0`` for ``ttl16``, ``node_a.qubit_dds`` for ``urukul0_ch3``), or its own
name if it has no alias (``ttl_urukul0_io_update``, ``entangler``). Scopes, under the root scope
``rtio``: a dotted name is split at its dots (``node_a.cool_sw`` → scope ``node_a``, signal
``cool_sw``); an undotted name that a logical device (a device_db entry without an RTIO channel,
e.g. ``bsa`` or ``urukul0_cpld``) names in its arguments goes into that device's scope
(``bsa.bsa_det0``, ``urukul0_cpld.ttl_urukul0_io_update``); an AD9910's RF switch without an alias
of its own goes into the AD9910's scope as ``sw``; other names stay at the root. The same signals
are also reachable by their hardware names under ``rtio.hardware`` (``rtio.hardware.ttl16.in`` is
``rtio.bsa.bsa_det0.in``; aliases share the VCD identifier, so they cost no data).

Signals per device kind:

* TTL output, clock generator: a 1-bit wire, the resolved output level.
* TTL input (TTLInOut), a scope with ``in`` (wire: the level at the input pad, every edge the
  physics or a loopback delivered to the PHY, whether or not a gate was open: detector and PMT
  clicks are pulses of the detector's pulse width), ``gate`` (2-bit wire: the input sensitivity,
  bit 0 rising, bit 1 falling, from when it applies to input timestamps, i.e. 88 mu after the
  sensitivity write; ``core.reset()`` clears it), ``events`` (event: every input event the PHY
  put in its FIFO, i.e. registered edges and samples) and ``out`` (its output level, if it drove
  any). During an entangler run the clicks of every cycle are shown on the gate inputs' ``in``:
  the heralding cycle as the fast path sampled it, the other cycles materialised for the
  waveform from the pattern counts the entangler drew (its input counters count them).
* Edge counter: ``in`` as above and ``count`` (integer, the counts the gateware reported).
* AD9910, a scope with ``freq_hz`` (Hz), ``phase_turns`` (turns) and ``amplitude`` (fraction of
  full scale) as real values from each IO_UPDATE (0 before the first), and ``sw``, its RF switch.
* Entangler, a scope with ``running`` (wire, 1 from each RUN write to the end of its last cycle),
  ``herald`` (event at the end of each run that heralded), ``pattern`` (4-bit wire: the detector
  pattern of that cycle, bit i = gate input i), ``result`` (integer: the run's result word, the
  matched herald slots or 0x3fff on timeout), ``cycles`` (integer: cycles of the run), and the
  configuration as written: ``enable`` (CONFIG bit 0), ``tcycle_mu`` (cycle length in mu) and
  ``herald_config`` (the HERALD register: 4 patterns in bits 0-15, enables in bits 16-19).

RTIO exceptions (:mod:`sim.rtio.exception_log`), under ``rtio.exceptions``: for each kind
(``underflow``, ``sequence_error``, ``collision``, ``busy``, ``overflow``,
``destination_unreachable``) an event ``<kind>`` per exception and an integer ``<kind>_channel``,
the RTIO channel involved (unknown, ``x``, before the first; all six pairs are always declared,
so a viewer's saved layout finds them in every file).

Input edges, resets, entangler runs and exceptions come from the engine's
:class:`~sim.rtio.recorder.WaveRecorder`, which a session makes only when a VCD is requested.
"""

from __future__ import annotations

import datetime
import os
import pathlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from drivers.entangler_registers import ADDR_CONFIG, ADDR_HERALD, ADDR_TCYCLE, TIMEOUT
from sim.rtio.channels import Kind, Trace
from sim.rtio.exception_log import exception_traces
from sim.rtio.phy.ttl import GATE_OFFSET_MU
from sim.rtio.vcd_changes import Changes, write_changes

__all__ = [
    "EXCEPTION_SCOPE",
    "HARDWARE_SCOPE",
    "ROOT",
    "DeviceName",
    "Signal",
    "collect_signals",
    "device_names",
    "write_vcd",
]

ROOT = "rtio"
HARDWARE_SCOPE = "hardware"
EXCEPTION_SCOPE = "exceptions"
_LAST_RANK = 1 << 30
_NEG = -(1 << 62)
_DEFAULT_CLICK_WIDTH_S = 10e-9


@dataclass
class Signal:
    """One VCD variable: ``path`` = scopes + name under the root, ``kind`` one of ``wire``,
    ``real``, ``integer``, ``event``; ``changes`` ``(t_mu, value)`` in time order (or as
    :class:`~sim.rtio.vcd_changes.Changes`, two columns); ``aliases`` further paths of the same
    variable."""

    path: tuple[str, ...]
    kind: str
    size: int
    changes: list[tuple[int, Any]] | Changes
    aliases: tuple[tuple[str, ...], ...] = ()
    rank: int = 0
    #: value before the first change (``"x"``: unknown)
    init: Any = 0


@dataclass(frozen=True)
class DeviceName:
    """Where an RTIO device's signals go: ``path`` (scopes + name under the root) from its
    ``canonical`` device_db name, and its ``hardware`` name (the device_db entry itself);
    ``rank`` orders the signals as the device_db orders the names."""

    canonical: str
    hardware: str
    path: tuple[str, ...]
    rank: int = 0


def _ident(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in name) or "unnamed"


def _key(entry: tuple[str, int, dict]) -> tuple[int, int | None]:
    kind, ch, extra = entry
    return (ch, int(extra.get("cs", 0)) if kind == Kind.AD9910 else None)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


def device_names(
    engine: Any, device_db: dict | None = None
) -> dict[tuple[int, int | None], DeviceName]:
    """Canonical name and scope path of every RTIO device the engine knows, by ``(channel,
    chip select or None)`` (naming rules in the module docstring)."""
    db = device_db or {}
    names = engine.names
    rank = {name: i for i, name in enumerate(list(db) + [n for n in names if n not in db])}
    hardware: dict[tuple[int, int | None], str] = {}
    alias: dict[tuple[int, int | None], str] = {}
    for name, desc in db.items():
        entry = names.get(name)
        if entry is None:
            continue
        (alias if isinstance(desc, str) else hardware).setdefault(_key(entry), name)
    for name, entry in names.items():  # devices registered by drivers, not in the device_db
        hardware.setdefault(_key(entry), name)
    member: dict[str, str] = {}
    for name, desc in db.items():
        if isinstance(desc, dict) and name not in names:
            for ref in _strings(desc.get("arguments", {})):
                if ref in names:
                    member.setdefault(ref, name)
    switch_of: dict[str, tuple[tuple[str, ...], int]] = {}
    out: dict[tuple[int, int | None], DeviceName] = {}
    for key, hw in hardware.items():
        canonical = alias.get(key, hw)
        if "." in canonical:
            path = tuple(_ident(p) for p in canonical.split("."))
        elif canonical in member or hw in member:
            path = (_ident(member.get(canonical, member.get(hw, ""))), _ident(canonical))
        else:
            path = (_ident(canonical),)
        out[key] = DeviceName(canonical, hw, path, rank[canonical])
        kind, _, extra = names[hw]
        if kind == Kind.AD9910 and extra.get("sw") in names:
            switch_of[extra["sw"]] = (path, rank[canonical])
    # an AD9910's RF switch without a name of its own lives in the AD9910's scope
    for key, dn in out.items():
        if dn.canonical == dn.hardware and dn.hardware in switch_of:
            dds_path, dds_rank = switch_of[dn.hardware]
            out[key] = DeviceName(dn.canonical, dn.hardware, dds_path + ("sw",), dds_rank)
    return out


def _hw_alias(dn: DeviceName, *sub: str) -> tuple[tuple[str, ...], ...]:
    if dn.path == (_ident(dn.hardware),):
        return ()
    return ((HARDWARE_SCOPE, _ident(dn.hardware)) + sub,)


def _pulse_width_mu(lab: Any, device: str, ref_period: float) -> int:
    width = _DEFAULT_CLICK_WIDTH_S
    for det in getattr(getattr(lab, "bsa", None), "detectors", ()):
        if det.device == device:
            width = det.pulse_width_s
    return max(round(width / ref_period), 1)


def _entangler_click_edges(engine: Any, lab: Any) -> dict[int, list[tuple[int, int]]]:
    """The clicks of every cycle of the entangler runs as input edges, by input RTIO channel."""
    rec = engine.recorder
    out: dict[int, list[tuple[int, int]]] = {}
    if rec is None:
        return out
    for ent_ch, clicks in rec.entangler_clicks.items():
        phy = engine.channels[ent_ch].phy
        inputs: list[Any] = list(getattr(phy, "input_channels", []) or [])
        if not inputs and lab is not None:
            inputs = list(lab.entangler.inputs)
        for i, t in clicks:
            if i >= len(inputs):
                continue
            dev = inputs[i]
            if isinstance(dev, str):
                if dev not in engine.names:
                    continue
                ch = engine.names[dev][1]
                width = _pulse_width_mu(lab, dev, engine.ref_period)
            else:
                ch, width = int(dev), _pulse_width_mu(None, "", engine.ref_period)
            out.setdefault(ch, []).extend([(t, 1), (t + width, 0)])
    return out


def _gate_changes(engine: Any, ch: int) -> list[tuple[int, int]]:
    """Input sensitivity of a TTLInOut channel, from when it applies to input timestamps."""
    changes = [
        (ts + GATE_OFFSET_MU, data & 3) for ts, addr, data in engine.resolved(ch) if addr in (2, 3)
    ]
    rec = engine.recorder
    if rec is not None and rec.resets:
        changes += [(t, 0) for t in rec.resets]
        changes.sort(key=lambda c: c[0])
    return changes


def _entangler_signals(engine: Any, ch: int, dn: DeviceName) -> list[Signal]:
    enable, tcycle, herald_cfg = [], [], []
    for ts, addr, data in engine.resolved(ch):
        if addr == ADDR_CONFIG:
            enable.append((ts, int(data) & 1))
        elif addr == ADDR_TCYCLE:
            tcycle.append((ts, (int(data) & 0x3FF) * 8))
        elif addr == ADDR_HERALD:
            herald_cfg.append((ts, int(data) & 0xFFFFF))
    runs = engine.recorder.entangler_runs.get(ch, []) if engine.recorder is not None else []
    running: list[tuple[int, Any]] = []
    for r in runs:
        running += [(r.t_start_mu, 1), (r.t_end_mu, 0)]
    running.sort(key=lambda c: c[0])
    heralds = [r for r in runs if r.data != TIMEOUT]

    def sig(name: str, kind: str, size: int, changes: list) -> Signal:
        return Signal(dn.path + (name,), kind, size, changes, _hw_alias(dn, name), dn.rank)

    return [
        sig("running", "wire", 1, running),
        sig("herald", "event", 1, [(r.t_end_mu, True) for r in heralds]),
        sig("pattern", "wire", 4, [(r.t_end_mu, r.pattern) for r in heralds]),
        sig("result", "integer", 16, [(r.t_end_mu, r.data) for r in runs]),
        sig("cycles", "integer", 32, [(r.t_end_mu, r.cycles) for r in runs]),
        sig("enable", "wire", 1, enable),
        sig("tcycle_mu", "integer", 16, tcycle),
        sig("herald_config", "wire", 20, herald_cfg),
    ]


def collect_signals(engine: Any, device_db: dict | None = None, lab: Any = None) -> list[Signal]:
    """Every signal of the VCD (see the module docstring), before any is written.

    :param device_db: the device database (names; without it, hardware names only).
    :param lab: the lab description (entangler inputs, detector pulse widths) or None.
    """
    names = device_names(engine, device_db)
    rec = engine.recorder
    clicks = _entangler_click_edges(engine, lab)
    t_end = max(engine.counter, engine.now) + 1
    dds_switches = {
        engine.names[extra["sw"]][1]
        for kind, _, extra in engine.names.values()
        if kind == Kind.AD9910 and extra.get("sw") in engine.names
    }
    out: list[Signal] = []
    for ch, st in sorted(engine.channels.items()):
        dn = names.get((ch, None)) or DeviceName(
            st.name, st.name, (_ident(f"{st.name}_ch{ch}" if st.name == "unknown" else st.name),)
        )
        inp = engine.inputs.get(ch)
        if inp is not None:
            inp.generate(engine.counter + 1)  # edges and events up to now reach the PHY
        trace = st.kind.trace
        if trace is Trace.LEVEL:
            lv = Changes(*engine.ttl_level_columns(ch, _NEG, t_end))
            if lv.times or st.log or ch in dds_switches:
                out.append(Signal(dn.path, "wire", 1, lv, _hw_alias(dn), dn.rank))
        elif trace is Trace.INPUT:
            edges = list(rec.edges.get(ch, ())) if rec is not None else []
            if ch in clicks:
                edges = sorted(edges + clicks[ch], key=lambda e: e[0])
            out += _input_signals(engine, ch, dn, edges, t_end)
        elif trace is Trace.ENTANGLER:
            out += _entangler_signals(engine, ch, dn)
    out += _dds_signals(engine, names)
    out += _exception_signals(engine)
    _alias_dds_switches(engine, names, out)
    out.sort(key=lambda s: s.rank)  # device_db order (stable: a device's signals together)
    _unique_paths(out)
    return out


def _exception_signals(engine: Any) -> list[Signal]:
    """``rtio.exceptions.<kind>`` and ``<kind>_channel`` (none without a recorder)."""
    rec = engine.recorder
    if rec is None:
        return []
    return [
        Signal((EXCEPTION_SCOPE, t.name), t.kind, t.size, t.changes, rank=_LAST_RANK, init=t.init)
        for t in exception_traces(rec.exceptions)
    ]


def _joined(timelines: list[list[Signal]]) -> list[Signal]:
    """The signals of consecutive sessions, each restored from the one before, as one timeline:
    a later session adds each signal's changes after its last change so far (its restored
    starting values repeat the earlier session's last ones)."""
    out: dict[tuple[str, ...], Signal] = {}
    for signals in timelines:
        for s in signals:
            cur = out.get(s.path)
            if cur is None:
                out[s.path] = s
            elif s.changes:
                before, after = _pairs(cur.changes), _pairs(s.changes)
                last = before[-1][0] if before else None
                more = [c for c in after if last is None or c[0] > last]
                out[s.path] = replace(cur, changes=before + more)
    return sorted(out.values(), key=lambda s: s.rank)


def _pairs(changes: list[tuple[int, Any]] | Changes) -> list[tuple[int, Any]]:
    """A signal's changes as ``(t_mu, value)`` pairs."""
    if isinstance(changes, Changes):
        return list(zip(changes.times, changes.values))
    return changes


def _unique_paths(signals: list[Signal]) -> None:
    """Two devices whose names map to one path (``a.b`` and ``a_b`` both give ``a_b`` after
    character replacement, say) keep both signals: later ones get ``_2``, ``_3`` ..."""
    used: set[tuple[str, ...]] = set()
    for s in signals:
        path, n = s.path, 1
        while path in used:
            n += 1
            path = s.path[:-1] + (f"{s.path[-1]}_{n}",)
        s.path = path
        used.add(path)
        aliases = []
        for a in s.aliases:
            if a not in used:
                used.add(a)
                aliases.append(a)
        s.aliases = tuple(aliases)


def _input_signals(
    engine: Any, ch: int, dn: DeviceName, edges: list[tuple[int, int]], t_end: int
) -> list[Signal]:
    """``in``, ``gate``, ``events`` (and ``out``) of a TTLInOut, ``in`` and ``count`` of an
    edge counter; nothing for an input that saw no edge and no submission."""
    st = engine.channels[ch]
    log = getattr(st.phy, "log", None) or []
    if not (edges or st.log or log):
        return []
    sub: list[tuple[str, str, int, list | Changes]] = [("in", "wire", 1, edges)]
    if st.kind == Kind.TTL_INOUT:
        sub += [
            ("gate", "wire", 2, _gate_changes(engine, ch)),
            ("events", "event", 1, [(t, True) for t, _ in log]),
        ]
        lv = Changes(*engine.ttl_level_columns(ch, _NEG, t_end))
        if lv.times:
            sub.append(("out", "wire", 1, lv))
    else:
        inp = engine.inputs.get(ch)
        evs = (
            [(t, d) for _, t, d in inp.pending] + [(t, d) for t, d in inp.fifo]
            if inp is not None
            else []
        )
        sub.append(("count", "integer", 32, sorted(evs)))
    return [Signal(dn.path + (n,), k, s, c, _hw_alias(dn, n), dn.rank) for n, k, s, c in sub]


def _dds_signals(engine: Any, names: dict[tuple[int, int | None], DeviceName]) -> list[Signal]:
    """Frequency, phase and amplitude of every AD9910 the engine knows (0 before its first
    IO_UPDATE that takes effect, e.g. all along if its Urukul was never initialised)."""
    keys = {_key(e) for e in engine.names.values() if e[0] == Kind.AD9910} | set(engine.dds)
    out: list[Signal] = []
    for spi, cs in sorted(keys):
        tl = engine.dds.get((spi, cs))
        states = tl.states(_NEG, 1 << 62) if tl is not None else []
        dn = names.get((spi, cs)) or DeviceName(
            f"spi{spi}_cs{cs}", f"spi{spi}_cs{cs}", (f"spi{spi}_cs{cs}",)
        )
        for name, attr in (
            ("freq_hz", "frequency_hz"),
            ("phase_turns", "phase_turns"),
            ("amplitude", "amplitude"),
        ):
            out.append(
                Signal(
                    dn.path + (name,),
                    "real",
                    64,
                    [(s.t_mu, float(getattr(s, attr))) for s in states],
                    _hw_alias(dn, name),
                    dn.rank,
                )
            )
    return out


def _alias_dds_switches(
    engine: Any, names: dict[tuple[int, int | None], DeviceName], signals: list[Signal]
) -> None:
    """An AD9910's RF switch that has a name of its own (``node_a.qubit_sw``) is also shown in
    the AD9910's scope as ``sw``."""
    by_path = {s.path: s for s in signals}
    for kind, spi, extra in engine.names.values():
        sw = extra.get("sw")
        if kind != Kind.AD9910 or sw not in engine.names:
            continue
        dds, swn = names.get((spi, int(extra.get("cs", 0)))), names.get((engine.names[sw][1], None))
        if dds is None or swn is None or (dds.path + ("freq_hz",)) not in by_path:
            continue
        target = dds.path + ("sw",)
        sig = by_path.get(swn.path)
        if sig is not None and sig.path != target and target not in sig.aliases:
            sig.aliases += (target,)


def _timescale(ref_period: float) -> str:
    for unit, scale in (
        ("s", 1.0),
        ("ms", 1e-3),
        ("us", 1e-6),
        ("ns", 1e-9),
        ("ps", 1e-12),
        ("fs", 1e-15),
    ):
        for mag in (100, 10, 1):
            if abs(ref_period - mag * scale) <= 1e-6 * ref_period:
                return f"{mag} {unit}"
    raise ValueError(f"ref_period {ref_period} s is not a VCD timescale (1/10/100 s..fs)")


def _version() -> str:
    try:
        from importlib.metadata import version

        return "ionlink-sim " + version("ionlink")
    except Exception:  # noqa: BLE001 - not installed: the name alone
        return "ionlink-sim"


def write_vcd(
    engine: Any,
    path: str,
    device_db: dict | None = None,
    lab: Any = None,
    seed: int | None = None,
    earlier: Sequence[Any] = (),
) -> None:
    """Write the session's timeline to ``path`` (timescale = ``ref_period``, times in mu).

    :param device_db: device database for the signal names; :param lab: lab description (for the
        entangler's detector inputs); :param seed: the session's seed (for the header comment).
    :param earlier: engines of the sessions this one continues (:mod:`sim.hwstate`), oldest
        first: their timelines come first.
    """
    from vcd import VCDWriter

    signals = collect_signals(engine, device_db, lab)
    if earlier:
        signals = _joined([collect_signals(e, device_db, lab) for e in earlier] + [signals])
    date = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    comment = "RTIO timeline of an ionlink simulation; time in mu; seed {}; lab {}".format(
        seed, getattr(lab, "name", None)
    )
    changes: list[tuple[Any, list | Changes]] = []  # (variable, its changes)
    aliases: list[tuple[tuple[str, ...], Any]] = []
    # a file is written under a temporary name and renamed: a full disk leaves no truncated
    # file (a device or a pipe, /dev/null, is written directly)
    target = pathlib.Path(path)
    special = target.exists() and not target.is_file()
    tmp = target if special else target.parent / ".{}.{}.tmp".format(target.name, os.getpid())
    try:
        with (
            open(tmp, "w") as f,
            VCDWriter(
                f,
                timescale=_timescale(engine.ref_period),
                date=date,
                version=_version(),
                comment=comment,
                check_values=False,
            ) as w,
        ):
            for s in signals:
                scope, name = (ROOT, *s.path[:-1]), s.path[-1]
                if s.kind == "real":
                    var = w.register_var(scope, name, "real", init=0.0)
                elif s.kind == "event":
                    var = w.register_var(scope, name, "event")
                else:
                    var = w.register_var(scope, name, s.kind, size=s.size, init=s.init)
                aliases += [(a, var) for a in s.aliases]
                evs = s.changes
                if isinstance(evs, Changes):
                    if evs.times and evs.times[0] < 0:  # before the counter started: shown at 0
                        evs = Changes([max(t, 0) for t in evs.times], evs.values)
                elif evs and evs[0][0] < 0:
                    evs = [(max(t, 0), v) for t, v in evs]
                changes.append((var, evs))
            for a, var in aliases:  # after every variable: the hardware scope comes last
                w.register_alias((ROOT, *a[:-1]), a[-1], var)
            write_changes(w, f, changes)  # as one ``w.change`` per change in time order would
        if not special:
            os.replace(tmp, target)
    except BaseException:
        if not special:
            tmp.unlink(missing_ok=True)
        raise
