# SPDX-License-Identifier: LGPL-3.0-or-later
"""Environment semantics: lifecycle, arguments, kernel_invariants, children, datasets."""

from __future__ import annotations

import pytest
from artiq.experiment import (
    BooleanValue,
    CancelledArgsError,
    DefaultMissing,
    EnumerationValue,
    EnvExperiment,
    HasEnvironment,
    NoDefault,
    NumberValue,
    PYONValue,
    StringValue,
)
from artiq.language.environment import ProcessArgumentManager, is_public_experiment

from sim.datasets import DatasetDB, DatasetManager


def _managers(arguments=None, devices=None, ddb=None):
    dataset_mgr = DatasetManager(DatasetDB(None) if ddb is None else ddb)
    return (devices or {}, dataset_mgr, ProcessArgumentManager(arguments or {}), {}), dataset_mgr


class Args(EnvExperiment):
    def build(self):
        self.setattr_argument("n", NumberValue(3, precision=0, step=1))
        self.setattr_argument("f", NumberValue(1.5, unit="us"))
        self.setattr_argument("b", BooleanValue(False))
        self.setattr_argument("e", EnumerationValue(["x", "y"], "x"))
        self.setattr_argument("s", StringValue("hi"))
        self.setattr_argument("p", PYONValue({"a": (1, 2)}))

    def run(self):
        pass


def test_number_value_types():
    """auto → int only with precision 0, scale 1 and integral step; otherwise float."""
    assert type(NumberValue(3, precision=0, step=1).default()) is int
    assert type(NumberValue(3).default()) is float
    assert NumberValue(2, unit="us").scale == 1e-6
    assert NumberValue(2, unit="us").step == pytest.approx(1e-7)
    with pytest.raises(ValueError):
        NumberValue(1, type="int")
    with pytest.raises(TypeError):
        NumberValue(1, type="complex")
    with pytest.raises(KeyError):
        NumberValue(1, unit="furlong")
    with pytest.raises(ValueError):
        NumberValue("x")
    assert NumberValue(5, min=0, max=1).default() == 5.0  # min/max not enforced
    with pytest.raises(DefaultMissing):
        NumberValue().default()


def test_other_processors():
    """BooleanValue needs a bool, EnumerationValue a choice, PYONValue decodes strings."""
    with pytest.raises(ValueError):
        BooleanValue(1)
    with pytest.raises(ValueError):
        EnumerationValue(["a"], "b")
    assert PYONValue().process('{"__jsonclass__": ["tuple", [[1, 2]]]}') == (1, 2)
    assert PYONValue(None).describe()["default"] == "null"
    assert StringValue("x").describe() == {"ty": "StringValue", "default": "x"}


def test_arguments_defaults_and_supplied():
    """Supplied values are processed; others take defaults; keys become kernel invariants."""
    managers, _ = _managers({"n": 7.0, "b": True, "e": "y"})
    exp = Args(managers)
    assert (exp.n, exp.f, exp.b, exp.e, exp.s, exp.p) == (7, 1.5, True, "y", "hi", {"a": (1, 2)})
    assert type(exp.n) is int
    assert exp.kernel_invariants == {"n", "f", "b", "e", "s", "p"}


def test_unprocessed_argument_error_text():
    """An argument the experiment never requests is reported with ARTIQ's text."""
    managers, _ = _managers({"zzz": 1})
    Args(managers)
    with pytest.raises(
        AttributeError, match="Supplied argument\\(s\\) not queried in experiment: zzz"
    ):
        managers[2].check_unprocessed_arguments()


def test_get_argument_only_in_build():
    """get_argument and set_default_scheduling outside build raise TypeError."""
    managers, _ = _managers()
    exp = Args(managers)
    with pytest.raises(TypeError):
        exp.get_argument("n", NumberValue(1))
    with pytest.raises(TypeError):
        exp.set_default_scheduling(priority=1)


def test_setattr_device_and_children():
    """Devices come from the device manager; children share managers and get prepare()."""
    calls = []

    class Child(HasEnvironment):
        def build(self, tag):
            self.tag = tag
            self.setattr_device("dev")

        def prepare(self):
            calls.append(self.tag)

    class Parent(EnvExperiment):
        def build(self):
            self.a = Child(self, "a")
            self.b = Child(self, "b")
            self.set_default_scheduling(priority=3, pipeline_name="p")

        def run(self):
            pass

    devices = {"dev": object()}
    managers, _ = _managers(devices=devices)
    exp = Parent(managers)
    assert exp.children == [exp.a, exp.b]
    assert exp.a.dev is devices["dev"] and "dev" in exp.a.kernel_invariants
    assert exp.get_device_db is not None
    exp.prepare()
    assert calls == ["a", "b"]
    assert managers[3] == {"priority": 3, "pipeline_name": "p"}


