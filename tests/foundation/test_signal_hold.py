# SPDX-License-Identifier: LGPL-3.0-or-later
"""A second Ctrl-C never loses the data taken: while the results, the dataset store and the
hardware state are saved, a signal that would stop the process at once waits until they are
(found by a new-user walkthrough: two SIGINTs 10 ms apart left no results file in 3 of 6
tries); a run stopped at once inside ``run()`` says so in its file
(``ionlink.sim.stopped_at_once``), since its own totals may be missing."""

import os
import signal
import time

import h5py
import pytest

from sim.termination import (
    SignalInterrupt,
    signals_held,
    signals_interrupt,
    signals_request_termination,
)


def test_a_second_signal_waits_for_the_save_then_stops():
    requests = []
    with signals_request_termination(lambda: requests.append(1)):
        os.kill(os.getpid(), signal.SIGINT)  # the first: a termination request
        assert requests == [1]
        saved = []
        with pytest.raises(SignalInterrupt):
            with signals_held():
                os.kill(os.getpid(), signal.SIGINT)  # the second, during the save: waits
                saved.append("file")
        assert saved == ["file"]
        with pytest.raises(SignalInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # not held: at once


STOP_TWICE = """
import os, signal

class StopTwice(EnvExperiment):
    def build(self):
        pass

    def run(self):
        self.set_dataset("taken", [1, 2, 3])
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # stops run() at once
        self.set_dataset("totals", 3)  # never reached
"""


def _check_stopped_at_once(result):
    """STOP_TWICE's run: stopped at once (exit 130), its data written and the file marked."""
    assert result.exit_code == 130 and result.results_file is not None
    with h5py.File(result.results_file) as f:
        d = f["datasets"]
        assert list(d["taken"][()]) == [1, 2, 3] and "totals" not in d
        assert d["ionlink.sim.stopped_at_once"][()] == b"SIGINT"


def test_a_run_stopped_at_once_is_written_and_marked(simulation, write_experiment):
    _check_stopped_at_once(simulation.run(write_experiment(STOP_TWICE, "stop_twice")))


def test_an_interrupt_raised_inside_a_finaliser_still_stops():
    """A signal whose handler runs while Python runs a finaliser raises :class:`SignalInterrupt`
    there, where Python reports and drops it ("Exception ignored in"): the signal is sent again
    and stops the code that follows instead of being lost."""

    class Finalised:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # (the handler runs here, inside the finaliser)
                pass

    t0 = time.monotonic()
    with pytest.raises(SignalInterrupt):
        with signals_interrupt():
            Finalised()  # (dropped at once)
            while time.monotonic() - t0 < 5:
                time.sleep(0.001)
    assert time.monotonic() - t0 < 0.5


def test_a_signal_between_the_run_and_its_save_still_writes(
    simulation, write_experiment, monkeypatch
):
    """Found by a walk: a further signal landing after ``run()`` was stopped at once but before
    the results were written (here: while the stop is logged) skipped the write."""
    import sim.run as sim_run

    debug = sim_run.logger.debug

    def debug_then_signal(msg, *args, **kwargs):
        debug(msg, *args, **kwargs)
        if msg == "run failed":
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # (the handler runs here)
                pass

    monkeypatch.setattr(sim_run.logger, "debug", debug_then_signal)
    _check_stopped_at_once(simulation.run(write_experiment(STOP_TWICE, "stop_twice")))


RETURNS = """
class Returns(EnvExperiment):
    def build(self):
        pass

    def run(self):
        self.set_dataset("taken", [4, 5])
"""


def test_a_stop_at_once_after_run_returned_writes_an_unmarked_file(
    simulation, write_experiment, monkeypatch
):
    """A stop at once that lands after ``run()`` returned (here: while the devices are told the
    run ended): the file is written, and not marked as stopped at once (the experiment reached
    the end of its own code)."""
    import sim.run as sim_run

    def stop(self):
        raise SignalInterrupt(signal.SIGTERM)

    monkeypatch.setattr(sim_run.DeviceManager, "notify_run_end", stop)
    result = simulation.run(write_experiment(RETURNS, "returns"))
    assert result.exit_code == 143 and result.results_file is not None
    with h5py.File(result.results_file) as f:
        d = f["datasets"]
        assert list(d["taken"][()]) == [4, 5]
        assert "ionlink.sim.stopped_at_once" not in d
