# SPDX-License-Identifier: LGPL-3.0-or-later
"""The registry of simulated device classes is what the session and the device models use."""

from __future__ import annotations

from sim.registry import DEVICE_CLASSES, kind_of_class
from sim.rtio.channels import Kind, Trace
from sim.session import SimSession

from .conftest import base_db


def test_session_declares_every_registered_channel_class():
    """A device_db entry of each class gets its kind, its PHY and its input depth from the
    registry alone (as for a real ARTIQ's drivers, which register nothing)."""
    with_phy = [dc for dc in DEVICE_CLASSES.values() if dc.make_phy is not None]
    db = {
        f"dev{ch}": {"type": "local", "module": "m", "class": dc.name, "arguments": {"channel": ch}}
        for ch, dc in enumerate(with_phy)
    }
    eng = SimSession(db, seed=0).engine
    for ch, dc in enumerate(with_phy):
        st = eng.channels[ch]
        assert st.kind is dc.kind and st.phy is not None, dc.name
        assert eng.resolve_device(f"dev{ch}") == (dc.kind, ch, {})
        if dc.input_depth is not None:
            assert eng.inputs[ch].depth == dc.input_depth


def test_device_models_register_the_registry_kinds(env):
    """The simulated drivers declare the kinds the registry gives their classes."""
    db = base_db()
    for name, desc in db.items():
        if isinstance(desc, dict) and "channel" in desc.get("arguments", {}):
            env.get(name)
            st = env.engine.channels[desc["arguments"]["channel"]]
            assert st.kind is kind_of_class(desc["class"]), name
    assert env.engine.resolve_device("urukul0_ch0")[0] is Kind.AD9910


def test_kinds_trace_and_replacement():
    assert {k: k.trace for k in Kind}[Kind.AD9910] is Trace.DDS
    assert [k for k in Kind if k.replaces] == [
        Kind.TTL_OUT,
        Kind.TTL_INOUT,
        Kind.CLKGEN,
        Kind.UNKNOWN,
    ]
    assert kind_of_class("NoSuchDriver") is None
