# SPDX-License-Identifier: LGPL-3.0-or-later
"""``from artiq.experiment import *`` exports exactly ARTIQ 9's names (reference §1.1)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sim import artiq_env

ARTIQ9_EXPERIMENT_ALL = (
    "kernel portable rpc subkernel syscall host_only kernel_from_string set_time_manager "
    "set_watchdog_factory TerminationRequested sequential parallel interleave delay_mu now_mu "
    "at_mu delay watchdog "
    "TNone TTuple TBool TInt32 TInt64 TFloat TStr TBytes TByteArray TList TArray TRange32 "
    "TRange64 TVar "
    "NoDefault DefaultMissing PYONValue BooleanValue EnumerationValue NumberValue StringValue "
    "HasEnvironment Experiment EnvExperiment CancelledArgsError "
    "ps ns us ms s mHz Hz kHz MHz GHz dB uV mV V kV uA mA A nW uW mW W "
    "ScanObject NoScan RangeScan CenterScan ExplicitScan Scannable MultiScanManager "
    "RTIOUnderflow RTIOOverflow"
).split()


def test_experiment_all_is_artiq9_list():
    """The export list matches ARTIQ 9, in order."""
    import artiq.experiment

    assert list(artiq.experiment.__all__) == ARTIQ9_EXPERIMENT_ALL


def test_star_import_binds_every_name():
    """Every listed name is bound by a star import."""
    namespace: dict = {}
    exec("from artiq.experiment import *", namespace)
    assert set(ARTIQ9_EXPERIMENT_ALL) <= set(namespace)


@pytest.mark.skipif(artiq_env.real_artiq_available(), reason="stand-in only")
def test_experiment_imports_without_device_models():
    """artiq.experiment imports without the simulated device modules (sim.devices)."""
    code = (
        "import sys; from sim import artiq_env; artiq_env.activate(); "
        "import artiq.experiment; "
        "bad = [m for m in sys.modules if m.startswith(('sim.devices', 'sim.rtio.engine'))]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_environment_rpc_flags():
    """set_dataset, mutate_dataset and append_to_dataset are async RPCs."""
    from artiq.experiment import HasEnvironment

    for name in ("set_dataset", "mutate_dataset", "append_to_dataset"):
        assert getattr(HasEnvironment, name).artiq_embedded.flags == {"async"}