def test_interactive_cancel():
    """A cancelled interactive request raises CancelledArgsError."""

    class Mgr(ProcessArgumentManager):
        def get_interactive(self, arglist, title):
            assert [a[0] for a in arglist] == ["x"]
            return None

    class Exp(EnvExperiment):
        def run(self):
            with self.interactive("t") as ns:
                ns.setattr_argument("x", NumberValue(1))

    exp = Exp(({}, None, Mgr({}), {}))
    with pytest.raises(CancelledArgsError):
        exp.run()


def test_is_public_experiment():
    """Base classes and underscore names are not experiments."""

    class _Hidden(EnvExperiment):
        pass

    assert is_public_experiment(Args)
    assert not is_public_experiment(EnvExperiment)
    assert not is_public_experiment(_Hidden)
    assert NoDefault is not None


# datasets ------------------------------------------------------------------------------------


class D(EnvExperiment):
    def run(self):
        pass


def test_dataset_set_metadata_and_archive():
    """Metadata keeps only the given items; archive=False keeps the value out of the results."""
    managers, dm = _managers()
    exp = D(managers)
    exp.set_dataset("x", 1.0, unit="us", precision=3)
    exp.set_dataset("y", 2, archive=False, broadcast=True)
    assert dm.local == {"x": 1.0}
    assert dm.metadata["x"] == {"unit": "us", "precision": 3}
    assert exp.get_dataset_metadata("x") == {"unit": "us", "precision": 3}
    assert exp.get_dataset("y") == 2


def test_persist_implies_broadcast_and_broadcast_false_deletes():
    """persist ⇒ broadcast; setting again with broadcast=False removes the broadcast entry."""
    ddb = DatasetDB(None)
    managers, dm = _managers(ddb=ddb)
    exp = D(managers)
    exp.set_dataset("c", 5, persist=True)
    assert ddb.data["c"] == (True, 5, {})
    exp.set_dataset("c", 6)
    assert "c" not in ddb.data
    assert dm.local["c"] == 6


def test_append_and_mutate():
    """append/mutate act on the broadcast copy if any, else the local one; errors as ARTIQ."""
    import numpy as np

    ddb = DatasetDB(None)
    managers, dm = _managers(ddb=ddb)
    exp = D(managers)
    exp.set_dataset("l", [], broadcast=True)
    exp.append_to_dataset("l", 1)
    exp.append_to_dataset("l", 2)
    assert ddb.get("l") == [1, 2] and dm.local["l"] == [1, 2]
    exp.set_dataset("a", np.zeros((3, 3)))
    exp.mutate_dataset("a", ((0, 2), (1, 3)), 7.0)
    exp.mutate_dataset("a", 2, np.ones(3))
    assert dm.local["a"].tolist() == [[0, 7, 7], [0, 7, 7], [1, 1, 1]]
    exp.set_dataset("v", [0, 0, 0, 0])
    exp.mutate_dataset("v", (1, 3), [5, 5])
    assert dm.local["v"] == [0, 5, 5, 0]
    exp.set_dataset("scalar", 1)
    with pytest.raises(AttributeError):
        exp.append_to_dataset("scalar", 1)
    with pytest.raises(KeyError):
        exp.append_to_dataset("missing", 1)


def test_get_dataset_archives_master_reads():
    """Reads of master datasets go to archive/; local values first; default when missing."""
    ddb = DatasetDB(None)
    ddb.set("calib", 0.5, persist=True, metadata={"unit": "V"})
    managers, dm = _managers(ddb=ddb)
    exp = D(managers)
    assert exp.get_dataset("calib") == 0.5
    assert dm.archive == {"calib": 0.5}
    assert exp.get_dataset("other", 3) == 3
    with pytest.raises(KeyError):
        exp.get_dataset("other")
    exp.get_dataset("calib", archive=False)
    exp.setattr_dataset("calib")
    assert exp.calib == 0.5
    assert exp.get_dataset_metadata("calib") == {"unit": "V"}
    exp.set_dataset("calib", 0.7)
    assert exp.get_dataset("calib") == 0.7
