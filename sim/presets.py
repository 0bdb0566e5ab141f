# SPDX-License-Identifier: LGPL-3.0-or-later
"""The lab presets shipped with the simulator: their names and the folder of their TOML
descriptions (kept apart from :mod:`sim.physics.lab` so that the command line can name them
without importing the physics)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["LABS_DIR", "PRESETS", "LAB_HELP"]

#: the folder of the presets' ``<name>.toml`` files
LABS_DIR = Path(__file__).resolve().parent / "labs"
#: the preset names, as ``--lab`` and ``ionlink-sim budget`` take them
PRESETS = ("oxford2020", "oxford2025", "duke2024", "target_99_1khz")
#: how the command line's help names a lab argument
LAB_HELP = "a preset ({}) or a lab TOML file".format(", ".join(PRESETS))
