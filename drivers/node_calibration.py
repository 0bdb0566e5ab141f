# SPDX-License-Identifier: LGPL-3.0-or-later
"""Default calibration of an ion node (host side, no ARTIQ needed): what
:class:`drivers.node.IonNode` uses where the lab has stored no ``calib.node_X.*`` dataset, and
what the simulator's budget assumes likewise."""

__all__ = ["DEFAULT_CALIBRATION", "DEFAULT_THRESHOLD", "DEFAULT_READOUT_ERROR"]

DEFAULT_CALIBRATION = {
    "qubit.frequency": 5e6,  # Hz, AD9910 output on the qubit resonance (lab.toml)
    "qubit.amplitude": 0.5,  # AD9910 full-scale fraction
    "qubit.pi_time": 10e-6,  # s, at that amplitude (100 kHz Rabi frequency at full scale)
    "cool.duration": 20e-6,  # s, default Doppler cooling
    "pump.duration": 1e-6,  # s, optical pumping pulse
    "excite.duration": 16e-9,  # s, excitation pulse (>= 2 coarse cycles)
    "detect.duration": 300e-6,  # s, readout detection window
}
DEFAULT_THRESHOLD = 1  # counts: count > threshold => bright
DEFAULT_READOUT_ERROR = 0.01
